"""Read the shared WikiExtractor corpus as text8-like sentences (lowercase runs of a-z)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

TOKEN = re.compile(r"[a-z]+")


def wiki_sentences(folder: Path, n_files: int) -> list[list[str]]:
    """Paragraph sentences of the first ``n_files`` pieces; ``<doc>`` and title lines dropped."""
    files = sorted(folder.glob("wiki_*.gz"))[:n_files]
    if len(files) < n_files:
        raise FileNotFoundError(f"expected {n_files} wiki_*.gz files under {folder}")
    out: list[list[str]] = []
    for f in files:
        after_doc = False
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("<doc"):
                    after_doc = True
                    continue
                if after_doc:
                    after_doc = False
                    continue
                if line.startswith("</doc"):
                    continue
                toks = TOKEN.findall(line.lower())
                if toks:
                    out.append(toks)
    return out

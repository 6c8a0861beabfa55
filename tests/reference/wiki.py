"""Read the shared WikiExtractor corpus as text8-like sentences."""

from __future__ import annotations

from pathlib import Path

from embedrec.data.text import wikiextractor_sentences


def wiki_sentences(folder: Path, n_files: int) -> list[list[str]]:
    """Paragraph sentences of the first ``n_files`` pieces (see ``wikiextractor_sentences``)."""
    files = sorted(folder.glob("wiki_*.gz"))[:n_files]
    if len(files) < n_files:
        raise FileNotFoundError(f"expected {n_files} wiki_*.gz files under {folder}")
    return list(wikiextractor_sentences(files))

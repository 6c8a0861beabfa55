"""Plain-text corpora: WikiExtractor output normalised the way text8 was."""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Iterator

_TOKEN = re.compile(r"[a-z]+")


def wikiextractor_sentences(files: Iterable[str | os.PathLike[str]]) -> Iterator[list[str]]:
    """Yield one token list per paragraph of WikiExtractor output (plain or ``.gz``).

    ``<doc>``/``</doc>`` lines and the title line after each ``<doc>`` are dropped; text is
    lowercased and tokens are runs of a-z (digits and punctuation dropped), as in text8.
    Empty paragraphs are skipped.
    """
    for f in files:
        opener = gzip.open if os.fspath(f).endswith(".gz") else open
        after_doc = False
        with opener(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("<doc"):
                    after_doc = True
                    continue
                if after_doc:  # the title line follows the <doc> tag
                    after_doc = False
                    continue
                if line.startswith("</doc"):
                    continue
                toks = _TOKEN.findall(line.lower())
                if toks:
                    yield toks

"""Turn ../shared/data/text-corpus (WikiExtractor output) into a text8-like corpus file.

One paragraph per line, ``<doc>`` lines and title lines removed, tokenised by the library's
one normaliser, :func:`embedrec.data.text.normalize` with text8's rules (``ascii_only=True``:
lowercase runs of a-z, digits and punctuation dropped; docs/tokenisation.md). The result is
cached outside the repository (the data's licence allows redistribution, but the repo stays
data-free).

Usage: python benchmarks/prepare_corpus.py [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from embedrec.data.text import wikiextractor_sentences


def data_root() -> Path:
    return Path(
        os.environ.get(
            "EMBEDREC_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
        )
    )


def default_out() -> Path:
    cache = Path(os.environ.get("EMBEDREC_CACHE", Path.home() / ".cache" / "embedrec"))
    return cache / "bench" / "wiki-text8like.txt"


def prepare(out: Path) -> Path:
    src = data_root() / "text-corpus" / "enwiki-wikiextractor"
    files = sorted(src.glob("wiki_*.gz"))
    if not files:
        sys.exit(f"no wiki_*.gz under {src}; set EMBEDREC_DATA to the shared data folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    n_tok = 0
    with open(tmp, "w", encoding="ascii") as fo:
        for toks in wikiextractor_sentences(files):
            n_tok += len(toks)
            fo.write(" ".join(toks))
            fo.write("\n")
    os.replace(tmp, out)
    print(f"wrote {out}: {n_tok} tokens", file=sys.stderr)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=default_out())
    a = ap.parse_args()
    if a.out.exists():
        print(a.out)
    else:
        print(prepare(a.out))

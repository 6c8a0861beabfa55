"""Data layer: interaction logs, vocabularies and int32-encoded corpora.

Data sets (MovieLens, Last.fm, YOOCHOOSE, DIGINETICA) live in :mod:`embedrec.data.datasets`.
"""

from .corpus import Corpus, build_corpus
from .interactions import Interactions, Sequences, k_core, read_interactions
from .vocab import Vocab

__all__ = [
    "Corpus",
    "Interactions",
    "Sequences",
    "Vocab",
    "build_corpus",
    "k_core",
    "read_interactions",
]

"""Data layer: interaction logs, vocabularies, int32-encoded corpora and graphs.

Data sets (MovieLens, Last.fm, YOOCHOOSE, DIGINETICA) live in :mod:`embedrec.data.datasets`.
"""

from .corpus import Corpus, build_corpus
from .graph import Graph
from .graph_io import read_labels, read_mat_labels
from .interactions import Interactions, Sequences, k_core, read_interactions
from .vocab import Vocab

__all__ = [
    "Corpus",
    "Graph",
    "Interactions",
    "Sequences",
    "Vocab",
    "build_corpus",
    "k_core",
    "read_interactions",
    "read_labels",
    "read_mat_labels",
]

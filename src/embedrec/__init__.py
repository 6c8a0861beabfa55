"""embedrec: embeddings for recommender systems.

Importing the package compiles nothing; numba kernels compile (or load from their cache) on
first use, or ahead of time with ``embedrec warmup``.
"""

from .data import Corpus, Graph, Interactions, Vocab, build_corpus, read_interactions
from .models import (
    EGES,
    DeepWalk,
    DeepWalkConfig,
    EGESConfig,
    Item2Vec,
    Item2VecConfig,
    Node2Vec,
    Node2VecConfig,
    Word2Vec,
    Word2VecConfig,
)
from .vectors import Embeddings, Neighbors

__version__ = "0.1.0"

__all__ = [
    "EGES",
    "Corpus",
    "DeepWalk",
    "DeepWalkConfig",
    "EGESConfig",
    "Embeddings",
    "Graph",
    "Interactions",
    "Item2Vec",
    "Item2VecConfig",
    "Neighbors",
    "Node2Vec",
    "Node2VecConfig",
    "Vocab",
    "Word2Vec",
    "Word2VecConfig",
    "__version__",
    "build_corpus",
    "read_interactions",
]

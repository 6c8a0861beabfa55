"""embedrec: embeddings for recommender systems.

Importing the package compiles nothing; numba kernels compile (or load from their cache) on
first use, or ahead of time with ``embedrec warmup``.
"""

from .data import Corpus, Vocab, build_corpus
from .models import Word2Vec, Word2VecConfig
from .vectors import Embeddings, Neighbors

__version__ = "0.1.0"

__all__ = [
    "Corpus",
    "Embeddings",
    "Neighbors",
    "Vocab",
    "Word2Vec",
    "Word2VecConfig",
    "__version__",
    "build_corpus",
]

"""Data layer: vocabularies and int32-encoded corpora."""

from .corpus import Corpus, build_corpus
from .vocab import Vocab

__all__ = ["Corpus", "Vocab", "build_corpus"]

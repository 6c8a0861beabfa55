"""Embedding models. ``two_tower`` (torch) is imported lazily by its own module."""

from .item2vec import Item2Vec, Item2VecConfig, Recommendations
from .word2vec import Word2Vec, Word2VecConfig

__all__ = ["Item2Vec", "Item2VecConfig", "Recommendations", "Word2Vec", "Word2VecConfig"]

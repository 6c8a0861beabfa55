"""Embedding models. ``two_tower`` (torch) is imported lazily by its own module."""

from .word2vec import Word2Vec, Word2VecConfig

__all__ = ["Word2Vec", "Word2VecConfig"]

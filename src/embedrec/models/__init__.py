"""Embedding models. ``two_tower`` (torch) is imported lazily by its own module."""

from .eges import EGES, EGESConfig, SideInfo
from .item2vec import Item2Vec, Item2VecConfig, Recommendations
from .walks import DeepWalk, DeepWalkConfig, Node2Vec, Node2VecConfig
from .word2vec import Word2Vec, Word2VecConfig

__all__ = [
    "EGES",
    "DeepWalk",
    "DeepWalkConfig",
    "EGESConfig",
    "Item2Vec",
    "Item2VecConfig",
    "Node2Vec",
    "Node2VecConfig",
    "Recommendations",
    "SideInfo",
    "Word2Vec",
    "Word2VecConfig",
]

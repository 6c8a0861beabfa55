"""Embedding models. ``two_tower`` (torch) is imported lazily by its own module."""

from .eges import EGES, EGESConfig, SideInfo
from .item2vec import Item2Vec, Item2VecConfig, Recommendations
from .session_embed import SessionEmbed, SessionEmbedConfig
from .session_knn import SKNN, STAN, VSKNN, VSTAN, SKNNConfig, STANConfig, VSKNNConfig, VSTANConfig
from .session_rules import (
    AssociationRules,
    AssociationRulesConfig,
    SequentialRules,
    SequentialRulesConfig,
    SessionPop,
    SessionPopConfig,
)
from .walks import DeepWalk, DeepWalkConfig, Node2Vec, Node2VecConfig
from .word2vec import Word2Vec, Word2VecConfig

__all__ = [
    "EGES",
    "SKNN",
    "STAN",
    "VSKNN",
    "VSTAN",
    "AssociationRules",
    "AssociationRulesConfig",
    "DeepWalk",
    "DeepWalkConfig",
    "EGESConfig",
    "Item2Vec",
    "Item2VecConfig",
    "Node2Vec",
    "Node2VecConfig",
    "Recommendations",
    "SKNNConfig",
    "STANConfig",
    "SequentialRules",
    "SequentialRulesConfig",
    "SessionEmbed",
    "SessionEmbedConfig",
    "SessionPop",
    "SessionPopConfig",
    "SideInfo",
    "VSKNNConfig",
    "VSTANConfig",
    "Word2Vec",
    "Word2VecConfig",
]

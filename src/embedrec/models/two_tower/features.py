"""Former home of the feature schema and the encoder, kept as a re-export.

The schema (:class:`FeatureSpec`, :class:`TowerConfig`, row constants) lives in
:mod:`embedrec.models.two_tower.spec`; the encoder (:class:`TowerEncoder`) in
:mod:`embedrec.models.two_tower.encoder`.
"""

from __future__ import annotations

from .encoder import TowerEncoder
from .spec import FIRST_ROW, PAD_ROW, UNKNOWN_ROW, FeatureKind, FeatureSpec, TowerConfig

__all__ = [
    "FIRST_ROW",
    "PAD_ROW",
    "UNKNOWN_ROW",
    "FeatureKind",
    "FeatureSpec",
    "TowerConfig",
    "TowerEncoder",
]

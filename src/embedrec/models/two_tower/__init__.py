"""Two-tower (DSSM-style) retrieval models on PyTorch (``pip install "embedrec[torch]"``).

``spec``, ``encoder``, ``infer`` and ``serving`` need no torch; every other name is imported
on first use, so ``import embedrec`` never imports torch. The module contract is in
``DESIGN.md`` beside this file.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "FeatureSpec": "spec",
    "TowerConfig": "spec",
    "TowerEncoder": "encoder",
    "numpy_tower_forward": "infer",
    "UserTowerRuntime": "serving",
    "Tower": "towers",
    "TwoTowerNet": "towers",
    "RetrievalLoss": "losses",
    "CountFrequency": "losses",
    "StreamingFrequencyEstimator": "losses",
    "TwoTower": "model",
    "TwoTowerConfig": "model",
}

_TORCH_MODULES = {"towers", "losses", "model", "train"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if mod in _TORCH_MODULES:
        require_torch(name)
    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)


def require_torch(what: str = "two-tower models") -> None:
    """Raise an ImportError that names the extra when torch is missing."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:  # pragma: no cover - torch is in the dev extra
        raise ImportError(
            f"{what} need PyTorch; install it with: pip install 'embedrec[torch]' "
            "(pins torch==2.13.0)"
        ) from exc

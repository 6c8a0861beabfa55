"""HTTP service: ``embedrec serve DIR`` answers similarity, recommendation, scoring and
embedding-lookup requests from one artifact directory (any model, the session baselines
without item vectors included), read-only.

The query logic (:mod:`~embedrec.service.artifact`) and the hot-reload state
(:mod:`~embedrec.service.state`) need only NumPy; the FastAPI app
(:mod:`~embedrec.service.app`, :mod:`~embedrec.service.schemas`) needs the ``service`` extra
(``pip install "embedrec[service]"``) and is imported on first use of :func:`create_app`.

Examples
--------
>>> from embedrec.service import create_app  # doctest: +SKIP
>>> app = create_app("art/", limits=ServiceLimits(max_k=100))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .artifact import NoKnownKeyError, NoVectorsError, ServedArtifact, load_artifact
from .config import ServeConfig, ServiceLimits
from .state import ReloadInProgressError, ReloadStatus, ServiceState

if TYPE_CHECKING:
    from .app import create_app

__all__ = [
    "NoKnownKeyError",
    "NoVectorsError",
    "ReloadInProgressError",
    "ReloadStatus",
    "ServeConfig",
    "ServedArtifact",
    "ServiceLimits",
    "ServiceState",
    "create_app",
    "load_artifact",
]


def __getattr__(name: str) -> Any:
    if name == "create_app":  # imports FastAPI: only when asked for
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

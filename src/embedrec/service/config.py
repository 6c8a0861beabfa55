"""Settings of the HTTP service: request caps and the whole ``embedrec serve`` configuration.

Both are frozen dataclasses that validate themselves, like the model configs: the CLI fills
:class:`ServeConfig` from its flags, and with ``--workers > 1`` every uvicorn worker rebuilds it
from JSON (:meth:`ServeConfig.to_json`), so the parent and the workers read the same fields.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ServeConfig", "ServiceLimits"]

#: environment variable that carries a JSON :class:`ServeConfig` to uvicorn worker processes
CONFIG_ENV = "EMBEDREC_SERVE_CONFIG"


def _positive_int(name: str, value: object, flag: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} is invalid; use an integer >= 1 ({flag})")


@dataclass(frozen=True, kw_only=True)
class ServiceLimits:
    """Caps on the size of one request; a request over a cap is refused, never truncated.

    Parameters
    ----------
    max_k : int, default 1000
        Largest ``k`` (results per query) a request may ask for; more is a 422 whose message
        names ``--max-k``.
    max_batch : int, default 1000
        Most keys in one batch request (``POST /v1/similar``, ``POST /v1/embeddings``) and most
        candidates in one ``POST /v1/score``; more is a 413 naming ``--max-batch``.
    max_history : int, default 1000
        Most history keys in one ``POST /v1/recommend`` or ``POST /v1/score``; more is a 413
        naming ``--max-history``.

    Examples
    --------
    >>> ServiceLimits(max_k=100).max_k
    100
    """

    max_k: int = 1000
    max_batch: int = 1000
    max_history: int = 1000

    def __post_init__(self) -> None:
        _positive_int("max_k", self.max_k, "--max-k")
        _positive_int("max_batch", self.max_batch, "--max-batch")
        _positive_int("max_history", self.max_history, "--max-history")


@dataclass(frozen=True, kw_only=True)
class ServeConfig:
    """Everything ``embedrec serve`` needs to build the app.

    Parameters
    ----------
    artifact : path
        The model directory to serve (Word2Vec, Item2Vec, TwoTower, Embeddings, or any
        directory with ``manifest.json``, ``keys.json`` and ``vectors.npy``), or a
        word2vec-format file.
    index_kind : str, optional
        Similarity index to build at start (``"exact"``, ``"hnsw"``, ``"ivf-flat"``,
        ``"ivf-pq"``). ``None``: load ``artifact/index/`` when it exists, else build an exact
        index.
    index_params : dict, default {}
        Keyword parameters of :func:`embedrec.index.build_index` (e.g. ``{"M": 32}``).
    limits : ServiceLimits
        Request caps.
    watch : float, optional
        Poll the served ``manifest.json`` every ``watch`` seconds and reload when it changes.
    admin : bool, default True
        Serve ``POST /admin/reload`` and ``GET /admin/reload`` (keep the port on loopback or
        behind a proxy that hides ``/admin``).
    sighup : bool, default True
        Reload the served directory on ``SIGHUP`` (POSIX, one worker; uvicorn's supervisor
        handles ``SIGHUP`` itself with several workers by restarting them one at a time).
    """

    artifact: Path
    index_kind: str | None = None
    index_params: dict[str, Any] = field(default_factory=dict)
    limits: ServiceLimits = field(default_factory=ServiceLimits)
    watch: float | None = None
    admin: bool = True
    sighup: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "artifact", Path(self.artifact))
        if self.watch is not None and not (
            isinstance(self.watch, (int, float))
            and not isinstance(self.watch, bool)
            and math.isfinite(self.watch)
            and self.watch > 0
        ):
            raise ValueError(f"watch={self.watch!r} is invalid; use a number of seconds > 0")
        if not isinstance(self.index_params, dict):
            raise ValueError(
                f"index_params={self.index_params!r} is invalid; use a dict of build_index "
                "keyword arguments"
            )

    def to_json(self) -> str:
        """JSON of every field (the form workers read from ``$EMBEDREC_SERVE_CONFIG``)."""
        d = dataclasses.asdict(self)
        d["artifact"] = str(self.artifact)
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        d["limits"] = ServiceLimits(**d.get("limits", {}))
        return cls(**d)

"""Settings of the HTTP service: request caps and the whole ``embedrec serve`` configuration.

Both are frozen dataclasses that validate themselves, like the model configs: the CLI fills
:class:`ServeConfig` from its flags, and with ``--workers > 1`` every uvicorn worker rebuilds it
from JSON (:meth:`ServeConfig.to_json`), so the parent and the workers read the same fields.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ADMIN_TOKEN_ENV", "MIN_TOKEN_LENGTH", "ServeConfig", "ServiceLimits"]

#: environment variable that carries a JSON :class:`ServeConfig` to uvicorn worker processes
CONFIG_ENV = "EMBEDREC_SERVE_CONFIG"
#: environment variable holding the admin token (preferred over ``--admin-token``, which other
#: users of the machine can read in the process list)
ADMIN_TOKEN_ENV = "EMBEDREC_ADMIN_TOKEN"
#: shortest admin token accepted (a guessable token is no protection)
MIN_TOKEN_LENGTH = 16
#: environment variable naming the reload channel directory of a multi-worker service
CHANNEL_ENV = "EMBEDREC_RELOAD_CHANNEL"


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
        Poll the served artifact every ``watch`` seconds (its ``CURRENT`` generation pointer,
        or every file of a flat directory) and reload when it changes.
    admin : bool, default False
        Serve ``POST /admin/reload`` and ``GET /admin/reload``. They need ``admin_token``.
    admin_token : str, optional
        The bearer token admin requests must carry (``Authorization: Bearer TOKEN``), at least
        :data:`MIN_TOKEN_LENGTH` characters. Never written into :meth:`to_json`: worker
        processes read it from ``$EMBEDREC_ADMIN_TOKEN``.
    reload_roots : tuple of Path, default ()
        Directories a reload with a ``path`` may load from, besides the served artifact's own
        directory. A requested path is relative to a root and must stay inside it.
    sighup : bool, default True
        Reload the served artifact on ``SIGHUP`` (POSIX). With several workers the
        supervisor's ``SIGHUP`` reaches every worker through the reload channel.
    threads : int, default 1
        Threads each worker gives its numeric libraries (BLAS, OpenMP, faiss, numba). One
        query per worker at a time is fastest on a shared machine; scale out with workers.
    workers : int, default 1
        Worker processes serving the artifact (a reload waits for all of them).
    """

    artifact: Path
    index_kind: str | None = None
    index_params: dict[str, Any] = field(default_factory=dict)
    limits: ServiceLimits = field(default_factory=ServiceLimits)
    watch: float | None = None
    admin: bool = False
    admin_token: str | None = field(default=None, repr=False)
    reload_roots: tuple[Path, ...] = ()
    sighup: bool = True
    threads: int = 1
    workers: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "artifact", Path(self.artifact))
        object.__setattr__(self, "reload_roots", tuple(Path(r) for r in self.reload_roots))
        _positive_int("threads", self.threads, "--threads")
        _positive_int("workers", self.workers, "--workers")
        if self.admin:
            token = self.admin_token
            if not token:
                raise ValueError(
                    "the admin endpoints need a token: set $EMBEDREC_ADMIN_TOKEN (or "
                    "--admin-token) to a secret of at least "
                    f"{MIN_TOKEN_LENGTH} characters, or leave --admin off"
                )
            if len(token) < MIN_TOKEN_LENGTH or token != token.strip():
                raise ValueError(
                    f"the admin token is too short ({len(token)} characters) or has surrounding "
                    f"whitespace; use at least {MIN_TOKEN_LENGTH} characters, e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                )
        for root in self.reload_roots:
            if not root.is_dir():
                raise ValueError(
                    f"reload root {root} is not a directory; give an existing directory to "
                    "--reload-root"
                )
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
        """JSON of every field but the admin token (the form workers read from
        ``$EMBEDREC_SERVE_CONFIG``; the token travels in ``$EMBEDREC_ADMIN_TOKEN``)."""
        d = dataclasses.asdict(self)
        d["artifact"] = str(self.artifact)
        d["reload_roots"] = [str(r) for r in self.reload_roots]
        del d["admin_token"]
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        """Inverse of :meth:`to_json`; the admin token comes from ``$EMBEDREC_ADMIN_TOKEN``."""
        d = json.loads(text)
        d["limits"] = ServiceLimits(**d.get("limits", {}))
        d["reload_roots"] = tuple(d.get("reload_roots", ()))
        d["admin_token"] = os.environ.get(ADMIN_TOKEN_ENV) or None
        return cls(**d)

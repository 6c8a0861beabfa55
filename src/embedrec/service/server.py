"""Running the app under uvicorn, one process or several.

:func:`run` is what ``embedrec serve`` calls. It uses :class:`NoDelayHTTPProtocol`, uvicorn's
HTTP protocol with ``TCP_NODELAY`` set on every connection: with ``--workers > 1`` uvicorn
binds the listening socket itself with ``proto=0``, asyncio then leaves Nagle's algorithm on
for accepted connections, and every keep-alive request after the first waits ~40 ms for the
client's delayed ACK (uvicorn issue #3149; measured here: 44 ms per request instead of 0.6).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

from .config import CONFIG_ENV, ServeConfig

try:
    import uvicorn

    try:  # the faster parser when uvicorn[standard] is installed
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _BaseProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as _BaseProtocol  # type: ignore[assignment]
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    raise ModuleNotFoundError(
        f"the embedrec service needs FastAPI and uvicorn ({exc.name} is missing); "
        'install them with: pip install "embedrec[service]"'
    ) from exc

__all__ = ["NoDelayHTTPProtocol", "run"]

logger = logging.getLogger("embedrec")

#: import path uvicorn worker processes load the protocol from
PROTOCOL = "embedrec.service.server:NoDelayHTTPProtocol"


class NoDelayHTTPProtocol(_BaseProtocol):
    """uvicorn's HTTP/1.1 protocol with ``TCP_NODELAY`` on every TCP connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - a socket that refuses is served as it is
                pass
        super().connection_made(transport)


def run(
    cfg: ServeConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Serve ``cfg`` until interrupted.

    With one worker the app is built here (the artifact is loaded before the port is bound,
    so a bad artifact fails at once). With several, each uvicorn worker process builds its
    own app from ``$EMBEDREC_SERVE_CONFIG`` (:func:`embedrec.service.app.app_from_env`).

    Raises
    ------
    ValueError
        ``workers < 1``.
    FileNotFoundError, NotADirectoryError, ValueError
        The artifact cannot be loaded.
    """
    if isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers={workers!r} is invalid; use --workers >= 1")
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": access_log,
        "http": PROTOCOL,
    }
    if workers == 1:
        from .app import app_from_config

        uvicorn.run(app_from_config(cfg), **common)
        return
    from .._io import read_manifest

    if not cfg.artifact.is_file():
        read_manifest(cfg.artifact)  # fail fast in the parent, not once per worker
    os.environ[CONFIG_ENV] = cfg.to_json()
    uvicorn.run("embedrec.service.app:app_from_env", factory=True, workers=workers, **common)

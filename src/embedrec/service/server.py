"""Running the app under uvicorn, one process or several.

:func:`run` is what ``embedrec serve`` calls. It uses :class:`NoDelayHTTPProtocol`, uvicorn's
HTTP protocol with ``TCP_NODELAY`` set on every connection: with ``--workers > 1`` uvicorn
binds the listening socket itself with ``proto=0``, asyncio then leaves Nagle's algorithm on
for accepted connections, and every keep-alive request after the first waits ~40 ms for the
client's delayed ACK (uvicorn issue #3149; measured here: 44 ms per request instead of 0.6).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from .channel import ReloadChannel
from .config import CONFIG_ENV, ServeConfig
from .state import artifact_fingerprint

try:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

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
    own app from ``$EMBEDREC_SERVE_CONFIG`` (:func:`embedrec.service.app.app_from_env`), and
    this process supervises them: its ``SIGHUP`` and ``--watch`` reach every worker through a
    :class:`~embedrec.service.channel.ReloadChannel`.

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
    from .config import ADMIN_TOKEN_ENV, CHANNEL_ENV

    if not cfg.artifact.is_file():
        read_manifest(cfg.artifact)  # fail fast in the parent, not once per worker
    cfg = dataclasses.replace(cfg, workers=workers)
    channel = ReloadChannel.create()
    os.environ[CONFIG_ENV] = cfg.to_json()
    os.environ[CHANNEL_ENV] = str(channel.directory)
    if cfg.admin_token:
        os.environ[ADMIN_TOKEN_ENV] = cfg.admin_token
    # the workers' numeric libraries read these when they load (limit_threads then holds them)
    for var in _THREAD_VARS:
        os.environ[var] = str(cfg.threads)
    config = uvicorn.Config(
        "embedrec.service.app:app_from_env", factory=True, workers=workers, **common
    )
    sock = config.bind_socket()
    supervisor = _Supervisor(config, sockets=[sock], channel=channel, cfg=cfg)
    try:
        supervisor.run()
    except KeyboardInterrupt:  # pragma: no cover - interactive stop
        pass
    finally:
        supervisor.stop_watching()
        channel.close()


#: thread-count variables of OpenBLAS, MKL, OpenMP (faiss) and numba, set for worker processes
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


class _Supervisor(Multiprocess):
    """uvicorn's worker supervisor, with reloads that reach every worker.

    uvicorn restarts every worker process on ``SIGHUP``; here ``SIGHUP`` publishes a reload
    order instead, which each worker applies in place (no cold start, no lost connections),
    and ``--watch`` runs here once rather than in every worker.
    """

    def __init__(
        self, config: Any, *, sockets: list[socket.socket], channel: ReloadChannel, cfg: ServeConfig
    ) -> None:
        if "target" in inspect.signature(Multiprocess.__init__).parameters:  # uvicorn < 0.36
            super().__init__(config, target=uvicorn.Server(config).run, sockets=sockets)  # type: ignore[call-arg]
        else:
            super().__init__(config, sockets=sockets)
        self.channel = channel
        self.cfg = cfg
        self._stop_watch = threading.Event()
        self._watcher: threading.Thread | None = None
        if cfg.watch is not None:
            self._watcher = threading.Thread(
                target=self._watch, args=(cfg.watch,), name="embedrec-watch", daemon=True
            )
            self._watcher.start()

    def handle_hup(self) -> None:
        logger.info("SIGHUP: every worker re-reads the served artifact")
        self.channel.publish(None, "sighup")

    def served_path(self) -> Path:
        order = self.channel.read()
        if order is not None and order.path is not None:
            return Path(order.path)
        return self.cfg.artifact

    def _watch(self, interval: float) -> None:
        watched = self.served_path()
        seen = artifact_fingerprint(watched)
        while not self._stop_watch.wait(interval):
            path = self.served_path()
            if path != watched:  # an API reload switched paths
                watched, seen = path, artifact_fingerprint(path)
                continue
            now = artifact_fingerprint(watched)
            if now is None or now == seen:
                continue
            seen = now
            logger.info("%s changed: every worker reloads it", watched)
            self.channel.publish(str(watched), "watch")

    def stop_watching(self) -> None:
        self._stop_watch.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

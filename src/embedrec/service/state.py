"""The served state and its hot reload, in one worker or across several.

Design: :class:`ServiceState` holds one reference, :attr:`ServiceState.current`, to an immutable
:class:`~embedrec.service.artifact.ServedArtifact`. A request handler reads that reference once
and answers from the object it got. A reload loads the new artifact completely in a background
thread (vectors, model and index, while the old one keeps serving), then swaps the reference in
one assignment. So a request that started before the swap finishes on the old artifact, a request
that starts after it sees the new one, and none sees a mix or waits. A failed load leaves
:attr:`current` untouched and is reported by :attr:`ServiceState.last_reload`, with a short
error id: the detail (paths, messages) goes to the server log only.

Three triggers share the reload: ``POST /admin/reload``, ``SIGHUP`` and ``--watch`` (polling the
artifact's ``CURRENT`` generation pointer, or every file of a flat directory).

With several worker processes a :class:`~embedrec.service.channel.ReloadChannel` carries each
reload to all of them: the worker that got ``POST /admin/reload`` loads first and, only if that
succeeded, publishes the order; the others follow within a poll interval (0.2 s). ``SIGHUP`` and
``--watch`` are handled by the supervisor, which publishes the order. The order's sequence
number is the generation every worker serves it under.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from .artifact import ServedArtifact
from .channel import ReloadChannel, ReloadOrder

__all__ = [
    "ReloadInProgressError",
    "ReloadStatus",
    "ServiceState",
    "artifact_fingerprint",
    "new_error_id",
]

logger = logging.getLogger("embedrec")

ReloadState = Literal["idle", "loading", "succeeded", "failed"]
Loader = Callable[[Path, int], ServedArtifact]

#: seconds between two looks at the reload channel
CHANNEL_POLL = 0.2
#: seconds a reload with ``wait`` waits for the other workers
WAIT_WORKERS = 120.0


def new_error_id() -> str:
    """A short random id that ties a client's error answer to the server log's detail."""
    return secrets.token_hex(4)


@dataclass(frozen=True)
class ReloadStatus:
    """Outcome of the latest reload (``state="idle"`` before the first).

    ``path`` is the artifact as the client named it (relative to a reload root) or the served
    directory's name, never an absolute server path; ``error`` says the load failed and gives
    an error id whose detail is in the server log; ``workers`` is how many worker processes serve
    the new generation (when the reload waited for them).
    """

    state: ReloadState = "idle"
    path: str | None = None
    trigger: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    generation: int | None = None
    error: str | None = None
    error_id: str | None = None
    workers: int | None = None


def artifact_fingerprint(path: Path) -> tuple[tuple[str, int, int, int], ...] | None:
    """Identity of what a reload of ``path`` would read; ``None`` while nothing is there.

    A generation store changes exactly when its ``CURRENT`` pointer is replaced (a new inode),
    so that one file is enough. A flat directory (the layout before generation stores) or a
    word2vec-format file is fingerprinted by every file under it, not just the manifest.
    """
    try:
        if path.is_dir() and (path / "CURRENT").is_file():
            files = [path / "CURRENT"]
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            if not files:
                return None
        else:
            files = [path]
        parts = []
        for f in files:
            st = os.stat(f)
            parts.append(
                (
                    str(f.relative_to(path)) if f != path else "",
                    st.st_ino,
                    st.st_mtime_ns,
                    st.st_size,
                )
            )
        return tuple(parts)
    except (FileNotFoundError, NotADirectoryError):
        return None


class ReloadInProgressError(RuntimeError):
    """A reload was asked for while another one is still loading."""


class ServiceState:
    """The served artifact, swapped atomically by reloads.

    Parameters
    ----------
    initial : ServedArtifact
        Served until the first successful reload.
    loader : callable
        ``loader(path, generation) -> ServedArtifact``; the same index settings as at start.
    channel : ReloadChannel, optional
        The reload channel of a multi-worker service (``None``: this process is the service).
    n_workers : int, default 1
        Worker processes of the service (what a reload with ``wait`` waits for).
    """

    def __init__(
        self,
        initial: ServedArtifact,
        loader: Loader,
        *,
        channel: ReloadChannel | None = None,
        n_workers: int = 1,
    ) -> None:
        self.current = initial
        self._loader = loader
        self._channel = channel
        self._n_workers = n_workers
        self._lock = threading.Lock()  # one reload at a time
        self._last = ReloadStatus()
        self._status_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._follower: threading.Thread | None = None
        #: how reload statuses name the served artifact (never an absolute path)
        self.display: Callable[[Path], str] = lambda p: p.name
        #: call ``gc.freeze()`` after each swap (the server sets it; see create_app)
        self.freeze_gc = False

    @property
    def channel(self) -> ReloadChannel | None:
        """The multi-worker reload channel, if any."""
        return self._channel

    @property
    def last_reload(self) -> ReloadStatus:
        """The latest reload's outcome."""
        with self._status_lock:
            return self._last

    def _set_status(self, status: ReloadStatus) -> None:
        with self._status_lock:
            self._last = status

    def reload(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        trigger: str = "api",
        wait: bool = False,
        display: str | None = None,
    ) -> ReloadStatus:
        """Load ``path`` (default: the served path) and swap it in (on every worker).

        Parameters
        ----------
        path : path, optional
            A new artifact to serve (already checked against the reload roots by the caller);
            ``None`` re-reads the one being served.
        trigger : str
            Recorded in the status (``"api"``, ``"sighup"``, ``"watch"``).
        wait : bool, default False
            Block until the load ends (and, with several workers, until every worker serves
            it) and return its outcome; else return at once with state ``"loading"``.
        display : str, optional
            How the status names the artifact (default: its directory name).

        Returns
        -------
        ReloadStatus

        Raises
        ------
        ReloadInProgressError
            Another reload is still loading; this one was not started.
        """
        target = Path(path) if path is not None else self.current.path
        if not self._lock.acquire(blocking=False):
            raise ReloadInProgressError(
                "a reload is still loading; retry when GET /admin/reload says it has finished"
            )
        status = ReloadStatus(
            state="loading",
            path=display if display is not None else self.display(target),
            trigger=trigger,
            started_at=datetime.now(timezone.utc),
        )
        self._set_status(status)
        thread = threading.Thread(
            target=self._run,
            args=(target, status, None, wait),
            name="embedrec-reload",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        if wait:
            thread.join()
            return self.last_reload
        return status

    def _run(
        self, target: Path, status: ReloadStatus, order: ReloadOrder | None, wait: bool
    ) -> None:
        """Load ``target``, swap it in; publish (a local reload of a multi-worker service) or
        acknowledge (an order from the channel). Runs with :attr:`_lock` held."""
        try:
            channel = self._channel
            # the generation of a channel order is its sequence number; a local reload of a
            # multi-worker service learns its number when it publishes, after a good load
            generation = order.seq if order is not None else self.current.generation + 1
            logger.info("reload (%s): loading %s", status.trigger, target)
            try:
                new = self._loader(target, generation)
            except Exception as exc:  # any failure keeps the old state: report, do not crash
                error_id = new_error_id()
                logger.error(
                    "reload of %s failed [error id %s]; still serving generation %d from %s: "
                    "%s: %s",
                    target,
                    error_id,
                    self.current.generation,
                    self.current.path,
                    type(exc).__name__,
                    exc,
                )
                if order is not None and channel is not None:
                    channel.ack(order.seq, ok=False)
                self._set_status(
                    replace(
                        status,
                        state="failed",
                        finished_at=datetime.now(timezone.utc),
                        # not even the exception class: a missing artifact and a broken
                        # one must look alike to clients
                        error=f"the load failed (error id {error_id}; see the server log)",
                        error_id=error_id,
                    )
                )
                return
            if order is None and channel is not None:
                published = channel.publish(
                    str(target), status.trigger or "api", at_least=self.current.generation + 1
                )
                generation = published.seq
                new = dataclasses.replace(new, generation=generation)
            self.current = new  # the swap: one reference assignment
            if self.freeze_gc:
                gc.freeze()  # the new artifact is long-lived too (see create_app's lifespan)
            if channel is not None:
                channel.ack(generation, ok=True)
            logger.info(
                "reload (%s): now serving generation %d from %s", status.trigger, generation, target
            )
            workers = None
            if channel is not None and order is None and wait:
                acks = channel.wait_acks(generation, self._n_workers, WAIT_WORKERS)
                workers = sum(a.ok for a in acks)
            self._set_status(
                replace(
                    status,
                    state="succeeded",
                    finished_at=datetime.now(timezone.utc),
                    generation=generation,
                    workers=workers,
                )
            )
        finally:
            self._lock.release()

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running reload (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # ------------------------------------------------------------------ the channel
    def start_following(self) -> None:
        """Apply the channel's orders as they come (a worker of a multi-worker service)."""
        channel = self._channel
        if channel is None or self._follower is not None:
            return
        self._stop.clear()

        def loop() -> None:
            seen = None
            while not self._stop.wait(CHANNEL_POLL):
                stamp = channel.stamp()
                if stamp is None or stamp == seen:
                    continue
                try:
                    order = channel.read()
                except (OSError, ValueError, KeyError) as exc:  # pragma: no cover - torn read
                    logger.warning("unreadable reload order (%s); looking again", exc)
                    continue
                if order is None or order.seq <= self.current.generation:
                    seen = stamp
                    continue
                if not self._lock.acquire(timeout=1.0):
                    continue  # a local reload is loading; look again afterwards
                seen = stamp
                target = Path(order.path) if order.path is not None else self.current.path
                status = ReloadStatus(
                    state="loading",
                    path=self.display(target),
                    trigger=order.trigger,
                    started_at=datetime.now(timezone.utc),
                )
                self._set_status(status)
                self._run(target, status, order, wait=False)  # releases the lock

        self._follower = threading.Thread(target=loop, name="embedrec-follow", daemon=True)
        self._follower.start()

    # ------------------------------------------------------------------ --watch
    def start_watching(self, interval: float) -> None:
        """Poll the served artifact every ``interval`` seconds; reload when it changes.

        A change that fails to load is not retried until the files change again.
        """
        if self._watcher is not None:
            return
        self._stop.clear()

        def loop() -> None:
            watched = self.current.path
            seen = artifact_fingerprint(watched)
            while not self._stop.wait(interval):
                if self.current.path != watched:  # an API reload switched paths
                    watched = self.current.path
                    seen = artifact_fingerprint(watched)
                    continue
                now = artifact_fingerprint(watched)
                if now is None or now == seen:
                    continue
                seen = now
                try:
                    self.reload(watched, trigger="watch", wait=True)
                except ReloadInProgressError:
                    seen = None  # look again next time
                    continue

        self._watcher = threading.Thread(target=loop, name="embedrec-watch", daemon=True)
        self._watcher.start()
        logger.info("watching %s for changes every %gs", self.current.path, interval)

    def stop(self) -> None:
        """Stop the watcher and follower threads (a running reload finishes on its own)."""
        self._stop.set()
        for thread in (self._watcher, self._follower):
            if thread is not None:
                thread.join(timeout=5)
        self._watcher = None
        self._follower = None

"""The served state and its hot reload.

Design: :class:`ServiceState` holds one reference, :attr:`ServiceState.current`, to an immutable
:class:`~embedrec.service.artifact.ServedArtifact`. A request handler reads that reference once
and answers from the object it got. A reload loads the new artifact completely in a background
thread (vectors, model and index, while the old one keeps serving), then swaps the reference in
one assignment. So a request that started before the swap finishes on the old artifact, a request
that starts after it sees the new one, and none sees a mix or waits. A failed load leaves
:attr:`current` untouched and is reported by :attr:`ServiceState.last_reload`.

Three triggers share :meth:`ServiceState.reload`: ``POST /admin/reload``, ``SIGHUP`` and
``--watch`` (polling the served ``manifest.json``).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from .._io import MANIFEST
from .artifact import INDEX_DIR, ServedArtifact

__all__ = ["ReloadInProgressError", "ReloadStatus", "ServiceState"]

logger = logging.getLogger("embedrec")

ReloadState = Literal["idle", "loading", "succeeded", "failed"]
Loader = Callable[[Path, int], ServedArtifact]


@dataclass(frozen=True)
class ReloadStatus:
    """Outcome of the latest reload (``state="idle"`` before the first one)."""

    state: ReloadState = "idle"
    path: str | None = None
    trigger: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    generation: int | None = None
    error: str | None = None


def _fingerprint(path: Path) -> tuple[tuple[int, int, int], ...] | None:
    """Identity of the artifact's manifest files; ``None`` while the artifact is missing.

    Model ``save`` replaces the whole directory, so the manifest's inode changes even when its
    mtime and size happen not to.
    """
    files = [path / MANIFEST, path / INDEX_DIR / MANIFEST] if path.is_dir() else [path]
    parts = []
    for i, f in enumerate(files):
        try:
            st = os.stat(f)
        except (FileNotFoundError, NotADirectoryError):
            if i == 0:
                return None
            continue
        parts.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(parts)


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
    """

    def __init__(self, initial: ServedArtifact, loader: Loader) -> None:
        self.current = initial
        self._loader = loader
        self._lock = threading.Lock()  # one reload at a time
        self._last = ReloadStatus()
        self._status_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        #: call ``gc.freeze()`` after each swap (the server sets it; see create_app)
        self.freeze_gc = False

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
    ) -> ReloadStatus:
        """Load ``path`` (default: the served path) and swap it in.

        Parameters
        ----------
        path : path, optional
            A new artifact to serve; ``None`` re-reads the one being served.
        trigger : str
            Recorded in the status (``"api"``, ``"sighup"``, ``"watch"``).
        wait : bool, default False
            Block until the load ends and return its outcome; else return at once with state
            ``"loading"``.

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
                f"a reload of {self.last_reload.path} is still loading; retry when "
                "GET /admin/reload says it has finished"
            )
        status = ReloadStatus(
            state="loading",
            path=str(target),
            trigger=trigger,
            started_at=datetime.now(timezone.utc),
        )
        self._set_status(status)
        thread = threading.Thread(
            target=self._run, args=(target, status), name="embedrec-reload", daemon=True
        )
        self._thread = thread
        thread.start()
        if wait:
            thread.join()
            return self.last_reload
        return status

    def _run(self, target: Path, status: ReloadStatus) -> None:
        try:
            generation = self.current.generation + 1
            logger.info("reload (%s): loading %s", status.trigger, target)
            try:
                new = self._loader(target, generation)
            except Exception as exc:  # any failure keeps the old state: report, do not crash
                logger.error(
                    "reload of %s failed; still serving generation %d from %s: %s",
                    target,
                    self.current.generation,
                    self.current.path,
                    exc,
                )
                self._set_status(
                    replace(
                        status,
                        state="failed",
                        finished_at=datetime.now(timezone.utc),
                        error=f"{type(exc).__name__}: {exc}",
                    )
                )
                return
            self.current = new  # the swap: one reference assignment
            if self.freeze_gc:
                gc.freeze()  # the new artifact is long-lived too (see create_app's lifespan)
            logger.info(
                "reload (%s): now serving generation %d from %s", status.trigger, generation, target
            )
            self._set_status(
                replace(
                    status,
                    state="succeeded",
                    finished_at=datetime.now(timezone.utc),
                    generation=generation,
                )
            )
        finally:
            self._lock.release()

    def join(self, timeout: float | None = None) -> None:
        """Wait for a running reload (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # ------------------------------------------------------------------ --watch
    def start_watching(self, interval: float) -> None:
        """Poll the served artifact every ``interval`` seconds; reload when its manifest changes.

        A change that fails to load is not retried until the files change again.
        """
        if self._watcher is not None:
            return
        self._stop.clear()

        def loop() -> None:
            watched = self.current.path
            seen = _fingerprint(watched)
            while not self._stop.wait(interval):
                if self.current.path != watched:  # an API reload switched paths
                    watched = self.current.path
                    seen = _fingerprint(watched)
                    continue
                now = _fingerprint(watched)
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
        """Stop the watcher thread (a running reload finishes on its own)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

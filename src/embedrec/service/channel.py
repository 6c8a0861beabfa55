"""The reload channel: how one reload reaches every worker process of a service.

With ``--workers N > 1`` uvicorn runs N processes that each hold their own copy of the served
artifact. A reload asked of any of them (``POST /admin/reload`` lands on one worker, ``SIGHUP``
and ``--watch`` on the supervisor) is written here as an *order*: a sequence number and the
artifact path to serve. Every worker polls the channel, applies each new order (load in the
background, then swap), and writes an acknowledgement. The order's sequence number is the
generation every worker serves it under, so ``X-Embedrec-Generation`` means the same artifact
on every worker, and a worker that uvicorn restarts after a crash starts on the latest order.

The channel is a private directory (mode 0700) the supervisor creates for the life of the
service; its path reaches the workers in ``$EMBEDREC_RELOAD_CHANNEL``. Orders are written
atomically (temporary file, ``os.replace``) under an ``flock``, so sequence numbers never
repeat, and a reader sees one whole order or the previous one.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Ack", "ReloadChannel", "ReloadOrder"]

_ORDER = "order.json"
_LOCK = "lock"


@dataclass(frozen=True)
class ReloadOrder:
    """Serve ``path`` as generation ``seq`` (``path=None``: the artifact served at start)."""

    seq: int
    path: str | None
    trigger: str


@dataclass(frozen=True)
class Ack:
    """A worker's outcome of an order."""

    pid: int
    seq: int
    ok: bool


class ReloadChannel:
    """Orders and acknowledgements in a directory shared by the workers of one service.

    Parameters
    ----------
    directory : path
        An existing private directory (see :meth:`create`).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    @classmethod
    def create(cls, parent: str | os.PathLike[str] | None = None) -> ReloadChannel:
        """A new channel in a fresh 0700 directory (under ``parent`` or the temp dir)."""
        import tempfile

        return cls(tempfile.mkdtemp(prefix="embedrec-reload-", dir=parent))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.directory / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def read(self) -> ReloadOrder | None:
        """The latest order, or ``None`` before the first."""
        try:
            data = json.loads((self.directory / _ORDER).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return ReloadOrder(int(data["seq"]), data["path"], str(data["trigger"]))

    def stamp(self) -> tuple[int, int] | None:
        """A cheap identity of the order file (inode, mtime): poll this, :meth:`read` on change."""
        try:
            st = os.stat(self.directory / _ORDER)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def publish(self, path: str | None, trigger: str, *, at_least: int = 0) -> ReloadOrder:
        """Write the next order (sequence = max(latest + 1, ``at_least``)) and return it.

        ``path=None`` (re-read what is served: ``SIGHUP``) keeps the latest order's path, so a
        worker that starts later loads what the others serve.
        """
        with self._locked():
            last = self.read()
            if path is None and last is not None:
                path = last.path
            seq = max((last.seq if last is not None else 0) + 1, at_least)
            order = ReloadOrder(seq, path, trigger)
            tmp = self.directory / f".{_ORDER}.{os.getpid()}.tmp"
            tmp.write_text(
                json.dumps({"seq": seq, "path": path, "trigger": trigger}), encoding="utf-8"
            )
            os.replace(tmp, self.directory / _ORDER)
            return order

    def ack(self, seq: int, ok: bool) -> None:
        """Record this process's outcome of order ``seq``."""
        pid = os.getpid()
        tmp = self.directory / f".ack-{pid}.tmp"
        tmp.write_text(json.dumps({"pid": pid, "seq": seq, "ok": ok}), encoding="utf-8")
        os.replace(tmp, self.directory / f"ack-{pid}.json")

    def acks(self) -> list[Ack]:
        """The latest acknowledgement of every worker process that is still alive."""
        out = []
        for f in self.directory.glob("ack-*.json"):
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            pid = int(data["pid"])
            if not _alive(pid):
                f.unlink(missing_ok=True)
                continue
            out.append(Ack(pid, int(data["seq"]), bool(data["ok"])))
        return out

    def wait_acks(self, seq: int, n_workers: int, timeout: float) -> list[Ack]:
        """Wait until ``n_workers`` live workers acknowledged order ``seq`` or a later one
        (or ``timeout`` seconds pass); return those acknowledgements."""
        deadline = time.monotonic() + timeout
        while True:
            done = [a for a in self.acks() if a.seq >= seq]
            if len(done) >= n_workers or time.monotonic() >= deadline:
                return done
            time.sleep(0.05)

    def close(self) -> None:
        """Remove the channel directory (the supervisor, at shutdown)."""
        import shutil

        shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's pid reused the number
        return True
    return True

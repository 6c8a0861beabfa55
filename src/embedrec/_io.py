"""Atomic file and directory writes, and strict JSON manifests.

Every file embedrec writes goes to a temporary sibling first and is renamed into place, so an
interrupted write never leaves a half-written artifact where a good one was expected. Model
directories are generation stores (:mod:`embedrec.artifacts`): ``read_manifest`` and
``read_npy`` read them through :func:`~embedrec.artifacts.resolve_artifact` and
:func:`~embedrec.artifacts.check_npy`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from .artifacts import (
    FORMAT_VERSION as FORMAT_VERSION,  # re-exported: the manifest constants live there
)
from .artifacts import (
    MANIFEST as MANIFEST,
)
from .artifacts import (
    MANIFEST_MAX_BYTES,
    check_artifact_target,
    check_manifest,
    create_fresh,
    create_temp_file,
    load_npy,
    make_dir,
    read_json,
    resolve_artifact,
    save_step,
)


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success.

    The file gets the usual permissions (0o666 filtered by the umask), not ``mkstemp``'s 0600.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; give a file path to write to")
    path.parent.mkdir(parents=True, exist_ok=True)
    # 4 random bytes: the name pattern the next save of a model directory cleans up
    fd, tmp = create_temp_file(path.parent, path.name, token_bytes=4)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        save_step(f"file-written:{path.name}")
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success it replaces ``path`` as a whole.

    For flat output directories meant for other tools (``export --format npy``) and training
    checkpoints; model and index saves use :func:`embedrec.artifacts.publish_artifact`, whose
    readers never see a half-replaced directory. A non-empty ``path`` that is not an embedrec
    artifact is refused rather than deleted.
    """
    path = Path(path)
    check_artifact_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _fresh_dir(path, "tmp")
    try:
        yield tmp
        if path.exists():
            old = _fresh_dir(path, "old")
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fresh_dir(path: Path, suffix: str) -> Path:
    """A new sibling directory of ``path``, named from it, 4 random bytes and ``suffix``
    (umask permissions, not ``mkdtemp``'s 0700)."""
    return create_fresh(path.parent, path.name, suffix, make_dir, token_bytes=4)[1]


def _json_safe(obj: Any) -> Any:
    """NaN and infinities (e.g. the loss of an epoch with no training example) become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_json(path: Path, obj: Any) -> None:
    """Write strict JSON atomically; non-finite floats are written as null."""
    with atomic_open(path, "w") as fh:
        json.dump(_json_safe(obj), fh, indent=2, sort_keys=False, allow_nan=False)
        fh.write("\n")


def write_npy(path: Path, arr: npt.NDArray[Any]) -> None:
    with atomic_open(path, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)


def read_npy(path: Path, mmap: bool = False) -> npt.NDArray[Any]:
    """Load a ``.npy`` file without ever unpickling objects.

    The header is checked against the file size first (:func:`embedrec.artifacts.load_npy`),
    so an empty, truncated or forged file is a ``ValueError``, never an ``EOFError`` or a huge
    allocation.
    """
    return load_npy(path, mmap=mmap)


def read_manifest(
    path: str | os.PathLike[str], expected_class: str | None = None
) -> dict[str, Any]:
    """Read and validate ``manifest.json`` of an artifact directory.

    For a generation store this is the manifest of the generation ``CURRENT`` names now; a
    loader that reads more files must resolve the directory once
    (:func:`embedrec.artifacts.load_consistent`) and pass the generation directory here.
    """
    directory, _ = resolve_artifact(path)
    mpath = directory / MANIFEST
    if not mpath.is_file():
        raise ValueError(
            f"{directory} has no {MANIFEST}: it is not an embedrec model directory "
            "(save one with model.save(dir))"
        )
    manifest = check_manifest(read_json(mpath, max_bytes=MANIFEST_MAX_BYTES), mpath)
    if expected_class is not None and manifest.get("class") != expected_class:
        raise ValueError(
            f"{path} holds a {manifest.get('class')!r}, not a {expected_class!r}; "
            f"load it with {manifest.get('class')}.load"
        )
    return manifest


def make_manifest(cls: str, **fields: Any) -> dict[str, Any]:
    return {"library": "embedrec", "format_version": FORMAT_VERSION, "class": cls, **fields}

"""Atomic file and directory writes, and strict JSON manifests.

Every file embedrec writes goes to a temporary sibling first and is renamed into place, so an
interrupted write never leaves a half-written artifact where a good one was expected.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; give a file path to write to")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success it replaces ``path`` as a whole.

    An existing ``path`` is only replaced once the new contents are complete. A non-empty
    ``path`` that is not an embedrec artifact (no manifest) is refused rather than deleted.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a directory; choose another output path")
    if path.is_dir() and any(path.iterdir()) and not (path / MANIFEST).exists():
        raise FileExistsError(
            f"{path} is a non-empty directory that is not an embedrec artifact; "
            "choose an empty or new directory so nothing of yours is overwritten"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
    """Load a ``.npy`` file without ever unpickling objects."""
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)  # type: ignore[no-any-return]
    except FileNotFoundError:
        raise
    except ValueError as exc:
        raise ValueError(
            f"{path} is not a valid numeric .npy array ({exc}); re-save the model with embedrec"
        ) from exc


def read_manifest(
    path: str | os.PathLike[str], expected_class: str | None = None
) -> dict[str, Any]:
    """Read and validate ``manifest.json`` of an artifact directory."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model directory {path} does not exist; check the path")
    if not path.is_dir():
        raise NotADirectoryError(
            f"{path} is a file, not a model directory; for word2vec-format files use "
            "Embeddings.load_word2vec_format"
        )
    mpath = path / MANIFEST
    if not mpath.exists():
        raise ValueError(
            f"{path} has no {MANIFEST}: it is not an embedrec model directory "
            "(save one with model.save(dir))"
        )
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{mpath} is corrupt ({exc}); re-save the model") from exc
    if not isinstance(manifest, dict) or manifest.get("library") != "embedrec":
        raise ValueError(f"{mpath} is not an embedrec manifest; re-save the model with embedrec")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{mpath} has format_version={version!r}; this embedrec reads versions <= "
            f"{FORMAT_VERSION}: upgrade embedrec"
        )
    if expected_class is not None and manifest.get("class") != expected_class:
        raise ValueError(
            f"{path} holds a {manifest.get('class')!r}, not a {expected_class!r}; "
            f"load it with {manifest.get('class')}.load"
        )
    return manifest


def make_manifest(cls: str, **fields: Any) -> dict[str, Any]:
    return {"library": "embedrec", "format_version": FORMAT_VERSION, "class": cls, **fields}

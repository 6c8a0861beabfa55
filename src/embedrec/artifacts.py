"""Artifact directories that readers always see whole: a generation store with a pointer.

Every model directory ``art/`` that a ``save`` writes is a *generation store*::

    art/CURRENT            the live generation's name ("gen-000003\\n"), replaced atomically
    art/gen-000003/        immutable once published: manifest.json + the model's files
    art/gen-000002/        the previous generation (readers may still be loading it)
    art/.staging-<random>/ a save in progress
    art/.lock              savers hold an exclusive ``flock`` on it: one save at a time

A save (:func:`publish_artifact`) writes into a fresh staging directory, records the size,
SHA-256 and (for ``.npy``) shape and dtype of every file in the manifest's ``files`` table,
renames the staging directory to a new generation name (a fresh name, so the rename replaces
nothing), and only then swaps ``CURRENT``. A reader (:func:`resolve_artifact`,
:func:`load_consistent`) reads ``CURRENT`` once and reads every file from that one generation,
so it gets either the old model or the new one, never a mix and never nothing. A directory
that holds ``manifest.json`` directly (the layout of embedrec before generations, or a
generation directory itself) still loads as it is.

Loaders check a directory before they use it (:func:`verify_artifact`): a sane manifest, every
file the model needs, sizes, checksums and ``.npy`` headers that agree with the ``files`` table,
and ``.npy`` headers that agree with their file's size (:func:`check_npy`), so a truncated or
forged file is a clear ``ValueError`` rather than an ``EOFError`` or a ``MemoryError``.

Everything is created with the modes ``0o777`` / ``0o666`` filtered by the process umask, so a
service running as another user can read artifacts as it reads any other file.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

__all__ = [
    "CURRENT",
    "FORMAT_VERSION",
    "MANIFEST",
    "check_artifact_target",
    "check_manifest",
    "check_npy",
    "current_generation",
    "extend_artifact",
    "has_file",
    "is_artifact_dir",
    "load_consistent",
    "load_npy",
    "publish_artifact",
    "read_json",
    "resolve_artifact",
    "verify_artifact",
    "write_files_table",
]

logger = logging.getLogger("embedrec")

T = TypeVar("T")

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
LOCK = ".lock"
STAGING_PREFIX = ".staging-"
#: largest manifest.json a reader accepts
MANIFEST_MAX_BYTES = 64 << 20
#: attempts of :func:`load_consistent` when saves keep replacing the generation it reads (a
#: load fails only when two saves complete during it; back-to-back saves in a loop do that to
#: a few percent of loads). Failures cluster: a reader slowed by a busy machine stays slow
#: for a while, and ten attempts once ran out on a loaded 2-core CI lane (2 of 800 loads),
#: so thirty. A retry happens only when a save really replaced the generation.
LOAD_ATTEMPTS = 30

_GEN_RE = re.compile(r"^gen-([0-9]{6,})$")
_CURRENT_TMP_RE = re.compile(r"^\.CURRENT\.[0-9a-f]+\.tmp$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CURRENT_MAX_BYTES = 256
_CHUNK = 1 << 20
_HEADER_LOCK = threading.Lock()

#: Called with the name of each step of a save (tests set it to inject faults, e.g. a kill
#: between two steps); ``None`` in normal use.
save_hook: Callable[[str], None] | None = None


def save_step(name: str) -> None:
    """Mark the end of one step of a save (calls :data:`save_hook` when a test set it)."""
    if save_hook is not None:
        save_hook(name)


# ---------------------------------------------------------------------------------- file system
def make_dir(path: Path) -> None:
    """``mkdir`` with mode 0o777 filtered by the umask (``mkdtemp`` would give 0700)."""
    os.mkdir(path, 0o777)


def create_file(path: Path) -> int:
    """Create ``path`` exclusively, mode 0o666 filtered by the umask (``mkstemp`` gives 0600);
    returns the open write descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)


def create_fresh(
    directory: Path, stem: str, suffix: str, make: Callable[[Path], T], token_bytes: int = 8
) -> tuple[T, Path]:
    """Create a fresh ``.{stem}.{random hex}.{suffix}`` in ``directory`` with ``make`` (which
    raises ``FileExistsError`` for a taken name, as :func:`create_file` and :func:`make_dir`
    do); returns what ``make`` returned and the path."""
    while True:
        tmp = directory / f".{stem}.{secrets.token_hex(token_bytes)}.{suffix}"
        try:
            return make(tmp), tmp
        except FileExistsError:  # pragma: no cover - at least 32 random bits
            continue


def create_temp_file(directory: Path, stem: str, token_bytes: int = 8) -> tuple[int, Path]:
    """Create a fresh ``.{stem}.{random hex}.tmp`` in ``directory`` (as :func:`create_file`);
    returns its open write descriptor and its path."""
    return create_fresh(directory, stem, "tmp", create_file, token_bytes)


def fsync_dir(path: Path) -> None:
    """Make the directory entries of ``path`` (renames, new files) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _token() -> str:
    return secrets.token_hex(8)


def _write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to a temporary file beside ``path``, fsync it and rename it onto ``path``."""
    tmp = path.with_name(f".{path.name}.{_token()}.tmp")
    fd = create_file(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------- reading
def read_json(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> Any:
    """Parse a JSON file, turning every way it can be bad into a ``ValueError``.

    Parameters
    ----------
    path : path
    max_bytes : int, optional
        Refuse a larger file before reading it (manifests use :data:`MANIFEST_MAX_BYTES`).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Too large, not UTF-8, not JSON, or nested too deeply to parse.
    """
    path = Path(path)
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ValueError(
            f"{path} is {size} bytes, more than the {max_bytes} an embedrec file of this kind "
            "may have; it is corrupt or not embedrec's: re-save the model"
        )
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except RecursionError:
        raise ValueError(
            f"{path} nests JSON arrays or objects too deeply to read; it is corrupt or not "
            "embedrec's: re-save the model"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is corrupt ({exc}); re-save the model") from exc


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype[Any], bool, int]:
    """(shape, dtype, fortran_order, data offset) of a checked ``.npy`` file."""
    fmt = np.lib.format
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        try:
            if size == 0:
                raise ValueError("the file is empty")
            # numpy parses the header with the ast module, which CPython 3.11 cannot run in
            # two threads at once (SystemError "AST constructor recursion depth mismatch")
            with _HEADER_LOCK:
                version = fmt.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, fortran, dtype = fmt.read_array_header_2_0(fh)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
            offset = fh.tell()
        except (ValueError, EOFError, SyntaxError, TypeError, OverflowError) as exc:
            raise ValueError(
                f"{path} is not a valid numeric .npy array ({exc}); re-save the model"
            ) from None
    if dtype.hasobject:
        raise ValueError(
            f"{path} is not a valid numeric .npy array (dtype {dtype} holds Python objects, "
            "which embedrec never writes); re-save the model"
        )
    need = math.prod(shape) * dtype.itemsize
    have = size - offset
    if have != need:
        raise ValueError(
            f"{path} is not a valid numeric .npy array: its header describes a {dtype} array "
            f"of shape {tuple(shape)} ({need} bytes of data) but the file holds {have} bytes; "
            "it is truncated or corrupt, re-save the model"
        )
    return tuple(int(s) for s in shape), dtype, bool(fortran), offset


def check_npy(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Read and check the header of a ``.npy`` file without reading its data.

    The header must describe a numeric (non-object) array whose data exactly fills the rest
    of the file, so a truncated file, an empty file or a header that claims more data than
    the file holds is refused before anything is allocated.

    Returns
    -------
    shape : tuple of int
    dtype : numpy.dtype

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a valid numeric ``.npy`` file, or its size disagrees with its header.
    """
    shape, dtype, _, _ = _npy_header(Path(path))
    return shape, dtype


def load_npy(path: str | os.PathLike[str], *, mmap: bool = False) -> np.ndarray[Any, Any]:
    """Read a ``.npy`` file checked by :func:`check_npy` (never unpickling anything).

    Parameters
    ----------
    path : path
    mmap : bool, default False
        Map the data read-only (a ``numpy.memmap``) instead of reading it.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        As :func:`check_npy`, or the file changed while it was read.
    """
    path = Path(path)
    shape, dtype, fortran, offset = _npy_header(path)
    order: Literal["C", "F"] = "F" if fortran else "C"
    count = math.prod(shape)
    if mmap and count:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = np.fromfile(fh, dtype=dtype, count=count)
    if data.size != count:
        raise ValueError(f"{path} was truncated while it was read; re-save the model")
    return data.reshape(shape, order=order)


def check_manifest(manifest: Any, where: str | os.PathLike[str]) -> dict[str, Any]:
    """Check the fields every embedrec manifest shares; returns it as a dict.

    ``library`` must be ``"embedrec"``, ``format_version`` an int from 1 to
    :data:`FORMAT_VERSION`, ``class`` a string, ``dim`` (where present) a positive int and the
    counts (top-level ``n_*`` fields, where present) non-negative ints.

    Parameters
    ----------
    manifest : object
        The parsed ``manifest.json``.
    where : path
        The manifest's path, named in the error messages.

    Raises
    ------
    ValueError
        The first problem found, with the fix.
    """
    if not isinstance(manifest, dict) or manifest.get("library") != "embedrec":
        raise ValueError(f"{where} is not an embedrec manifest; re-save the model with embedrec")
    version = manifest.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ValueError(
            f"{where} has format_version={version!r}; this embedrec reads versions <= "
            f"{FORMAT_VERSION}: upgrade embedrec"
        )
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(
            f"{where} has format_version={version!r}, which is not a version embedrec ever "
            f"wrote (an int from 1 to {FORMAT_VERSION}); the manifest is corrupt, re-save the model"
        )
    if not isinstance(manifest.get("class"), str):
        raise ValueError(
            f"{where} names no model class; the manifest is corrupt, re-save the model"
        )
    dim = manifest.get("dim")
    if "dim" in manifest and (not isinstance(dim, int) or isinstance(dim, bool) or dim < 1):
        raise ValueError(
            f"{where} has dim={dim!r}; a dimension is a positive int: the manifest is corrupt, "
            "re-save the model"
        )
    for field, value in manifest.items():
        if field.startswith("n_") and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise ValueError(
                f"{where} has {field}={value!r}; a count is a non-negative int: the manifest "
                "is corrupt, re-save the model"
            )
    return manifest


# ---------------------------------------------------------------------------------- resolving
def _read_pointer(path: Path) -> str | None:
    """The generation ``path/CURRENT`` names (validated), or ``None`` without a CURRENT."""
    pointer = path / CURRENT
    try:
        with open(pointer, "rb") as fh:
            raw = fh.read(_CURRENT_MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raw = b""
    try:
        name = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        name = ""
    if len(raw) > _CURRENT_MAX_BYTES or not _GEN_RE.match(name):
        raise ValueError(
            f"{pointer} is a corrupt CURRENT pointer (it must name a generation such as "
            f"gen-000001, got {raw[:40]!r}); re-save the model"
        )
    return name


def current_generation(path: str | os.PathLike[str]) -> str | None:
    """The generation name ``path/CURRENT`` holds now (``None``: no CURRENT, a flat directory).

    Raises
    ------
    ValueError
        ``CURRENT`` exists but does not name a generation (``^gen-[0-9]{6,}$``).
    """
    return _read_pointer(Path(path))


def _check_dir(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"model directory {path} does not exist; check the path")
    if not path.is_dir():
        raise NotADirectoryError(
            f"{path} is a file, not a model directory; for word2vec-format files use "
            "Embeddings.load_word2vec_format"
        )


def _generation_dir(path: Path, name: str | None) -> Path:
    if name is None:
        return path
    directory = path / name
    if not directory.is_dir():
        raise ValueError(
            f"{path}/{CURRENT} names generation {name}, which does not exist: the model "
            "directory is damaged; re-save the model"
        )
    return directory


def resolve_artifact(path: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """The directory holding the live files of the artifact at ``path``.

    Reads ``path/CURRENT`` once. Read every file of one load from the returned directory, so
    that all of them come from one generation.

    Parameters
    ----------
    path : path
        A generation store (``CURRENT`` + ``gen-*``), or a flat directory holding
        ``manifest.json`` directly (embedrec's layout before generations, or one generation).

    Returns
    -------
    directory : Path
        ``path/gen-NNNNNN`` for a store, ``path`` itself for a flat directory.
    generation : str or None
        The generation's name (``"gen-000003"``), ``None`` for a flat directory.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        ``path`` is missing or a file.
    ValueError
        ``CURRENT`` is corrupt or names a generation that does not exist.

    Examples
    --------
    >>> import tempfile
    >>> from embedrec import Embeddings
    >>> d = Path(tempfile.mkdtemp()) / "emb"
    >>> Embeddings(["a"], [[1.0]]).save(d)
    >>> resolve_artifact(d)[1]
    'gen-000001'
    """
    path = Path(path)
    _check_dir(path)
    name = _read_pointer(path)
    return _generation_dir(path, name), name


def load_consistent(
    path: str | os.PathLike[str],
    fn: Callable[[Path], T],
    *,
    attempts: int = LOAD_ATTEMPTS,
) -> T:
    """``fn(directory)`` for the live generation of ``path``, retried if a save replaced it.

    ``fn`` must read all its files from ``directory`` (never from ``path``). When it raises
    ``OSError`` or ``ValueError`` and ``CURRENT`` meanwhile names another generation (a save
    published a new one and removed the one being read), it is called again for the new
    generation, up to ``attempts`` times in all; otherwise the error is re-raised.

    Parameters
    ----------
    path : path
        A generation store or a flat artifact directory.
    fn : callable ``Path -> T``
        Reads one generation (a flat directory).
    attempts : int, default 30

    Returns
    -------
    T
        What ``fn`` returned.

    Raises
    ------
    FileNotFoundError, NotADirectoryError, ValueError
        As :func:`resolve_artifact`, or what ``fn`` raised.
    """
    path = Path(path)
    for attempt in range(max(1, attempts)):
        _check_dir(path)
        name = _read_pointer(path)
        try:
            return fn(_generation_dir(path, name))
        except (OSError, ValueError):
            if attempt + 1 >= attempts:
                raise
            try:
                now = _read_pointer(path)
            except (OSError, ValueError):
                raise
            if now == name:
                raise
            logger.debug("generation %s of %s was replaced while loading; retrying", name, path)
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------------- validation
def _safe_relative(name: Any) -> bool:
    if not isinstance(name, str) or not name or name.startswith("/") or "\\" in name:
        return False
    parts = name.split("/")
    return all(p and p not in (".", "..") for p in parts) and "\x00" not in name


def _check_files_table(table: Any, where: Path) -> dict[str, dict[str, Any]]:
    bad = f"{where} has a malformed files table"
    if not isinstance(table, dict):
        raise ValueError(f"{bad} (not an object); re-save the model")
    for name, entry in table.items():
        if not _safe_relative(name):
            raise ValueError(f"{bad}: {name!r} is not a relative path inside it; re-save the model")
        size = entry.get("size") if isinstance(entry, dict) else None
        if (
            not isinstance(entry, dict)
            or not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
            or not isinstance(entry.get("sha256"), str)
            or not _SHA256_RE.match(entry["sha256"])
        ):
            raise ValueError(f"{bad}: the entry of {name} needs a size and a sha256; re-save")
        shape = entry.get("shape")
        if shape is not None and not (
            isinstance(shape, list)
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
        ):
            raise ValueError(f"{bad}: {name} has shape {shape!r}; re-save the model")
        if "dtype" in entry and not isinstance(entry["dtype"], str):
            raise ValueError(f"{bad}: {name} has dtype {entry['dtype']!r}; re-save the model")
    return table


def _missing(directory: Path, name: str) -> ValueError:
    return ValueError(
        f"{directory}/{name} is missing: {directory} has no {name}, so the model directory is "
        "incomplete; re-save the model"
    )


def verify_artifact(
    directory: str | os.PathLike[str],
    manifest: dict[str, Any],
    required: Collection[str] = (),
    *,
    checksums: bool = True,
    only: Collection[str] | None = None,
) -> None:
    """Check one generation (a flat directory) before anything in it is used.

    Parameters
    ----------
    directory : path
        What :func:`resolve_artifact` returned (never the store itself).
    manifest : dict
        Its parsed ``manifest.json`` (see :func:`embedrec._io.read_manifest`).
    required : collection of str
        The files (relative names) the caller will read; each must exist.
    checksums : bool, default True
        Compare every top-level file's SHA-256 with the ``files`` table (sizes, ``.npy``
        headers, shapes and dtypes are always compared).
    only : collection of str, optional
        Compare only these entries of the table (e.g. the two files
        :func:`~embedrec.vectors.read_keys_vectors` reads); default all.

    The checks: the manifest's shared fields (:func:`check_manifest`); every ``required`` file
    exists; and when the manifest has a ``files`` table (every save since generations), every
    top-level file it lists exists with its size, ``.npy`` shape and dtype, and SHA-256, the
    table lists every ``required`` file, and no unlisted top-level file is present. Files in
    subdirectories (a nested ``index/``) are checked when that subdirectory is loaded. A
    manifest without a table (older saves) gets the other checks.

    Raises
    ------
    ValueError
        The first problem found; the message names the file and says to re-save the model.
    """
    directory = Path(directory)
    check_manifest(manifest, directory / MANIFEST)
    for name in required:
        if not (directory / name).is_file():
            raise _missing(directory, name)
    if "files" not in manifest:
        return
    table = _check_files_table(manifest["files"], directory / MANIFEST)
    for name in required:
        if name not in table:
            raise ValueError(
                f"{directory}/{MANIFEST} does not list {name}, which this model needs; the "
                "model directory is inconsistent, re-save the model"
            )
    for name, entry in table.items():
        if "/" in name or (only is not None and name not in only):
            continue
        fpath = directory / name
        if not fpath.is_file():
            raise _missing(directory, name)
        if name.endswith(".npy"):
            shape, dtype = check_npy(fpath)
            want_shape, want_dtype = entry.get("shape"), entry.get("dtype")
            if want_shape is not None and list(shape) != want_shape:
                raise ValueError(
                    f"{fpath} holds an array of shape {shape} but {MANIFEST} says "
                    f"{tuple(want_shape)}; the model directory is inconsistent, re-save the model"
                )
            if want_dtype is not None and dtype.str != want_dtype:
                raise ValueError(
                    f"{fpath} holds {dtype} data but {MANIFEST} says {want_dtype}; the model "
                    "directory is inconsistent, re-save the model"
                )
        size = fpath.stat().st_size
        if size != entry["size"]:
            raise ValueError(
                f"{fpath} is corrupt: it has {size} bytes but {MANIFEST} says {entry['size']}; "
                "re-save the model"
            )
        if checksums and _sha256(fpath) != entry["sha256"]:
            raise ValueError(
                f"{fpath} is corrupt: its SHA-256 checksum does not match {MANIFEST}; re-save "
                "the model"
            )
    for child in directory.iterdir():
        if (
            child.name != MANIFEST
            and not child.name.startswith(".")
            and child.is_file()
            and child.name not in table
        ):
            raise ValueError(
                f"{child} is not listed in {directory}/{MANIFEST}: the generation was changed "
                "after it was saved; re-save the model"
            )


def has_file(directory: str | os.PathLike[str], manifest: dict[str, Any], name: str) -> bool:
    """Whether the generation ``directory`` holds the optional file (or subdirectory) ``name``.

    With a ``files`` table the table decides, so a generation deleted by a concurrent save
    while it is read makes the read of the file fail (and :func:`load_consistent` retry)
    instead of looking like a model without that file; without one, the file system does.
    """
    files = manifest.get("files")
    if isinstance(files, dict):
        return any(k == name or k.startswith(name + "/") for k in files)
    return (Path(directory) / name).exists()


def check_finite(arr: np.ndarray[Any, Any], path: str | os.PathLike[str]) -> None:
    """Refuse an array with NaN or infinite values read from ``path``."""
    if np.issubdtype(arr.dtype, np.floating) and not bool(np.isfinite(arr).all()):
        raise ValueError(
            f"{path} holds NaN or infinite values; the model is corrupt (or its training "
            "diverged): re-save or retrain it"
        )


def check_savable(arr: np.ndarray[Any, Any], name: str) -> None:
    """Refuse to save a float array with NaN or infinite values (called before a save starts,
    so a diverged model never replaces a good generation with one that cannot be loaded)."""
    if np.issubdtype(arr.dtype, np.floating) and not bool(np.isfinite(arr).all()):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(
            f"{name} holds {bad} NaN or infinite values, so the model would not load again; "
            "nothing was saved. Training diverged: lower alpha (the learning rate) or dim, "
            "then retrain"
        )


# ---------------------------------------------------------------------------------- writing
def is_artifact_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a directory embedrec wrote: a store (``CURRENT``, or the ``.lock``
    of an interrupted first save) or a flat directory with ``manifest.json``."""
    path = Path(path)
    return path.is_dir() and any((path / n).exists() for n in (CURRENT, MANIFEST, LOCK))


def check_artifact_target(path: str | os.PathLike[str]) -> None:
    """Refuse a save target that is not an embedrec artifact, before any work is done.

    Raises
    ------
    FileExistsError
        ``path`` is a file, a non-empty directory that embedrec did not write, or one
        generation directory of a store (save to the store instead).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a directory; choose another output path")
    if _GEN_RE.match(path.name) and (path.parent / CURRENT).exists():
        raise FileExistsError(
            f"{path} is one generation of the model directory {path.parent}, and generations "
            f"never change; save to {path.parent} instead"
        )
    if path.is_dir() and any(path.iterdir()) and not is_artifact_dir(path):
        raise FileExistsError(
            f"{path} is a non-empty directory that is not an embedrec artifact; "
            "choose an empty or new directory so nothing of yours is overwritten"
        )


def _npy_entry(path: Path) -> dict[str, Any]:
    shape, dtype = check_npy(path)
    return {"shape": list(shape), "dtype": dtype.str}


def write_files_table(directory: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Add the ``files`` table to ``directory/manifest.json`` and return it.

    The table maps every file below ``directory`` (subdirectories included, ``/``-separated)
    except the manifest itself to ``{"size", "sha256"}``, plus ``"shape"`` and ``"dtype"`` for
    ``.npy`` files. :func:`publish_artifact` calls it; call it yourself only for a directory
    nested inside a generation (e.g. an index written into ``index/``).

    Raises
    ------
    FileNotFoundError
        ``directory`` has no manifest.json.
    """
    directory = Path(directory)
    manifest = read_json(directory / MANIFEST, max_bytes=MANIFEST_MAX_BYTES)
    table: dict[str, dict[str, Any]] = {}
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        rel_root = Path(root).relative_to(directory)
        for fname in sorted(files):
            rel = (rel_root / fname).as_posix()
            if rel == MANIFEST:
                continue
            fpath = Path(root) / fname
            entry: dict[str, Any] = {"size": fpath.stat().st_size, "sha256": _sha256(fpath)}
            if fname.endswith(".npy"):
                entry.update(_npy_entry(fpath))
            table[rel] = entry
    manifest["files"] = table
    _write_json_atomic(directory / MANIFEST, manifest)
    return table


def _generations(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for child in path.iterdir():
        m = _GEN_RE.match(child.name)
        if m and child.is_dir():
            out[child.name] = int(m.group(1))
    return out


def _is_store_entry(name: str) -> bool:
    return (
        name in (CURRENT, LOCK)
        or name.startswith(STAGING_PREFIX)
        or bool(_GEN_RE.match(name))
        or bool(_CURRENT_TMP_RE.match(name))
    )


def _remove_legacy(path: Path) -> None:
    """Delete the flat layout's entries of a converted directory; manifest.json last, so an
    interrupted removal is still recognised (and finished) by the next save."""
    for child in sorted(path.iterdir()):
        if not _is_store_entry(child.name) and child.name != MANIFEST:
            _remove(child)
    _remove(path / MANIFEST)
    save_step("legacy-removed")


def _clean_leftovers(path: Path) -> None:
    """Remove what killed saves left (the caller holds the store's lock, so no save runs)."""
    for child in path.iterdir():
        if child.name.startswith(STAGING_PREFIX) or _CURRENT_TMP_RE.match(child.name):
            _remove(child)
    # the temporary and displaced directories of embedrec's saves before generations
    old_style = re.compile(rf"^\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}\.(tmp|old)$")
    for sibling in path.parent.iterdir():
        if old_style.match(sibling.name):
            _remove(sibling)
    if (path / CURRENT).exists() and (path / MANIFEST).exists():
        _remove_legacy(path)  # a conversion was interrupted after its CURRENT swap


@contextmanager
def _store_lock(path: Path) -> Iterator[None]:
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_current(path: Path, name: str) -> None:
    fd, tmp = create_temp_file(path, CURRENT)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        save_step("current-temp-written")
        os.replace(tmp, path / CURRENT)
    except BaseException:
        _remove(tmp)
        raise
    fsync_dir(path)
    save_step("current-replaced")


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
            raise
        shutil.copy2(src, dst)


def _copy_generation(src: Path, dst: Path, drop: Collection[str]) -> None:
    """Hard-link (or copy) the files of generation ``src`` into ``dst``, except the top-level
    entries named in ``drop`` and, for a flat directory being converted, the store's own."""
    for child in sorted(src.iterdir()):
        if child.name in drop or _is_store_entry(child.name) or child.name.startswith("."):
            continue
        if child.is_dir():
            for root, dirs, files in os.walk(child):
                dirs.sort()
                rel = Path(root).relative_to(src)
                make_dir(dst / rel)
                for fname in sorted(files):
                    _link_or_copy(Path(root) / fname, dst / rel / fname)
        else:
            _link_or_copy(child, dst / child.name)
        save_step(f"file-linked:{child.name}")


@contextmanager
def _publish(path: str | os.PathLike[str], drop: Collection[str] | None) -> Iterator[Path]:
    """Publish a staging directory; with ``drop`` given it starts as a copy of the live
    generation less the top-level names in ``drop`` (see :func:`extend_artifact`)."""
    path = Path(path)
    check_artifact_target(path)
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    published = False
    staging: Path | None = None
    try:
        with _store_lock(path):
            _clean_leftovers(path)
            while staging is None:
                candidate = path / f"{STAGING_PREFIX}{_token()}"
                try:
                    make_dir(candidate)
                except FileExistsError:  # pragma: no cover - 64 random bits
                    continue
                staging = candidate
            save_step("staging-created")
            try:
                previous = _read_pointer(path)
            except ValueError:
                if drop is not None:
                    raise  # nothing to extend
                logger.warning("%s/%s is corrupt; this save replaces it", path, CURRENT)
                previous = None  # re-saving is the fix the loaders name
            if drop is not None:
                source = _generation_dir(path, previous)
                _copy_generation(source, staging, {*drop, MANIFEST})
                manifest = read_json(source / MANIFEST, max_bytes=MANIFEST_MAX_BYTES)
                files = manifest.get("files")
                if isinstance(files, dict):
                    manifest["files"] = {
                        k: v for k, v in files.items() if k.split("/", 1)[0] not in drop
                    }
                _write_json_atomic(staging / MANIFEST, manifest)
            yield staging
            if not (staging / MANIFEST).is_file():
                raise RuntimeError(f"the save wrote no {MANIFEST} into {staging}")
            write_files_table(staging)
            save_step("files-table-written")
            legacy = previous is None and (path / MANIFEST).exists()
            gens = _generations(path)
            name = f"gen-{max(gens.values(), default=0) + 1:06d}"
            os.rename(staging, path / name)
            staging = None
            save_step("staging-renamed")
            fsync_dir(path)
            save_step("dir-fsynced")
            _write_current(path, name)
            published = True
            # readers may still be loading the previous generation: keep it, drop the rest
            for gen in gens:
                if gen not in (name, previous):
                    _remove(path / gen)
            if legacy:
                _remove_legacy(path)
            save_step("cleaned-up")
    finally:
        if staging is not None:
            _remove(staging)
        if created and not published and not (path / CURRENT).exists():
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def publish_artifact(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty staging directory; publish it as the next generation of ``path``.

    Write the model's files and its ``manifest.json`` into the yielded directory. When the
    body returns, the manifest gets its ``files`` table (:func:`write_files_table`), the
    directory is renamed to ``path/gen-NNNNNN`` (one more than the highest existing
    generation) and ``path/CURRENT`` is switched to it atomically; the generation that was
    current is kept (readers may still be loading it) and older ones are deleted. If the body
    raises, nothing changes at ``path``.

    Saves to one ``path`` run one at a time (an ``flock`` on ``path/.lock``, released when a
    process dies), so leftovers of killed saves found then (``.staging-*``, a ``CURRENT``
    temporary, the ``.NAME.*.tmp`` / ``.NAME.*.old`` siblings of embedrec's saves before
    generations) are removed. Saving into a flat directory (``manifest.json`` directly in it)
    converts it: the new generation is published, then the flat files are deleted.

    Parameters
    ----------
    path : path
        The model directory (created if missing).

    Yields
    ------
    Path
        The staging directory to write into.

    Raises
    ------
    FileExistsError
        ``path`` is a file, a non-empty directory embedrec did not write, or a generation.

    Examples
    --------
    >>> import tempfile
    >>> from embedrec._io import make_manifest, write_json
    >>> d = Path(tempfile.mkdtemp()) / "art"
    >>> with publish_artifact(d) as tmp:
    ...     write_json(tmp / MANIFEST, make_manifest("Demo"))
    >>> sorted(p.name for p in d.iterdir())
    ['.lock', 'CURRENT', 'gen-000001']
    """
    with _publish(path, None) as staging:
        yield staging


@contextmanager
def extend_artifact(path: str | os.PathLike[str], *, drop: Collection[str] = ()) -> Iterator[Path]:
    """Like :func:`publish_artifact`, but the staging directory starts as a copy of the live
    generation (hard links where the file system allows, else copies), less the top-level
    entries named in ``drop``; add files to it to publish a new generation with them.

    The store is locked for the whole body, so the copy is the generation that stays live
    until this one is published (load from the yielded directory to build on it).

    Parameters
    ----------
    path : path
        An existing model directory (a store or a flat directory).
    drop : collection of str
        Top-level names not copied (e.g. ``("index",)`` to replace an index).

    Raises
    ------
    FileNotFoundError, NotADirectoryError, ValueError
        ``path`` does not hold a model.
    """
    directory, _ = resolve_artifact(path)
    if not (directory / MANIFEST).is_file():
        raise ValueError(
            f"{path} has no {MANIFEST}: it is not an embedrec model directory "
            "(save one with model.save(dir))"
        )
    with _publish(path, drop) as staging:
        yield staging

"""The word2vec file formats: text and binary, as word2vec.c, gensim and GloVe write them.

:func:`read_word2vec_format` and :func:`write_word2vec_format` move keys and a float32 matrix
in and out of those files (gzip on the fly, format detection, ``limit``, header-less GloVe
files, lossy UTF-8 decoding, precise error messages). :class:`~embedrec.vectors.Embeddings`
wraps them as ``load_word2vec_format`` / ``save_word2vec_format``; this module knows nothing
of :class:`~embedrec.vectors.Embeddings`. :func:`read_text_lines` reads the (optionally
gzipped) UTF-8 text files of the word benchmarks (:mod:`embedrec.eval.word`).
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal, cast

import numpy as np
import numpy.typing as npt

from embedrec._io import atomic_open
from embedrec.keys import Key

__all__ = [
    "UnicodeErrors",
    "open_maybe_gzip",
    "parse_float",
    "read_text_lines",
    "read_word2vec_format",
    "write_word2vec_format",
]

logger = logging.getLogger("embedrec")

#: how undecodable key bytes are handled (the ``errors`` of ``bytes.decode``; gensim's names)
UnicodeErrors = Literal["strict", "replace", "ignore"]

_GZIP_MAGIC = b"\x1f\x8b"
_WHITESPACE = re.compile(r"\s")
_PRINTABLE = re.compile(rb"[\t\r\x20-\x7e]*")


@contextmanager
def open_maybe_gzip(path: Path) -> Iterator[IO[bytes]]:
    """Open ``path`` for binary reading, transparently decompressing gzip (by magic bytes)."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                yield cast(IO[bytes], gz)
        else:
            yield raw


def read_text_lines(path: Path) -> list[str]:
    """All lines of a UTF-8 (optionally gzipped) text file, line endings removed."""
    try:
        with open_maybe_gzip(path) as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: cannot read the file ({exc})") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{path}: line {line_no}: bytes are not valid UTF-8 ({exc.reason})"
        ) from exc
    # split on "\n" only (as gensim reads): str.splitlines would also split inside words at
    # characters such as U+2028 or U+0085
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and not lines[-1]:
        lines.pop()
    return lines


def parse_float(text: str) -> float | None:
    """``float(text)`` when it is a finite number, else ``None``."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class _ByteReader:
    """Chunked reader over a binary stream that tracks the absolute byte offset."""

    def __init__(self, fh: IO[bytes], chunk: int = 1 << 20) -> None:
        self._fh = fh
        self._chunk = chunk
        self.buf = b""
        self.pos = 0
        self.consumed = 0  # bytes dropped before self.buf[0]
        self.eof = False

    def fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``pos``; False if the stream ends first."""
        while len(self.buf) - self.pos < need and not self.eof:
            more = self._fh.read(max(self._chunk, need))
            if not more:
                self.eof = True
                break
            self.consumed += self.pos
            self.buf = self.buf[self.pos :] + more
            self.pos = 0
        return len(self.buf) - self.pos >= need

    def find(self, sep: bytes, limit: int | None = None) -> int:
        """Offset (from ``pos``) of the next ``sep``, reading on as needed; -1 if none.

        With ``limit``, give up once more than ``limit`` bytes were searched in vain.
        """
        searched = 0
        while True:
            hit = self.buf.find(sep, self.pos + searched)
            if hit != -1:
                return hit - self.pos
            searched = max(len(self.buf) - self.pos - len(sep) + 1, 0)
            if limit is not None and searched > limit:
                return -1
            if not self.fill(len(self.buf) - self.pos + 1):
                return -1

    def take(self, n: int) -> bytes:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def rest(self) -> bytes:
        chunks = [self.buf[self.pos :]]
        chunks.append(self._fh.read())
        self.pos = len(self.buf)
        return b"".join(chunks)

    @property
    def offset(self) -> int:
        return self.consumed + self.pos


class _RowBuffer:
    """Growable (rows, dim) float32 matrix; never trusts a header count for one big allocation."""

    def __init__(self, n_max: int, dim: int) -> None:
        self.n_max = n_max
        self.data = np.empty((min(n_max, 1 << 14), dim), dtype=np.float32)
        self.n = 0

    def append(self, row: npt.NDArray[np.float32]) -> None:
        if self.n == self.data.shape[0]:
            grown = np.empty(
                (min(self.n_max, 2 * self.data.shape[0] + 1), self.data.shape[1]), np.float32
            )
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n] = row
        self.n += 1

    def result(self) -> npt.NDArray[np.float32]:
        if self.n == self.data.shape[0]:
            return self.data
        return np.ascontiguousarray(self.data[: self.n])


def write_word2vec_format(
    path: str | os.PathLike[str],
    keys: Sequence[Key],
    vectors: npt.NDArray[np.float32],
    *,
    binary: bool = False,
) -> None:
    """Write keys and their vectors in the word2vec text or binary format (atomically).

    The format behind :meth:`Embeddings.save_word2vec_format
    <embedrec.vectors.Embeddings.save_word2vec_format>` (see there); ``.gz`` paths are
    gzipped. Header ``"n_keys dim\\n"``; text rows ``"key v1 v2 ...\\n"`` with the shortest
    float32 repr of each value; binary rows: the UTF-8 key, a space, ``dim`` little-endian
    float32 values and ``"\\n"``. Int keys are written with ``str()``.

    Parameters
    ----------
    path : path
    keys : sequence of str or int, length n_keys
    vectors : (n_keys, dim) float32 ndarray
    binary : bool, default False

    Raises
    ------
    ValueError
        A key that is empty, contains whitespace or cannot be encoded as UTF-8; nothing is
        written then.
    """
    matrix = vectors
    dim = int(matrix.shape[1])
    path = Path(path)
    words = [str(key) for key in keys]
    for w in words:
        if not w or _WHITESPACE.search(w):
            raise ValueError(
                f"key {w!r} is empty or contains whitespace, which the word2vec format cannot "
                "hold (fields are space-separated); replace whitespace in keys (e.g. "
                "key.replace(' ', '_')) or use Embeddings.save(dir), which keeps any key"
            )
        if not w.isascii():
            try:
                w.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"key {w!r} cannot be encoded as UTF-8 ({exc.reason}); the word2vec "
                    "format holds UTF-8 keys: fix the key or use Embeddings.save(dir)"
                ) from None
    with atomic_open(path, "wb") as raw:
        out: IO[bytes] = raw
        gz = None
        if path.suffix == ".gz":
            gz = gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0)
            out = cast(IO[bytes], gz)
        out.write(f"{len(words)} {dim}\n".encode())
        little = matrix.astype("<f4", copy=False)
        block = 4096
        for start in range(0, len(words), block):
            rows = range(start, min(start + block, len(words)))
            if binary:
                chunk = b"".join(
                    words[i].encode("utf-8") + b" " + little[i].tobytes() + b"\n" for i in rows
                )
            else:
                chunk = "".join(
                    f"{words[i]} {' '.join(map(str, matrix[i]))}\n" for i in rows
                ).encode("utf-8")
            out.write(chunk)
        if gz is not None:
            gz.close()
    logger.info(
        "wrote %d x %d vectors to %s (%s)",
        len(words),
        dim,
        path,
        "binary" if binary else "text",
    )


def read_word2vec_format(
    path: str | os.PathLike[str],
    *,
    binary: bool | None = None,
    limit: int | None = None,
    unicode_errors: UnicodeErrors = "strict",
    no_header: bool = False,
) -> tuple[list[str], npt.NDArray[np.float32]]:
    """Read a word2vec text or binary file (word2vec.c, gensim, GloVe without header).

    The reader behind :meth:`Embeddings.load_word2vec_format
    <embedrec.vectors.Embeddings.load_word2vec_format>`, which documents the parameters.

    Returns
    -------
    keys : list of str, length n_rows
    vectors : (n_rows, dim) float32 ndarray

    Raises
    ------
    ValueError
        A corrupt file; the message names the file and the line (text) or row (binary).
    """
    path = Path(path)
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit={limit!r} is invalid; use None or an int >= 1")
    if unicode_errors not in ("strict", "replace", "ignore"):
        raise ValueError(
            f"unicode_errors={unicode_errors!r} is invalid; use 'strict', 'replace' or 'ignore'"
        )
    if no_header and binary:
        raise ValueError(
            "no_header=True reads text files (GloVe) only; binary word2vec files always "
            "have an 'n_keys dim' header: drop no_header"
        )
    try:
        counted = _count_headerless(path) if no_header else None
        with open_maybe_gzip(path) as fh:
            reader = _ByteReader(fh)
            if counted is None:
                n, dim = _read_header(reader, path)
                first_line = 2
            else:
                (n, dim), binary, first_line = counted, False, 1
            n_read = n if limit is None else min(n, limit)
            if binary is None:
                binary = _looks_binary(reader, dim, n)
                logger.debug("%s: detected %s format", path, "binary" if binary else "text")
            if binary:
                words, vectors = _read_binary_rows(reader, path, n, n_read, dim, unicode_errors)
            else:
                words, vectors = _read_text_rows(
                    reader, path, n, n_read, dim, unicode_errors, first_line
                )
            if limit is None or n_read == n:
                start = reader.offset
                trailing = reader.rest()
                if trailing.strip():
                    skip = len(trailing) - len(trailing.lstrip())
                    raise ValueError(
                        f"{path}: the header says {n} rows but there is more data after row "
                        f"{n} (byte {start + skip}); the header count is "
                        "wrong or the file is corrupt"
                    )
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt gzip stream ({exc})") from exc
    if unicode_errors != "strict":
        words, vectors = _first_of_duplicates(path, words, vectors, unicode_errors)
    return words, vectors


# ---------------------------------------------------------------------------------- helpers
def _count_headerless(path: Path) -> tuple[int, int]:
    """(rows, dim) of a text file without header: its lines, and the values of the first."""
    n = 0
    first = b""
    last = b"\n"
    with open_maybe_gzip(path) as fh:
        while chunk := fh.read(1 << 20):
            if not first:
                first = chunk
            elif b"\n" not in first:
                first += chunk
            n += chunk.count(b"\n")
            last = chunk
    if not last.endswith(b"\n"):
        n += 1  # a last line without newline
    line = first.split(b"\n", 1)[0]
    _, _, rest = line.partition(b" ")
    dim = len(rest.split())
    if n == 0 or dim < 1:
        raise ValueError(
            f"{path}: line 1: expected 'key v1 v2 ...' (no_header=True reads GloVe text files), "
            f"got {line[:80]!r}; check the file, or drop no_header if it has an 'n_keys dim' "
            "header"
        )
    return n, dim


def _first_of_duplicates(
    path: Path, words: list[str], vectors: npt.NDArray[np.float32], unicode_errors: str
) -> tuple[list[str], npt.NDArray[np.float32]]:
    """Keep the first row of keys that lossy decoding made equal (as gensim does)."""
    first: dict[str, int] = {}
    for i, w in enumerate(words):
        first.setdefault(w, i)
    if len(first) == len(words):
        return words, vectors
    rows = sorted(first.values())
    logger.warning(
        "%s: %d keys equal an earlier key after decoding with unicode_errors=%r; kept the "
        "first row of each (use unicode_errors='replace' to keep more of them apart)",
        path,
        len(words) - len(rows),
        unicode_errors,
    )
    return [words[i] for i in rows], np.ascontiguousarray(vectors[rows])


def _read_header(reader: _ByteReader, path: Path) -> tuple[int, int]:
    end = reader.find(b"\n", limit=1 << 16)
    if end == -1:
        raise ValueError(
            f"{path}: line 1: no header line 'n_keys dim' found; is this a "
            "word2vec file? (for GloVe files without header pass no_header=True)"
        )
    raw = reader.take(end + 1)
    try:
        parts = raw.decode("utf-8").split()
        n, dim = (int(x) for x in parts) if len(parts) == 2 else (-1, -1)
    except (UnicodeDecodeError, ValueError):
        n, dim = -1, -1
    if n < 0 or dim < 1:
        raise ValueError(
            f"{path}: line 1: expected a header 'n_keys dim' with n_keys >= 0 and dim >= 1, got "
            f"{raw[:80]!r}; is this a word2vec file? (for GloVe files without header pass "
            "no_header=True)"
        )
    return n, dim


def _looks_binary(reader: _ByteReader, dim: int, n: int) -> bool:
    """Guess the format from the first row: text if what follows the key is ``dim`` numbers, or
    printable ASCII longer than a binary vector would be (a malformed text row); else binary."""
    if n == 0:
        return False
    end = reader.find(b"\n", limit=64 * dim + (1 << 16))
    line = reader.buf[reader.pos : reader.pos + end] if end != -1 else reader.buf[reader.pos :]
    _, _, rest = line.partition(b" ")
    if not _PRINTABLE.fullmatch(rest):
        return True
    tokens = rest.split()
    if len(tokens) == dim and all(_is_float_token(t) for t in tokens):
        return False
    return len(rest) <= 4 * dim


def _is_float_token(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _read_text_rows(
    reader: _ByteReader,
    path: Path,
    n: int,
    n_read: int,
    dim: int,
    unicode_errors: str = "strict",
    first_line: int = 2,
) -> tuple[list[str], npt.NDArray[np.float32]]:
    words: list[str] = []
    matrix = _RowBuffer(n_read, dim)
    for row in range(n_read):
        line_no = row + first_line
        end = reader.find(b"\n")
        if end == -1:
            end = len(reader.buf) - reader.pos
            if end == 0:
                raise ValueError(
                    f"{path}: the header says {n} rows but the file ends after {row} (at line "
                    f"{line_no}); the file is truncated or the header count is wrong"
                )
        raw = reader.take(end + 1)
        try:
            line = raw.decode("utf-8", errors=unicode_errors).rstrip()
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path}: line {line_no}: bytes are not valid UTF-8 ({exc.reason}); if this is a "
                "binary file pass binary=True; if keys were cut inside a character (word2vec.c "
                "cuts long words) pass unicode_errors='replace' or 'ignore' (CLI: "
                "--unicode-errors replace)"
            ) from exc
        word, _, rest = line.partition(" ")
        values = rest.split()
        if not word or len(values) != dim:
            raise ValueError(
                f"{path}: line {line_no} (key {word!r}): expected a key and {dim} values, got "
                f"{len(values)} values; the file is corrupt or the header dim is wrong"
            )
        try:
            vec = np.array(values, dtype=np.float32)
        except ValueError:
            bad = next(v for v in values if parse_float(v) is None)
            raise ValueError(
                f"{path}: line {line_no} (key {word!r}): {bad!r} is not a number"
            ) from None
        if not np.isfinite(vec).all():
            raise ValueError(f"{path}: line {line_no} (key {word!r}): non-finite value (NaN/inf)")
        words.append(word)
        matrix.append(vec)
    return words, matrix.result()


def _read_binary_rows(
    reader: _ByteReader, path: Path, n: int, n_read: int, dim: int, unicode_errors: str = "strict"
) -> tuple[list[str], npt.NDArray[np.float32]]:
    words: list[str] = []
    matrix = _RowBuffer(n_read, dim)
    row_bytes = 4 * dim
    for row in range(1, n_read + 1):
        sp = reader.find(b" ", limit=1 << 16)
        if sp == -1 or not reader.fill(sp + 1 + row_bytes):
            raise ValueError(
                f"{path}: row {row} (byte {reader.offset}): the file ends inside this row; the "
                f"header says {n} rows of dim {dim}, so it is truncated or the header is wrong"
            )
        raw_key = reader.take(sp).lstrip(b"\n")
        reader.take(1)
        vec = np.frombuffer(reader.take(row_bytes), dtype="<f4").astype(np.float32)
        try:
            word = raw_key.decode("utf-8", errors=unicode_errors)
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path}: row {row} (byte {reader.offset}): key bytes {raw_key[:40]!r} are not "
                f"valid UTF-8 ({exc.reason}); the header dim may be wrong, or if this is a text "
                "file pass binary=False; if keys were cut inside a character (word2vec.c cuts "
                "long words) pass unicode_errors='replace' or 'ignore' (CLI: --unicode-errors "
                "replace)"
            ) from exc
        if not word:
            raise ValueError(f"{path}: row {row}: empty key; the header dim may be wrong")
        if not np.isfinite(vec).all():
            raise ValueError(
                f"{path}: row {row} (key {word!r}): non-finite value (NaN/inf); the file is corrupt"
            )
        words.append(word)
        matrix.append(vec)
    return words, matrix.result()

"""Readers: interaction logs from CSV/TSV, Parquet or DataFrames into pyarrow columns.

:func:`load_columns` finds a source's columns by role (``"user"``, ``"item"``, ``"time"``,
``"weight"``, ``"event"``) and reads only those: delimited text (separator sniffed, header or
not, compressed or not) and Parquet through pyarrow, and pandas / polars / pyarrow tables and
dicts of arrays from memory (:func:`read_table`). The column helpers turn a column into NumPy
values: :func:`seconds` (any time type -> unix seconds), :func:`numbers`, :func:`as_bool`.

What the columns mean (filters, key encoding, sessions) is :mod:`embedrec.data.interactions`'
business; the data sets of :mod:`embedrec.data.datasets` use the same readers.

pyarrow is imported lazily, inside the functions, so ``import embedrec`` stays fast.
"""

from __future__ import annotations

import csv
import difflib
import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "SECONDS_PER",
    "ColumnRef",
    "TimeUnit",
    "as_bool",
    "load_columns",
    "not_utf8_error",
    "numbers",
    "plain_column",
    "read_table",
    "seconds",
]

#: A column given by name, or by 0-based position (e.g. in a header-less file).
ColumnRef = str | int
TimeUnit = Literal["s", "ms", "us", "ns"]

#: seconds per tick of each time unit
SECONDS_PER = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")
_PARQUET_EXT = (".parquet", ".pq", ".parq")
_TAB_EXT = (".tsv", ".tab", ".dat")
_SNIFF_BYTES = 1 << 16

#: stands in for a multi-character separator (e.g. MovieLens-1M's "::"), which pyarrow lacks
_UNIT_SEP = "\x1f"


def plain_column(col: Any) -> Any:
    """A ChunkedArray without dictionary / view encodings (which some kernels lack)."""
    import pyarrow as pa

    if isinstance(col, pa.Array):
        col = pa.chunked_array([col])
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    # string_view (pyarrow >= 16, polars' default) is not supported by every kernel we use
    if getattr(pa.types, "is_string_view", lambda _: False)(t):
        col = col.cast(pa.large_string())
    elif getattr(pa.types, "is_binary_view", lambda _: False)(t):
        col = col.cast(pa.large_binary())
    return col


def as_bool(arr: Any) -> npt.NDArray[np.bool_]:
    import pyarrow.compute as pc

    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def not_utf8_error(col: Any, name: str) -> ValueError:
    example = b""
    for value in itertools.islice(col.drop_null().to_pylist(), 100_000):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            example = value
            break
    return ValueError(
        f"column {name!r} is not valid UTF-8 text (e.g. {example[:40]!r}); the file has another "
        "encoding (often Latin-1 / cp1252): pass encoding='latin-1' (CLI: --encoding latin-1), "
        "or re-encode the file as UTF-8 (iconv -f latin1 -t utf-8)"
    )


def numbers(col: Any, what: str) -> npt.NDArray[np.float64]:
    """float64 values of a numeric column, NaN where null."""
    import pyarrow as pa

    t = col.type
    if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t):
        return np.asarray(col.cast(pa.float64()).to_numpy(), dtype=np.float64)
    if pa.types.is_decimal(t):
        return np.asarray(col.cast(pa.float64()).to_numpy(), dtype=np.float64)
    example = _first_valid(col)
    raise ValueError(f"{what} has type {t} (e.g. {example!r}); it must hold numbers")


def _first_valid(col: Any) -> Any:
    valid = col.drop_null()
    return valid[0].as_py() if len(valid) else None


def seconds(
    col: Any, name: str, time_format: str | None, time_unit: TimeUnit
) -> npt.NDArray[np.float64]:
    """Unix seconds (float64, NaN where null) of a time column of any supported type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    is_time = pa.types.is_timestamp(t) or pa.types.is_date(t)
    if time_format is not None and not is_time:
        text = (
            col if pa.types.is_string(t) or pa.types.is_large_string(t) else col.cast(pa.string())
        )
        parsed = pc.strptime(text, format=time_format, unit="us", error_is_null=True)
        bad = as_bool(pc.and_(pc.is_null(parsed), pc.is_valid(text)))
        if bad.any():
            example = text.filter(pa.array(bad))[0].as_py()
            raise ValueError(
                f"{int(bad.sum())} values of time column {name!r} do not match "
                f"time_format={time_format!r} (e.g. {example!r}); fix the format (strptime "
                "codes such as '%Y-%m-%d %H:%M:%S')"
            )
        col, t = parsed, parsed.type
    if pa.types.is_timestamp(t):
        # nanosecond ticks pass 2**53: pyarrow's safe cast to float64 refuses them (pyarrow
        # < 26), and float64 keeps them to well under a microsecond, which is all we need
        ticks = pc.cast(col.cast(pa.int64()), pa.float64(), safe=False)
        return np.asarray(ticks.to_numpy(), dtype=np.float64) * SECONDS_PER[t.unit]
    if pa.types.is_date32(t):
        days = col.cast(pa.int32()).cast(pa.float64())
        return np.asarray(days.to_numpy(), dtype=np.float64) * 86400.0
    if pa.types.is_date64(t):
        ms = pc.cast(col.cast(pa.int64()), pa.float64(), safe=False)
        return np.asarray(ms.to_numpy(), dtype=np.float64) * 1e-3
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        raise ValueError(
            f"time column {name!r} holds text (e.g. {_first_valid(col)!r}), not numbers; pass "
            "time_format=... to parse it (strptime codes, e.g. '%Y-%m-%d %H:%M:%S')"
        )
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return numbers(col, f"time column {name!r}") * SECONDS_PER[time_unit]
    raise ValueError(
        f"time column {name!r} has type {t}; use unix seconds, timestamps, dates, or text "
        "with time_format=..."
    )


# ---------------------------------------------------------------------- sources
def load_columns(
    source: Any,
    roles: Mapping[str, ColumnRef],
    *,
    sep: str | None,
    has_header: bool,
    column_names: Sequence[str] | None,
    time_format: str | None,
    keys_as_str: bool,
    encoding: str,
) -> tuple[dict[str, Any], str, dict[str, str]]:
    """The role columns of ``source`` (pyarrow ChunkedArrays), a label for messages and the
    role -> column name map."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        table, resolved = read_table(
            path,
            roles,
            sep=sep,
            has_header=has_header,
            column_names=column_names,
            text_roles=_text_roles(time_format, keys_as_str),
            encoding=encoding,
        )
        label = str(path)
    else:
        table = _table_from_memory(source)
        label = f"the {type(source).__name__}"
        resolved = _resolve_all([str(c) for c in table.column_names], roles, label)
    return {role: table.column(name) for role, name in resolved.items()}, label, resolved


def _text_roles(time_format: str | None, keys_as_str: bool) -> tuple[str, ...]:
    out: tuple[str, ...] = ("user", "item") if keys_as_str else ()
    return (*out, "time") if time_format is not None else out


def _table_from_memory(source: Any) -> Any:
    import pyarrow as pa

    module = type(source).__module__.split(".")[0]
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if module == "polars":
        if hasattr(source, "collect") and not hasattr(source, "to_arrow"):
            source = source.collect()  # LazyFrame
        return source.to_arrow()
    if module == "pandas" and hasattr(source, "columns"):
        return pa.Table.from_pandas(source, preserve_index=False)
    if isinstance(source, Mapping):
        return pa.table({str(k): v for k, v in source.items()})
    if hasattr(source, "__arrow_c_stream__"):
        return pa.table(source)
    raise TypeError(
        f"cannot read interactions from a {type(source).__module__}.{type(source).__name__}; "
        "pass a file path (CSV/TSV/Parquet), a pandas or polars DataFrame, a pyarrow Table or "
        "a dict of columns"
    )


def _resolve(
    names: Sequence[str], ref: ColumnRef, role: str, label: str, *, has_header: bool
) -> str:
    """The column name ``ref`` (a name or a 0-based position) stands for, or a clear error."""
    arg = f"{role}_col"
    if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
        if 0 <= ref < len(names):
            return names[int(ref)]
        raise ValueError(
            f"{arg}={ref} is out of range: {label} has {len(names)} columns {list(names)}"
        )
    if not isinstance(ref, str):
        raise TypeError(f"{arg} must be a column name (str) or position (int), got {ref!r}")
    if ref in names:
        return ref
    hint = ""
    close = [n for n in names if n.lower() == ref.lower()] or difflib.get_close_matches(
        ref, names, n=1
    )
    if close:
        hint = f"; did you mean {close[0]!r}?"
    elif not has_header:
        hint = (
            "; the file has no header: name its columns with column_names=[...] or pass "
            f"positions ({arg}=0)"
        )
    raise ValueError(
        f"column {ref!r} ({arg}) not found in {label}; available columns: {list(names)}{hint}"
    )


def _resolve_all(
    names: Sequence[str],
    roles: Mapping[str, ColumnRef],
    label: str,
    *,
    has_header: bool = True,
) -> dict[str, str]:
    """Role -> column name for every role; user and item must be different columns."""
    resolved = {
        role: _resolve(names, ref, role, label, has_header=has_header)
        for role, ref in roles.items()
    }
    if "user" in resolved and resolved["user"] == resolved.get("item"):
        raise ValueError(
            f"user_col and item_col are the same column {resolved['user']!r}; pick two columns"
        )
    return resolved


def read_table(
    path: Path | bytes,
    roles: Mapping[str, ColumnRef],
    *,
    sep: str | None = None,
    has_header: bool = True,
    column_names: Sequence[str] | None = None,
    text_roles: Iterable[str] = (),
    encoding: str = "utf8",
    quoting: bool = True,
    name: str | None = None,
    all_columns: bool = False,
    text_columns: Iterable[str] = (),
) -> tuple[Any, dict[str, str]]:
    """Read the ``roles`` columns of a delimited text or Parquet file (or of its bytes).

    Returns the ``pyarrow.Table`` and the role -> column name map. ``text_roles`` (and the
    columns named in ``text_columns``) are read as text, without type inference;
    ``quoting=False`` reads ``"`` as an ordinary character; ``name`` labels ``bytes`` input
    in messages; ``all_columns`` reads every column, not only the roles'.
    """
    import pyarrow as pa

    if isinstance(path, bytes):
        label = name or "the data"
        data: bytes | None = path
        suffix = Path(name).suffix.lower() if name else ""
    else:
        label = str(path)
        data = None
        if not path.exists():
            raise FileNotFoundError(
                f"interaction log {path} does not exist; check the path (relative paths start "
                f"at {os.getcwd()})"
            )
        if path.is_dir() or _is_parquet(path):
            return _read_parquet(path, roles)
        suffix = path.suffix.lower()
        if suffix in _COMPRESSED:
            suffix = Path(path.stem).suffix.lower()

    if data is None:
        try:
            with pa.input_stream(str(path), compression="detect") as fh:
                sample = fh.read(_SNIFF_BYTES)
        except OSError as exc:
            raise _stream_error(label, exc) from None
    else:
        sample = data[:_SNIFF_BYTES]
    if not sample.strip():
        raise ValueError(f"{label} is empty; nothing to read")
    text = sample.decode(encoding, errors="replace").lstrip("\ufeff")
    delim = _choose_sep(text, sep, suffix)
    if len(delim) > 1:
        if data is None:
            try:
                with pa.input_stream(str(path), compression="detect") as fh:
                    data = fh.read()
            except OSError as exc:
                raise _stream_error(label, exc) from None
        data = data.replace(delim.encode(encoding), _UNIT_SEP.encode())
        text = text.replace(delim, _UNIT_SEP)
        shown_sep = delim
        delim = _UNIT_SEP
    else:
        shown_sep = delim
    header = _first_row(text, delim, quoting)
    if column_names is not None:
        names = [str(c) for c in column_names]
    elif has_header:
        names = header
    else:
        names = [f"f{k}" for k in range(len(header))]
    resolved = _resolve_all(names, roles, label, has_header=has_header or bool(column_names))
    table = _read_csv(
        data if data is not None else path,
        label=label,
        delim=delim,
        shown_sep=shown_sep,
        names=names,
        skip_header=has_header,
        include=None if all_columns else list(dict.fromkeys(resolved.values())),
        text_columns=[resolved[r] for r in text_roles if r in resolved] + list(text_columns),
        encoding=encoding,
        quoting=quoting,
    )
    return table, resolved


def _read_csv(
    src: bytes | Path,
    *,
    label: str,
    delim: str,
    shown_sep: str,
    names: list[str],
    skip_header: bool,
    include: list[str] | None,
    text_columns: list[str],
    encoding: str,
    quoting: bool,
) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read_opts = pcsv.ReadOptions(
        column_names=names, skip_rows=1 if skip_header else 0, encoding=encoding
    )
    parse_opts = pcsv.ParseOptions(delimiter=delim, quote_char='"' if quoting else False)
    convert_opts = pcsv.ConvertOptions(
        include_columns=include,
        column_types={c: pa.string() for c in text_columns},
        strings_can_be_null=True,
    )
    stream = pa.BufferReader(src) if isinstance(src, bytes) else str(src)
    try:
        return pcsv.read_csv(
            stream, read_options=read_opts, parse_options=parse_opts, convert_options=convert_opts
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(
            f"cannot parse {label} with sep={shown_sep!r} ({exc}); check sep=, has_header= and "
            "column_names="
        ) from exc
    except OSError as exc:
        raise _stream_error(label, exc) from None


def _stream_error(label: str, exc: OSError) -> Exception:
    """pyarrow reports a truncated or corrupt compressed file as a bare OSError."""
    if type(exc) is not OSError:  # FileNotFoundError, PermissionError, ...: already clear
        return exc
    return ValueError(
        f"cannot read {label} ({exc}); a compressed file is probably truncated or corrupt: "
        "re-download or re-compress it (e.g. `gzip -t FILE` checks a .gz file)"
    )


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in _PARQUET_EXT:
        return True
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def _read_parquet(path: Path, roles: Mapping[str, ColumnRef]) -> tuple[Any, dict[str, str]]:
    """A Parquet file, or a folder of ``.parquet`` files (a dataset), and the role map."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    label = str(path)
    first = path
    if path.is_dir():
        parts = sorted(p for p in path.rglob("*") if p.suffix.lower() in _PARQUET_EXT)
        if not parts:
            raise ValueError(
                f"{path} is a folder without .parquet files; pass the CSV/TSV/Parquet file itself"
            )
        first = parts[0]
    try:
        names = [str(n) for n in pq.read_schema(first).names]
        resolved = _resolve_all(names, roles, label)
        table = pq.read_table(path, columns=list(dict.fromkeys(resolved.values())))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"cannot read Parquet data {label} ({exc})") from exc
    return table, resolved


def _choose_sep(text: str, sep: str | None, suffix: str) -> str:
    """The separator to use: ``sep``, the extension's, or the most consistent candidate."""
    if sep is not None:
        if sep == "\\t":  # as typed on a command line
            return "\t"
        if not sep or sep in ("\n", "\r", '"'):
            raise ValueError(f"sep={sep!r} is invalid; use e.g. ',', '\\t', ';' or '::'")
        return sep
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if len(lines) > 1 and len(text) >= _SNIFF_BYTES:
        lines = lines[:-1]  # the last line of a partial sample may be cut
    first = lines[0] if lines else ""
    if suffix in _TAB_EXT:
        if suffix == ".dat" and "\t" not in first and "::" in first:
            return "::"
        return "\t"
    best, best_score = ",", (False, 0)
    for cand in (",", "\t", ";", "|", "::"):
        counts = [ln.count(cand) for ln in lines]
        if not counts or counts[0] == 0:
            continue
        score = (len(set(counts)) == 1, counts[0])
        if score > best_score:
            best, best_score = cand, score
    return best


def _first_row(text: str, delim: str, quoting: bool) -> list[str]:
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    if not quoting:
        return line.split(delim)
    return next(csv.reader([line], delimiter=delim), [])

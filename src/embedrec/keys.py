"""The one key policy: what a key is, how keys become key arrays and back, how text parses.

A *key* is an external id; a *row* (``idx``) is a matrix row. Every module that takes keys
(:class:`~embedrec.vectors.Embeddings`, the indexes, the data layer, the two-tower model, the
service and the CLI) goes through the functions here, so a key means the same everywhere.

Policy
------
A key is a ``str`` or an ``int``; one collection of keys holds one of the two (its *key type*,
``"str"`` or ``"int"``). Scalars are normalised as follows:

=========================================  ======================================================
value                                       becomes
=========================================  ======================================================
``str``, ``np.str_``                        ``str``
``int``, ``np.integer``                     ``int`` (arrays: ``int64``; beyond int64: object)
``bool``, ``np.bool_``                      refused (``TypeError``): ``True`` is not an id
``float``, ``np.floating``                  refused (``TypeError``; cast ids with ``int()``)
``bytes``, ``None``, anything else          refused (``TypeError``)
a mix of ``str`` and ``int``                refused (``TypeError`` naming one of each)
=========================================  ======================================================

Key arrays are ``int64`` for int keys and ``object`` (holding ``str``) for str keys
(:func:`keys_array`).

Columns read from tabular logs (:func:`key_column` with ``coerce=True``, used by
:mod:`embedrec.data.interactions`) are the one exception, because a file reader infers the
column type: an id column with a missing value arrives as floats, and a column of ids that
mixes numbers and text arrives as objects. There, integral floats become ``int64`` (other
floats raise ``ValueError``), a column mixing ints and strs becomes all ``str``, and missing
values (``None``/``NaN``) raise ``ValueError``. Arrays given by a caller (graphs, sessions,
node lists: ``coerce=False``) follow the strict table above. Both behaviours are asserted by
the tests (tests/data/test_interactions.py, tests/data/test_graph.py).

Text (a URL parameter, a CLI argument, a JSON value) is parsed by :func:`parse_key`: for an
int-key model an integer-looking string (``-?[0-9]{1,30}``) becomes an ``int``; for a str-key
model an ``int`` becomes its text. Anything else stays as given (and is then an unknown key).

Examples
--------
>>> normalise_keys([np.int32(3), 4])
([3, 4], 'int')
>>> keys_array(["a", "b"], "str").dtype
dtype('O')
>>> parse_key("42", "int"), parse_key(42, "str"), parse_key("x", "int")
(42, '42', 'x')
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "Key",
    "KeyType",
    "as_key",
    "encode_arrow_first",
    "encode_first",
    "format_keys",
    "is_key",
    "key_array",
    "key_column",
    "key_type_of",
    "keys_array",
    "normalise_keys",
    "pad_key",
    "parse_key",
    "plain",
    "unknown_keys_error",
]

Key = str | int
"""An external id: a ``str`` or an ``int`` (NumPy string and integer scalars are accepted)."""

KeyType = Literal["str", "int"]

#: integer-looking text that :func:`parse_key` turns into an int key
INT_TEXT = re.compile(r"-?[0-9]{1,30}")
#: how many keys an error message lists
MAX_LISTED = 10


# ---------------------------------------------------------------------------------- scalars
def is_key(obj: object) -> bool:
    """Whether ``obj`` is one key: a ``str`` or an integer (NumPy too), not a bool.

    >>> is_key("a"), is_key(np.int64(1)), is_key(True), is_key(1.0), is_key(b"a")
    (True, True, False, False, False)
    """
    if isinstance(obj, (bool, np.bool_)):
        return False
    return isinstance(obj, (str, int, np.integer))


def as_key(obj: Any) -> Key:
    """A key (see :func:`is_key`) as the builtin type, so that dict lookups behave the same.

    >>> type(as_key(np.int64(3))).__name__, type(as_key(np.str_("a"))).__name__
    ('int', 'str')
    """
    if isinstance(obj, str):
        return str(obj)
    return int(obj)


def plain(obj: Any) -> Any:
    """NumPy scalars as Python scalars (``.item()``); anything else unchanged.

    For looking up a value that may or may not be a key in a dict of keys.

    >>> plain(np.int64(2)), plain("a"), plain(None)
    (2, 'a', None)
    """
    return obj.item() if isinstance(obj, np.generic) else obj


def pad_key(key_type: str) -> Any:
    """The key that pads a result row with fewer than ``k`` hits: ``-1`` (int keys) or ``None``.

    >>> pad_key("int"), pad_key("str")
    (-1, None)
    """
    return -1 if key_type == "int" else None


def parse_key(raw: str | int, key_type: str) -> Key:
    """``raw`` (text from a URL, a CLI argument or JSON) in a model's key type.

    For ``key_type="int"`` integer-looking text (``-?[0-9]{1,30}``) becomes an ``int``; for
    ``"str"`` an ``int`` becomes its text. Anything else is returned unchanged (and is then an
    unknown key of that model).

    >>> parse_key("-7", "int"), parse_key("7a", "int"), parse_key(7, "str")
    (-7, '7a', '7')
    """
    if key_type == "int":
        if isinstance(raw, str) and INT_TEXT.fullmatch(raw):
            return int(raw)
        return raw
    return raw if isinstance(raw, str) else str(raw)


# ---------------------------------------------------------------------------------- messages
def format_keys(items: Sequence[Any]) -> str:
    """``[k1, k2, ... and n more]``: at most :data:`MAX_LISTED` keys, for error messages."""
    shown = ", ".join(repr(as_key(x) if is_key(x) else x) for x in items[:MAX_LISTED])
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return f"[{shown}{more}]"


def unknown_keys_error(unknown: Sequence[Any]) -> KeyError:
    """The ``KeyError`` every lookup raises for unknown keys (it lists them)."""
    return KeyError(
        f"{len(unknown)} unknown key(s): {format_keys(unknown)}; check that the keys exist "
        "(`key in embeddings`), or skip unknown ones: missing='skip' (command line: --missing "
        "skip)"
    )


# ---------------------------------------------------------------------------------- sequences
def normalise_keys(keys: Sequence[Hashable] | npt.NDArray[Any]) -> tuple[list[Key], KeyType]:
    """``keys`` as a list of builtin ``str`` or ``int``, and which of the two it is.

    Parameters
    ----------
    keys : sequence or 1-D array of keys

    Returns
    -------
    keys : list of str or list of int
    key_type : {"str", "int"}
        ``"str"`` for an empty sequence.

    Raises
    ------
    TypeError
        ``keys`` is not a sequence, holds a non-key (bool, float, bytes, None ...; the first
        is named) or mixes str and int (one of each is named).
    ValueError
        An array that is not 1-D.

    Examples
    --------
    >>> normalise_keys(np.array(["a", "b"]))
    (['a', 'b'], 'str')
    """
    if isinstance(keys, (str, bytes)) or not hasattr(keys, "__len__"):
        raise TypeError(
            f"keys must be a sequence (list or 1-D array) of str or int keys, got "
            f"{type(keys).__name__}"
        )
    if isinstance(keys, np.ndarray):
        if keys.ndim != 1:
            raise ValueError(f"keys must be 1-D, got an array of shape {keys.shape}")
        raw: list[Any] = keys.tolist()
    else:
        raw = list(keys)
    types = set(map(type, raw))
    if types <= {str}:  # fast paths: the common, already-clean cases
        return raw, "str"
    if types <= {int}:
        return raw, "int"
    first_str = next((i for i, k in enumerate(raw) if isinstance(k, str)), None)
    first_int = next((i for i, k in enumerate(raw) if is_key(k) and not isinstance(k, str)), None)
    bad = [(i, k) for i, k in enumerate(raw) if not is_key(k)]
    if bad:
        i, k = bad[0]
        raise TypeError(
            f"keys must be str or int; key #{i} is {k!r} of type {type(k).__name__} "
            f"({len(bad)} such key(s)); convert keys with str() first"
        )
    if first_str is not None and first_int is not None:
        raise TypeError(
            f"keys mix str (e.g. #{first_str}: {raw[first_str]!r}) and int (e.g. #{first_int}: "
            f"{raw[first_int]!r}); use one type, e.g. convert all keys with str()"
        )
    if first_int is not None:
        return [int(k) for k in raw], "int"
    return [str(k) for k in raw], "str"


def key_type_of(keys: Sequence[Any]) -> KeyType:
    """``"int"`` when every element is an ``int`` (not a bool), else ``"str"``.

    A quick check for lists that are known to be keys already (no validation).
    """
    if keys and all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in keys):
        return "int"
    return "str"


def keys_array(keys: Sequence[Key], key_type: KeyType) -> npt.NDArray[Any]:
    """The key array of normalised ``keys``: ``int64`` for int keys, else ``object``.

    Int keys beyond the int64 range fall back to an ``object`` array.

    >>> keys_array([1, 2], "int").dtype, keys_array([2**70], "int").dtype
    (dtype('int64'), dtype('O'))
    """
    if key_type == "int":
        try:
            return np.array(keys, dtype=np.int64)
        except OverflowError:
            pass
    arr = np.empty(len(keys), dtype=object)
    arr[:] = keys
    return arr


def key_array(keys: Sequence[Any]) -> npt.NDArray[Any]:
    """:func:`keys_array` with the key type read off ``keys`` (:func:`key_type_of`)."""
    return keys_array(keys, key_type_of(keys))


# ---------------------------------------------------------------------------------- columns
def key_column(values: npt.ArrayLike, name: str, *, coerce: bool = False) -> npt.NDArray[Any]:
    """A 1-D key column as ``int64`` (int keys) or ``object`` holding ``str`` (str keys).

    Parameters
    ----------
    values : (n,) array_like
        The keys; object columns are checked through pyarrow (in C).
    name : str
        What the column is called in error messages.
    coerce : bool, default False
        ``False`` (arrays a caller typed: graphs, node lists, sessions): the strict policy of
        this module; floats and mixes of str and int raise ``TypeError``. ``True`` (columns
        read from interaction logs, whose type a reader inferred): integral floats become
        ``int64``, a column mixing ints and strs becomes all ``str``.

    Raises
    ------
    TypeError
        A key type the policy refuses (the dtype or the arrow type is named).
    ValueError
        Missing (``None``/``NaN``) keys, keys beyond int64, non-integer floats (``coerce``) or
        a column that is not 1-D.

    Examples
    --------
    >>> key_column([3, 1], "users").dtype
    dtype('int64')
    >>> key_column(np.array([1, "a"], dtype=object), "users", coerce=True).tolist()
    ['1', 'a']
    >>> key_column(np.array([2.0, 5.0]), "items", coerce=True).tolist()
    [2, 5]
    """
    if coerce:
        return _log_column(np.asarray(values), name)
    return _strict_column(values, name)


def _check_uint(arr: npt.NDArray[Any], name: str) -> None:
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{name} has keys above the int64 range; pass them as str")


def _strict_column(values: npt.ArrayLike, name: str) -> npt.NDArray[Any]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} is a single {type(values).__name__}; give a sequence of keys")
    # a list goes through an object array: np.asarray([1, "a"]) would quietly make "1"
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.ndim != 1:
        if arr.size == 0:
            arr = arr.reshape(0)
        else:
            raise ValueError(f"{name} must be a 1-D sequence of keys, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(object) if arr.dtype.kind == "U" else arr.astype(np.int64)
    kind = arr.dtype.kind
    if kind in "iu":
        _check_uint(arr, name)
        return arr.astype(np.int64)
    if kind == "U":
        return arr.astype(object)
    if kind == "O":
        import pyarrow as pa

        try:
            pa_arr = pa.array(arr, from_pandas=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise TypeError(
                f"{name} mixes key types ({exc}); keys must be all int or all str"
            ) from None
        if pa_arr.null_count:
            raise ValueError(f"{name} has {pa_arr.null_count} missing (None) keys")
        if pa.types.is_integer(pa_arr.type):
            return np.asarray(pa_arr.to_numpy(), dtype=np.int64)
        if pa.types.is_string(pa_arr.type) or pa.types.is_large_string(pa_arr.type):
            return np.asarray(pa_arr.to_numpy(zero_copy_only=False), dtype=object)
        raise TypeError(
            f"{name} holds {pa_arr.type} values; keys must be int or str (cast float ids "
            "with .astype(int))"
        )
    raise TypeError(
        f"{name} has dtype {arr.dtype}; keys must be int or str (cast float ids with .astype(int))"
    )


def _log_column(col: npt.NDArray[Any], name: str) -> npt.NDArray[Any]:
    # object columns go through pyarrow, which finds None / NaN / pd.NA and the common type
    # in C; only columns that mix ints and strs fall back to a Python pass
    kind = col.dtype.kind
    if kind in "iu":
        _check_uint(col, name)
        return col.astype(np.int64)
    if kind == "f":
        bad = ~np.isfinite(col)
        if bad.any():
            raise ValueError(
                f"{name} has {int(bad.sum())} missing (NaN) keys; drop those rows first"
            )
        if np.all(col == np.round(col)):
            return col.astype(np.int64)
        raise ValueError(f"{name} are non-integer floats; keys must be int or str")
    if kind in "U":
        return col.astype(object)
    import pyarrow as pa

    try:
        arr = pa.array(col, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = None  # mixed int / str: the slow path below
    if arr is not None:
        if arr.null_count:
            raise ValueError(
                f"{name} has {arr.null_count} missing (None/NaN) keys; drop those rows"
            )
        if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
            return _log_column(np.asarray(arr.to_numpy(zero_copy_only=False)), name)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    out = np.asarray(col, dtype=object)
    bad_list = [k is None or (isinstance(k, float) and k != k) for k in out.tolist()]
    if any(bad_list):
        raise ValueError(f"{name} has {sum(bad_list)} missing (None/NaN) keys; drop those rows")
    return np.array([k if isinstance(k, str) else str(k) for k in out.tolist()], dtype=object)


# ---------------------------------------------------------------------------------- encoding
def encode_first(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """(keys in order of first appearance, int64 code of every value), hashed in C."""
    import pyarrow as pa

    if values.size == 0:
        return values.copy(), np.zeros(0, dtype=np.int64)
    typ = pa.int64() if values.dtype.kind == "i" else pa.large_string()
    return encode_arrow_first(pa.array(values, type=typ))


def encode_arrow_first(arr: Any) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """:func:`encode_first` of a pyarrow array of int or string keys (hashed in C)."""
    import pyarrow as pa

    enc = arr.dictionary_encode()
    codes = np.asarray(enc.indices.to_numpy(), dtype=np.int64)
    dictionary = enc.dictionary
    if pa.types.is_integer(dictionary.type):
        keys = np.asarray(dictionary.to_numpy(), dtype=np.int64)
    else:
        keys = np.asarray(dictionary.to_numpy(zero_copy_only=False), dtype=object)
    return keys, codes

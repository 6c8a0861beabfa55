"""The encoder of one tower's features: :class:`TowerEncoder` fits raw columns into table rows.

This module needs only numpy and pyarrow (no torch): the service uses it to encode requests.
It reads the schema (:class:`~embedrec.models.two_tower.spec.FeatureSpec`,
:class:`~embedrec.models.two_tower.spec.TowerConfig` and the row conventions) from
:mod:`~embedrec.models.two_tower.spec`, learns vocabularies, numeric statistics and
pretrained-key tables at fit time, and encodes entities, records (a JSON request) and item
histories into the arrays the towers eat. It round-trips through JSON (``to_dict`` /
``from_dict``; no pickle).

Side tables come in as a pyarrow ``Table``, a pandas or polars ``DataFrame`` or a dict of
columns; they are converted to pyarrow and encoded column-wise (no per-row Python loops).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ..._io import read_manifest
from ...vectors import Embeddings, read_keys_vectors
from .spec import FIRST_ROW, UNKNOWN_ROW, FeatureSpec, TowerConfig

__all__ = ["TowerEncoder"]

logger = logging.getLogger("embedrec")

_ENCODER_FORMAT = "TowerEncoder"
_ENCODER_VERSION = 1
_TABLE_KINDS = ("categorical", "multi_categorical", "numeric")
_MAX_SHOWN = 10


def _shown(items: Sequence[Any]) -> str:
    head = ", ".join(repr(x) for x in items[:_MAX_SHOWN])
    more = f", ... ({len(items)} in all)" if len(items) > _MAX_SHOWN else ""
    return f"[{head}{more}]"


# ---------------------------------------------------------------------------------- arrow helpers
def _is_stringlike(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or getattr(pa.types, "is_string_view", lambda _t: False)(t)
    )


def _is_listlike(t: pa.DataType) -> bool:
    checks = (
        "is_list",
        "is_large_list",
        "is_fixed_size_list",
        "is_list_view",
        "is_large_list_view",
    )
    return any(getattr(pa.types, c, lambda _t: False)(t) for c in checks)


def _combine(arr: Any) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _null_where(arr: pa.Array, mask: pa.Array) -> pa.Array:
    return pc.if_else(mask, pa.scalar(None, type=arr.type), arr)


def _normalise_values(arr: Any, *, trim: bool = False) -> pa.Array:
    """One canonical type per family (int64, float64, bool, string); missing values as null.

    NaN and infinities, empty strings (after trimming when ``trim``) become null; other types
    are cast to string.
    """
    arr = _combine(arr)
    t = arr.type
    if pa.types.is_null(t) or pa.types.is_boolean(t):
        return arr
    if _is_stringlike(t):
        arr = arr.cast(pa.string())
        if trim:
            arr = pc.utf8_trim_whitespace(arr)
        return _null_where(arr, pc.equal(arr, ""))
    if pa.types.is_integer(t):
        return arr.cast(pa.int64())
    if pa.types.is_floating(t):
        arr = arr.cast(pa.float64())
        return _null_where(arr, pc.invert(pc.is_finite(arr)))
    try:
        return _normalise_values(arr.cast(pa.string()), trim=trim)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(
            f"values of type {t} cannot be used as keys or categories; cast the column to str "
            "or int first"
        ) from exc


def _values_array(values: Sequence[Any] | npt.NDArray[Any]) -> pa.Array:
    """Python or NumPy values -> a normalised arrow array; mixed types are compared as str."""
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        arr = pa.array(
            [
                None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                for v in values
            ],
            type=pa.string(),
        )
    return _normalise_values(arr)


def _unify(values: pa.Array, value_set: pa.Array) -> tuple[pa.Array, pa.Array]:
    a, b = values.type, value_set.type
    if a == b:
        return values, value_set
    numeric = (pa.int64(), pa.float64())
    if a in numeric and b in numeric:
        return values.cast(pa.float64()), value_set.cast(pa.float64())
    # Different families (e.g. int entity keys against the str keys of a word2vec file):
    # compare the string forms.
    return values.cast(pa.string()), value_set.cast(pa.string())


def _match_codes(values: pa.Array, value_set: pa.Array) -> npt.NDArray[np.int64]:
    """Position of every value in ``value_set`` (both normalised), ``-1`` where absent/null."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(value_set) == 0 or pa.types.is_null(values.type) or pa.types.is_null(value_set.type):
        return np.full(n, -1, dtype=np.int64)
    values, value_set = _unify(values, value_set)
    idx = pc.fill_null(pc.index_in(values, value_set=value_set), -1)
    return np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64)


def _rows(codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Vocabulary position -> table row (2..), unknown (-1) -> row 1."""
    return np.where(codes >= 0, codes + FIRST_ROW, UNKNOWN_ROW).astype(np.int64)


def _key_array(keys: Any, what: str) -> pa.Array:
    """Entity/item keys -> a normalised int64 or string arrow array; checks 1-D, unique, no null."""
    if isinstance(keys, (pa.Array, pa.ChunkedArray)):
        raw: Any = keys
    else:
        a = np.asarray(keys)
        if a.ndim != 1:
            raise ValueError(f"{what} must be 1-D (one key per code), got shape {a.shape}")
        raw = _values_array(a)
    arr = _normalise_values(raw)
    if len(arr) == 0:
        return pa.array([], type=pa.int64()) if pa.types.is_null(arr.type) else arr
    if arr.type not in (pa.int64(), pa.string()):
        raise TypeError(f"{what} must be int or str keys, got {arr.type}; convert them first")
    if arr.null_count:
        raise ValueError(f"{what} holds {arr.null_count} missing (None or empty) key(s)")
    if pc.count_distinct(arr).as_py() != len(arr):
        raise ValueError(f"{what} must be unique; duplicated: {_shown(_duplicates(arr))}")
    return arr


def _duplicates(arr: pa.Array) -> list[Any]:
    vc = pc.value_counts(arr)
    counts = np.asarray(vc.field("counts").to_numpy(zero_copy_only=False))
    return cast(list[Any], vc.field("values").filter(pa.array(counts > 1)).to_pylist())


def _to_arrow_table(table: Any) -> pa.Table:
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    module = type(table).__module__.split(".")[0]
    if module == "pandas" and hasattr(table, "columns"):
        return pa.Table.from_pandas(table, preserve_index=False)
    if module == "polars":
        if not hasattr(table, "to_arrow"):
            raise TypeError(
                f"got a polars {type(table).__name__}; pass a DataFrame (.collect() it)"
            )
        return cast(pa.Table, table.to_arrow())
    if isinstance(table, Mapping):
        try:
            return pa.table({str(k): _column_values(v) for k, v in table.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise ValueError(
                f"the dict of columns could not be converted to a table ({exc}); give each column "
                "one value type and equal lengths"
            ) from exc
    raise TypeError(
        f"table must be a pyarrow Table, a pandas or polars DataFrame or a dict of columns, got "
        f"{type(table).__name__}"
    )


def _column_values(v: Any) -> Any:
    if isinstance(v, (pa.Array, pa.ChunkedArray)):
        return v
    if isinstance(v, np.ndarray) and v.dtype != object:
        return v
    return pa.array(list(v))


# ---------------------------------------------------------------------------------- fitting helpers
def _fit_vocab(
    values: pa.Array, parents: npt.NDArray[np.int64] | None, spec: FeatureSpec
) -> pa.Array:
    """Values held by >= min_count entities, most frequent first (ties: first occurrence),
    at most max_size. With ``parents`` (multi-valued) a value counts once per entity."""
    if pa.types.is_null(values.type) or len(values) == 0:
        return pa.array([], type=pa.string())
    enc = pc.dictionary_encode(values)  # dictionary in order of first occurrence
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    dictionary = enc.dictionary
    ids = np.asarray(pc.fill_null(enc.indices.cast(pa.int64()), -1).to_numpy(), dtype=np.int64)
    keep = ids >= 0
    ids = ids[keep]
    if parents is not None:
        pair = np.unique(parents[keep] * len(dictionary) + ids)
        ids = pair % len(dictionary)
    counts = np.bincount(ids, minlength=len(dictionary))
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= spec.min_count]
    if spec.max_size is not None:
        order = order[: spec.max_size]
    return dictionary.take(pa.array(order, type=pa.int64()))


def _multi_flat(arr: Any, separator: str) -> tuple[npt.NDArray[np.int64], pa.Array]:
    """Entity index and value of every non-missing value of a multi-valued column."""
    arr = _combine(arr)
    if _is_stringlike(arr.type):
        arr = pc.split_pattern(arr.cast(pa.string()), pattern=separator)
    if _is_listlike(arr.type):
        parents = np.asarray(pc.list_parent_indices(arr).to_numpy(), dtype=np.int64)
        tokens = pc.list_flatten(arr)
    else:
        parents = np.arange(len(arr), dtype=np.int64)
        tokens = arr
    tokens = _normalise_values(tokens, trim=True)
    if pa.types.is_null(tokens.type):
        return np.zeros(0, dtype=np.int64), tokens.slice(0, 0)
    valid = np.asarray(pc.is_valid(tokens).to_numpy(zero_copy_only=False), dtype=bool)
    return parents[valid], tokens.filter(pa.array(valid))


def _multi_rows(
    parents: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    n: int,
    max_values: int,
) -> npt.NDArray[np.int64]:
    """(n, max_values) rows: per entity its distinct rows in given order, right-padded with 0;
    an entity without any value gets [1, 0, ...]."""
    out = np.zeros((n, max_values), dtype=np.int64)
    order = np.argsort(parents, kind="stable")
    parents, rows = parents[order], rows[order]
    width = int(rows.max()) + 1 if len(rows) else 1
    _, first = np.unique(parents * width + rows, return_index=True)
    first.sort()
    parents, rows = parents[first], rows[first]
    pos = np.arange(len(parents)) - np.searchsorted(parents, parents, side="left")
    keep = pos < max_values
    out[parents[keep], pos[keep]] = rows[keep]
    empty = np.ones(n, dtype=bool)
    empty[parents] = False
    out[empty, 0] = UNKNOWN_ROW
    return out


def _numeric_raw(arr: Any, spec: FeatureSpec) -> npt.NDArray[np.float64]:
    """Raw float64 values with NaN for missing or non-finite ones."""
    arr = _combine(arr)
    t = arr.type
    if pa.types.is_null(t):
        return np.full(len(arr), np.nan)
    try:
        if _is_stringlike(t):
            arr = pc.utf8_trim_whitespace(arr.cast(pa.string()))
            arr = _null_where(arr, pc.equal(arr, ""))
        if not (
            pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_boolean(t)
            or pa.types.is_decimal(t)
            or _is_stringlike(t)
        ):
            raise pa.ArrowInvalid(f"type {t}")
        arr = arr.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(
            f"numeric feature {spec.name!r}: column {spec.source_column!r} of type {t} cannot be "
            f"read as numbers ({exc}); cast it to float or use kind='categorical'"
        ) from exc
    x = np.array(pc.fill_null(arr, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
    x[~np.isfinite(x)] = np.nan
    return x


def _numeric_transform(x: npt.NDArray[np.float64], spec: FeatureSpec) -> npt.NDArray[np.float64]:
    if spec.normalize != "log_standard":
        return x
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log1p(x)
    bad = np.isfinite(x) & ~np.isfinite(y)
    if bad.any():
        logger.warning(
            "numeric feature %r: %d value(s) <= -1 have no log1p and are treated as missing; "
            "use normalize='standard' for such data",
            spec.name,
            int(bad.sum()),
        )
    y[~np.isfinite(y)] = np.nan
    return y


def _numeric_stats(y: npt.NDArray[np.float64], spec: FeatureSpec) -> tuple[float, float]:
    seen = y[np.isfinite(y)]
    if spec.normalize == "none":
        return 0.0, 1.0
    if seen.size == 0:
        logger.warning(
            "numeric feature %r has no value for any entity; it encodes as 0.0 everywhere",
            spec.name,
        )
        return 0.0, 1.0
    if spec.normalize == "minmax":
        center, spread = float(seen.min()), float(seen.max() - seen.min())
    else:
        center, spread = float(seen.mean()), float(seen.std())
    return center, (spread if spread > 0 else 1.0)


def _numeric_encode(
    x: npt.NDArray[np.float64], spec: FeatureSpec, center: float, scale: float
) -> npt.NDArray[np.float32]:
    y = (_numeric_transform(x, spec) - center) / scale
    return np.where(np.isfinite(y), y, 0.0).astype(np.float32)


def _load_vectors(spec: FeatureSpec) -> tuple[list[Any], npt.NDArray[np.float32]]:
    assert spec.path is not None
    path = Path(spec.path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"pretrained feature {spec.name!r}: path {str(path)!r} does not exist; set "
            "FeatureSpec.path to a model directory or word2vec file, or pass the vectors as "
            f"pretrained={{{spec.name!r}: embeddings}}"
        )
    if path.is_dir():
        read_manifest(path)  # an embedrec directory of any class that stores keys + vectors
        keys, vectors = read_keys_vectors(path)
        return list(keys), vectors
    emb = Embeddings.load_word2vec_format(path)
    return list(emb.keys), np.asarray(emb.vectors, dtype=np.float32)


def _vectors_of(spec: FeatureSpec, source: Any) -> tuple[pa.Array, npt.NDArray[np.float32]]:
    if source is None:
        keys_list, vectors = _load_vectors(spec)
    else:
        if not (hasattr(source, "keys") and hasattr(source, "vectors")):
            raise TypeError(
                f"pretrained[{spec.name!r}] must be an embedrec Embeddings (with .keys and "
                f".vectors), got {type(source).__name__}"
            )
        keys_list, vectors = list(source.keys), np.asarray(source.vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(keys_list):
        raise ValueError(
            f"pretrained feature {spec.name!r}: vectors of shape {vectors.shape} do not match "
            f"{len(keys_list)} keys; expected ({len(keys_list)}, dim)"
        )
    if spec.dim is not None and spec.dim != vectors.shape[1]:
        raise ValueError(
            f"FeatureSpec(name={spec.name!r}).dim={spec.dim} does not match the pretrained "
            f"vectors' dim {vectors.shape[1]}; leave dim unset (it comes from the vectors)"
        )
    keys = _key_array(_typed_keys(keys_list), f"the keys of pretrained feature {spec.name!r}")
    return keys, vectors


# ---------------------------------------------------------------------------------- TowerEncoder
@dataclass
class _State:
    """What one feature learned at fit time, plus its encoding of every entity."""

    rows: npt.NDArray[Any]  # (n,) int64 | (n, max_values) int64 | (n,) float32 (numeric)
    vocab: pa.Array | None = None  # categorical / multi_categorical: row = 2 + position
    center: float = 0.0  # numeric
    scale: float = 1.0
    keys: pa.Array | None = None  # pretrained: keys of the vectors (row = 2 + position)
    dim: int = 0
    vectors: npt.NDArray[np.float32] | None = None


class TowerEncoder:
    """Encodes the features of one tower's entities (users or items) into table rows.

    Build it with :meth:`fit` (or :meth:`from_dict`). :meth:`encode_entities` gives every known
    entity's static features, :meth:`encode_records` encodes raw values (e.g. a JSON request),
    :meth:`encode_histories` encodes item sequences. Encoded dicts map feature name to an array
    with leading dimension ``n``:

    ==================  =============================================================
    id, categorical     ``(n,)`` int64 row
    multi_categorical   ``(n, max_values)`` int64 rows, right-padded with 0
    history             ``(n, max_len)`` int64 item rows, most recent LAST, left-padded
    numeric             ``(n,)`` float32, normalised; missing -> 0.0
    pretrained          ``(n,)`` int64 row of the pretrained table (1: key absent)
    ==================  =============================================================

    Notes
    -----
    * ``id``: entity code ``c`` -> row ``c + 2``. With ``min_count`` (or ``max_size``) and
      ``entity_counts``, entities with fewer interactions (or beyond the ``max_size`` most
      active) map to row 1; the table keeps ``n_entities + 2`` rows either way.
    * ``categorical``: values may be int, str, bool or float; ``None``, NaN, infinities and
      ``""`` are missing (row 1). Counts are over the entities of ``entity_keys`` (one per
      entity), so side-table rows of other keys never shape the vocabulary.
    * ``multi_categorical``: list columns or ``separator``-joined strings (tokens are stripped of
      surrounding whitespace; empty tokens dropped). A value counts once per entity; an entity
      keeps its first ``max_values`` distinct rows (several rare values share one row 1); an
      entity with no value encodes as ``[1, 0, ...]``.
    * ``numeric``: statistics from the entities' finite values (NaN, inf, null are missing);
      a zero spread (std, or max - min) divides by 1. Missing -> 0.0 after normalisation (the
      mean; the minimum for ``minmax``).
    * ``pretrained``: the entity key's row in the vectors + 2 (key absent -> 1). When the
      entity keys and the vectors' keys differ in type (int user ids against the str keys of a
      word2vec file), both are compared as ``str``; the same rule matches side-table keys and
      record values against keys or vocabularies of another type.
    * :meth:`to_dict` holds the vocabularies, numeric statistics, every entity's encoding and the
      pretrained keys, but not the pretrained vectors (the tower weights hold them):
      after :meth:`from_dict`, :meth:`pretrained_matrix` reloads them from ``FeatureSpec.path``
      or from ``pretrained=`` given to :meth:`from_dict`.

    Examples
    --------
    >>> cfg = TowerConfig(features=(FeatureSpec(name="item", kind="id"),
    ...                             FeatureSpec(name="genre", kind="categorical")))
    >>> enc = TowerEncoder.fit(cfg, entity_keys=np.array(["a", "b", "c"]),
    ...                        item_keys=np.array(["a", "b", "c"]),
    ...                        table={"key": ["a", "b", "c"], "genre": ["x", "y", "y"]})
    >>> {k: v.tolist() for k, v in enc.encode_entities().items()}
    {'item': [2, 3, 4], 'genre': [3, 2, 2]}
    >>> enc.encode_records([{"key": "b", "genre": "x"}, {"genre": None}])["genre"].tolist()
    [3, 1]
    """

    def __init__(
        self,
        config: TowerConfig,
        *,
        key_column: str,
        entity_keys: pa.Array,
        item_keys: pa.Array | None,
        states: dict[str, _State],
    ) -> None:
        # Internal: use TowerEncoder.fit or TowerEncoder.from_dict.
        self.config = config
        self.key_column = key_column
        self._entity_keys = entity_keys
        self._item_keys = item_keys
        self._states = states

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(
        cls,
        config: TowerConfig,
        *,
        entity_keys: npt.ArrayLike,
        item_keys: npt.ArrayLike,
        table: Any = None,
        key_column: str = "key",
        pretrained: Mapping[str, Embeddings] | None = None,
        entity_counts: npt.ArrayLike | None = None,
    ) -> TowerEncoder:
        """Learn vocabularies and statistics from the side table of the tower's entities.

        Parameters
        ----------
        config : TowerConfig
        entity_keys : (n_entities,) int64 or str array_like
            The tower's entity keys in code order (``Interactions.user_keys`` or
            ``item_keys``); unique.
        item_keys : (n_items,) array_like
            The item catalogue in code order (``Interactions.item_keys``); used by ``history``.
        table : pyarrow Table, pandas/polars DataFrame or dict of columns, optional
            Side table with ``key_column`` and one column per categorical, multi-categorical or
            numeric feature (``FeatureSpec.source_column``). Rows of other keys are ignored;
            entities without a row get missing values. Keys must be unique.
        key_column : str, default "key"
        pretrained : mapping name -> Embeddings, optional
            Vectors of ``pretrained`` features (else read from ``FeatureSpec.path``); entries
            for other names are ignored.
        entity_counts : (n_entities,) int array_like, optional
            Interactions per entity; needed by an ``id`` feature with ``min_count > 1`` or
            ``max_size``.

        Returns
        -------
        TowerEncoder

        Raises
        ------
        ValueError
            Missing key or feature column (the available columns are listed), duplicate keys
            in the table, a table needed but not given, bad ``entity_counts``, a pretrained
            feature without vectors, or vectors whose dim disagrees with the spec.
        TypeError
            ``table`` of an unsupported type, keys that are neither int nor str.
        """
        if not isinstance(config, TowerConfig):
            raise TypeError(f"config must be a TowerConfig, got {type(config).__name__}")
        ekeys = _key_array(entity_keys, "entity_keys")
        n = len(ekeys)
        if n == 0:
            raise ValueError("entity_keys is empty; a tower needs at least one entity")
        has_history = any(f.kind == "history" for f in config.features)
        ikeys = _key_array(item_keys, "item_keys") if has_history else None
        counts: npt.NDArray[np.int64] | None = None
        if entity_counts is not None:
            counts = np.asarray(entity_counts)
            if counts.shape != (n,) or not np.issubdtype(counts.dtype, np.number):
                raise ValueError(
                    f"entity_counts has shape {counts.shape} and dtype {counts.dtype}; expected "
                    f"({n},) numbers (interactions per entity, in code order)"
                )
        aligned = cls._align_table(config, table, key_column, ekeys)
        pretrained = pretrained or {}
        states: dict[str, _State] = {}
        for f in config.features:
            if f.kind == "id":
                states[f.name] = _State(rows=cls._id_rows(f, n, counts))
            elif f.kind == "history":
                states[f.name] = _State(rows=np.zeros(0, dtype=np.int64))
            elif f.kind == "categorical":
                values = _normalise_values(aligned[f.name])
                vocab = _fit_vocab(values, None, f)
                states[f.name] = _State(rows=_rows(_match_codes(values, vocab)), vocab=vocab)
            elif f.kind == "multi_categorical":
                parents, tokens = _multi_flat(aligned[f.name], f.separator)
                vocab = _fit_vocab(tokens, parents, f)
                rows = _multi_rows(parents, _rows(_match_codes(tokens, vocab)), n, f.max_values)
                states[f.name] = _State(rows=rows, vocab=vocab)
            elif f.kind == "numeric":
                x = _numeric_raw(aligned[f.name], f)
                center, scale = _numeric_stats(_numeric_transform(x, f), f)
                states[f.name] = _State(
                    rows=_numeric_encode(x, f, center, scale), center=center, scale=scale
                )
            else:  # pretrained
                source = pretrained.get(f.name)
                if source is None and f.path is None:
                    raise ValueError(
                        f"pretrained feature {f.name!r} has no vectors: set FeatureSpec.path to a "
                        "model directory or word2vec file, or pass "
                        f"pretrained={{{f.name!r}: embeddings}} to fit"
                    )
                keys, vectors = _vectors_of(f, source)
                rows = _rows(_match_codes(ekeys, keys))
                if not (rows > UNKNOWN_ROW).any():
                    logger.warning(
                        "pretrained feature %r: none of the %d entity keys (e.g. %r) is among the "
                        "%d vector keys (e.g. %r); check that they are the same ids",
                        f.name,
                        n,
                        ekeys[0].as_py(),
                        len(keys),
                        keys[0].as_py() if len(keys) else None,
                    )
                states[f.name] = _State(
                    rows=rows, keys=keys, dim=int(vectors.shape[1]), vectors=vectors
                )
        enc = cls(config, key_column=key_column, entity_keys=ekeys, item_keys=ikeys, states=states)
        logger.info("TowerEncoder: %d entities, tables %s", n, enc.table_sizes())
        return enc

    @staticmethod
    def _id_rows(
        spec: FeatureSpec, n: int, counts: npt.NDArray[Any] | None
    ) -> npt.NDArray[np.int64]:
        rows = np.arange(FIRST_ROW, n + FIRST_ROW, dtype=np.int64)
        limited = spec.max_size is not None and spec.max_size < n
        if counts is None:
            if spec.min_count > 1 or limited:
                raise ValueError(
                    f"id feature {spec.name!r} has min_count={spec.min_count}, "
                    f"max_size={spec.max_size}: pass entity_counts (interactions per entity) to "
                    "TowerEncoder.fit, or leave both at their defaults"
                )
            return rows
        rare = counts < spec.min_count
        if limited:
            assert spec.max_size is not None
            rare[np.argsort(-counts, kind="stable")[spec.max_size :]] = True
        rows[rare] = UNKNOWN_ROW
        return rows

    @staticmethod
    def _align_table(
        config: TowerConfig, table: Any, key_column: str, ekeys: pa.Array
    ) -> dict[str, pa.Array]:
        """Each table feature's column, one value per entity in code order (null if absent)."""
        needs = [f for f in config.features if f.kind in _TABLE_KINDS]
        if table is None:
            if needs:
                f = needs[0]
                raise ValueError(
                    f"feature {f.name!r} (kind={f.kind!r}) reads column {f.source_column!r} of a "
                    "side table, but table=None; pass table=... (with a key column) to fit"
                )
            return {}
        tbl = _to_arrow_table(table)
        if key_column not in tbl.column_names:
            hint = (
                " (a pandas index is not a column: call df.reset_index() first)"
                if type(table).__module__.startswith("pandas")
                else ""
            )
            raise ValueError(
                f"the side table has no key column {key_column!r}; available columns: "
                f"{tbl.column_names}; pass key_column=...{hint}"
            )
        for f in needs:
            if f.source_column not in tbl.column_names:
                raise ValueError(
                    f"feature {f.name!r} (kind={f.kind!r}) reads column {f.source_column!r}, "
                    f"which the side table does not have; available columns: {tbl.column_names}; "
                    "set FeatureSpec.column to one of them"
                )
        try:
            tkeys = _normalise_values(tbl.column(key_column))
        except ValueError as exc:
            raise ValueError(f"key column {key_column!r}: {exc}") from exc
        dups = [] if pa.types.is_null(tkeys.type) else _duplicates(tkeys.drop_null())
        if dups:
            raise ValueError(
                f"the side table's key column {key_column!r} holds duplicate keys, e.g. "
                f"{dups[0]!r} ({len(dups)} duplicated key(s)); keep one row per key"
            )
        codes = _match_codes(tkeys, ekeys)
        matched = codes >= 0
        row_of = np.full(len(ekeys), -1, dtype=np.int64)
        row_of[codes[matched]] = np.flatnonzero(matched)
        if needs and not matched.any() and len(tkeys):
            logger.warning(
                "no key of the side table's column %r (e.g. %r) is an entity key (e.g. %r); "
                "every table feature is missing. Check key_column and the key types",
                key_column,
                tkeys[0].as_py(),
                ekeys[0].as_py(),
            )
        take = pa.array(row_of, mask=row_of < 0)
        return {f.name: _combine(tbl.column(f.source_column).take(take)) for f in needs}

    # ------------------------------------------------------------------ accessors
    @property
    def n_entities(self) -> int:
        """Number of entities (rows of :meth:`encode_entities`)."""
        return len(self._entity_keys)

    @property
    def entity_keys(self) -> npt.NDArray[Any]:
        """The entity keys in code order (int64, or object of str)."""
        return _keys_numpy(self._entity_keys)

    def _spec(self, name: str, kinds: tuple[str, ...]) -> FeatureSpec:
        specs = [f for f in self.config.features if f.kind in kinds]
        for f in specs:
            if f.name == name:
                return f
        raise KeyError(
            f"no {' or '.join(kinds)} feature {name!r}; this tower has {[f.name for f in specs]}"
        )

    def vocabulary(self, name: str) -> list[Any]:
        """Vocabulary of a (multi-)categorical feature: value ``i`` is row ``i + 2``."""
        self._spec(name, ("categorical", "multi_categorical"))
        vocab = self._states[name].vocab
        assert vocab is not None
        return cast(list[Any], vocab.to_pylist())

    def numeric_stats(self, name: str) -> tuple[float, float]:
        """``(center, scale)`` of a numeric feature: encoded = (transform(x) - center) / scale."""
        self._spec(name, ("numeric",))
        s = self._states[name]
        return s.center, s.scale

    def table_sizes(self) -> dict[str, int]:
        """Rows of each embedding table, rows 0 and 1 included (``id``, ``categorical``,
        ``multi_categorical``, ``pretrained``; ``history`` shares the item ``id`` table)."""
        out: dict[str, int] = {}
        for f in self.config.features:
            s = self._states[f.name]
            if f.kind == "id":
                out[f.name] = self.n_entities + FIRST_ROW
            elif f.kind in ("categorical", "multi_categorical"):
                assert s.vocab is not None
                out[f.name] = len(s.vocab) + FIRST_ROW
            elif f.kind == "pretrained":
                assert s.keys is not None
                out[f.name] = len(s.keys) + FIRST_ROW
        return out

    def pretrained_matrix(self, name: str) -> npt.NDArray[np.float32]:
        """``(n_vectors + 2, dim)`` float32 initial table of a pretrained feature; rows 0 and 1
        are zero, row ``i + 2`` is vector ``i``.

        Raises
        ------
        KeyError
            ``name`` is not a pretrained feature.
        ValueError
            After :meth:`from_dict` without the vectors: the spec has no ``path`` or the file
            there no longer holds the same keys and dim.
        """
        spec = self._spec(name, ("pretrained",))
        s = self._states[name]
        assert s.keys is not None
        if s.vectors is None:
            if spec.path is None:
                raise ValueError(
                    f"pretrained feature {name!r}: this encoder was rebuilt by from_dict and its "
                    "vectors are not stored in the dict (the tower weights hold them); pass "
                    f"pretrained={{{name!r}: embeddings}} to TowerEncoder.from_dict"
                )
            keys, vectors = _vectors_of(spec, None)
            _check_same_vectors(spec, s, keys, vectors)
            s.vectors = vectors
        out = np.zeros((len(s.keys) + FIRST_ROW, s.dim), dtype=np.float32)
        out[FIRST_ROW:] = s.vectors
        return out

    # ------------------------------------------------------------------ encoding
    def encode_entities(self) -> dict[str, npt.NDArray[Any]]:
        """Static features of every entity in code order (a fresh copy; no ``history``)."""
        return {
            f.name: self._states[f.name].rows.copy()
            for f in self.config.features
            if f.kind != "history"
        }

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> dict[str, npt.NDArray[Any]]:
        """Encode raw feature values, one dict per entity (e.g. a JSON request).

        A record holds values by ``FeatureSpec.source_column`` (falling back to the feature
        name); ``id`` and ``pretrained`` features read ``record["key"]`` (an unknown key gives
        row 1). ``multi_categorical`` values may be a list or a separator-joined string.
        Absent fields are missing. For the same raw values the result equals
        :meth:`encode_entities`. No ``history`` (see :meth:`encode_histories`).

        Raises
        ------
        TypeError
            A record that is not a mapping.
        ValueError
            A list given to a categorical feature, or a numeric value that is not a number.
        """
        if isinstance(records, Mapping):
            raise TypeError("records must be a sequence of dicts; wrap a single record in a list")
        recs = list(records)
        for i, r in enumerate(recs):
            if not isinstance(r, Mapping):
                raise TypeError(f"record #{i} is a {type(r).__name__}; records must be dicts")
        n = len(recs)
        out: dict[str, npt.NDArray[Any]] = {}
        for f in self.config.features:
            s = self._states[f.name]
            if f.kind == "history":
                continue
            if f.kind in ("id", "pretrained"):
                keys = _values_array([r.get("key") for r in recs])
                if f.kind == "id":
                    codes = _match_codes(keys, self._entity_keys)
                    rows = np.full(n, UNKNOWN_ROW, dtype=np.int64)
                    rows[codes >= 0] = s.rows[codes[codes >= 0]]
                    out[f.name] = rows
                else:
                    assert s.keys is not None
                    out[f.name] = _rows(_match_codes(keys, s.keys))
                continue
            raw = [_field(r, f) for r in recs]
            if f.kind == "categorical":
                for i, v in enumerate(raw):
                    if isinstance(v, (list, tuple, dict, set, np.ndarray)):
                        raise ValueError(
                            f"record #{i}: categorical feature {f.name!r} got {v!r}; give one "
                            "value (use kind='multi_categorical' for several)"
                        )
                assert s.vocab is not None
                out[f.name] = _rows(_match_codes(_values_array(raw), s.vocab))
            elif f.kind == "multi_categorical":
                out[f.name] = self._encode_multi(f, raw)
            else:  # numeric
                x = np.array([_number(v, f, i) for i, v in enumerate(raw)], dtype=np.float64)
                out[f.name] = _numeric_encode(x, f, s.center, s.scale)
        return out

    def _encode_multi(self, spec: FeatureSpec, raw: list[Any]) -> npt.NDArray[np.int64]:
        vocab = self._states[spec.name].vocab
        assert vocab is not None
        as_str = [i for i, v in enumerate(raw) if isinstance(v, str)]
        as_list = [i for i, v in enumerate(raw) if not isinstance(v, str) and v is not None]
        parents: list[npt.NDArray[np.int64]] = []
        rows: list[npt.NDArray[np.int64]] = []
        if as_str:
            p, tok = _multi_flat(pa.array([raw[i] for i in as_str], pa.string()), spec.separator)
            parents.append(np.asarray(as_str, dtype=np.int64)[p])
            rows.append(_rows(_match_codes(tok, vocab)))
        if as_list:
            nested = [_as_list(raw[i]) for i in as_list]
            flat = [x for values in nested for x in values]
            p = np.repeat(np.arange(len(nested), dtype=np.int64), [len(v) for v in nested])
            tok = _values_array(flat)
            if _is_stringlike(tok.type):
                tok = _normalise_values(tok, trim=True)
            valid = np.asarray(pc.is_valid(tok).to_numpy(zero_copy_only=False), dtype=bool)
            parents.append(np.asarray(as_list, dtype=np.int64)[p[valid]])
            rows.append(_rows(_match_codes(tok.filter(pa.array(valid)), vocab)))
        return _multi_rows(
            np.concatenate(parents) if parents else np.zeros(0, np.int64),
            np.concatenate(rows) if rows else np.zeros(0, np.int64),
            len(raw),
            spec.max_values,
        )

    def encode_histories(
        self,
        histories: Sequence[npt.ArrayLike],
        *,
        codes: bool = False,
    ) -> npt.NDArray[np.int64]:
        """``(n, max_len)`` int64 item rows: the last ``max_len`` items of each history, most
        recent LAST, left-padded with 0.

        Parameters
        ----------
        histories : sequence of 1-D array_like
            Item keys in time order (oldest first); with ``codes=True`` item codes (indices of
            ``item_keys``). Unknown keys give row 1.

        Raises
        ------
        ValueError
            The tower has no ``history`` feature, a history is not 1-D, or a code is out of
            range.
        """
        hist = [f for f in self.config.features if f.kind == "history"]
        if not hist or self._item_keys is None:
            raise ValueError(
                "this tower has no 'history' feature; add FeatureSpec(name='history', "
                "kind='history') to the user tower"
            )
        max_len = hist[0].max_len
        arrays = [np.asarray(h) for h in histories]
        for i, a in enumerate(arrays):
            if a.ndim != 1:
                raise ValueError(f"history #{i} has shape {a.shape}; each history must be 1-D")
        n = len(arrays)
        lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        nonempty = [a for a in arrays if a.shape[0]]
        out = np.zeros((n, max_len), dtype=np.int64)
        if not nonempty:
            return out
        if codes:
            for a in nonempty:
                if not np.issubdtype(a.dtype, np.integer):
                    raise ValueError(
                        f"codes=True needs integer item codes, got dtype {a.dtype}; pass item keys "
                        "with codes=False"
                    )
            flat = np.concatenate(nonempty).astype(np.int64)
            n_items = len(self._item_keys)
            bad = (flat < 0) | (flat >= n_items)
            if bad.any():
                raise ValueError(
                    f"item code {int(flat[bad][0])} is out of range [0, {n_items}); codes index "
                    "item_keys (pass codes=False for item keys)"
                )
            rows = flat + FIRST_ROW
        else:
            flat = np.concatenate(nonempty)
            rows = _rows(_match_codes(_values_array(flat), self._item_keys))
        parent = np.repeat(np.arange(n, dtype=np.int64), lengths)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        pos = np.arange(len(rows), dtype=np.int64) - offsets[parent]
        col = max_len - lengths[parent] + pos  # the last item lands in column max_len - 1
        keep = col >= 0
        out[parent[keep], col[keep]] = rows[keep]
        return out

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (lists of int, str, float; no pickle) for :meth:`from_dict`.

        Holds the config, the entity (and, with a ``history`` feature, item) keys, every
        feature's vocabulary or statistics and every entity's encoding, and the pretrained
        keys (not their vectors).
        """
        features: dict[str, dict[str, Any]] = {}
        for f in self.config.features:
            s = self._states[f.name]
            if f.kind == "id":
                features[f.name] = {"rare": np.flatnonzero(s.rows == UNKNOWN_ROW).tolist()}
            elif f.kind in ("categorical", "multi_categorical"):
                assert s.vocab is not None
                features[f.name] = {"vocab": s.vocab.to_pylist(), "rows": s.rows.ravel().tolist()}
            elif f.kind == "numeric":
                features[f.name] = {
                    "center": s.center,
                    "scale": s.scale,
                    "values": s.rows.astype(np.float64).tolist(),
                }
            elif f.kind == "pretrained":
                assert s.keys is not None
                features[f.name] = {
                    "keys": s.keys.to_pylist(),
                    "dim": s.dim,
                    "rows": s.rows.tolist(),
                }
            else:
                features[f.name] = {}
        same = self._item_keys is not None and self._item_keys.equals(self._entity_keys)
        return {
            "format": _ENCODER_FORMAT,
            "version": _ENCODER_VERSION,
            "config": self.config.to_dict(),
            "key_column": self.key_column,
            "entity_keys": self._entity_keys.to_pylist(),
            "item_keys": (None if self._item_keys is None or same else self._item_keys.to_pylist()),
            "item_keys_same": same,
            "features": features,
        }

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any], *, pretrained: Mapping[str, Embeddings] | None = None
    ) -> TowerEncoder:
        """Rebuild an encoder from :meth:`to_dict` (e.g. after ``json.loads``).

        Parameters
        ----------
        d : mapping
        pretrained : mapping name -> Embeddings, optional
            The vectors of pretrained features, for :meth:`pretrained_matrix` (else they are
            reloaded from ``FeatureSpec.path`` when asked for).

        Raises
        ------
        ValueError
            Not a TowerEncoder dict, or inconsistent (lengths, keys).
        """
        if not isinstance(d, Mapping) or d.get("format") != _ENCODER_FORMAT:
            raise ValueError("not a TowerEncoder dict (format != 'TowerEncoder'); re-save it")
        version = d.get("version")
        if not isinstance(version, int) or version > _ENCODER_VERSION:
            raise ValueError(
                f"TowerEncoder dict version {version!r}; this embedrec reads versions <= "
                f"{_ENCODER_VERSION}: upgrade embedrec"
            )
        try:
            return cls._from_dict(d, pretrained or {})
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"the TowerEncoder dict is corrupt ({exc!r}); re-save it") from exc

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any], pretrained: Mapping[str, Any]) -> TowerEncoder:
        config = TowerConfig.from_dict(d["config"])
        ekeys = _key_array(_typed_keys(d["entity_keys"]), "entity_keys")
        n = len(ekeys)
        item_keys: pa.Array | None = None
        if any(f.kind == "history" for f in config.features):
            item_keys = (
                ekeys
                if d["item_keys_same"]
                else _key_array(_typed_keys(d["item_keys"]), "item_keys")
            )
        states: dict[str, _State] = {}
        feats = d["features"]
        for f in config.features:
            fd = feats[f.name]
            if f.kind == "id":
                rows = np.arange(FIRST_ROW, n + FIRST_ROW, dtype=np.int64)
                rows[np.asarray(fd["rare"], dtype=np.int64)] = UNKNOWN_ROW
                states[f.name] = _State(rows=rows)
            elif f.kind == "history":
                states[f.name] = _State(rows=np.zeros(0, dtype=np.int64))
            elif f.kind in ("categorical", "multi_categorical"):
                vocab = _normalise_values(pa.array(fd["vocab"]))
                if pa.types.is_null(vocab.type):
                    vocab = pa.array([], type=pa.string())
                shape = (n,) if f.kind == "categorical" else (n, f.max_values)
                states[f.name] = _State(rows=_array(fd["rows"], np.int64, shape, f), vocab=vocab)
            elif f.kind == "numeric":
                states[f.name] = _State(
                    rows=_array(fd["values"], np.float32, (n,), f),
                    center=float(fd["center"]),
                    scale=float(fd["scale"]),
                )
            else:
                keys = _key_array(_typed_keys(fd["keys"]), f"keys of {f.name!r}")
                s = _State(
                    rows=_array(fd["rows"], np.int64, (n,), f), keys=keys, dim=int(fd["dim"])
                )
                if pretrained.get(f.name) is not None:
                    vkeys, vectors = _vectors_of(f, pretrained[f.name])
                    _check_same_vectors(f, s, vkeys, vectors)
                    s.vectors = vectors
                states[f.name] = s
        return cls(
            config,
            key_column=str(d["key_column"]),
            entity_keys=ekeys,
            item_keys=item_keys,
            states=states,
        )


# ---------------------------------------------------------------------------------- small helpers
def _field(record: Mapping[str, Any], spec: FeatureSpec) -> Any:
    if spec.source_column in record:
        return record[spec.source_column]
    return record.get(spec.name)


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, np.ndarray):
        return list(value.ravel().tolist())
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _number(value: Any, spec: FeatureSpec, i: int) -> float:
    if value is None:
        return math.nan
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else math.nan
        except ValueError:
            pass
    raise ValueError(
        f"record #{i}: numeric feature {spec.name!r} got {value!r}; give a number or None"
    )


def _typed_keys(keys: Sequence[Any]) -> pa.Array:
    if not keys:
        return pa.array([], type=pa.int64())
    return pa.array(list(keys))


def _keys_numpy(arr: pa.Array) -> npt.NDArray[Any]:
    if arr.type == pa.int64():
        return np.array(arr.to_numpy(zero_copy_only=False), dtype=np.int64)
    out = np.empty(len(arr), dtype=object)
    out[:] = arr.to_pylist()
    return out


def _array(values: Any, dtype: Any, shape: tuple[int, ...], spec: FeatureSpec) -> npt.NDArray[Any]:
    arr = np.asarray(values, dtype=dtype)
    if arr.size != math.prod(shape):
        raise ValueError(
            f"feature {spec.name!r}: the dict holds {arr.size} encoded values, expected "
            f"{math.prod(shape)} for shape {shape}; it is corrupt, re-save it"
        )
    return arr.reshape(shape)


def _check_same_vectors(
    spec: FeatureSpec, state: _State, keys: pa.Array, vectors: npt.NDArray[np.float32]
) -> None:
    assert state.keys is not None
    if not keys.equals(state.keys) or vectors.shape[1] != state.dim:
        raise ValueError(
            f"pretrained feature {spec.name!r}: the vectors now have {len(keys)} keys of dim "
            f"{vectors.shape[1]}, but the encoder was fitted on {len(state.keys)} keys of dim "
            f"{state.dim} (or in another order); use the vectors the model was trained with"
        )

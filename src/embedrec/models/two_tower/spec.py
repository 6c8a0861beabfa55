"""The two towers' feature schema: :class:`FeatureSpec`, :class:`TowerConfig` and the shape rules
of encoded features.

This module owns what a tower's input looks like (no data, no torch; numpy only for type
checks): the feature kinds and their validation, the TOML/JSON round trip (``to_dict`` /
``from_dict``), the row conventions of every embedding table, and the shape checks that the
torch :class:`~embedrec.models.two_tower.towers.Tower` and its NumPy twin
:func:`~embedrec.models.two_tower.infer.numpy_tower_forward` share (so both raise the same
errors for the same bad input). Fitting raw columns into rows lives in
:mod:`~embedrec.models.two_tower.encoder`.

Row conventions of every embedding table (``id``, ``categorical``, ``multi_categorical``,
``history``, ``pretrained``):

* row 0 is padding (all zeros, never trained, left out of bag pooling);
* row 1 is "unknown": out of vocabulary, missing (``None``, NaN, empty string) or rarer than
  ``min_count``;
* rows 2.. are the vocabulary in order of decreasing count (ties: first occurrence, in entity
  code order).

The ``id`` feature maps entity code ``c`` to row ``c + 2`` and ``history`` maps item code ``c``
to row ``c + 2``, so a user tower's history shares the item tower's ``id`` table.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import numpy as np

__all__ = [
    "BAG_KINDS",
    "FIRST_ROW",
    "L2_EPS",
    "NORM_EPS",
    "PAD_ROW",
    "UNKNOWN_ROW",
    "FeatureKind",
    "FeatureSpec",
    "TowerConfig",
    "check_features",
    "expected_width",
    "feature_names",
    "table_key",
]

FeatureKind = Literal["id", "categorical", "multi_categorical", "numeric", "history", "pretrained"]
Pooling = Literal["mean", "sum", "max", "recency"]
Normalize = Literal["standard", "minmax", "log_standard", "none"]
Activation = Literal["relu", "gelu", "tanh"]
Norm = Literal["none", "layer", "batch"]
Role = Literal["user", "item"]

PAD_ROW = 0
"""Row 0 of every table: padding (zeros, never trained)."""
UNKNOWN_ROW = 1
"""Row 1 of every table: unknown, missing or rare values."""
FIRST_ROW = 2
"""Row of the first (most frequent) vocabulary value."""


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


# ---------------------------------------------------------------------------------- FeatureSpec
@dataclass(frozen=True, kw_only=True)
class FeatureSpec:
    """One input feature of a tower (one ``[[user.features]]`` table in a TOML config).

    Parameters
    ----------
    name : str
        Unique within a tower; the key of the feature in encoded dicts and the name of its
        embedding table (so it may not contain ``'.'``).
    kind : {"id", "categorical", "multi_categorical", "numeric", "history", "pretrained"}
        ``id``: the entity's own code (row ``code + 2``). ``categorical``: one value per
        entity. ``multi_categorical``: a bag of values (a list column or separator-joined
        strings). ``numeric``: one normalised float. ``history``: the user's recent items
        (user tower only; shares the item ``id`` table). ``pretrained``: a row of a fixed
        table of vectors, looked up by the entity key.
    column : str, optional
        Column of the side table (and field of a record) holding the raw value; default:
        ``name``. Not allowed for ``id``, ``history`` and ``pretrained``, which read the
        entity key.
    dim : int, optional
        Embedding width; ``None`` uses ``TowerConfig.embedding_dim``. For ``pretrained`` the
        width comes from the vectors and ``dim`` must be ``None`` or equal to it. Not allowed
        for ``numeric`` (one input column).
    min_count : int, default 1
        Values held by fewer entities (``id``: entities with fewer interactions, from
        ``entity_counts``) map to row 1.
    max_size : int, optional
        Keep only the ``max_size`` most frequent values; the others map to row 1.
    separator : str, default "|"
        ``multi_categorical`` given as strings ``"a|b|c"``.
    max_values : int, default 16
        ``multi_categorical``: the first ``max_values`` distinct values of an entity are kept.
    pooling : {"mean", "sum", "max", "recency"}, default "mean"
        Pooling of ``multi_categorical`` and ``history`` bags (padding excluded).
        ``recency`` (``history`` only): a weighted mean whose weights halve every
        ``half_life`` positions back from the most recent item.
    half_life : float or tuple of float, default 5.0
        ``recency`` pooling: positions over which an item's weight halves. Several half-lives
        (a tuple; a TOML list) pool the bag once per half-life and concatenate the results,
        e.g. ``(1, 20)`` gives the tower the latest item and the longer-term taste side by
        side (multi-scale pooling); the feature is then ``len(half_life) * dim`` wide.
    max_len : int, default 50
        ``history``: the most recent ``max_len`` items are kept.
    normalize : {"standard", "minmax", "log_standard", "none"}, default "standard"
        ``numeric``: ``(x - mean) / std``, ``(x - min) / (max - min)``, standard after
        ``log1p``, or the raw value.
    path : str, optional
        ``pretrained``: an embedrec model or ``Embeddings`` directory (``manifest.json``,
        ``keys.json``, ``vectors.npy``) or a word2vec text/binary file. Not needed when the
        vectors are passed to :meth:`TowerEncoder.fit` as ``pretrained={name: emb}``.
    trainable : bool, default False
        ``pretrained``: fine-tune the table (else it stays frozen).

    Raises
    ------
    ValueError
        A field out of range; the message names the field, the value and what is allowed.

    Examples
    --------
    >>> FeatureSpec(name="genre", kind="multi_categorical", max_values=4).column is None
    True
    >>> FeatureSpec(name="age", kind="cat")
    Traceback (most recent call last):
    ...
    ValueError: FeatureSpec(name='age').kind='cat' is invalid; use one of id, categorical, \
multi_categorical, numeric, history, pretrained
    """

    name: str
    kind: FeatureKind
    column: str | None = None
    dim: int | None = None
    min_count: int = 1
    max_size: int | None = None
    separator: str = "|"
    max_values: int = 16
    pooling: Pooling = "mean"
    half_life: float | tuple[float, ...] = 5.0
    max_len: int = 50
    normalize: Normalize = "standard"
    path: str | None = None
    trainable: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "." in self.name:
            raise ValueError(
                f"FeatureSpec.name={self.name!r} is invalid; use a non-empty str without '.' "
                "(it names the feature's embedding table)"
            )

        def bad(field: str, allowed: str) -> ValueError:
            return ValueError(
                f"FeatureSpec(name={self.name!r}).{field}={getattr(self, field)!r} is invalid; "
                f"use {allowed}"
            )

        def positive(field: str, optional: bool = False) -> None:
            v = getattr(self, field)
            if optional and v is None:
                return
            if not _is_int(v) or v < 1:
                raise bad(field, ("None or " if optional else "") + f"an integer {field}>=1")
            object.__setattr__(self, field, int(v))  # numpy ints would not be JSON-safe

        if self.kind not in get_args(FeatureKind):
            raise bad("kind", "one of " + ", ".join(get_args(FeatureKind)))
        if self.column is not None:
            if not isinstance(self.column, str) or not self.column:
                raise bad("column", "None (the feature's name) or a non-empty column name")
            if self.kind in ("id", "history", "pretrained"):
                reads = (
                    "the user's interactions"
                    if self.kind == "history"
                    else "the entity key (key_column of TowerEncoder.fit, record['key'])"
                )
                raise bad("column", f"None: a {self.kind!r} feature reads {reads}, no column")
        positive("dim", optional=True)
        if self.kind == "numeric" and self.dim is not None:
            raise bad("dim", "None: a numeric feature enters the MLP as one column")
        positive("min_count")
        positive("max_size", optional=True)
        if not isinstance(self.separator, str) or not self.separator:
            raise bad("separator", "a non-empty string such as '|'")
        positive("max_values")
        if self.pooling not in get_args(Pooling):
            raise bad("pooling", "one of " + ", ".join(get_args(Pooling)))
        if self.pooling == "recency" and self.kind != "history":
            raise bad("pooling", "mean, sum or max: recency pooling needs an ordered history")
        scales = self.half_life if isinstance(self.half_life, (list, tuple)) else [self.half_life]
        if not scales or any(
            isinstance(h, bool) or not isinstance(h, (int, float)) or not (0 < h < float("inf"))
            for h in scales
        ):
            raise bad(
                "half_life",
                "a finite number of positions > 0 (e.g. 5), or a non-empty tuple of them "
                "(e.g. (1, 20))",
            )
        if isinstance(self.half_life, (list, tuple)):
            object.__setattr__(self, "half_life", tuple(float(h) for h in scales))
        else:
            object.__setattr__(self, "half_life", float(self.half_life))
        positive("max_len")
        if self.normalize not in get_args(Normalize):
            raise bad("normalize", "one of " + ", ".join(get_args(Normalize)))
        if self.path is not None:
            if not isinstance(self.path, (str, os.PathLike)) or not str(self.path):
                raise bad("path", "None or the path of a model directory or word2vec file")
            if self.kind != "pretrained":
                raise bad("path", "None: only kind='pretrained' reads vectors from a path")
            object.__setattr__(self, "path", os.fspath(self.path))
        if not isinstance(self.trainable, (bool, np.bool_)):
            raise bad("trainable", "True or False")
        object.__setattr__(self, "trainable", bool(self.trainable))

    @property
    def half_lives(self) -> tuple[float, ...]:
        """``half_life`` as a tuple (one entry unless several half-lives were given)."""
        h = self.half_life
        return tuple(h) if isinstance(h, tuple) else (float(h),)

    @property
    def n_pools(self) -> int:
        """How many pooled vectors the feature concatenates: one per half-life under
        ``recency`` pooling, else one."""
        return len(self.half_lives) if self.pooling == "recency" else 1

    @property
    def source_column(self) -> str:
        """The side-table column (and record field) of the raw value: ``column or name``."""
        return self.column if self.column is not None else self.name

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON/TOML-safe dict (fields that are ``None`` are left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureSpec:
        """Build from a dict (a TOML table); unknown fields raise ``ValueError`` listing the
        allowed ones."""
        return cast(FeatureSpec, _from_dict(cls, d, required=("name", "kind")))


def _from_dict(cls: type, d: Mapping[str, Any], *, required: tuple[str, ...]) -> Any:
    if not isinstance(d, Mapping):
        raise TypeError(f"{cls.__name__}.from_dict needs a dict, got {type(d).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(names))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; allowed: {names}")
    absent = [k for k in required if k not in d]
    if absent:
        raise ValueError(f"{cls.__name__} needs the field(s) {absent}; got {sorted(d)}")
    return cls(**d)


# ---------------------------------------------------------------------------------- TowerConfig
@dataclass(frozen=True, kw_only=True)
class TowerConfig:
    """The features and MLP of one tower.

    MLP: concat(features, in the order of ``features``) -> [Linear -> norm -> activation ->
    dropout] per hidden width -> Linear(output_dim) -> L2 normalisation if ``l2_normalize``.

    Parameters
    ----------
    features : tuple of FeatureSpec
        At least one; unique names; at most one ``id`` and one ``history`` feature. A list is
        accepted and stored as a tuple.
    embedding_dim : int, default 32
        Width of every embedding table whose spec leaves ``dim`` unset.
    hidden : tuple of int, default (128,)
        MLP hidden widths; ``()`` is a single linear layer.
    output_dim : int, default 64
        Width of the tower's output vector; the user and item towers must agree.
    activation : {"relu", "gelu", "tanh"}, default "relu"
        Activation after each hidden layer.
    dropout : float, default 0.0
        Dropout after each hidden layer's activation, in ``[0, 1)``.
    norm : {"none", "layer", "batch"}, default "none"
        LayerNorm or BatchNorm after each hidden Linear (before the activation).
    l2_normalize : bool, default True
        L2-normalise the output vector. When both towers do, the model's metric is cosine,
        else dot.

    Raises
    ------
    ValueError
        A field out of range, duplicate feature names, two ``id`` or two ``history`` features.

    Examples
    --------
    >>> cfg = TowerConfig(features=(FeatureSpec(name="item", kind="id"),), hidden=[64])
    >>> cfg.hidden
    (64,)
    >>> TowerConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    features: tuple[FeatureSpec, ...]
    embedding_dim: int = 32
    hidden: tuple[int, ...] = (128,)
    output_dim: int = 64
    activation: Activation = "relu"
    dropout: float = 0.0
    norm: Norm = "none"
    l2_normalize: bool = True

    def __post_init__(self) -> None:
        def bad(field: str, allowed: str) -> ValueError:
            return ValueError(
                f"TowerConfig.{field}={getattr(self, field)!r} is invalid; use {allowed}"
            )

        feats = self.features
        if isinstance(feats, FeatureSpec) or not isinstance(feats, (tuple, list)):
            raise bad("features", "a tuple of FeatureSpec")
        if not feats:
            raise bad(
                "features", "at least one FeatureSpec (e.g. FeatureSpec(name='item', kind='id'))"
            )
        for f in feats:
            if not isinstance(f, FeatureSpec):
                raise ValueError(
                    f"TowerConfig.features holds {f!r} of type {type(f).__name__}; use "
                    "FeatureSpec(...) objects, or TowerConfig.from_dict for dicts"
                )
        object.__setattr__(self, "features", tuple(feats))
        names = [f.name for f in feats]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            raise ValueError(
                f"TowerConfig.features has duplicate name(s) {dups}; feature names must be unique "
                "within a tower"
            )
        for kind in ("id", "history"):
            same = [f.name for f in feats if f.kind == kind]
            if len(same) > 1:
                raise ValueError(
                    f"TowerConfig.features has {len(same)} kind={kind!r} features {same}; use at "
                    f"most one {kind!r} feature per tower"
                )
        for field in ("embedding_dim", "output_dim"):
            v = getattr(self, field)
            if not _is_int(v) or v < 1:
                raise bad(field, f"an integer {field}>=1")
            object.__setattr__(self, field, int(v))
        hidden = self.hidden
        if not isinstance(hidden, (tuple, list)) or not all(_is_int(h) and h >= 1 for h in hidden):
            raise bad(
                "hidden", "a tuple of integer widths >=1, e.g. (128,), or () for no hidden layer"
            )
        object.__setattr__(self, "hidden", tuple(int(h) for h in hidden))
        if self.activation not in get_args(Activation):
            raise bad("activation", "one of " + ", ".join(get_args(Activation)))
        d = self.dropout
        if (
            isinstance(d, (bool, np.bool_))
            or not isinstance(d, (int, float, np.integer, np.floating))
            or not 0.0 <= float(d) < 1.0
        ):
            raise bad("dropout", "a float in [0, 1)")
        object.__setattr__(self, "dropout", float(d))
        if self.norm not in get_args(Norm):
            raise bad("norm", "one of " + ", ".join(get_args(Norm)))
        if not isinstance(self.l2_normalize, (bool, np.bool_)):
            raise bad("l2_normalize", "True or False")
        object.__setattr__(self, "l2_normalize", bool(self.l2_normalize))

    def feature(self, name: str) -> FeatureSpec:
        """The feature called ``name``; ``KeyError`` listing the names if there is none."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"no feature {name!r}; the tower has {[f.name for f in self.features]}")

    def validate_for(self, role: Role) -> None:
        """Check the rules that depend on the tower's side: ``history`` only in the user tower.

        Raises
        ------
        ValueError
            ``role`` is not ``"user"`` or ``"item"``, or an item tower has a ``history``.
        """
        if role not in get_args(Role):
            raise ValueError(f"role={role!r} is invalid; use 'user' or 'item'")
        if role == "item":
            hist = [f.name for f in self.features if f.kind == "history"]
            if hist:
                raise ValueError(
                    f"the item tower has the history feature {hist[0]!r}; history belongs to the "
                    "user tower only (it pools the item id table over a user's items)"
                )

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-safe dict: ``features`` as a list of dicts, ``hidden`` as a list."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "features":
                v = [spec.to_dict() for spec in v]
            elif f.name == "hidden":
                v = list(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TowerConfig:
        """Build from a dict (a TOML table: ``features`` a list of tables, ``hidden`` a list);
        unknown fields raise ``ValueError`` listing the allowed ones."""
        if isinstance(d, Mapping) and "features" in d:
            feats = d["features"]
            if not isinstance(feats, (list, tuple)):
                raise ValueError(
                    f"TowerConfig.features={feats!r} is invalid; use a list of feature tables"
                )
            d = {
                **d,
                "features": tuple(
                    f if isinstance(f, FeatureSpec) else FeatureSpec.from_dict(f) for f in feats
                ),
            }
        return cast(TowerConfig, _from_dict(cls, d, required=("features",)))


# ------------------------------------------------------------------------------ encoded shapes
BAG_KINDS = ("multi_categorical", "history")
"""Kinds whose encoded array is a padded ``(n, L)`` bag of rows, pooled over non-zero rows."""
NORM_EPS = 1e-5
"""``eps`` of LayerNorm and BatchNorm1d (torch's default)."""
L2_EPS = 1e-12
"""``eps`` of the output L2 normalisation: ``x / max(||x||, eps)`` (``F.normalize``)."""


def table_key(name: str) -> str:
    """The weight name of feature ``name``'s embedding table: ``tables.<name>.weight``."""
    return f"tables.{name}.weight"


def feature_names(config: TowerConfig) -> tuple[str, ...]:
    """Names of the encoded features a tower of ``config`` reads, in concatenation order."""
    return tuple(f.name for f in config.features)


def expected_width(spec: FeatureSpec) -> int | None:
    """Second dimension of the encoded array of ``spec`` (``None``: the array is ``(n,)``).

    ``multi_categorical``: ``max_values``; ``history``: ``max_len``; other kinds are 1-D.
    """
    if spec.kind == "multi_categorical":
        return spec.max_values
    if spec.kind == "history":
        return spec.max_len
    return None


def _shape_text(spec: FeatureSpec, n: Any) -> str:
    w = expected_width(spec)
    if w is None:
        return f"({n},) = (n,)"
    field = "max_values" if spec.kind == "multi_categorical" else "max_len"
    return f"({n}, {w}) = (n, {field}={w})"


def check_features(config: TowerConfig, feats: Mapping[str, Any]) -> None:
    """Check that ``feats`` holds every feature of ``config`` with the right shape.

    Works on anything with a ``.shape`` (numpy arrays, torch tensors, also while
    ``torch.export`` traces with a symbolic batch size). Extra keys are ignored.

    Raises
    ------
    KeyError
        A feature is missing; the message names it and the expected names.
    ValueError
        A feature's shape is not ``(n,)`` or ``(n, width)``, or the batch sizes differ; the
        message names both shapes.
    """
    names = feature_names(config)
    missing = [name for name in names if name not in feats]
    if missing:
        raise KeyError(
            f"encoded features lack {missing}; this tower expects {list(names)} "
            f"(got {sorted(feats)}); encode them with the tower's TowerEncoder"
        )
    n: Any = None
    ref = ""
    for spec in config.features:
        shape = tuple(feats[spec.name].shape)
        if n is None and len(shape) >= 1:
            n, ref = shape[0], spec.name
        w = expected_width(spec)
        ok = len(shape) == (1 if w is None else 2) and shape[0] == n
        if ok and w is not None:
            ok = shape[1] == w
        if not ok:
            raise ValueError(
                f"feature {spec.name!r} ({spec.kind}) has shape {shape}; expected "
                f"{_shape_text(spec, n)}" + (f", with n={n} as in feature {ref!r}" if ref else "")
            )

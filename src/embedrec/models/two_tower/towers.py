"""The two towers as plain ``nn.Module`` s: :class:`Tower` and :class:`TwoTowerNet`.

A tower embeds each encoded feature (one ``nn.Embedding(rows, dim, padding_idx=0)`` per
``id``, ``categorical``, ``multi_categorical`` and ``pretrained`` feature; ``numeric``
features are single columns), pools the bags (``multi_categorical``, ``history``) over their
non-padding rows, concatenates everything in the order of ``TowerConfig.features`` and runs
the MLP::

    concat -> [Linear -> norm -> activation -> dropout] per hidden width -> Linear(output_dim)
           -> L2 normalisation (if l2_normalize)

The user tower's ``history`` feature pools through the item tower's ``id`` table (the same
``nn.Embedding`` object, YouTube DNN style), so training on histories trains the item
embeddings too.

Initialisation: embedding tables ``normal(0, 0.05)`` with row 0 (padding) zero; pretrained
tables copy their vectors (row 0 zeroed); ``nn.Linear``, ``nn.LayerNorm`` and
``nn.BatchNorm1d`` keep torch's default initialisation (Kaiming-uniform weights and uniform
biases for Linear; ones and zeros for the norms).

Pooling is written with plain tensor ops on the padded ``(n, L)`` row tensor
(``mask = idx != 0``), so it behaves the same under DistributedDataParallel and
``torch.export``. :func:`export_tower` writes a tower as a ``torch.export`` program;
:func:`write_state` / :func:`read_state` store a state dict as a plain ``.npz`` (no pickle),
and :func:`to_tensors` moves encoded features onto a device.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .spec import (
    BAG_KINDS,
    L2_EPS,
    NORM_EPS,
    FeatureSpec,
    TowerConfig,
    check_features,
    expected_width,
    feature_names,
)

__all__ = [
    "PositionalTower",
    "Tower",
    "TwoTowerNet",
    "export_tower",
    "init_embedding",
    "read_state",
    "to_tensors",
    "write_state",
]

logger = logging.getLogger("embedrec")

INIT_STD = 0.05
"""Standard deviation of the normal initialisation of embedding tables."""
_SHARED_KEYS = ("history",)
_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def init_embedding(table: nn.Embedding, std: float = INIT_STD) -> None:
    """Initialise ``table`` in place: ``normal(0, std)``, row 0 (padding) zero."""
    with torch.no_grad():
        nn.init.normal_(table.weight, mean=0.0, std=std)
        table.weight[0].zero_()


def _exporting() -> bool:
    return bool(torch.compiler.is_compiling() or torch.compiler.is_exporting())


class _Tables(nn.ModuleDict):
    """A ``ModuleDict`` that accepts any feature name as a key.

    ``nn.ModuleDict`` refuses keys that shadow an attribute (a feature called ``type``,
    ``keys`` or ``to``); tables are only ever read as ``tables[name]``, so the check is moot.
    """

    def __setitem__(self, key: str, module: nn.Module) -> None:
        if not isinstance(module, nn.Module):
            raise TypeError(f"tables[{key!r}] must be an nn.Module, got {type(module).__name__}")
        if not key or "." in key:
            raise KeyError(f"table name {key!r} is invalid; use a non-empty name without '.'")
        self._modules[key] = module


def _pool(
    table: nn.Embedding, idx: Tensor, pooling: str, half_lives: tuple[float, ...] = (5.0,)
) -> Tensor:
    """Pool the rows of a padded bag ``idx`` (n, L) over its non-zero entries -> (n, dim).

    mean: sum / number of non-padding entries; sum; max: elementwise max; recency: weighted
    mean with weight ``0.5 ** ((L - 1 - j) / half_life)`` at position j (the last position
    is the most recent item), once per half-life, concatenated -> (n, len(half_lives) * dim).
    A bag with no non-padding entry gives zeros (no NaN, no -inf).
    """
    mask = idx != 0
    emb = table(idx)  # (n, L, dim)
    if pooling == "recency":
        length = idx.shape[1]
        age = torch.arange(length - 1, -1, -1, device=idx.device, dtype=emb.dtype)
        hl = torch.tensor(half_lives, device=idx.device, dtype=emb.dtype)
        decay = torch.pow(0.5, age.unsqueeze(0) / hl.unsqueeze(1))  # (k, L)
        w = decay.unsqueeze(1) * mask.to(emb.dtype).unsqueeze(0)  # (k, n, L)
        w = w / w.sum(dim=2, keepdim=True).clamp(min=1e-12)
        pooled_k = torch.einsum("knl,nld->nkd", w, emb)
        return pooled_k.reshape(idx.shape[0], -1)
    if pooling == "max":
        m = emb.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)
        pooled: Tensor = torch.where(mask.any(dim=1, keepdim=True), m, torch.zeros_like(m))
        return pooled
    summed: Tensor = (emb * mask.unsqueeze(-1).to(emb.dtype)).sum(dim=1)
    if pooling == "sum":
        return summed
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(emb.dtype)
    mean: Tensor = summed / count
    return mean


class Tower(nn.Module):
    """One tower: embeddings of the encoded features, then an MLP.

    Parameters
    ----------
    config : TowerConfig
        Features (concatenation order) and MLP.
    table_sizes : dict of str -> int
        Rows of each embedding table, rows 0 (padding) and 1 (unknown) included:
        ``TowerEncoder.table_sizes()``. Needed for every ``id``, ``categorical`` and
        ``multi_categorical`` feature; optional for ``pretrained`` (checked against the
        matrix when given); ignored for ``history`` and ``numeric``.
    shared : dict of str -> nn.Embedding, optional
        ``{"history": table}``: the table a ``history`` feature pools through (the item
        tower's ``id`` table; :class:`TwoTowerNet` passes it). Required with a ``history``
        feature; its ``embedding_dim`` must equal the feature's ``dim or embedding_dim``.
    pretrained : dict of str -> ndarray, optional
        ``(rows, dim)`` initial table of each ``pretrained`` feature
        (``TowerEncoder.pretrained_matrix(name)``); its dim is the feature's width. Frozen
        unless ``FeatureSpec.trainable``; row 0 is zeroed.

    Attributes
    ----------
    tables : nn.ModuleDict
        ``name -> nn.Embedding`` for every feature with a table (``history`` included: the
        shared object).
    mlp : nn.Sequential
        Modules ``linear<i>``, ``norm<i>`` (unless ``norm="none"``), ``act<i>``, ``drop<i>``
        (when ``dropout > 0``) per hidden width, then ``out``.
    input_dim : int
        Width of the concatenated features (the MLP's input).

    Raises
    ------
    ValueError
        A table size or pretrained matrix is missing or inconsistent, ``shared`` lacks the
        history table or its dim differs, or ``shared``/``pretrained`` name unknown features.

    Examples
    --------
    >>> from embedrec.models.two_tower.spec import FeatureSpec, TowerConfig
    >>> cfg = TowerConfig(features=(FeatureSpec(name="item", kind="id"),
    ...                             FeatureSpec(name="price", kind="numeric")),
    ...                   embedding_dim=8, hidden=(16,), output_dim=4)
    >>> tower = Tower(cfg, {"item": 10})
    >>> tower.input_dim, tower.feature_names
    (9, ('item', 'price'))
    >>> tower({"item": torch.tensor([2, 3]), "price": torch.tensor([0.5, -1.0])}).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        config: TowerConfig,
        table_sizes: Mapping[str, int],
        *,
        shared: Mapping[str, nn.Embedding] | None = None,
        pretrained: Mapping[str, npt.NDArray[Any]] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(config, TowerConfig):
            raise TypeError(f"config must be a TowerConfig, got {type(config).__name__}")
        self.config = config
        shared = dict(shared or {})
        pretrained = dict(pretrained or {})
        unknown = sorted(set(shared) - set(_SHARED_KEYS))
        if unknown:
            raise ValueError(
                f"shared has unknown key(s) {unknown}; the only shared table is "
                "shared={'history': item_tower.tables[<item id feature>]}"
            )
        pre_names = [f.name for f in config.features if f.kind == "pretrained"]
        unknown = sorted(set(pretrained) - set(pre_names))
        if unknown:
            raise ValueError(
                f"pretrained has matrices for {unknown}, which are not pretrained features of "
                f"this tower (its pretrained features: {pre_names})"
            )
        self.tables = _Tables()
        width = 0
        for spec in config.features:
            if spec.kind == "numeric":
                width += 1
                continue
            if spec.kind == "history":
                table = self._history_table(spec, shared.get("history"))
            elif spec.kind == "pretrained":
                table = self._pretrained_table(spec, table_sizes, pretrained.get(spec.name))
            else:
                table = nn.Embedding(self._rows(spec, table_sizes), self._dim(spec), padding_idx=0)
                init_embedding(table)
            self.tables[spec.name] = table
            width += table.embedding_dim * spec.n_pools
        self.input_dim = width
        self.mlp = self._build_mlp(width)

    # ------------------------------------------------------------------ construction
    def _dim(self, spec: FeatureSpec) -> int:
        return spec.dim if spec.dim is not None else self.config.embedding_dim

    def _rows(self, spec: FeatureSpec, table_sizes: Mapping[str, int]) -> int:
        if spec.name not in table_sizes:
            raise ValueError(
                f"table_sizes has no entry for {spec.kind} feature {spec.name!r} (it has "
                f"{sorted(table_sizes)}); pass TowerEncoder.table_sizes() of the encoder fitted "
                "with this TowerConfig"
            )
        rows = table_sizes[spec.name]
        if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 2:
            raise ValueError(
                f"table_sizes[{spec.name!r}]={rows!r} is invalid; use an integer >= 2 (rows 0 "
                "and 1 are padding and unknown), as TowerEncoder.table_sizes() gives"
            )
        return int(rows)

    def _history_table(self, spec: FeatureSpec, table: nn.Embedding | None) -> nn.Embedding:
        if table is None:
            raise ValueError(
                f"history feature {spec.name!r} pools through the item tower's id table: build "
                "the towers with TwoTowerNet, or pass shared={'history': "
                "item_tower.tables[<item id feature>]}"
            )
        if not isinstance(table, nn.Embedding):
            raise TypeError(
                f"shared['history'] must be an nn.Embedding, got {type(table).__name__}"
            )
        if table.embedding_dim != self._dim(spec):
            raise ValueError(
                f"history feature {spec.name!r} has dim {self._dim(spec)} but the shared item id "
                f"table has dim {table.embedding_dim}; set the history feature's dim (or the "
                "user tower's embedding_dim) to the item id table's dim"
            )
        return table

    def _pretrained_table(
        self,
        spec: FeatureSpec,
        table_sizes: Mapping[str, int],
        matrix: npt.NDArray[Any] | None,
    ) -> nn.Embedding:
        if matrix is None:
            raise ValueError(
                f"pretrained feature {spec.name!r} needs its initial vectors: pass "
                f"pretrained={{{spec.name!r}: encoder.pretrained_matrix({spec.name!r})}}"
            )
        arr = np.asarray(matrix, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
            raise ValueError(
                f"pretrained[{spec.name!r}] has shape {arr.shape}; expected (rows, dim) with "
                "rows >= 2 (rows 0 and 1 are padding and unknown), as "
                "TowerEncoder.pretrained_matrix gives"
            )
        if spec.name in table_sizes and int(table_sizes[spec.name]) != arr.shape[0]:
            raise ValueError(
                f"pretrained[{spec.name!r}] has shape {arr.shape} but table_sizes[{spec.name!r}]"
                f"={table_sizes[spec.name]}; both must come from the same TowerEncoder"
            )
        if spec.dim is not None and spec.dim != arr.shape[1]:
            raise ValueError(
                f"pretrained feature {spec.name!r} has dim={spec.dim} but its vectors have "
                f"shape {arr.shape}; set dim=None (the vectors' width) or {arr.shape[1]}"
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"pretrained[{spec.name!r}] holds NaN or inf values")
        table = nn.Embedding(arr.shape[0], arr.shape[1], padding_idx=0)
        with torch.no_grad():
            table.weight.copy_(torch.from_numpy(arr))
            table.weight[0].zero_()
        table.weight.requires_grad_(spec.trainable)
        return table

    def _build_mlp(self, width: int) -> nn.Sequential:
        cfg = self.config
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i, h in enumerate(cfg.hidden):
            layers[f"linear{i}"] = nn.Linear(width, h)
            if cfg.norm == "layer":
                layers[f"norm{i}"] = nn.LayerNorm(h, eps=NORM_EPS)
            elif cfg.norm == "batch":
                layers[f"norm{i}"] = nn.BatchNorm1d(h, eps=NORM_EPS)
            layers[f"act{i}"] = _ACTIVATIONS[cfg.activation]()
            if cfg.dropout > 0:
                layers[f"drop{i}"] = nn.Dropout(cfg.dropout)
            width = h
        layers["out"] = nn.Linear(width, cfg.output_dim)
        return nn.Sequential(layers)

    def table(self, name: str) -> nn.Embedding:
        """The embedding table of feature ``name`` (``KeyError`` listing the tables)."""
        if name not in self.tables:
            raise KeyError(f"no table {name!r}; the tower's tables are {list(self.tables)}")
        table = self.tables[name]
        assert isinstance(table, nn.Embedding)
        return table

    def _out(self) -> nn.Linear:
        out = self.mlp.out
        assert isinstance(out, nn.Linear)
        return out

    # ------------------------------------------------------------------ inputs
    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the encoded features :meth:`forward` reads, in concatenation order."""
        return feature_names(self.config)

    def export_signature(self) -> list[dict[str, Any]]:
        """The positional inputs of an exported tower (:func:`export_tower`), in order.

        One JSON-safe dict per feature: ``name``, ``kind``, ``dtype`` (``"int64"`` rows or
        ``"float32"`` numeric values) and ``shape`` (``["batch"]`` or ``["batch", width]``).
        The order is the order of ``TowerConfig.features`` (:attr:`feature_names`).
        """
        out: list[dict[str, Any]] = []
        for spec in self.config.features:
            w = expected_width(spec)
            out.append(
                {
                    "name": spec.name,
                    "kind": spec.kind,
                    "dtype": "float32" if spec.kind == "numeric" else "int64",
                    "shape": ["batch"] if w is None else ["batch", w],
                }
            )
        return out

    def example_inputs(self, n: int = 2) -> dict[str, Tensor]:
        """A batch of ``n`` valid encoded features (rows 1 = unknown, numeric 0.0), on the
        tower's device; for tracing and export."""
        device = self._out().weight.device
        out: dict[str, Tensor] = {}
        for spec in self.config.features:
            w = expected_width(spec)
            shape = (n,) if w is None else (n, w)
            if spec.kind == "numeric":
                out[spec.name] = torch.zeros(shape, dtype=torch.float32, device=device)
            else:
                out[spec.name] = torch.ones(shape, dtype=torch.int64, device=device)
        return out

    def _check_dtypes_and_rows(self, feats: Mapping[str, Tensor]) -> None:
        specs: list[FeatureSpec] = []
        stats: list[Tensor] = []
        for spec in self.config.features:
            x = feats[spec.name]
            if not isinstance(x, Tensor):
                raise TypeError(
                    f"feature {spec.name!r} is a {type(x).__name__}; pass torch tensors "
                    "(torch.from_numpy on the encoded arrays)"
                )
            if spec.kind == "numeric":
                if x.dtype == torch.bool or x.dtype.is_complex:
                    raise TypeError(
                        f"numeric feature {spec.name!r} has dtype {x.dtype}; use float32 values"
                    )
                continue
            if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
                raise TypeError(
                    f"feature {spec.name!r} holds rows of dtype {x.dtype}; use integer rows "
                    "(int64), as TowerEncoder produces"
                )
            if x.numel() and not _exporting():
                specs.append(spec)
                stats.append(torch.stack([x.min(), x.max()]).to(torch.int64))
        if not stats:
            return
        # one device sync for all tables rather than one per feature
        for spec, (lo, hi) in zip(specs, torch.stack(stats).tolist(), strict=True):
            rows = self.table(spec.name).num_embeddings
            if lo < 0 or hi >= rows:
                bad = lo if lo < 0 else hi
                raise IndexError(
                    f"feature {spec.name!r} holds row {bad}, outside its table of {rows} rows "
                    f"(0..{rows - 1}); encode it with the TowerEncoder fitted for this model"
                )

    # ------------------------------------------------------------------ forward
    def forward(self, feats: Mapping[str, Tensor]) -> Tensor:
        """Embed a batch of encoded features.

        Parameters
        ----------
        feats : mapping of str -> Tensor
            One tensor per feature (extra keys are ignored): ``(n,)`` int64 rows for
            ``id``/``categorical``/``pretrained``; ``(n, max_values)`` int64 for
            ``multi_categorical``; ``(n, max_len)`` int64 for ``history``; ``(n,)`` float for
            ``numeric``.

        Returns
        -------
        Tensor
            ``(n, output_dim)`` float32; unit rows if ``l2_normalize``.

        Raises
        ------
        KeyError
            A feature is missing (the message lists the expected names).
        ValueError
            A feature has the wrong shape (the message names it and the expected shape).
        TypeError
            A table feature's rows are not integers.
        IndexError
            A row is outside its table (the message names the feature and the table size).
        """
        check_features(self.config, feats)
        self._check_dtypes_and_rows(feats)
        dtype = self._out().weight.dtype
        parts: list[Tensor] = []
        for spec in self.config.features:
            x = feats[spec.name]
            if spec.kind == "numeric":
                parts.append(x.to(dtype).unsqueeze(1))
            elif spec.kind in BAG_KINDS:
                parts.append(_pool(self.table(spec.name), x, spec.pooling, spec.half_lives))
            else:
                parts.append(self.tables[spec.name](x))
        h: Tensor = self.mlp(torch.cat(parts, dim=1))
        if self.config.l2_normalize:
            h = F.normalize(h, p=2.0, dim=1, eps=L2_EPS)
        return h


class TwoTowerNet(nn.Module):
    """The user and item towers of a two-tower model.

    The item tower is built first; when the user tower has a ``history`` feature it pools
    through the item tower's ``id`` table (the same ``nn.Embedding``), which the item tower
    must then have, with the history feature's width.

    Parameters
    ----------
    user, item : TowerConfig
        The towers; ``output_dim`` must match (scores are dot products).
    user_sizes, item_sizes : dict of str -> int
        ``TowerEncoder.table_sizes()`` of each side.
    user_pretrained, item_pretrained : dict of str -> ndarray, optional
        Initial tables of ``pretrained`` features (``TowerEncoder.pretrained_matrix``).

    Raises
    ------
    ValueError
        Output dims differ, the item tower has a ``history`` feature, or the user tower has
        a ``history`` feature but the item tower no ``id`` feature (or one of another dim).

    Examples
    --------
    >>> from embedrec.models.two_tower.spec import FeatureSpec, TowerConfig
    >>> user = TowerConfig(features=(FeatureSpec(name="hist", kind="history", max_len=3),),
    ...                    embedding_dim=8, output_dim=4)
    >>> item = TowerConfig(features=(FeatureSpec(name="item", kind="id"),),
    ...                    embedding_dim=8, output_dim=4)
    >>> net = TwoTowerNet(user, item, {}, {"item": 12})
    >>> net.user_tower.tables["hist"] is net.item_tower.tables["item"]
    True
    >>> q, p = net({"hist": torch.tensor([[0, 2, 3]])}, {"item": torch.tensor([4])})
    >>> (q * p).sum(dim=1).shape
    torch.Size([1])
    """

    def __init__(
        self,
        user: TowerConfig,
        item: TowerConfig,
        user_sizes: Mapping[str, int],
        item_sizes: Mapping[str, int],
        *,
        user_pretrained: Mapping[str, npt.NDArray[Any]] | None = None,
        item_pretrained: Mapping[str, npt.NDArray[Any]] | None = None,
    ) -> None:
        super().__init__()
        for side, cfg in (("user", user), ("item", item)):
            if not isinstance(cfg, TowerConfig):
                raise TypeError(f"{side} must be a TowerConfig, got {type(cfg).__name__}")
        user.validate_for("user")
        item.validate_for("item")
        if user.output_dim != item.output_dim:
            raise ValueError(
                f"user.output_dim={user.output_dim} != item.output_dim={item.output_dim}; the "
                "towers' outputs are compared by dot product, so set both to the same width"
            )
        item_tower = Tower(item, item_sizes, pretrained=item_pretrained)
        shared: dict[str, nn.Embedding] = {}
        hist = next((f for f in user.features if f.kind == "history"), None)
        if hist is not None:
            item_id = next((f for f in item.features if f.kind == "id"), None)
            if item_id is None:
                raise ValueError(
                    f"the user tower's history feature {hist.name!r} pools through the item "
                    "tower's id table, but the item tower has no 'id' feature; add "
                    "FeatureSpec(name='item', kind='id') to the item tower"
                )
            table = item_tower.table(item_id.name)
            hist_dim = hist.dim if hist.dim is not None else user.embedding_dim
            if hist_dim != table.embedding_dim:
                raise ValueError(
                    f"the user tower's history feature {hist.name!r} has dim {hist_dim} but the "
                    f"item id table {item_id.name!r} it shares has dim {table.embedding_dim}; "
                    "history's embedding dim must equal the item id table's dim"
                )
            shared["history"] = table
        user_tower = Tower(user, user_sizes, shared=shared, pretrained=user_pretrained)
        self.user_tower = user_tower
        self.item_tower = item_tower

    def user(self, feats: Mapping[str, Tensor]) -> Tensor:
        """User (query) embeddings ``(n, output_dim)``."""
        out: Tensor = self.user_tower(feats)
        return out

    def item(self, feats: Mapping[str, Tensor]) -> Tensor:
        """Item embeddings ``(n, output_dim)``."""
        out: Tensor = self.item_tower(feats)
        return out

    def forward(
        self, user_feats: Mapping[str, Tensor], item_feats: Mapping[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        """``(user(user_feats), item(item_feats))``."""
        return self.user(user_feats), self.item(item_feats)


class PositionalTower(nn.Module):
    """A :class:`Tower` that takes its features as positional tensors, in
    ``tower.export_signature()`` order (what :func:`export_tower` exports)."""

    def __init__(self, tower: Tower) -> None:
        super().__init__()
        self.tower = tower

    def forward(self, *feats: Tensor) -> Tensor:
        names = self.tower.feature_names
        if len(feats) != len(names):
            raise TypeError(
                f"expected {len(names)} tensors in the order {list(names)}, got {len(feats)}"
            )
        out: Tensor = self.tower(dict(zip(names, feats, strict=True)))
        return out


def export_tower(
    tower: Tower,
    path: str | os.PathLike[str],
    *,
    example: Mapping[str, Tensor] | None = None,
) -> Path:
    """Write ``tower`` (in eval mode) as a ``torch.export`` program with a dynamic batch size.

    The program's inputs are the encoded features as positional tensors in
    ``tower.export_signature()`` order; the signature is also stored in the archive as the
    extra file ``embedrec_signature.json``. Load it with ``torch.export.load(path)`` and run
    ``.module()(*tensors)``. The archive may hold pickled data, so load only trusted files.

    Parameters
    ----------
    tower : Tower
    path : path-like
        Output file (conventionally ``*.pt2``); parent folders are created.
    example : mapping of str -> Tensor, optional
        Sample inputs for tracing (default: :meth:`Tower.example_inputs` with batch 2).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = dict(example) if example is not None else tower.example_inputs(2)
    names = tower.feature_names
    args = tuple(example[name] for name in names)
    batch = torch.export.Dim("batch")
    was_training = tower.training
    tower.eval()
    try:
        program = torch.export.export(
            # *feats is one pytree node holding every positional tensor
            PositionalTower(tower),
            args,
            dynamic_shapes=(tuple({0: batch} for _ in args),),
        )
    finally:
        tower.train(was_training)
    signature = json.dumps({"inputs": tower.export_signature()})
    torch.export.save(program, path, extra_files={"embedrec_signature.json": signature})
    logger.info("exported tower (%d inputs) to %s", len(names), path)
    return path


def to_tensors(
    arrays: Mapping[str, npt.NDArray[Any]], device: torch.device
) -> dict[str, torch.Tensor]:
    """Encoded features (``TowerEncoder`` arrays) as tensors on ``device``."""
    return {k: torch.as_tensor(np.ascontiguousarray(v), device=device) for k, v in arrays.items()}


def write_state(path: Path, state: Mapping[str, Tensor]) -> None:
    """Write a state dict (tower weights, optimizer tensors) as a plain ``.npz``, atomically."""
    from ..._io import atomic_open

    arrays = {k: v.detach().cpu().numpy() for k, v in state.items()}
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def read_state(path: Path) -> dict[str, Tensor]:
    """Read a state dict written by :func:`write_state` (no pickle); ``ValueError`` if the
    file is not a valid ``.npz``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: torch.from_numpy(np.array(z[k])) for k in z.files}
    except (ValueError, OSError, MemoryError, EOFError) as exc:
        raise ValueError(f"{path} is not a valid weights file ({exc}); re-save the model") from exc

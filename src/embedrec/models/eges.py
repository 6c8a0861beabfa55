"""EGES and GES: graph embeddings enhanced with side information (Wang et al., KDD 2018,
"Billion-scale Commodity Embedding for E-commerce Recommendation in Alibaba").

Random walks over an item graph (DeepWalk's, :mod:`embedrec.kernels.walks`) are the corpus of
a skip-gram with negative sampling whose *input* vector of node ``v`` is built from ``v``'s
side information: its own ID plus values such as category or brand, each field with its own
embedding table ``W_j``. GES averages the fields' vectors; EGES weights them by a softmax over
attention logits learned per node (:mod:`embedrec.kernels.eges` gives the update rules).
Because the side tables are shared across items, an item that has no interactions yet still
gets a vector from its side information alone (:meth:`EGES.cold_start`).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from .._io import read_npy
from ..artifacts import check_finite, load_consistent
from ..data.graph import Graph
from ..vectors import Embeddings
from ._engine import (
    SHARD_TOKENS,
    WindowUpdate,
    build_tables,
    check_table_memory,
    epoch_recorder,
    init_weights,
    train_epochs,
)
from .base import EmbeddingModel, read_model_dir, write_model_dir
from .config import check_choice, invalid, shared_negatives_shim
from .walks import INIT_WIDTH, DeepWalk, DeepWalkConfig

logger = logging.getLogger("embedrec")

Mode = Literal["eges", "ges"]
SideValue = str | int
#: name of the attention column of the node's own ID (column 0 of ``attention_``)
ID_FIELD = "<id>"


@dataclass(frozen=True, kw_only=True)
class EGESConfig(DeepWalkConfig):
    """Hyper-parameters of :class:`EGES`: those of
    :class:`~embedrec.models.walks.DeepWalkConfig` (walks, skip-gram, learning rate, workers,
    seed) plus

    Parameters
    ----------
    mode : "eges" (softmax attention over the fields, learned per node) or "ges" (plain mean
        of the fields)

    Notes
    -----
    ``loss`` must stay "neg" and ``window_update`` "batch": EGES trains with negative
    sampling only, and its kernel builds a center's input vector once per window and updates
    it against all the window's output rows (each context node with its own noise draws) as
    one mini-batch. The attention logits learn at the same (linearly decaying) rate as the
    vectors, ``alpha=None`` meaning 0.025. One worker is bit-reproducible for a seed; several
    train Hogwild-style and reproduce only statistically.
    """

    mode: Mode = "eges"
    window_update: WindowUpdate = "batch"

    def __post_init__(self, shared_negatives: bool | None) -> None:
        if shared_negatives is not None:
            new = shared_negatives_shim(shared_negatives, self.window_update)
            object.__setattr__(self, "window_update", new)
        if self.window_update != "batch":
            raise invalid(
                "window_update",
                self.window_update,
                "'batch' (EGES builds a center's vector once and updates the window's pairs as "
                "one mini-batch; 'sequential' and 'exact' do not apply)",
            )
        check_choice(
            "mode", self.mode, get_args(Mode), "'eges' (learned attention) or 'ges' (plain mean)"
        )
        if self.loss != "neg":
            raise invalid("loss", self.loss, "'neg' (EGES trains with negative sampling only)")
        super().__post_init__(None)

    @property
    def start_alpha(self) -> float:
        """The initial learning rate: ``alpha``, or the engine's 0.025 when it is None."""
        return self.word2vec_config().start_alpha


# ------------------------------------------------------------------------ side information
def _normalise_value(name: str, i: int, v: Any) -> SideValue | None:
    """One side value as ``str`` / ``int``, or ``None`` when missing (None or NaN)."""
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        raise TypeError(
            f"side field {name!r} row {i} holds the bool {v!r}; side values are str or int "
            "(encode flags as 0/1 or strings)"
        )
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if v.is_integer():
            return int(v)
    raise TypeError(
        f"side field {name!r} row {i} holds {v!r} ({type(v).__name__}); side values are str or "
        "int, with None or NaN for a missing value"
    )


def _encode_field(name: str, values: Any) -> tuple[npt.NDArray[np.int32], list[SideValue]]:
    """Codes (int32, -1 = missing) and the distinct values of one side field."""
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.ndim != 1:
        raise ValueError(
            f"side field {name!r} has shape {arr.shape}; give one value per node (1-D)"
        )
    if arr.dtype.kind in "iuU":  # no missing values possible: vectorised
        uniq, inverse = np.unique(arr, return_inverse=True)
        return inverse.astype(np.int32).reshape(-1), list(uniq.tolist())
    codes = np.empty(arr.shape[0], dtype=np.int32)
    index: dict[SideValue, int] = {}
    for i, raw in enumerate(arr.tolist()):
        v = _normalise_value(name, i, raw)
        if v is None:
            codes[i] = -1
            continue
        c = index.get(v)
        if c is None:
            c = index[v] = len(index)
        codes[i] = c
    return codes, list(index)


@dataclass(frozen=True)
class SideInfo:
    """Side information of a graph's nodes: field name -> one value per node.

    Parameters
    ----------
    fields : mapping of field name to a sequence of ``n_nodes`` values
        Values are ``str`` or ``int`` (NumPy scalars and integral floats are accepted);
        ``None`` or NaN marks a missing value. Row ``i`` belongs to node ``graph.keys[i]``.

    Raises
    ------
    ValueError
        Sequences of different lengths (all lengths are named), a bad field name.

    Examples
    --------
    >>> side = SideInfo({"category": ["shoe", "shoe", "hat"], "brand": [1, None, 2]})
    >>> side.n_rows
    3
    """

    fields: dict[str, npt.NDArray[Any]]
    n_rows: int = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.fields, Mapping):
            raise TypeError(
                f"side information must map field name -> values, got {type(self.fields).__name__}"
            )
        arrays: dict[str, npt.NDArray[Any]] = {}
        for name, values in self.fields.items():
            if not isinstance(name, str) or not name or name == ID_FIELD:
                raise ValueError(
                    f"side field name {name!r} is invalid; use a non-empty str other than "
                    f"{ID_FIELD!r} (the node's own ID is always field 0)"
                )
            arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
            if arr.ndim != 1:
                raise ValueError(
                    f"side field {name!r} has shape {arr.shape}; give one value per node (1-D)"
                )
            arrays[name] = arr
        lengths = {name: int(a.shape[0]) for name, a in arrays.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"side fields have different lengths {lengths}; give one per row")
        object.__setattr__(self, "fields", arrays)
        object.__setattr__(self, "n_rows", next(iter(lengths.values()), 0))


SideInput = Mapping[str, Sequence[Any] | npt.NDArray[Any]] | SideInfo
EGESCallback = Callable[["EGES", int, dict[str, float]], None]


def _as_side(side: SideInput) -> SideInfo:
    if isinstance(side, SideInfo):
        return side
    if not isinstance(side, Mapping):
        raise TypeError(
            f"side information must map field name -> values, got {type(side).__name__}; "
            "pass e.g. {'category': [...], 'brand': [...]} aligned with graph.keys"
        )
    return SideInfo(dict(side))  # type: ignore[arg-type]


def _softmax_rows(
    logits: npt.NDArray[np.float32], known: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Row-wise softmax over the known entries (0 elsewhere; an all-unknown row stays 0)."""
    a = np.where(known, logits.astype(np.float64), -np.inf)
    top = a.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.where(known, np.exp(a - top), 0.0)
    total = e.sum(axis=1, keepdims=True)
    out: npt.NDArray[np.float64] = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return out


class EGES(EmbeddingModel):
    """EGES / GES item embeddings from an item graph and the items' side information.

    Parameters
    ----------
    config : EGESConfig, optional

    Attributes (after ``fit`` or ``load``)
    --------------------------------------
    embeddings_ : Embeddings keyed by node key (graph order, cosine): ``H_v``, the
        attention-weighted (EGES) or plain (GES) mean of the node's ID vector and the vectors
        of its known side values
    attention_ : (n_nodes, n_fields + 1) float32 softmax weights; column 0 is the node's ID
        (:data:`ID_FIELD`), column ``j`` the field ``field_names_[j - 1]``; unknown values weigh
        0. Rows sum to 1. In GES mode every known field weighs the same.
    field_names_ : the side fields, in training order
    side_values_ : field -> list of its distinct values (``str`` / ``int``)
    side_tables_ : field -> (n_values, dim) float32, row ``i`` the vector of
        ``side_values_[field][i]``
    id_vectors_ : (n_nodes, dim) float32 ID table (field 0), rows in graph order
    output_weights_ : (n_nodes, dim) float32 output (context) vectors (``fit`` only)
    counts_ : (n_nodes,) int64 walk occurrences of every node
    loss_history_, epoch_stats_ : per epoch, as :class:`~embedrec.models.word2vec.Word2Vec`
        (``loss`` is the mean per (center, context) pair of the context's and its noise
        draws' logistic losses, accumulated in float64)
    timings_ : ``{"walks_s", "train_s"}`` seconds

    Every graph node gets a vector; an isolated node is never a center, so its ID vector and
    its attention keep their initial values (uniform in ``[-1, 1) / dim`` and 0), while
    its side vectors are trained through the other nodes.

    Examples
    --------
    >>> from embedrec.data.graph import Graph
    >>> from embedrec.models.eges import EGES, EGESConfig
    >>> g = Graph.from_edges(["a", "b", "c", "d"], ["b", "c", "d", "a"])
    >>> side = {"category": ["x", "x", "y", "y"]}
    >>> cfg = EGESConfig(dim=8, walks_per_node=2, walk_length=5, window=2, workers=1)
    >>> model = EGES(cfg).fit(g, side, progress=False)
    >>> model.embeddings_.vectors.shape, model.attention_.shape
    ((4, 8), (4, 2))
    >>> model.cold_start({"category": ["x", "z"]}).shape
    (2, 8)
    """

    def __init__(self, config: EGESConfig | None = None) -> None:
        self.config = config if config is not None else EGESConfig()
        self.attention_: npt.NDArray[np.float32]
        self.field_names_: list[str] = []
        self.side_values_: dict[str, list[SideValue]] = {}
        self.side_tables_: dict[str, npt.NDArray[np.float32]] = {}
        self.id_vectors_: npt.NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self.output_weights_: npt.NDArray[np.float32] | None = None
        self.counts_: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.loss_history_: list[float] = []
        self.epoch_stats_: list[dict[str, float]] = []
        self.timings_: dict[str, float] = {}
        self.walks_stats_: dict[str, int] = {}
        # the stacked tables (ID rows first), logits, codes and cold-start field weights
        self._w_side: npt.NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self._logits: npt.NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)
        self._codes: npt.NDArray[np.int32] = np.zeros((0, 0), dtype=np.int32)
        self._value_index: dict[str, dict[SideValue, int]] = {}

    # ------------------------------------------------------------------ training
    def fit(
        self,
        graph: Graph,
        side: SideInput,
        *,
        progress: bool = True,
        callbacks: Sequence[EGESCallback] = (),
    ) -> EGES:
        """Walk ``graph`` and train the side-information tables (and attention) on the walks.

        Parameters
        ----------
        graph : the item graph (directed or not, weighted or not)
        side : field name -> ``graph.n_nodes`` values aligned with ``graph.keys`` (or a
            :class:`SideInfo`); ``None`` / NaN marks a missing value, which is left out of
            the node's average. May be empty (then EGES is DeepWalk with negative sampling).
        progress : progress bars and INFO log lines (walk rate, training rate, loss)
        callbacks : ``cb(model, epoch, stats)`` after every epoch

        Returns
        -------
        self

        Raises
        ------
        TypeError
            ``graph`` is not a Graph, or a side value is neither str nor int.
        ValueError
            A side field's length differs from ``graph.n_nodes``.
        """
        cfg = self.config
        if not isinstance(graph, Graph):
            raise TypeError(
                f"EGES.fit takes an embedrec.data.graph.Graph, got {type(graph).__name__}; "
                "build one with Graph.from_edges(src, dst) or Graph.from_sessions(sessions)"
            )
        info = _as_side(side)
        n = graph.n_nodes
        if info.fields and info.n_rows != n:
            raise ValueError(
                f"side fields have {info.n_rows} rows but the graph has n_nodes={n}; give one "
                "value per node, aligned with graph.keys"
            )
        names = list(info.fields)
        encoded = [_encode_field(name, info.fields[name]) for name in names]
        n_side = sum(len(vals) for _, vals in encoded)
        check_table_memory([("node and side-value input", n + n_side), ("output", n)], cfg.dim)
        t0 = time.perf_counter()
        walker = DeepWalk(cfg)  # the same walks (and seed) as DeepWalk with this config
        corpus = walker.walks(graph, progress=progress)
        t1 = time.perf_counter()

        sizes = [n] + [len(vals) for _, vals in encoded]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        codes = np.empty((n, len(names)), dtype=np.int32)
        side_rows = np.empty((n, len(names) + 1), dtype=np.int32)
        side_rows[:, 0] = np.arange(n, dtype=np.int32)
        for j, (c, _) in enumerate(encoded):
            codes[:, j] = c
            side_rows[:, j + 1] = np.where(c >= 0, c + offsets[j + 1], -1)

        # DeepWalk's initial vectors (gensim 4's width); output vectors zero
        w_side, w_out = init_weights(int(offsets[-1]), n, cfg.dim, cfg.seed, INIT_WIDTH)
        logits = np.zeros((n, len(names) + 1), dtype=np.float32)
        counts = np.bincount(corpus.tokens, minlength=n).astype(np.int64)

        on_epoch = epoch_recorder(self, callbacks)
        self._train(corpus, side_rows, w_side, logits, w_out, counts, progress, on_epoch)
        t2 = time.perf_counter()

        self.field_names_ = names
        self.side_values_ = {name: vals for name, (_, vals) in zip(names, encoded, strict=True)}
        self.counts_ = counts
        self.output_weights_ = w_out
        self.timings_ = {"walks_s": t1 - t0, "train_s": t2 - t1}
        self.walks_stats_ = {"n_walks": corpus.n_sentences, "n_tokens": corpus.n_tokens}
        self._set_state(np.asarray(graph.keys).tolist(), w_side, logits, codes)
        return self

    def _train(
        self,
        corpus: Any,
        side_rows: npt.NDArray[np.int32],
        w_side: npt.NDArray[np.float32],
        logits: npt.NDArray[np.float32],
        w_out: npt.NDArray[np.float32],
        counts: npt.NDArray[np.int64],
        progress: bool,
        on_epoch: Callable[[int, dict[str, float]], None],
    ) -> None:
        """Hogwild epochs over shards of walks, through the engine's :func:`train_epochs`."""
        from ..kernels.eges import eges_params, eges_train_shard

        cfg = self.config
        tables = build_tables(
            counts, loss="neg", sample=cfg.sample, ns_exponent=cfg.ns_exponent
        ).as_tuple()
        corpus_arrays = (corpus.tokens, corpus.offsets)
        weights = (w_side, logits, w_out)
        bounds = corpus.shards(SHARD_TOKENS)

        def train(
            a: int, b: int, alpha_begin: float, alpha_end: float, state: npt.NDArray[np.uint64]
        ) -> tuple[float, int, int, int]:
            params = eges_params(
                s_begin=a,
                s_end=b,
                window=cfg.window,
                shrink_windows=True,
                negative=cfg.negative,
                update_attention=cfg.mode == "eges",
            )
            alphas = np.array([alpha_begin, alpha_end], dtype=np.float64)
            res = eges_train_shard(corpus_arrays, weights, side_rows, tables, params, alphas, state)
            return float(res[0]), int(res[1]), int(res[2]), int(res[3])

        train_epochs(
            corpus,
            bounds,
            train,
            epochs=cfg.epochs,
            workers=max(1, min(cfg.n_workers, int(bounds.size - 1))),
            start_alpha=cfg.start_alpha,
            min_alpha=float(cfg.min_alpha),
            seed=cfg.seed,
            unit="nodes",
            label=cfg.mode.upper(),
            progress=progress,
            on_epoch=on_epoch,
        )

    def _set_state(
        self,
        keys: Sequence[Hashable],
        w_side: npt.NDArray[np.float32],
        logits: npt.NDArray[np.float32],
        codes: npt.NDArray[np.int32],
    ) -> None:
        """Derive the public attributes from the stacked tables, logits and codes."""
        n = len(keys)
        known = np.concatenate([np.ones((n, 1), dtype=bool), codes >= 0], axis=1)
        weights = _softmax_rows(logits, known)
        sizes = [n] + [len(self.side_values_[f]) for f in self.field_names_]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        hidden = weights[:, :1] * w_side[:n]
        tables: dict[str, npt.NDArray[np.float32]] = {}
        for j, name in enumerate(self.field_names_):
            table = w_side[offsets[j + 1] : offsets[j + 2]]
            tables[name] = table
            c = codes[:, j]
            hidden += weights[:, j + 1 : j + 2] * np.where(
                (c >= 0)[:, None], table[np.maximum(c, 0)], 0.0
            )
        self._w_side = w_side
        self._logits = logits
        self._codes = codes
        self.side_tables_ = tables
        self.id_vectors_ = w_side[:n]
        self.attention_ = weights.astype(np.float32)
        self._value_index = {
            f: {v: i for i, v in enumerate(vals)} for f, vals in self.side_values_.items()
        }
        self.embeddings_ = Embeddings(keys, hidden.astype(np.float32), metric="cosine")

    # ------------------------------------------------------------------ cold start
    def field_weights(self) -> dict[str, float]:
        """The weight of every side field in :meth:`cold_start`.

        GES: 1 for every field. EGES: the mean attention weight of the field over the trained
        nodes that know a value in it. Trained nodes are those whose attention logits moved:
        every node that was a walk center with context and knows at least one side value
        (an isolated node keeps its initial logits, so its uniform weights do not dilute the
        mean). A field no trained node knows weighs the mean attention over all nodes
        knowing it, else 1.
        """
        self._fitted()
        if self.config.mode == "ges":
            return {name: 1.0 for name in self.field_names_}
        trained = np.any(self._logits != 0, axis=1)
        out: dict[str, float] = {}
        for j, name in enumerate(self.field_names_):
            knows = self._codes[:, j] >= 0
            for mask in (knows & trained, knows):
                if mask.any():
                    out[name] = float(self.attention_[mask, j + 1].mean())
                    break
            else:
                out[name] = 1.0
        return out

    def cold_start(
        self, side_rows: Mapping[str, Sequence[Any] | npt.NDArray[Any]] | SideInfo
    ) -> npt.NDArray[np.float32]:
        """Vectors of items known only by their side information (no ID, no interactions).

        Row ``i`` is the weighted mean of the vectors of row ``i``'s known side values:
        GES weighs every field equally; EGES weighs field ``j`` by :meth:`field_weights`, the
        mean attention that trained nodes give it (a new item has no attention logits of its
        own, and the population mean is what the model learned about how informative the
        field is). Missing values (``None`` / NaN), values never seen in training and fields
        absent from ``side_rows`` are ignored; a row with no usable value gets a zero vector.

        Parameters
        ----------
        side_rows : field name -> ``n`` values (or a :class:`SideInfo`); fields must be among
            ``field_names_``

        Returns
        -------
        (n, dim) float32
            Comparable with ``embeddings_`` under the cosine metric.

        Raises
        ------
        ValueError
            An unknown field name (the known ones are listed), or fields of different lengths.
        """
        self._fitted()
        info = _as_side(side_rows)
        unknown = [name for name in info.fields if name not in self.side_values_]
        if unknown:
            raise ValueError(
                f"cold_start fields {unknown} were not trained; use fields among "
                f"{self.field_names_}"
            )
        dim = self._w_side.shape[1]
        weights = self.field_weights()
        acc = np.zeros((info.n_rows, dim), dtype=np.float64)
        total = np.zeros(info.n_rows, dtype=np.float64)
        for name, values in info.fields.items():
            index = self._value_index[name]
            codes = np.fromiter(
                (
                    -1 if (v := _normalise_value(name, i, raw)) is None else index.get(v, -1)
                    for i, raw in enumerate(values.tolist())
                ),
                dtype=np.int64,
                count=info.n_rows,
            )
            known = codes >= 0
            table = self.side_tables_[name]
            acc[known] += weights[name] * table[codes[known]]
            total[known] += weights[name]
        out = np.divide(acc, total[:, None], out=np.zeros_like(acc), where=total[:, None] > 0)
        return out.astype(np.float32)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as a directory: manifest.json (config, fields and their values as
        JSON lists), vectors.npy (``H_v``), keys.json, counts.npy, side_vectors.npy (the
        stacked ID and side tables), attention_logits.npy, side_codes.npy. No pickle; the
        write is atomic."""
        emb = self._fitted()
        write_model_dir(
            path,
            "EGES",
            config=self.config,
            embeddings=emb,
            counts=self.counts_,
            arrays={
                "side_vectors": self._w_side,
                "attention_logits": self._logits,
                "side_codes": self._codes,
            },
            side_fields=[
                {"name": name, "values": self.side_values_[name]} for name in self.field_names_
            ],
            loss_history=self.loss_history_,
            epoch_stats=self.epoch_stats_,
            timings=self.timings_,
            walks_stats=self.walks_stats_,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EGES:
        """Load a directory written by :meth:`save`; ``ValueError`` if it is corrupt."""
        return load_consistent(path, cls._load_generation)

    @classmethod
    def _load_generation(cls, path: Path) -> EGES:
        d = read_model_dir(
            path,
            "EGES",
            EGESConfig,
            ("side_vectors.npy", "attention_logits.npy", "side_codes.npy"),
        )
        model = cls(d.config)
        fields = d.manifest.get("side_fields")
        if not isinstance(fields, list) or not all(
            isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("values"), list)
            for f in fields
        ):
            raise ValueError(
                f"{path}/manifest.json has no valid side_fields list; re-save the model"
            )
        model.field_names_ = [f["name"] for f in fields]
        model.side_values_ = {f["name"]: list(f["values"]) for f in fields}
        n, dim = len(d.embeddings), d.embeddings.dim
        w_side = read_npy(path / "side_vectors.npy")
        logits = read_npy(path / "attention_logits.npy")
        codes = read_npy(path / "side_codes.npy")
        check_finite(w_side, path / "side_vectors.npy")
        check_finite(logits, path / "attention_logits.npy")
        n_rows = n + sum(len(v) for v in model.side_values_.values())
        expected = {
            "side_vectors.npy": ((n_rows, dim), np.float32, w_side),
            "attention_logits.npy": ((n, len(fields) + 1), np.float32, logits),
            "side_codes.npy": ((n, len(fields)), np.int32, codes),
        }
        for fname, (shape, dtype, arr) in expected.items():
            if arr.shape != shape or arr.dtype != dtype:
                raise ValueError(
                    f"{path}: {fname} is {arr.dtype} {arr.shape}, expected "
                    f"{np.dtype(dtype)} {shape}; the directory is corrupt, re-save the model"
                )
        model.counts_ = d.vocab.counts
        model.loss_history_ = list(d.manifest.get("loss_history", []))
        model.epoch_stats_ = list(d.manifest.get("epoch_stats", []))
        model.timings_ = dict(d.manifest.get("timings") or {})
        model.walks_stats_ = dict(d.manifest.get("walks_stats") or {})
        model._set_state(d.embeddings.keys, w_side, logits, codes)
        # keep the saved H_v bit for bit (recomputing it is equal up to float rounding)
        model.embeddings_ = d.embeddings
        return model

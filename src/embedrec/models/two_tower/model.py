"""The two-tower retrieval model: configuration, scoring, recommendation and persistence.

``TwoTower.fit`` runs the steps of :mod:`~embedrec.models.two_tower.train`. One example per
training event: the user tower sees the user's features and the items the
user interacted with before the event (``history_mode="prefix"``, next-item training as in
YouTube DNN) or all their other training items (``"all_but_target"``, for random splits);
the item tower sees the event's item. Training runs in one process or, unchanged, under
``torchrun`` with DistributedDataParallel (gloo on CPU, NCCL on GPU): each rank trains on the
events of its own users (sharding by user, never inside a sequence); rank 0 alone evaluates
and writes. The loss is a separate :class:`~embedrec.models.two_tower.losses.RetrievalLoss`.

After ``fit``, ``embeddings_`` holds the item tower's output for every catalogue item (an
:class:`~embedrec.vectors.Embeddings` ready for any index), and the model is an
evaluation :class:`~embedrec.eval.evaluate.Scorer`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch

from ..._io import make_manifest, read_manifest, read_npy, write_json, write_npy
from ...artifacts import load_consistent, publish_artifact, read_json, verify_artifact
from ...data.interactions import Interactions
from ...keys import key_array, plain
from ...vectors import Embeddings, Key, write_keys_vectors
from ..config import ConfigDict, check_choice, check_float, check_int, invalid
from ..item2vec import Recommendations
from .encoder import TowerEncoder
from .serving import encode_user_requests
from .spec import FeatureSpec, TowerConfig
from .towers import TwoTowerNet, read_state, to_tensors, write_state
from .train import EpochCallback, fit_two_tower, init_distributed, same_key_table

logger = logging.getLogger("embedrec")

LossKind = Literal["softmax", "mixed", "dssm", "bce"]
LogQ = Literal["none", "counts", "streaming"]
HistoryMode = Literal["prefix", "all_but_target"]
Device = Literal["auto", "cpu", "cuda"]

_LOSSES = ("softmax", "mixed", "dssm", "bce")
_LOGQ = ("none", "counts", "streaming")
_HISTORY = ("prefix", "all_but_target")
_DEVICES = ("auto", "cpu", "cuda")
#: the files TwoTower.load reads
_MODEL_FILES = (
    "keys.json",
    "vectors.npy",
    "counts.npy",
    "user_keys.json",
    "user_items.npy",
    "user_offsets.npy",
    "user_encoder.json",
    "item_encoder.json",
    "user_tower.npz",
    "item_tower.npz",
)


def default_user_tower() -> TowerConfig:
    """User ID and the pooled history of item IDs."""
    return TowerConfig(
        features=(
            FeatureSpec(name="user", kind="id"),
            FeatureSpec(name="history", kind="history"),
        )
    )


def default_item_tower() -> TowerConfig:
    """Item ID only."""
    return TowerConfig(features=(FeatureSpec(name="item", kind="id"),))


@dataclass(frozen=True, kw_only=True)
class TwoTowerConfig(ConfigDict):
    """Hyper-parameters of :class:`TwoTower`.

    Parameters
    ----------
    user, item : TowerConfig
        The towers' features and MLPs (default: user ID + history bag; item ID).
    loss : {"softmax", "mixed", "dssm", "bce"}, default "softmax"
        In-batch sampled softmax; the same plus ``num_negatives`` uniformly sampled items per
        batch (mixed negative sampling, Yang et al. 2020); the original DSSM softmax over the
        positive and ``num_negatives`` random items per example (cosine, smoothing factor
        ``dssm_gamma``); binary cross-entropy with ``num_negatives`` sampled items.
    temperature : float, default 0.05
        Softmax temperature (scores are divided by it; also scales the BCE logits).
    logq : {"none", "counts", "streaming"}, default "counts"
        Sampling-bias correction of the softmax losses: item frequencies from the training
        counts, or the streaming estimator of Yi et al. (RecSys 2019).
    remove_accidental_hits : bool, default True
        Mask in-batch columns that hold the row's own positive item.
    num_negatives : int, default 0
        Extra uniformly sampled items: per batch for ``mixed``, per example for ``dssm`` and
        ``bce`` (which need >= 1).
    dssm_gamma : float, default 10.0
        DSSM smoothing factor.
    epochs : int, default 30
        Passes over the training events (fewer when early stopping ends training).
    batch_size : int, default 1024
        Examples per optimizer step (per process under torchrun); the softmax losses use
        the batch's other items as negatives.
    lr : float, default 0.005
        Learning rate of Adam (decoupled weight decay: AdamW).
    weight_decay : float, default 0.0
        AdamW's decoupled weight decay; 0 is plain Adam.
    history_mode : {"prefix", "all_but_target"}, default "prefix"
        What the history bag of a training example holds: the user's items before the event
        (next-item training), or all the user's other training items (random splits).
    examples_per_user : int or None, default None
        Train each epoch on at most this many of a user's events (a fresh random subset each
        epoch), so a few very active users do not dominate the loss (YouTube DNN, Covington
        et al. 2016, section 4.1). None: every event, every epoch.
    patience : int, default 3
        Stop when the validation metric has not improved for this many epochs and
        keep the best epoch's weights; 0 trains every epoch (still keeping the best).
    eval_metric : {"NDCG", "Recall", "HR", "MRR"}, default "NDCG"
        Validation metric (at ``eval_k``, full ranking, seen items excluded). NDCG keeps
        rewarding a sharper ranking after Recall has saturated.
    eval_k : int, default 50
        Cut-off of the validation metric.
    eval_users : int or None, default 2000
        Validate on at most this many (seeded, random) users; None: all.
    seed : int, default 0
        Seeds weights, shuffling and negatives (0 <= seed < 2**63): on CPU a run is
        reproducible.
    device : {"auto", "cpu", "cuda"}, default "auto"
        "auto" uses a GPU when torch sees one.
    """

    user: TowerConfig = field(default_factory=default_user_tower)
    item: TowerConfig = field(default_factory=default_item_tower)
    loss: LossKind = "softmax"
    temperature: float = 0.05
    logq: LogQ = "counts"
    remove_accidental_hits: bool = True
    num_negatives: int = 0
    dssm_gamma: float = 10.0
    epochs: int = 30
    batch_size: int = 1024
    lr: float = 0.005
    weight_decay: float = 0.0
    history_mode: HistoryMode = "prefix"
    examples_per_user: int | None = None
    patience: int = 3
    eval_metric: Literal["NDCG", "Recall", "HR", "MRR"] = "NDCG"
    eval_k: int = 50
    eval_users: int | None = 2000
    seed: int = 0
    device: Device = "auto"

    def __post_init__(self) -> None:
        def q(name: str) -> str:  # the field as messages name it
            return f"TwoTowerConfig.{name}"

        if not isinstance(self.user, TowerConfig):
            raise invalid(q("user"), self.user, "a TowerConfig")
        if not isinstance(self.item, TowerConfig):
            raise invalid(q("item"), self.item, "a TowerConfig")
        for name, allowed in (
            ("loss", _LOSSES),
            ("logq", _LOGQ),
            ("history_mode", _HISTORY),
            ("device", _DEVICES),
            ("eval_metric", ("NDCG", "Recall", "HR", "MRR")),
        ):
            check_choice(q(name), getattr(self, name), allowed, "one of " + ", ".join(allowed))
        for name in ("num_negatives", "epochs", "batch_size", "patience", "eval_k", "seed"):
            check_int(q(name), getattr(self, name), allowed="an integer")
        for name in ("examples_per_user", "eval_users"):
            if getattr(self, name) is not None:
                check_int(q(name), getattr(self, name), allowed="None or an integer")
        # seeds torch (< 2**64) and NumPy generators (>= 0)
        check_int(q("seed"), self.seed, 0, 2**63 - 1, allowed="an integer 0 <= seed < 2**63")
        for name in ("temperature", "dssm_gamma", "lr", "weight_decay"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise invalid(q(name), v, "a number")
        check_float(
            q("temperature"), self.temperature, gt=0, allowed="a finite number > 0 (e.g. 0.05)"
        )
        check_float(q("dssm_gamma"), self.dssm_gamma, gt=0, allowed="a finite number > 0 (e.g. 10)")
        check_int(q("num_negatives"), self.num_negatives, 0, allowed="an integer >= 0")
        if self.loss in ("dssm", "bce") and self.num_negatives < 1:
            raise ValueError(
                f"TwoTowerConfig.loss={self.loss!r} needs sampled negatives; set "
                "num_negatives >= 1 (e.g. 4)"
            )
        if self.loss == "mixed" and self.num_negatives < 1:
            raise ValueError(
                "TwoTowerConfig.loss='mixed' adds uniformly sampled items to the in-batch "
                "negatives; set num_negatives >= 1 (e.g. 512)"
            )
        for name in ("epochs", "batch_size", "eval_k"):
            check_int(q(name), getattr(self, name), 1, allowed="an integer >= 1")
        if self.batch_size < 2 and self.loss in ("softmax", "mixed"):
            raise invalid(
                q("batch_size"),
                self.batch_size,
                "an integer >= 2 (in-batch negatives need a batch)",
            )
        check_float(q("lr"), self.lr, gt=0, allowed="a finite number > 0 (e.g. 0.005)")
        check_float(q("weight_decay"), self.weight_decay, ge=0, allowed="a finite number >= 0")
        if self.examples_per_user is not None:
            check_int(
                q("examples_per_user"),
                self.examples_per_user,
                1,
                allowed="None (every event) or an integer >= 1 (e.g. 100)",
            )
        check_int(q("patience"), self.patience, 0, allowed="an integer >= 0 (0: no early stopping)")
        if self.eval_users is not None:
            check_int(
                q("eval_users"), self.eval_users, 1, allowed="None (all users) or an integer >= 1"
            )
        if self.user.output_dim != self.item.output_dim:
            raise ValueError(
                f"TwoTowerConfig: user.output_dim={self.user.output_dim} and "
                f"item.output_dim={self.item.output_dim} differ; the towers must map into "
                "one space, so give them the same output_dim"
            )
        self.user.validate_for("user")
        self.item.validate_for("item")

    @property
    def metric(self) -> Literal["cosine", "dot"]:
        """``cosine`` when both towers L2-normalise their outputs, else ``dot``."""
        both = self.user.l2_normalize and self.item.l2_normalize
        return "cosine" if both else "dot"

    @classmethod
    def upgrade(cls, d: dict[str, Any]) -> dict[str, Any]:
        """The towers of a saved config (dicts) as :class:`TowerConfig`."""
        for tower in ("user", "item"):
            if tower in d and not isinstance(d[tower], TowerConfig):
                d[tower] = TowerConfig.from_dict(d[tower])
        return d


class TwoTower:
    """Two-tower (DSSM-style) retrieval model on PyTorch.

    Examples
    --------
    >>> from embedrec.data.interactions import Interactions
    >>> from embedrec.models.two_tower import TwoTower, TwoTowerConfig
    >>> log = Interactions.from_arrays([1, 1, 2, 2], ["a", "b", "b", "c"], times=[1, 2, 1, 2])
    >>> model = TwoTower(TwoTowerConfig(epochs=1, batch_size=4)).fit(log, progress=False)
    >>> model.recommend(["a"], k=2).keys.shape
    (2,)
    """

    def __init__(self, config: TwoTowerConfig | None = None) -> None:
        self.config = config if config is not None else TwoTowerConfig()
        self.net_: TwoTowerNet | None = None
        self.user_encoder_: TowerEncoder | None = None
        self.item_encoder_: TowerEncoder | None = None
        self.embeddings_: Embeddings | None = None
        self.user_keys_: npt.NDArray[Any] | None = None
        self.item_keys_: npt.NDArray[Any] | None = None
        self.item_counts_: npt.NDArray[np.int64] | None = None
        # each known user's training items (codes, time order), for histories and exclusion
        self.user_items_: list[npt.NDArray[np.int32]] = []
        self.epoch_stats_: list[dict[str, Any]] = []
        self.best_epoch_: int | None = None
        self.metadata_: dict[str, Any] = {}
        self._user_index: dict[Any, int] = {}
        self._item_index: dict[Any, int] = {}
        self._user_static: dict[str, npt.NDArray[Any]] | None = None
        self._item_static: dict[str, npt.NDArray[Any]] | None = None

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        train: Interactions,
        *,
        valid: Interactions | None = None,
        user_table: Any = None,
        item_table: Any = None,
        user_key_column: str = "user",
        item_key_column: str = "item",
        pretrained: Mapping[str, Embeddings] | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        progress: bool = True,
        callbacks: Sequence[EpochCallback] = (),
    ) -> TwoTower:
        """Train on the events of ``train``.

        Parameters
        ----------
        train : Interactions
            Training events (one example each), sorted by user and time as Interactions are.
        valid : Interactions, optional
            Held-out events with the same key tables (a :class:`~embedrec.eval.split.Split`
            part); the validation metric (``eval_metric@eval_k``) after every epoch (full
            ranking through :func:`embedrec.eval.evaluate`, seen items excluded) drives early
            stopping.
        user_table, item_table : pyarrow Table, DataFrame or dict of columns, optional
            Side information keyed by ``user_key_column`` / ``item_key_column``.
        pretrained : mapping of feature name -> Embeddings, optional
            Vectors for ``pretrained`` features (else read from the feature's ``path``).
        checkpoint_dir : path, optional
            Written after every epoch (atomic); with ``resume=True`` training continues from
            the checkpoint found there.
        progress : bool, default True
            A progress bar and log lines with loss and samples/s; False silences them.
        callbacks : sequence of callables
            ``fn(model, epoch, stats)`` after every epoch.
        """
        fit_two_tower(
            self,
            train,
            valid=valid,
            user_table=user_table,
            item_table=item_table,
            user_key_column=user_key_column,
            item_key_column=item_key_column,
            pretrained=pretrained,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            progress=progress,
            callbacks=callbacks,
        )
        return self

    @property
    def valid_metric_name(self) -> str:
        """The key of the validation metric in :attr:`epoch_stats_` (e.g. ``valid_NDCG@50``)."""
        return f"valid_{self.config.eval_metric}@{self.config.eval_k}"

    def _build_net(
        self, saved: tuple[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor]] | None = None
    ) -> TwoTowerNet:
        """The towers for the fitted encoders. ``saved`` (user, item state dicts) gives the
        shapes of pretrained tables when loading, whose vectors live in the weights."""
        assert self.user_encoder_ is not None and self.item_encoder_ is not None
        cfg = self.config

        def tables(enc: TowerEncoder, tower: TowerConfig, i: int) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for f in tower.features:
                if f.kind != "pretrained":
                    continue
                if saved is None:
                    out[f.name] = enc.pretrained_matrix(f.name)
                else:
                    key = f"tables.{f.name}.weight"
                    if key not in saved[i]:
                        raise ValueError(f"the saved weights lack {key!r}; re-save the model")
                    out[f.name] = np.zeros(tuple(saved[i][key].shape), dtype=np.float32)
            return out

        return TwoTowerNet(
            cfg.user,
            cfg.item,
            self.user_encoder_.table_sizes(),
            self.item_encoder_.table_sizes(),
            user_pretrained=tables(self.user_encoder_, cfg.user, 0),
            item_pretrained=tables(self.item_encoder_, cfg.item, 1),
        )

    def _index_keys(self) -> None:
        assert self.user_keys_ is not None and self.item_keys_ is not None
        assert self.user_encoder_ is not None and self.item_encoder_ is not None
        self._user_index = {plain(k): i for i, k in enumerate(self.user_keys_.tolist())}
        self._item_index = {plain(k): i for i, k in enumerate(self.item_keys_.tolist())}
        self._user_static = _with_default_row(self.user_encoder_)
        self._item_static = _with_default_row(self.item_encoder_)

    def add_history(self, events: Interactions) -> TwoTower:
        """Append ``events`` (same key tables as the training log, e.g. a split's
        validation part) to the users' stored histories, which :meth:`recommend` uses for a
        user given by key alone. The weights do not change."""
        if self.user_keys_ is None or self.item_keys_ is None:
            raise RuntimeError("TwoTower is not fitted yet; call .fit(train) first")
        if not (
            same_key_table(events.user_keys, self.user_keys_)
            and same_key_table(events.item_keys, self.item_keys_)
        ):
            raise ValueError(
                "events do not share the training log's key tables; take them from the same split"
            )
        offs = events.user_offsets()
        for u in np.flatnonzero(np.diff(offs)):
            extra = events.item[offs[u] : offs[u + 1]].astype(np.int32)
            self.user_items_[u] = np.concatenate([self.user_items_[u], extra])
        return self

    # ------------------------------------------------------------------ inference
    def _fitted(self) -> tuple[TwoTowerNet, TowerEncoder, TowerEncoder]:
        if self.net_ is None or self.user_encoder_ is None or self.item_encoder_ is None:
            raise RuntimeError("TwoTower is not fitted yet; call .fit(train) first")
        return self.net_, self.user_encoder_, self.item_encoder_

    def _refresh_items(self) -> None:
        """Recompute ``embeddings_``: the item tower over the whole catalogue."""
        net, _, _ = self._fitted()
        assert self.item_keys_ is not None and self._item_static is not None
        n = len(self.item_keys_)
        device = next(net.parameters()).device
        out = np.empty((n, self.config.item.output_dim), dtype=np.float32)
        with torch.no_grad():
            for s in range(0, n, 8192):
                idx = np.arange(s, min(s + 8192, n))
                feats = to_tensors({k: v[idx] for k, v in self._item_static.items()}, device)
                out[s : s + len(idx)] = net.item(feats).float().cpu().numpy()
        keys = [plain(k) for k in self.item_keys_.tolist()]
        self.embeddings_ = Embeddings(keys, out, metric=self.config.metric)

    def user_vectors(
        self,
        histories: Sequence[Sequence[Hashable]] | None = None,
        *,
        users: Sequence[Hashable | None] | None = None,
        features: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> npt.NDArray[np.float32]:
        """The user tower's output for each request, ``(n, output_dim)`` float32.

        Parameters
        ----------
        histories : sequence of item-key sequences, optional
            Items each user interacted with, oldest first (unknown keys are the unknown
            row). None: each known user's training history.
        users : sequence of user keys (or None), optional
            Known users take their side features from the training tables.
        features : sequence of mappings, optional
            Raw side-feature values by column name (e.g. from a request); they replace the
            stored features of that row (a new user's features). ``features[i]["key"]``
            may name the user.
        """
        net, ue, _ = self._fitted()
        assert self._user_static is not None
        feats = encode_user_requests(
            ue,
            self._user_static,
            self._user_index,
            self._items_of,
            histories=histories,
            users=users,
            features=features,
        )
        device = next(net.parameters()).device
        with torch.no_grad():
            out: npt.NDArray[np.float32] = net.user(to_tensors(feats, device)).float().cpu().numpy()
        return out

    def score(
        self,
        histories: Sequence[Sequence[Key]],
        candidates: npt.NDArray[Any],
        *,
        times: Sequence[npt.NDArray[np.float64]] | None = None,
        users: Sequence[Key] | None = None,
    ) -> npt.NDArray[np.float32]:
        """Scores of every candidate for every (user, history): the evaluation Scorer.

        ``-inf`` for candidates outside the catalogue. ``times`` is accepted and ignored.
        """
        emb = self._emb()
        q = self.user_vectors(histories, users=users)
        rows = np.array([self._item_index.get(plain(c), -1) for c in np.asarray(candidates)])
        out = np.full((q.shape[0], len(rows)), -np.inf, dtype=np.float32)
        ok = rows >= 0
        out[:, ok] = q @ emb.vectors[rows[ok]].T
        return out

    def _emb(self) -> Embeddings:
        if self.embeddings_ is None:
            raise RuntimeError("TwoTower is not fitted yet; call .fit(train) first")
        return self.embeddings_

    def recommend_users(
        self,
        histories: Sequence[Sequence[Hashable]] | None = None,
        k: int = 10,
        *,
        users: Sequence[Hashable | None] | None = None,
        features: Sequence[Mapping[str, Any] | None] | None = None,
        exclude_seen: bool = True,
    ) -> Recommendations:
        """Top-``k`` catalogue items per request, batch-first ``(n, k)`` (``-inf`` pads).

        With ``exclude_seen`` the request's history (or, without one, the known user's
        training items) is never recommended. ``unknown`` lists history keys outside the
        catalogue (they still feed the tower as the unknown row).
        """
        from ...index.topk import check_k, top_k_exact

        emb = self._emb()
        k = check_k(k)
        q = self.user_vectors(histories, users=users, features=features)
        n = q.shape[0]
        scores = q @ emb.vectors.T
        unknown: list[list[Any]] = [[] for _ in range(n)]
        for j in range(n):
            if histories is not None:
                hist = list(histories[j])
                rows = [self._item_index.get(plain(h), -1) for h in hist]
                unknown[j] = [h for h, r in zip(hist, rows, strict=True) if r < 0]
                seen = np.array([r for r in rows if r >= 0], dtype=np.int64)
            elif users is not None and users[j] is not None:
                c = self._user_index.get(plain(users[j]), -1)
                seen = self.user_items_[c].astype(np.int64) if c >= 0 else np.zeros(0, np.int64)
            else:
                seen = np.zeros(0, np.int64)
            if exclude_seen and len(seen):
                scores[j, seen] = -np.inf
        width = min(k, len(emb))
        idx = top_k_exact(scores, width)
        keys_arr = np.asarray(emb.keys, dtype=object if emb.key_type == "str" else np.int64)
        top = np.where(idx >= 0, np.take_along_axis(scores, np.maximum(idx, 0), 1), -np.inf)
        return Recommendations(keys_arr[np.maximum(idx, 0)], top.astype(np.float32), unknown)

    def recommend(
        self,
        history: Sequence[Hashable] | None = None,
        k: int = 10,
        *,
        user: Hashable | None = None,
        features: Mapping[str, Any] | None = None,
        exclude_seen: bool = True,
    ) -> Recommendations:
        """Top-``k`` items for one user: their history, key and/or raw features (1-D)."""
        res = self.recommend_users(
            None if history is None else [history],
            k,
            users=None if user is None else [user],
            features=None if features is None else [features],
            exclude_seen=exclude_seen,
        )
        keep = np.isfinite(res.scores[0])
        return Recommendations(res.keys[0][keep], res.scores[0][keep], res.unknown[0])

    def most_similar(
        self, key: Any, k: int = 10, *, missing: Literal["raise", "skip"] = "raise"
    ) -> Any:
        """Nearest items to ``key`` in the item tower's space (see ``Embeddings.most_similar``)."""
        return self._emb().most_similar(key, k=k, missing=missing)

    def _items_of(self, code: int) -> npt.NDArray[np.int32]:
        """A known user's stored item codes (empty for -1, an unknown user)."""
        return self.user_items_[code] if code >= 0 else np.zeros(0, np.int32)

    def _has_history(self, tower: TowerConfig) -> bool:
        return any(f.kind == "history" for f in tower.features)

    def _history_name(self) -> str:
        return next(f.name for f in self.config.user.features if f.kind == "history")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None) -> None:
        """Write the model as a directory, atomically (no pickle anywhere):

        ``manifest.json`` (config, metric, training stats), ``vectors.npy`` + ``keys.json``
        (item embeddings: any embedrec command that reads vectors works on it),
        ``counts.npy``, ``user_keys.json``, ``user_items.npy`` + ``user_offsets.npy``,
        ``user_encoder.json`` / ``item_encoder.json`` and the towers' weights as
        ``user_tower.npz`` / ``item_tower.npz`` (plain arrays, read without pickle), published
        as a new generation of ``path`` (see :mod:`embedrec.artifacts`).
        """
        net, ue, ie = self._fitted()
        emb = self._emb()
        assert self.user_keys_ is not None and self.item_counts_ is not None
        lengths = np.array([len(x) for x in self.user_items_], dtype=np.int64)
        with publish_artifact(path) as tmp:
            write_keys_vectors(tmp, emb.keys, emb.vectors)
            write_npy(tmp / "counts.npy", self.item_counts_)
            write_json(tmp / "user_keys.json", [plain(k) for k in self.user_keys_.tolist()])
            write_npy(
                tmp / "user_items.npy",
                np.concatenate(self.user_items_).astype(np.int32)
                if len(lengths)
                else np.zeros(0, np.int32),
            )
            write_npy(tmp / "user_offsets.npy", np.concatenate([[0], np.cumsum(lengths)]))
            write_json(tmp / "user_encoder.json", ue.to_dict())
            write_json(tmp / "item_encoder.json", ie.to_dict())
            write_state(tmp / "user_tower.npz", net.user_tower.state_dict())
            write_state(tmp / "item_tower.npz", net.item_tower.state_dict())
            write_json(
                tmp / "manifest.json",
                make_manifest(
                    "TwoTower",
                    config=self.config.to_dict(),
                    metric=emb.metric,
                    dim=emb.dim,
                    n_keys=len(emb),
                    n_users=len(self.user_keys_),
                    best_epoch=self.best_epoch_,
                    epoch_stats=self.epoch_stats_,
                    metadata=self.metadata_ if metadata is None else metadata,
                ),
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TwoTower:
        """Load a directory written by :meth:`save`; ``ValueError`` if it is corrupt."""
        return load_consistent(path, cls._load_generation)

    @classmethod
    def _load_generation(cls, path: Path) -> TwoTower:
        manifest = read_manifest(path, "TwoTower")
        verify_artifact(path, manifest, _MODEL_FILES)
        try:
            cfg = TwoTowerConfig.from_dict(manifest["config"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}/manifest.json has no valid config ({exc}); re-save") from exc
        from ...vectors import read_keys_vectors

        model = cls(cfg)
        keys, vectors = read_keys_vectors(path, verify=False)
        model.embeddings_ = Embeddings(keys, vectors, metric=manifest.get("metric", cfg.metric))
        model.item_keys_ = key_array(list(keys))
        model.item_counts_ = read_npy(path / "counts.npy").astype(np.int64)
        model.user_keys_ = key_array(read_json(path / "user_keys.json"))
        items = read_npy(path / "user_items.npy")
        offs = read_npy(path / "user_offsets.npy")
        if len(offs) != len(model.user_keys_) + 1 or offs[-1] != len(items):
            raise ValueError(f"{path}: user_offsets.npy does not match user_keys.json; re-save")
        model.user_items_ = [items[offs[u] : offs[u + 1]] for u in range(len(offs) - 1)]
        model.user_encoder_ = TowerEncoder.from_dict(read_json(path / "user_encoder.json"))
        model.item_encoder_ = TowerEncoder.from_dict(read_json(path / "item_encoder.json"))
        user_w, item_w = read_state(path / "user_tower.npz"), read_state(path / "item_tower.npz")
        net = model._build_net((user_w, item_w))
        try:
            net.user_tower.load_state_dict(user_w)
            net.item_tower.load_state_dict(item_w)
        except RuntimeError as exc:
            raise ValueError(
                f"{path}: the saved tower weights do not fit the saved config ({exc}); re-save"
            ) from exc
        net.eval()
        model.net_ = net
        model._index_keys()
        model.epoch_stats_ = list(manifest.get("epoch_stats") or [])
        model.best_epoch_ = manifest.get("best_epoch")
        model.metadata_ = dict(manifest.get("metadata") or {})
        return model

    def export_user_tower(self, path: str | os.PathLike[str]) -> Path:
        """Save the user tower as a ``torch.export`` program (``.pt2``), for serving
        without embedrec's training code: inputs are the encoded features in
        ``Tower.export_signature()`` order with a dynamic batch dimension.

        The PT2 archive may hold pickled sample inputs, so load it only from a source you
        trust; embedrec's own service runs the tower from ``user_tower.npz`` instead.
        """
        from .towers import export_tower

        net, _, _ = self._fitted()
        return export_tower(net.user_tower, Path(path))


# ---------------------------------------------------------------------- helpers
def _with_default_row(enc: TowerEncoder) -> dict[str, npt.NDArray[Any]]:
    """Every entity's static features plus one last row for an unknown entity (index -1)."""
    static = enc.encode_entities()
    default = enc.encode_records([{}])
    return {
        k: np.concatenate([v, default[k].astype(v.dtype)])
        for k, v in static.items()
        if k in default
    }


__all__ = [
    "TwoTower",
    "TwoTowerConfig",
    "default_item_tower",
    "default_user_tower",
    "init_distributed",
]

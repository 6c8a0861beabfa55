"""The two-tower retrieval model: configuration, training, scoring and persistence.

One example per training event: the user tower sees the user's features and the items the
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

import json
import logging
import math
import os
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from ..._io import atomic_dir, make_manifest, read_manifest, read_npy, write_json, write_npy
from ...artifacts import load_consistent, publish_artifact, read_json, verify_artifact
from ...data.interactions import Interactions
from ...progress import Progress
from ...vectors import Embeddings, Key, write_keys_vectors
from ..item2vec import Recommendations
from .encoder import TowerEncoder
from .losses import CountFrequency, RetrievalLoss, StreamingFrequencyEstimator
from .serving import _key_array, _py, encode_user_requests
from .spec import FeatureSpec, TowerConfig
from .towers import TwoTowerNet

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
class TwoTowerConfig:
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
    epochs, batch_size, lr, weight_decay
        Adam (decoupled weight decay: AdamW) over ``epochs`` passes of ``batch_size``
        examples (per process under torchrun).
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
        def bad(name: str, allowed: str) -> ValueError:
            return ValueError(
                f"TwoTowerConfig.{name}={getattr(self, name)!r} is invalid; use {allowed}"
            )

        if not isinstance(self.user, TowerConfig):
            raise bad("user", "a TowerConfig")
        if not isinstance(self.item, TowerConfig):
            raise bad("item", "a TowerConfig")
        for name, allowed in (
            ("loss", _LOSSES),
            ("logq", _LOGQ),
            ("history_mode", _HISTORY),
            ("device", _DEVICES),
            ("eval_metric", ("NDCG", "Recall", "HR", "MRR")),
        ):
            if getattr(self, name) not in allowed:
                raise bad(name, "one of " + ", ".join(allowed))
        for name in ("num_negatives", "epochs", "batch_size", "patience", "eval_k", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise bad(name, "an integer")
        for name in ("examples_per_user", "eval_users"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise bad(name, "None or an integer")
        # seeds torch (< 2**64) and NumPy generators (>= 0)
        if not 0 <= self.seed < 2**63:
            raise bad("seed", "an integer 0 <= seed < 2**63")
        for name in ("temperature", "dssm_gamma", "lr", "weight_decay"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad(name, "a number")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise bad("temperature", "a finite number > 0 (e.g. 0.05)")
        if not (self.dssm_gamma > 0 and math.isfinite(self.dssm_gamma)):
            raise bad("dssm_gamma", "a finite number > 0 (e.g. 10)")
        if self.num_negatives < 0:
            raise bad("num_negatives", "an integer >= 0")
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
            if int(getattr(self, name)) < 1:
                raise bad(name, "an integer >= 1")
        if self.batch_size < 2 and self.loss in ("softmax", "mixed"):
            raise bad("batch_size", "an integer >= 2 (in-batch negatives need a batch)")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise bad("lr", "a finite number > 0 (e.g. 0.005)")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise bad("weight_decay", "a finite number >= 0")
        if self.examples_per_user is not None and self.examples_per_user < 1:
            raise bad("examples_per_user", "None (every event) or an integer >= 1 (e.g. 100)")
        if self.patience < 0:
            raise bad("patience", "an integer >= 0 (0: no early stopping)")
        if self.eval_users is not None and self.eval_users < 1:
            raise bad("eval_users", "None (all users) or an integer >= 1")
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, TowerConfig) else v
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TwoTowerConfig:
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise ValueError(
                f"unknown TwoTowerConfig field(s) {unknown}; allowed: {sorted(allowed)}"
            )
        kw: dict[str, Any] = dict(d)
        for tower in ("user", "item"):
            if tower in kw and not isinstance(kw[tower], TowerConfig):
                kw[tower] = TowerConfig.from_dict(kw[tower])
        return cls(**kw)


EpochCallback = Callable[["TwoTower", int, dict[str, Any]], None]


def _dist() -> tuple[int, int]:
    """(rank, world size) of an initialised torch.distributed group, else (0, 1)."""
    import torch.distributed as tdist

    if tdist.is_available() and tdist.is_initialized():
        return tdist.get_rank(), tdist.get_world_size()
    return 0, 1


def init_distributed() -> tuple[int, int]:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1): NCCL when this
    process has a GPU, gloo otherwise. Returns (rank, world size); (0, 1) when not under
    torchrun."""
    import torch.distributed as tdist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    if not tdist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        tdist.init_process_group(backend=backend)
    return tdist.get_rank(), tdist.get_world_size()


class _Step(nn.Module):
    """The towers under one ``forward`` (what DistributedDataParallel wraps)."""

    def __init__(self, net: TwoTowerNet) -> None:
        super().__init__()
        self.net = net

    def forward(
        self,
        user_feats: dict[str, torch.Tensor],
        item_feats: dict[str, torch.Tensor],
        neg_feats: dict[str, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        q = self.net.user(user_feats)
        p = self.net.item(item_feats)
        n = None if neg_feats is None else self.net.item(neg_feats)
        return q, p, n


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
        cfg = self.config
        if not isinstance(train, Interactions):
            raise TypeError(
                f"TwoTower.fit takes an Interactions log, not {type(train).__name__}; read one "
                "with embedrec.read_interactions"
            )
        if len(train) == 0:
            raise ValueError("the training log is empty; check the filters that produced it")
        if valid is not None and not (
            _same(valid.item_keys, train.item_keys) and _same(valid.user_keys, train.user_keys)
        ):
            raise ValueError(
                "valid does not share train's key tables; take both from one split "
                "(embedrec.eval.leave_last_out / random_holdout)"
            )
        rank, world = _dist()
        torch.manual_seed(cfg.seed)
        device = _device(cfg.device)
        self.user_keys_ = np.asarray(train.user_keys)
        self.item_keys_ = np.asarray(train.item_keys)
        n_items = len(self.item_keys_)
        self.item_counts_ = train.item_counts().astype(np.int64)
        self.user_encoder_ = TowerEncoder.fit(
            cfg.user,
            entity_keys=self.user_keys_,
            item_keys=self.item_keys_,
            table=user_table,
            key_column=user_key_column,
            pretrained=pretrained,
            entity_counts=train.user_counts().astype(np.int64),
        )
        self.item_encoder_ = TowerEncoder.fit(
            cfg.item,
            entity_keys=self.item_keys_,
            item_keys=self.item_keys_,
            table=item_table,
            key_column=item_key_column,
            pretrained=pretrained,
            entity_counts=self.item_counts_,
        )
        self._index_keys()
        offsets = train.user_offsets()
        self.user_items_ = [
            train.item[offsets[u] : offsets[u + 1]] for u in range(len(self.user_keys_))
        ]
        net = self._build_net()
        net.to(device)
        self.net_ = net
        step_module: nn.Module = _Step(net)
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel

            step_module = DistributedDataParallel(
                step_module, device_ids=[device.index] if device.type == "cuda" else None
            )
        loss_fn = RetrievalLoss(
            cfg.loss,
            temperature=cfg.temperature,
            logq=cfg.logq != "none" and cfg.loss in ("softmax", "mixed"),
            remove_accidental_hits=cfg.remove_accidental_hits,
            num_negatives=cfg.num_negatives,
            dssm_gamma=cfg.dssm_gamma,
        )
        params = [p for p in net.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        data = _TrainData.build(train, self, device, rank, world)
        freq_counts = CountFrequency(np.maximum(self.item_counts_, 0)).to(device)
        streaming = StreamingFrequencyEstimator() if cfg.logq == "streaming" else None
        rng = np.random.default_rng([cfg.seed, rank])
        start_epoch = 0
        best: tuple[float, int, dict[str, torch.Tensor]] | None = None
        bad_epochs = 0
        self.epoch_stats_ = []
        ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
        if ckpt is not None and resume and (ckpt / "state.json").exists():
            start_epoch, best, bad_epochs, rng = self._load_checkpoint(ckpt, opt, device, rank)
        n_batches = data.n_batches(cfg.batch_size, cfg.examples_per_user)
        if world > 1:
            import torch.distributed as tdist

            nb = torch.tensor([n_batches], device=device)
            tdist.all_reduce(nb, op=tdist.ReduceOp.MIN)
            n_batches = int(nb.item())
        eval_users = self._eval_users(valid)
        global_step = start_epoch * n_batches
        stop = False
        for epoch in range(start_epoch, cfg.epochs):
            if stop:
                break
            net.train()
            bar = Progress(
                n_batches * cfg.batch_size,
                f"two-tower epoch {epoch + 1}/{cfg.epochs}",
                "samples",
                enabled=progress and rank == 0,
            )
            order = data.epoch_order(rng, cfg.examples_per_user)
            total, seen = 0.0, 0
            t0 = time.perf_counter()
            for b in range(n_batches):
                ev = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                if len(ev) < 2 and cfg.loss in ("softmax", "mixed"):
                    continue
                user_feats, item_feats, pos_ids = data.batch(ev)
                neg_ids = self._negatives(rng, len(ev), n_items, device)
                neg_feats = None if neg_ids is None else data.item_feats(neg_ids.reshape(-1))
                q, p, n = step_module(user_feats, item_feats, neg_feats)
                log_q_pos = log_q_neg = None
                if cfg.loss in ("softmax", "mixed") and cfg.logq != "none":
                    if streaming is not None:
                        streaming.update(pos_ids.cpu(), global_step)
                        per_draw = streaming.log_q(pos_ids.cpu()).to(device)
                        log_q_pos = per_draw
                    else:
                        per_draw = freq_counts.log_q(pos_ids)
                        # log of the expected number of draws of each column's item in the
                        # batch, so in-batch and uniform columns are on one scale
                        log_q_pos = per_draw + math.log(len(ev))
                    if neg_ids is not None:
                        log_q_neg = torch.full(
                            (neg_ids.numel(),),
                            math.log(cfg.num_negatives / n_items),
                            device=device,
                        )
                if n is not None and cfg.loss in ("dssm", "bce"):
                    n = n.view(len(ev), cfg.num_negatives, -1)
                loss = loss_fn(
                    q,
                    p,
                    pos_ids,
                    neg=n,
                    neg_ids=None if neg_ids is None else neg_ids.reshape(-1),
                    log_q_pos=log_q_pos,
                    log_q_neg=log_q_neg,
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                global_step += 1
                lv = float(loss.detach())
                total += lv * len(ev)
                seen += len(ev)
                bar.update(len(ev), loss=lv)
            bar.close()
            elapsed = time.perf_counter() - t0
            stats: dict[str, Any] = {
                "epoch": epoch + 1,
                "loss": total / max(seen, 1),
                "samples_per_s": seen * world / max(elapsed, 1e-9),
                "seconds": elapsed,
                "world_size": world,
            }
            metric = self._validate(valid, eval_users, rank) if valid is not None else None
            if metric is not None:
                stats[self.valid_metric_name] = metric
            # rank 0 decides; every rank follows
            improved, stop = False, False
            if rank == 0:
                if metric is not None:
                    if best is None or metric > best[0]:
                        best = (metric, epoch + 1, _state_copy(net))
                        bad_epochs, improved = 0, True
                    else:
                        bad_epochs += 1
                        stop = cfg.patience > 0 and bad_epochs >= cfg.patience
            stop = _broadcast_flag(stop, device, world)
            self.epoch_stats_.append(stats)
            if rank == 0:
                logger.info(
                    "two-tower epoch %d/%d: loss %.4f, %.0f samples/s%s%s",
                    epoch + 1,
                    cfg.epochs,
                    stats["loss"],
                    stats["samples_per_s"],
                    "" if metric is None else f", {self.valid_metric_name} {metric:.4f}",
                    " (best)" if improved else "",
                )
                if ckpt is not None:
                    self._save_checkpoint(ckpt, opt, epoch + 1, best, bad_epochs, rng)
            if world > 1:
                import torch.distributed as tdist

                tdist.barrier()
            for cb in callbacks:
                cb(self, epoch + 1, stats)
        if best is not None:
            net.load_state_dict(best[2])
            self.best_epoch_ = best[1]
        if world > 1:
            # every rank ends with rank 0's choice of weights
            import torch.distributed as tdist

            for t in net.state_dict().values():
                tdist.broadcast(t, src=0)
        net.to("cpu")
        net.eval()
        self._refresh_items()
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
        self._user_index = {_py(k): i for i, k in enumerate(self.user_keys_.tolist())}
        self._item_index = {_py(k): i for i, k in enumerate(self.item_keys_.tolist())}
        self._user_static = _with_default_row(self.user_encoder_)
        self._item_static = _with_default_row(self.item_encoder_)

    def _negatives(
        self, rng: np.random.Generator, batch: int, n_items: int, device: torch.device
    ) -> torch.Tensor | None:
        cfg = self.config
        if cfg.loss == "mixed":
            ids = rng.integers(0, n_items, size=cfg.num_negatives)
        elif cfg.loss in ("dssm", "bce"):
            ids = rng.integers(0, n_items, size=(batch, cfg.num_negatives))
        else:
            return None
        return torch.as_tensor(ids, dtype=torch.long, device=device)

    def _eval_users(self, valid: Interactions | None) -> list[Key] | None:
        cfg = self.config
        if valid is None or cfg.eval_users is None:
            return None
        users = np.unique(valid.user)
        if len(users) <= cfg.eval_users:
            return None
        rng = np.random.default_rng([cfg.seed, 7])
        pick = np.sort(rng.choice(users, size=cfg.eval_users, replace=False))
        assert self.user_keys_ is not None
        return [_py(k) for k in self.user_keys_[pick].tolist()]

    def _validate(self, valid: Interactions, users: list[Key] | None, rank: int) -> float | None:
        if rank != 0:
            return None
        from ...eval.evaluate import evaluate

        assert self.net_ is not None
        self.net_.eval()
        self._refresh_items()
        k = self.config.eval_k
        res = evaluate(self, self._train_view(), valid, ks=(k,), users=users)
        self.net_.train()
        return float(res.metrics[f"{self.config.eval_metric}@{k}"])

    def _train_view(self) -> Interactions:
        """The training log as evaluation needs it (histories and seen items)."""
        assert self.user_keys_ is not None and self.item_keys_ is not None
        lengths = np.array([len(x) for x in self.user_items_], dtype=np.int64)
        users = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
        items = (
            np.concatenate(self.user_items_).astype(np.int32)
            if len(lengths)
            else np.zeros(0, np.int32)
        )
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        times = (np.arange(len(items)) - starts).astype(np.float64)
        return Interactions(self.user_keys_, self.item_keys_, users, items, times)

    def add_history(self, events: Interactions) -> TwoTower:
        """Append ``events`` (same key tables as the training log, e.g. a split's
        validation part) to the users' stored histories, which :meth:`recommend` uses for a
        user given by key alone. The weights do not change."""
        if self.user_keys_ is None or self.item_keys_ is None:
            raise RuntimeError("TwoTower is not fitted yet; call .fit(train) first")
        if not (
            _same(events.user_keys, self.user_keys_) and _same(events.item_keys, self.item_keys_)
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
                feats = _to_torch({k: v[idx] for k, v in self._item_static.items()}, device)
                out[s : s + len(idx)] = net.item(feats).float().cpu().numpy()
        keys = [_py(k) for k in self.item_keys_.tolist()]
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
            out: npt.NDArray[np.float32] = net.user(_to_torch(feats, device)).float().cpu().numpy()
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
        rows = np.array([self._item_index.get(_py(c), -1) for c in np.asarray(candidates)])
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
        from ...index.topk import top_k_exact

        emb = self._emb()
        k = Embeddings._check_k(k)
        q = self.user_vectors(histories, users=users, features=features)
        n = q.shape[0]
        scores = q @ emb.vectors.T
        unknown: list[list[Any]] = [[] for _ in range(n)]
        for j in range(n):
            if histories is not None:
                hist = list(histories[j])
                rows = [self._item_index.get(_py(h), -1) for h in hist]
                unknown[j] = [h for h, r in zip(hist, rows, strict=True) if r < 0]
                seen = np.array([r for r in rows if r >= 0], dtype=np.int64)
            elif users is not None and users[j] is not None:
                c = self._user_index.get(_py(users[j]), -1)
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
            write_json(tmp / "user_keys.json", [_py(k) for k in self.user_keys_.tolist()])
            write_npy(
                tmp / "user_items.npy",
                np.concatenate(self.user_items_).astype(np.int32)
                if len(lengths)
                else np.zeros(0, np.int32),
            )
            write_npy(tmp / "user_offsets.npy", np.concatenate([[0], np.cumsum(lengths)]))
            write_json(tmp / "user_encoder.json", ue.to_dict())
            write_json(tmp / "item_encoder.json", ie.to_dict())
            _write_npz(tmp / "user_tower.npz", net.user_tower.state_dict())
            _write_npz(tmp / "item_tower.npz", net.item_tower.state_dict())
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
        model.item_keys_ = _key_array(list(keys))
        model.item_counts_ = read_npy(path / "counts.npy").astype(np.int64)
        model.user_keys_ = _key_array(read_json(path / "user_keys.json"))
        items = read_npy(path / "user_items.npy")
        offs = read_npy(path / "user_offsets.npy")
        if len(offs) != len(model.user_keys_) + 1 or offs[-1] != len(items):
            raise ValueError(f"{path}: user_offsets.npy does not match user_keys.json; re-save")
        model.user_items_ = [items[offs[u] : offs[u + 1]] for u in range(len(offs) - 1)]
        model.user_encoder_ = TowerEncoder.from_dict(read_json(path / "user_encoder.json"))
        model.item_encoder_ = TowerEncoder.from_dict(read_json(path / "item_encoder.json"))
        user_w, item_w = _read_npz(path / "user_tower.npz"), _read_npz(path / "item_tower.npz")
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

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(
        self,
        ckpt: Path,
        opt: torch.optim.Optimizer,
        epoch: int,
        best: tuple[float, int, dict[str, torch.Tensor]] | None,
        bad_epochs: int,
        rng: np.random.Generator,
    ) -> None:
        assert self.net_ is not None
        with atomic_dir(ckpt) as tmp:
            _write_npz(tmp / "weights.npz", self.net_.state_dict())
            if best is not None:
                _write_npz(tmp / "best_weights.npz", best[2])
            st = opt.state_dict()
            arrays: dict[str, torch.Tensor] = {}
            scalars: dict[str, Any] = {}
            for pid, pstate in st["state"].items():
                for name, v in pstate.items():
                    if torch.is_tensor(v):
                        arrays[f"{pid}.{name}"] = v
                    else:
                        scalars[f"{pid}.{name}"] = v
            _write_npz(tmp / "optimizer.npz", arrays)
            write_npy(tmp / "torch_rng.npy", torch.get_rng_state().numpy())
            write_json(
                tmp / "state.json",
                {
                    "epoch": epoch,
                    "best_metric": None if best is None else best[0],
                    "best_epoch": None if best is None else best[1],
                    "bad_epochs": bad_epochs,
                    "rng": _jsonable_rng(rng),
                    "param_groups": st["param_groups"],
                    "optimizer_scalars": scalars,
                    "epoch_stats": self.epoch_stats_,
                },
            )
            write_json(tmp / "manifest.json", make_manifest("TwoTowerCheckpoint", epoch=epoch))

    def _load_checkpoint(
        self, ckpt: Path, opt: torch.optim.Optimizer, device: torch.device, rank: int
    ) -> tuple[int, tuple[float, int, dict[str, torch.Tensor]] | None, int, np.random.Generator]:
        assert self.net_ is not None
        read_manifest(ckpt, "TwoTowerCheckpoint")
        state = json.loads((ckpt / "state.json").read_text("utf-8"))
        self.net_.load_state_dict(_read_npz(ckpt / "weights.npz"))
        arrays = _read_npz(ckpt / "optimizer.npz")
        opt_state: dict[int, dict[str, Any]] = {}
        for key, v in arrays.items():
            pid, name = key.split(".", 1)
            opt_state.setdefault(int(pid), {})[name] = v.to(device)
        for key, v in state["optimizer_scalars"].items():
            pid, name = key.split(".", 1)
            opt_state.setdefault(int(pid), {})[name] = v
        opt.load_state_dict({"state": opt_state, "param_groups": state["param_groups"]})
        torch.set_rng_state(torch.from_numpy(read_npy(ckpt / "torch_rng.npy").astype(np.uint8)))
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        if rank != 0:
            # each rank's stream differs; offset it deterministically from rank 0's
            rng = np.random.default_rng([self.config.seed, rank, int(state["epoch"])])
        best = None
        if state["best_metric"] is not None and (ckpt / "best_weights.npz").exists():
            best = (
                float(state["best_metric"]),
                int(state["best_epoch"]),
                _read_npz(ckpt / "best_weights.npz"),
            )
        self.epoch_stats_ = list(state.get("epoch_stats") or [])
        logger.info("two-tower: resuming after epoch %d from %s", state["epoch"], ckpt)
        return int(state["epoch"]), best, int(state["bad_epochs"]), rng


@dataclass
class _TrainData:
    """Device tensors a training batch is gathered from."""

    user: torch.Tensor  # (n_examples,) user code
    item: torch.Tensor  # (n_examples,) item code
    event: npt.NDArray[np.int64]  # (n_examples,) position in the log
    event_user: npt.NDArray[np.int64]  # (n_examples,) user code, on the host
    log_item: npt.NDArray[np.int64]  # (n_events,) item code of every event of the log
    user_start: npt.NDArray[np.int64]  # (n_events,) first event of the event's user
    user_end: npt.NDArray[np.int64]  # (n_events,) one past the user's last event
    user_static: dict[str, torch.Tensor]
    item_static: dict[str, torch.Tensor]
    history_name: str | None
    max_len: int
    mode: str
    device: torch.device

    @property
    def n_examples(self) -> int:
        return int(self.user.shape[0])

    def n_batches(self, batch_size: int, per_user: int | None = None) -> int:
        n = self.n_examples
        if per_user is not None:
            _, counts = np.unique(self.event_user, return_counts=True)
            n = int(np.minimum(counts, per_user).sum())
        return max(1, -(-n // batch_size))

    def epoch_order(self, rng: np.random.Generator, per_user: int | None) -> npt.NDArray[np.int64]:
        """This epoch's examples in random order: all, or a random ``per_user`` of each user's."""
        n = self.n_examples
        if per_user is None:
            return rng.permutation(n).astype(np.int64)
        # sort by (user, random key): each user's first ``per_user`` are a uniform subset
        by_user = np.lexsort((rng.random(n), self.event_user))
        users = self.event_user[by_user]
        first = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        rank = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
        return rng.permutation(by_user[rank < per_user]).astype(np.int64)

    @classmethod
    def build(
        cls, train: Interactions, model: TwoTower, device: torch.device, rank: int, world: int
    ) -> _TrainData:
        assert model._user_static is not None and model._item_static is not None
        users = train.user.astype(np.int64)
        mine = np.flatnonzero(users % world == rank) if world > 1 else np.arange(len(users))
        offsets = train.user_offsets()
        counts = np.diff(offsets)
        start = np.repeat(offsets[:-1], counts)
        hist = [f for f in model.config.user.features if f.kind == "history"]
        return cls(
            user=torch.as_tensor(users[mine], device=device),
            item=torch.as_tensor(train.item[mine].astype(np.int64), device=device),
            event=mine.astype(np.int64),
            event_user=users[mine],
            log_item=train.item.astype(np.int64),
            user_start=start.astype(np.int64),
            user_end=(start + np.repeat(counts, counts)).astype(np.int64),
            user_static=_to_torch(model._user_static, device),
            item_static=_to_torch(model._item_static, device),
            history_name=hist[0].name if hist else None,
            max_len=hist[0].max_len if hist else 0,
            mode=model.config.history_mode,
            device=device,
        )

    def item_feats(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v[codes] for k, v in self.item_static.items()}

    def batch(
        self, ex: npt.NDArray[np.int64]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
        ex_t = torch.as_tensor(ex, device=self.device)
        u = self.user[ex_t]
        i = self.item[ex_t]
        user_feats = {k: v[u] for k, v in self.user_static.items()}
        if self.history_name is not None:
            user_feats[self.history_name] = torch.as_tensor(
                self._histories(self.event[ex]), device=self.device
            )
        return user_feats, self.item_feats(i), i

    def _histories(self, ev: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """(n, max_len) history rows (item code + 2), most recent last, 0-padded left."""
        L = self.max_len
        s, e = self.user_start[ev], self.user_end[ev]
        if self.mode == "prefix":
            pos = ev[:, None] - L + np.arange(L)[None, :]
            valid = pos >= s[:, None]
        else:
            pos = e[:, None] - (L + 1) + np.arange(L + 1)[None, :]
            valid = (pos >= s[:, None]) & (pos != ev[:, None])
            # keep the L most recent: drop the oldest where all L + 1 remain
            full = valid.sum(1) == L + 1
            valid[full, 0] = False
            # left-align the padding (a stable sort puts invalid slots first)
            order = np.argsort(valid, axis=1, kind="stable")
            pos = np.take_along_axis(pos, order, 1)[:, 1:]
            valid = np.take_along_axis(valid, order, 1)[:, 1:]
        rows = np.where(valid, self.log_item[np.clip(pos, 0, None)] + 2, 0)
        return rows.astype(np.int64)


# ---------------------------------------------------------------------- helpers
def _device(choice: str) -> torch.device:
    rank_local = int(os.environ.get("LOCAL_RANK", "0"))
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("TwoTowerConfig.device='cuda' but torch sees no GPU; use 'auto'")
        return torch.device("cuda", rank_local % max(torch.cuda.device_count(), 1))
    return torch.device("cpu")


def _broadcast_flag(flag: bool, device: torch.device, world: int) -> bool:
    if world <= 1:
        return flag
    import torch.distributed as tdist

    t = torch.tensor([1 if flag else 0], device=device)
    tdist.broadcast(t, src=0)
    return bool(t.item())


def _state_copy(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _to_torch(
    arrays: Mapping[str, npt.NDArray[Any]], device: torch.device
) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(np.ascontiguousarray(v), device=device) for k, v in arrays.items()}


def _with_default_row(enc: TowerEncoder) -> dict[str, npt.NDArray[Any]]:
    """Every entity's static features plus one last row for an unknown entity (index -1)."""
    static = enc.encode_entities()
    default = enc.encode_records([{}])
    return {
        k: np.concatenate([v, default[k].astype(v.dtype)])
        for k, v in static.items()
        if k in default
    }


def _write_npz(path: Path, state: Mapping[str, torch.Tensor]) -> None:
    from ..._io import atomic_open

    arrays = {k: v.detach().cpu().numpy() for k, v in state.items()}
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def _read_npz(path: Path) -> dict[str, torch.Tensor]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: torch.from_numpy(np.array(z[k])) for k in z.files}
    except (ValueError, OSError, MemoryError, EOFError) as exc:
        raise ValueError(f"{path} is not a valid weights file ({exc}); re-save the model") from exc


def _jsonable_rng(rng: np.random.Generator) -> dict[str, Any]:
    return dict(rng.bit_generator.state)


def _same(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    return a is b or (len(a) == len(b) and bool(np.array_equal(a, b)))


__all__ = [
    "TwoTower",
    "TwoTowerConfig",
    "default_item_tower",
    "default_user_tower",
    "init_distributed",
]

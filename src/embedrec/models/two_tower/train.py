"""Training of a :class:`~embedrec.models.two_tower.model.TwoTower`: the steps of ``fit``.

``TwoTower.fit`` calls :func:`fit_two_tower`, which runs these named steps in order:

1. :func:`check_logs`: the training log (and the validation log's key tables);
2. :func:`prepare_model`: fit the encoders, index the keys, store each user's items and
   build the towers (data preparation);
3. :class:`TrainRun`: the optimizer, loss, device tensors (:class:`TrainData`), frequency
   estimators and RNG of one run; :meth:`TrainRun.train_epoch` is one pass over the
   examples (the epoch loop's body);
4. :func:`validate` and :meth:`TrainRun.end_epoch`: the validation metric and early stopping
   (rank 0 decides, every rank follows);
5. :func:`save_checkpoint` / :func:`load_checkpoint`: an atomic checkpoint after every
   epoch, and exact resume from it;
6. :meth:`TrainRun.finish`: the best epoch's weights on every rank, the item embeddings.

Training runs in one process or, unchanged, under ``torchrun`` with DistributedDataParallel
(gloo on CPU, NCCL on GPU, :func:`init_distributed`): each rank trains on the events of its
own users (sharding by user, never inside a sequence); rank 0 alone evaluates and writes.

This module imports torch at module level; :mod:`~embedrec.models.two_tower.model` imports
it, never the other way round (the model is passed in).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from ..._io import atomic_dir, make_manifest, read_manifest, read_npy, write_json, write_npy
from ...data.interactions import Interactions
from ...keys import plain
from ...progress import Progress
from ...vectors import Embeddings, Key
from .encoder import TowerEncoder
from .losses import CountFrequency, RetrievalLoss, StreamingFrequencyEstimator
from .towers import TwoTowerNet, read_state, to_tensors, write_state

if TYPE_CHECKING:  # pragma: no cover
    from .model import TwoTower

__all__ = [
    "EpochCallback",
    "TrainData",
    "TrainRun",
    "check_logs",
    "fit_two_tower",
    "init_distributed",
    "load_checkpoint",
    "pick_eval_users",
    "prepare_model",
    "rank_and_world",
    "same_key_table",
    "save_checkpoint",
    "train_device",
    "train_view",
    "validate",
]

logger = logging.getLogger("embedrec")

EpochCallback = Callable[["TwoTower", int, dict[str, Any]], None]
#: (best validation metric, its epoch, the weights of that epoch)
Best = tuple[float, int, dict[str, torch.Tensor]]


# ---------------------------------------------------------------------- the whole fit
def fit_two_tower(
    model: TwoTower,
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
) -> None:
    """Train ``model`` on the events of ``train`` (the body of ``TwoTower.fit``, whose
    docstring describes the parameters)."""
    cfg = model.config
    check_logs(train, valid)
    rank, world = rank_and_world()
    torch.manual_seed(cfg.seed)
    device = train_device(cfg.device)
    prepare_model(
        model,
        train,
        user_table=user_table,
        item_table=item_table,
        user_key_column=user_key_column,
        item_key_column=item_key_column,
        pretrained=pretrained,
    )
    run = TrainRun.start(model, train, device, rank, world)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None and resume and (ckpt / "state.json").exists():
        load_checkpoint(model, run, ckpt)
    run.agree_on_batches()
    eval_users = pick_eval_users(model, valid)
    for epoch in range(run.start_epoch, cfg.epochs):
        stats = run.train_epoch(epoch, progress=progress)
        metric = validate(model, valid, eval_users, rank) if valid is not None else None
        if metric is not None:
            stats[model.valid_metric_name] = metric
        improved = run.end_epoch(epoch, metric)
        model.epoch_stats_.append(stats)
        if rank == 0:
            logger.info(
                "two-tower epoch %d/%d: loss %.4f, %.0f samples/s%s%s",
                epoch + 1,
                cfg.epochs,
                stats["loss"],
                stats["samples_per_s"],
                "" if metric is None else f", {model.valid_metric_name} {metric:.4f}",
                " (best)" if improved else "",
            )
            if ckpt is not None:
                save_checkpoint(model, run, ckpt, epoch + 1)
        if world > 1:
            import torch.distributed as tdist

            tdist.barrier()
        for cb in callbacks:
            cb(model, epoch + 1, stats)
        if run.stop:
            break
    run.finish()


# ---------------------------------------------------------------------- 1. inputs
def check_logs(train: Interactions, valid: Interactions | None) -> None:
    """Refuse a training log that is not an ``Interactions`` or is empty, and a validation
    log with other key tables."""
    if not isinstance(train, Interactions):
        raise TypeError(
            f"TwoTower.fit takes an Interactions log, not {type(train).__name__}; read one "
            "with embedrec.read_interactions"
        )
    if len(train) == 0:
        raise ValueError("the training log is empty; check the filters that produced it")
    if valid is not None and not (
        same_key_table(valid.item_keys, train.item_keys)
        and same_key_table(valid.user_keys, train.user_keys)
    ):
        raise ValueError(
            "valid does not share train's key tables; take both from one split "
            "(embedrec.eval.leave_last_out / random_holdout)"
        )


def same_key_table(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    """Whether two key tables (code -> key arrays) are the same table."""
    return a is b or (len(a) == len(b) and bool(np.array_equal(a, b)))


# ---------------------------------------------------------------------- 2. data preparation
def prepare_model(
    model: TwoTower,
    train: Interactions,
    *,
    user_table: Any,
    item_table: Any,
    user_key_column: str,
    item_key_column: str,
    pretrained: Mapping[str, Embeddings] | None,
) -> None:
    """Fit the user and item encoders on ``train`` and the side tables, index the keys, store
    each user's training items and build fresh towers (``model.net_``, on the CPU)."""
    cfg = model.config
    model.user_keys_ = np.asarray(train.user_keys)
    model.item_keys_ = np.asarray(train.item_keys)
    model.item_counts_ = train.item_counts().astype(np.int64)
    model.user_encoder_ = TowerEncoder.fit(
        cfg.user,
        entity_keys=model.user_keys_,
        item_keys=model.item_keys_,
        table=user_table,
        key_column=user_key_column,
        pretrained=pretrained,
        entity_counts=train.user_counts().astype(np.int64),
    )
    model.item_encoder_ = TowerEncoder.fit(
        cfg.item,
        entity_keys=model.item_keys_,
        item_keys=model.item_keys_,
        table=item_table,
        key_column=item_key_column,
        pretrained=pretrained,
        entity_counts=model.item_counts_,
    )
    model._index_keys()
    offsets = train.user_offsets()
    model.user_items_ = [
        train.item[offsets[u] : offsets[u + 1]] for u in range(len(model.user_keys_))
    ]
    model.net_ = model._build_net()


# ---------------------------------------------------------------------- distribution
def rank_and_world() -> tuple[int, int]:
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


def train_device(choice: str) -> torch.device:
    """The device of ``TwoTowerConfig.device`` for this process (its ``LOCAL_RANK``'s GPU)."""
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


# ---------------------------------------------------------------------- 3. one run, epoch loop
class TrainRun:
    """The state of one training run: optimizer, loss, batches, RNG, best weights.

    Build it with :meth:`start`; :func:`load_checkpoint` may then restore a run's state.
    """

    def __init__(
        self,
        model: TwoTower,
        *,
        net: TwoTowerNet,
        step_module: nn.Module,
        loss_fn: RetrievalLoss,
        opt: torch.optim.Optimizer,
        data: TrainData,
        freq_counts: CountFrequency,
        streaming: StreamingFrequencyEstimator | None,
        rng: np.random.Generator,
        device: torch.device,
        rank: int,
        world: int,
    ) -> None:
        self.model = model
        self.net = net
        self.step_module = step_module
        self.loss_fn = loss_fn
        self.opt = opt
        self.data = data
        self.freq_counts = freq_counts
        self.streaming = streaming
        self.rng = rng
        self.device = device
        self.rank = rank
        self.world = world
        assert model.item_keys_ is not None
        self.n_items = len(model.item_keys_)
        self.start_epoch = 0
        self.best: Best | None = None
        self.bad_epochs = 0
        self.stop = False
        self.n_batches = 0
        self.global_step = 0

    @classmethod
    def start(
        cls, model: TwoTower, train: Interactions, device: torch.device, rank: int, world: int
    ) -> TrainRun:
        """Move the prepared towers to ``device`` (under DDP when ``world > 1``) and build
        the loss, the AdamW optimizer, the batch tensors and the frequency estimators."""
        cfg = model.config
        net = model.net_
        assert net is not None and model.item_counts_ is not None
        net.to(device)
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
        data = TrainData.build(train, model, device, rank, world)
        freq_counts = CountFrequency(np.maximum(model.item_counts_, 0)).to(device)
        streaming = StreamingFrequencyEstimator() if cfg.logq == "streaming" else None
        rng = np.random.default_rng([cfg.seed, rank])
        model.epoch_stats_ = []
        return cls(
            model,
            net=net,
            step_module=step_module,
            loss_fn=loss_fn,
            opt=opt,
            data=data,
            freq_counts=freq_counts,
            streaming=streaming,
            rng=rng,
            device=device,
            rank=rank,
            world=world,
        )

    def agree_on_batches(self) -> None:
        """Batches per epoch (the fewest of any rank, so every rank steps together) and the
        global step the (possibly resumed) run starts at."""
        cfg = self.model.config
        n_batches = self.data.n_batches(cfg.batch_size, cfg.examples_per_user)
        if self.world > 1:
            import torch.distributed as tdist

            nb = torch.tensor([n_batches], device=self.device)
            tdist.all_reduce(nb, op=tdist.ReduceOp.MIN)
            n_batches = int(nb.item())
        self.n_batches = n_batches
        self.global_step = self.start_epoch * n_batches

    def negatives(self, batch: int) -> torch.Tensor | None:
        """Uniformly sampled item codes: ``(num_negatives,)`` per batch for ``mixed``,
        ``(batch, num_negatives)`` for ``dssm`` and ``bce``; None for ``softmax``."""
        cfg = self.model.config
        if cfg.loss == "mixed":
            ids = self.rng.integers(0, self.n_items, size=cfg.num_negatives)
        elif cfg.loss in ("dssm", "bce"):
            ids = self.rng.integers(0, self.n_items, size=(batch, cfg.num_negatives))
        else:
            return None
        return torch.as_tensor(ids, dtype=torch.long, device=self.device)

    def train_epoch(self, epoch: int, *, progress: bool) -> dict[str, Any]:
        """One pass over this rank's examples (epoch ``epoch``, 0-based); the epoch's stats."""
        cfg = self.model.config
        self.net.train()
        bar = Progress(
            self.n_batches * cfg.batch_size,
            f"two-tower epoch {epoch + 1}/{cfg.epochs}",
            "samples",
            enabled=progress and self.rank == 0,
        )
        order = self.data.epoch_order(self.rng, cfg.examples_per_user)
        total, seen = 0.0, 0
        t0 = time.perf_counter()
        for b in range(self.n_batches):
            ev = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            if len(ev) < 2 and cfg.loss in ("softmax", "mixed"):
                continue
            lv = self._step(ev)
            total += lv * len(ev)
            seen += len(ev)
            bar.update(len(ev), loss=lv)
        bar.close()
        elapsed = time.perf_counter() - t0
        return {
            "epoch": epoch + 1,
            "loss": total / max(seen, 1),
            "samples_per_s": seen * self.world / max(elapsed, 1e-9),
            "seconds": elapsed,
            "world_size": self.world,
        }

    def _step(self, ev: npt.NDArray[np.int64]) -> float:
        """One optimizer step on the examples ``ev``; the batch's loss."""
        cfg = self.model.config
        device = self.device
        data = self.data
        user_feats, item_feats, pos_ids = data.batch(ev)
        neg_ids = self.negatives(len(ev))
        neg_feats = None if neg_ids is None else data.item_feats(neg_ids.reshape(-1))
        q, p, n = self.step_module(user_feats, item_feats, neg_feats)
        log_q_pos = log_q_neg = None
        if cfg.loss in ("softmax", "mixed") and cfg.logq != "none":
            if self.streaming is not None:
                self.streaming.update(pos_ids.cpu(), self.global_step)
                per_draw = self.streaming.log_q(pos_ids.cpu()).to(device)
                log_q_pos = per_draw
            else:
                per_draw = self.freq_counts.log_q(pos_ids)
                # log of the expected number of draws of each column's item in the
                # batch, so in-batch and uniform columns are on one scale
                log_q_pos = per_draw + math.log(len(ev))
            if neg_ids is not None:
                log_q_neg = torch.full(
                    (neg_ids.numel(),),
                    math.log(cfg.num_negatives / self.n_items),
                    device=device,
                )
        if n is not None and cfg.loss in ("dssm", "bce"):
            n = n.view(len(ev), cfg.num_negatives, -1)
        loss = self.loss_fn(
            q,
            p,
            pos_ids,
            neg=n,
            neg_ids=None if neg_ids is None else neg_ids.reshape(-1),
            log_q_pos=log_q_pos,
            log_q_neg=log_q_neg,
        )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.global_step += 1
        return float(loss.detach())

    # ------------------------------------------------------------------ 4. early stopping
    def end_epoch(self, epoch: int, metric: float | None) -> bool:
        """Keep the best weights and decide whether to stop (rank 0 decides; every rank
        follows, :attr:`stop`). Returns whether ``metric`` improved on the best."""
        cfg = self.model.config
        improved, stop = False, False
        if self.rank == 0 and metric is not None:
            if self.best is None or metric > self.best[0]:
                self.best = (metric, epoch + 1, _state_copy(self.net))
                self.bad_epochs, improved = 0, True
            else:
                self.bad_epochs += 1
                stop = cfg.patience > 0 and self.bad_epochs >= cfg.patience
        self.stop = _broadcast_flag(stop, self.device, self.world)
        return improved

    # ------------------------------------------------------------------ 6. the end
    def finish(self) -> None:
        """Load the best epoch's weights (rank 0's choice, on every rank), move the towers
        to the CPU in eval mode and compute the item embeddings."""
        net = self.net
        if self.best is not None:
            net.load_state_dict(self.best[2])
            self.model.best_epoch_ = self.best[1]
        if self.world > 1:
            # every rank ends with rank 0's choice of weights
            import torch.distributed as tdist

            for t in net.state_dict().values():
                tdist.broadcast(t, src=0)
        net.to("cpu")
        net.eval()
        self.model._refresh_items()


def _state_copy(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


# ---------------------------------------------------------------------- 4. validation
def pick_eval_users(model: TwoTower, valid: Interactions | None) -> list[Key] | None:
    """The (seeded, random) ``eval_users`` users validation ranks for; None: all."""
    cfg = model.config
    if valid is None or cfg.eval_users is None:
        return None
    users = np.unique(valid.user)
    if len(users) <= cfg.eval_users:
        return None
    rng = np.random.default_rng([cfg.seed, 7])
    pick = np.sort(rng.choice(users, size=cfg.eval_users, replace=False))
    assert model.user_keys_ is not None
    return [plain(k) for k in model.user_keys_[pick].tolist()]


def validate(
    model: TwoTower, valid: Interactions, users: list[Key] | None, rank: int
) -> float | None:
    """``eval_metric@eval_k`` of ``model`` on ``valid`` (full ranking, seen items excluded),
    computed on rank 0 alone (None on other ranks)."""
    if rank != 0:
        return None
    from ...eval.evaluate import evaluate

    assert model.net_ is not None
    model.net_.eval()
    model._refresh_items()
    k = model.config.eval_k
    res = evaluate(model, train_view(model), valid, ks=(k,), users=users)
    model.net_.train()
    return float(res.metrics[f"{model.config.eval_metric}@{k}"])


def train_view(model: TwoTower) -> Interactions:
    """The training log as evaluation needs it (histories and seen items)."""
    assert model.user_keys_ is not None and model.item_keys_ is not None
    lengths = np.array([len(x) for x in model.user_items_], dtype=np.int64)
    users = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)
    items = (
        np.concatenate(model.user_items_).astype(np.int32)
        if len(lengths)
        else np.zeros(0, np.int32)
    )
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    times = (np.arange(len(items)) - starts).astype(np.float64)
    return Interactions(model.user_keys_, model.item_keys_, users, items, times)


# ---------------------------------------------------------------------- 5. checkpoints
def save_checkpoint(model: TwoTower, run: TrainRun, ckpt: Path, epoch: int) -> None:
    """Write the run's state after ``epoch`` epochs to ``ckpt``, atomically: weights, best
    weights, optimizer state, torch and NumPy RNG states, early-stopping state, epoch stats."""
    assert model.net_ is not None
    best = run.best
    with atomic_dir(ckpt) as tmp:
        write_state(tmp / "weights.npz", model.net_.state_dict())
        if best is not None:
            write_state(tmp / "best_weights.npz", best[2])
        st = run.opt.state_dict()
        arrays: dict[str, torch.Tensor] = {}
        scalars: dict[str, Any] = {}
        for pid, pstate in st["state"].items():
            for name, v in pstate.items():
                if torch.is_tensor(v):
                    arrays[f"{pid}.{name}"] = v
                else:
                    scalars[f"{pid}.{name}"] = v
        write_state(tmp / "optimizer.npz", arrays)
        write_npy(tmp / "torch_rng.npy", torch.get_rng_state().numpy())
        write_json(
            tmp / "state.json",
            {
                "epoch": epoch,
                "best_metric": None if best is None else best[0],
                "best_epoch": None if best is None else best[1],
                "bad_epochs": run.bad_epochs,
                "rng": dict(run.rng.bit_generator.state),
                "param_groups": st["param_groups"],
                "optimizer_scalars": scalars,
                "epoch_stats": model.epoch_stats_,
            },
        )
        write_json(tmp / "manifest.json", make_manifest("TwoTowerCheckpoint", epoch=epoch))


def load_checkpoint(model: TwoTower, run: TrainRun, ckpt: Path) -> None:
    """Restore the state :func:`save_checkpoint` wrote into ``model`` and ``run`` (weights,
    optimizer, RNGs, best weights, epoch stats); the run continues after the saved epoch."""
    assert model.net_ is not None
    read_manifest(ckpt, "TwoTowerCheckpoint")
    state = json.loads((ckpt / "state.json").read_text("utf-8"))
    model.net_.load_state_dict(read_state(ckpt / "weights.npz"))
    arrays = read_state(ckpt / "optimizer.npz")
    opt_state: dict[int, dict[str, Any]] = {}
    for key, v in arrays.items():
        pid, name = key.split(".", 1)
        opt_state.setdefault(int(pid), {})[name] = v.to(run.device)
    for key, v in state["optimizer_scalars"].items():
        pid, name = key.split(".", 1)
        opt_state.setdefault(int(pid), {})[name] = v
    run.opt.load_state_dict({"state": opt_state, "param_groups": state["param_groups"]})
    torch.set_rng_state(torch.from_numpy(read_npy(ckpt / "torch_rng.npy").astype(np.uint8)))
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    if run.rank != 0:
        # each rank's stream differs; offset it deterministically from rank 0's
        rng = np.random.default_rng([model.config.seed, run.rank, int(state["epoch"])])
    best = None
    if state["best_metric"] is not None and (ckpt / "best_weights.npz").exists():
        best = (
            float(state["best_metric"]),
            int(state["best_epoch"]),
            read_state(ckpt / "best_weights.npz"),
        )
    model.epoch_stats_ = list(state.get("epoch_stats") or [])
    logger.info("two-tower: resuming after epoch %d from %s", state["epoch"], ckpt)
    run.start_epoch = int(state["epoch"])
    run.best = best
    run.bad_epochs = int(state["bad_epochs"])
    run.rng = rng


# ---------------------------------------------------------------------- batches
@dataclass
class TrainData:
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
    ) -> TrainData:
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
            user_static=to_tensors(model._user_static, device),
            item_static=to_tensors(model._item_static, device),
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

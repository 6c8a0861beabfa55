"""``embedrec two-tower train``: a two-tower model from one TOML file (plus overriding flags).

The file has up to five parts::

    out = "tt/"                      # output model directory (or --out)

    [data]                           # where the events and side tables come from
    dataset = "movielens-100k"       # or interactions = "ratings.csv" + the column keys below
    path = "../shared/data/movielens-100k"
    holdout = "leave-last-out"       # none | leave-last-out | temporal | random
    split_seed = 0
    # interactions, user_col, item_col, time_col, weight_col, sep, no_header, min_weight,
    # min_user_interactions, min_item_interactions, user_table, user_key, item_table, item_key

    [model]                          # TwoTowerConfig fields (loss, temperature, epochs, ...)
    epochs = 20

    [user]                           # TowerConfig of the user tower (hidden, output_dim, ...)
    [[user.features]]
    name = "user"
    kind = "id"

    [item]
    [[item.features]]
    name = "item"
    kind = "id"

Validation data (for early stopping) is the validation part of the split; the model is saved
with the holdout recorded, so ``embedrec eval`` refuses a leaky protocol.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from ._common import (
    State,
    build_config,
    check_out_dir,
    check_writable,
    echo_json,
    jsonable,
    load_toml,
)

logger = logging.getLogger("embedrec")

_DATA_KEYS = {
    "dataset",
    "path",
    "interactions",
    "user_col",
    "item_col",
    "time_col",
    "weight_col",
    "sep",
    "no_header",
    "min_weight",
    "min_user_interactions",
    "min_item_interactions",
    "holdout",
    "split_seed",
    "test_fraction",
    "user_table",
    "user_key",
    "item_table",
    "item_key",
}
_DATASETS = ("movielens-100k", "movielens-latest-small")
_HOLDOUTS = ("none", "leave-last-out", "temporal", "random")


def read_two_tower_file(path: Path) -> dict[str, Any]:
    """The parts of a two-tower TOML file, with unknown keys refused (naming the allowed)."""
    doc = load_toml(path)
    allowed = {"out", "data", "model", "user", "item"}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    data = doc.get("data", {})
    bad = sorted(set(data) - _DATA_KEYS)
    if bad:
        raise ValueError(f"{path}: unknown [data] key(s) {bad}; allowed: {sorted(_DATA_KEYS)}")
    return doc


def load_data(data: dict[str, Any], base: Path) -> tuple[Any, Any, Any]:
    """(Interactions, user table or None, item table or None) described by a [data] part.

    Relative paths are relative to ``base`` (the config file's folder).
    """
    from ..data import datasets as ds
    from ..data.interactions import read_interactions

    def rel(p: Any) -> Path:
        q = Path(str(p))
        return q if q.is_absolute() else base / q

    filters = {
        k: data[k]
        for k in ("min_user_interactions", "min_item_interactions")
        if data.get(k) is not None
    }
    dataset = data.get("dataset")
    if dataset is not None:
        path = rel(data["path"]) if data.get("path") else None
        if dataset == "movielens-100k":
            inter = ds.movielens_100k(path, min_rating=data.get("min_weight"), **filters)
            users = ds.movielens_100k_users(path)
            items = ds.movielens_100k_items(path)
        elif dataset == "movielens-latest-small":
            inter = ds.movielens_latest_small(path, min_rating=data.get("min_weight"), **filters)
            users = None
            items = ds.movielens_latest_small_items(path)
        else:
            raise ValueError(f"[data] dataset={dataset!r} is invalid; use one of {_DATASETS}")
        return inter, users, items
    if not data.get("interactions"):
        raise ValueError(
            "[data] needs `dataset` (one of " + ", ".join(_DATASETS) + ") or `interactions` "
            "(a CSV/TSV/Parquet path) with user_col and item_col"
        )
    kwargs: dict[str, Any] = {
        k: data[k] for k in ("user_col", "item_col", "time_col", "weight_col", "sep") if k in data
    }
    if data.get("no_header"):
        kwargs["has_header"] = False
    if data.get("min_weight") is not None:
        kwargs["min_weight"] = data["min_weight"]
    inter = read_interactions(rel(data["interactions"]), **kwargs, **filters)

    def table(name: str) -> Any:
        if not data.get(name):
            return None
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        p = rel(data[name])
        if p.suffix == ".parquet":
            return pq.read_table(p)
        delim = "\t" if p.suffix in (".tsv", ".tab") else ","
        return pcsv.read_csv(p, parse_options=pcsv.ParseOptions(delimiter=delim))

    return inter, table("user_table"), table("item_table")


@click.group(name="two-tower")
def two_tower() -> None:
    """Two-tower (DSSM-style) retrieval models on PyTorch (embedrec[torch])."""


@two_tower.command(name="train")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="TOML file: out, [data], [model], [user], [item] (see `embedrec two-tower --help`).",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Model directory.")
@click.option("--epochs", type=int, default=None, help="Override [model] epochs.")
@click.option("--seed", type=int, default=None, help="Override [model] seed.")
@click.option(
    "--checkpoint-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a checkpoint here after every epoch.",
)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --checkpoint-dir.")
@click.pass_obj
def two_tower_train(
    state: State,
    /,
    config_file: Path,
    out: Path | None,
    epochs: int | None,
    seed: int | None,
    checkpoint_dir: Path | None,
    resume: bool,
) -> None:
    """Train a two-tower model as the --config file describes; prints a JSON summary.

    Runs unchanged under `torchrun --nproc-per-node N -m embedrec two-tower train ...`
    (DistributedDataParallel; rank 0 writes the model).
    """
    from ..eval import split as sp
    from ..models.two_tower import require_torch

    require_torch("embedrec two-tower")
    from ..models.two_tower.model import TwoTower, TwoTowerConfig, init_distributed

    doc = read_two_tower_file(config_file)
    out = out or (Path(doc["out"]) if doc.get("out") else None)
    if out is None:
        raise ValueError(f'{config_file}: no output directory; give `out = "dir"` or --out DIR')
    model_values = dict(doc.get("model", {}))
    flags = {"epochs": epochs, "seed": seed}
    given = {name: value for name, value in flags.items() if value is not None}
    model_values.update(given)
    if "user" in doc:
        model_values["user"] = doc["user"]
    if "item" in doc:
        model_values["item"] = doc["item"]
    cfg = build_config(TwoTowerConfig, model_values, flags=given, config_file=config_file)
    rank, world = init_distributed()
    if rank == 0:
        check_out_dir(out)
        if checkpoint_dir is not None:
            check_writable(checkpoint_dir / "checkpoint", "--checkpoint-dir")
    data = dict(doc.get("data", {}))
    inter, users, items = load_data(data, config_file.parent)
    holdout = data.get("holdout", "leave-last-out")
    if holdout not in _HOLDOUTS:
        raise ValueError(f"[data] holdout={holdout!r} is invalid; use one of {_HOLDOUTS}")
    split_seed = int(data.get("split_seed", 0))
    valid = None
    if holdout == "leave-last-out":
        split = sp.leave_last_out(inter)
    elif holdout == "temporal":
        split = sp.temporal_split(inter)
    elif holdout == "random":
        split = sp.random_holdout(
            inter, test_fraction=float(data.get("test_fraction", 0.2)), seed=split_seed
        )
    else:
        split = None
    if split is not None:
        train, valid = split.train, (split.valid if len(split.valid) else None)
    else:
        train = inter
    t0 = time.perf_counter()
    model = TwoTower(cfg).fit(
        train,
        valid=valid,
        user_table=users,
        item_table=items,
        user_key_column=data.get("user_key", "user"),
        item_key_column=data.get("item_key", "item"),
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        progress=not state.quiet,
    )
    if split is not None and valid is not None:
        # the validation events chose the epoch; refit is not needed for evaluation, but the
        # model's histories should hold them (as Item2Vec's train_full does)
        model.add_history(split.valid)
    seconds = time.perf_counter() - t0
    model.metadata_ = {
        "config_file": str(config_file),
        "data": jsonable(data),
        "holdout": holdout,
        "split_seed": split_seed,
    }
    if rank == 0:
        model.save(out)
        logger.info("saved the model to %s", out)
        echo_json(
            {
                "out": str(out),
                "n_items": len(model.embeddings_) if model.embeddings_ is not None else 0,
                "n_users": 0 if model.user_keys_ is None else len(model.user_keys_),
                "holdout": holdout,
                "seconds": seconds,
                "best_epoch": model.best_epoch_,
                "epochs": model.epoch_stats_,
                "world_size": world,
            }
        )
    if world > 1:
        import torch.distributed as tdist

        tdist.barrier()
        tdist.destroy_process_group()
    sys.stdout.flush()

"""Leave-last-out: featured two-tower vs Item2Vec, paired per user.

Usage::

    python benchmarks/two_tower_paired.py ../shared/data --seeds 1 2 3 \
        [--dataset movielens-latest-small|movielens-100k] [--temperature T]

For each seed, trains Item2Vec (defaults) and the featured two-tower of
``two_tower_movielens.py`` (epochs chosen on the validation events, then refit) on the same
leave-last-out split, and compares their per-user HR@50 on the test events: the mean
difference, its paired standard error (users as the independent units) and how many users
only one of the two models hits. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import two_tower_movielens as tt


def main() -> None:
    from embedrec.eval import evaluate, leave_last_out
    from embedrec.models import Item2Vec, Item2VecConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="folder holding the MovieLens folders")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument(
        "--dataset",
        default="movielens-latest-small",
        choices=["movielens-latest-small", "movielens-100k"],
    )
    ap.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="softmax temperature (default: two_tower_movielens.py's leave-last-out one)",
    )
    args = ap.parse_args()
    dataset = args.dataset
    if args.temperature is not None:
        tt.TEMPERATURE["prefix"] = args.temperature
    inter = tt.load(args.data, dataset)
    users, items = tt.side_tables(args.data, dataset)
    split = leave_last_out(inter)
    full = split.train_full
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        i2v = Item2Vec(Item2VecConfig(workers=2, seed=seed)).fit(full, progress=False)
        a = evaluate(i2v, full, split.test, ks=(50,))
        cfg = tt.base_config(dataset, True, "prefix", seed, False)
        model, _ = tt.select_and_refit(cfg, split.train, split.valid, full, users, items)
        b = evaluate(model, full, split.test, ks=(50,))
        d = b.per_user["HR@50"] - a.per_user["HR@50"]
        row = {
            "seed": seed,
            "users": int(d.size),
            "two_tower_HR@50": b.metrics["HR@50"],
            "item2vec_HR@50": a.metrics["HR@50"],
            "difference": float(d.mean()),
            "paired_se": float(d.std(ddof=1) / np.sqrt(d.size)),
            "users_only_two_tower_hits": int((d > 0).sum()),
            "users_only_item2vec_hits": int((d < 0).sum()),
        }
        rows.append(row)
        print(
            f"seed {seed}: two-tower {row['two_tower_HR@50']:.4f}  item2vec "
            f"{row['item2vec_HR@50']:.4f}  difference {row['difference']:+.4f} "
            f"(paired SE {row['paired_se']:.4f}; users hit by one only: "
            f"{row['users_only_two_tower_hits']} vs {row['users_only_item2vec_hits']})",
            flush=True,
        )
    print(
        json.dumps(
            {
                "dataset": dataset,
                "temperature": tt.TEMPERATURE["prefix"],
                "config": tt.base_config(dataset, True, "prefix", 0, False).to_dict(),
                "mean_difference": float(np.mean([r["difference"] for r in rows])),
                "runs": rows,
            }
        )
    )


if __name__ == "__main__":
    main()

"""latest-small leave-last-out: featured two-tower vs Item2Vec, paired per user.

Usage::

    python benchmarks/two_tower_paired.py ../shared/data --seeds 1 2 3 --temperature 0.1

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

DATASET = "movielens-latest-small"


def main() -> None:
    from embedrec.eval import evaluate, leave_last_out
    from embedrec.models import Item2Vec, Item2VecConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="folder holding movielens-latest-small/")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--temperature", type=float, default=0.1)
    args = ap.parse_args()
    tt.TEMPERATURE = args.temperature
    inter = tt.load(args.data, DATASET)
    users, items = tt.side_tables(args.data, DATASET)
    split = leave_last_out(inter)
    full = split.train_full
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        i2v = Item2Vec(Item2VecConfig(workers=2, seed=seed)).fit(full, progress=False)
        a = evaluate(i2v, full, split.test, ks=(50,))
        cfg = tt.base_config(DATASET, True, "prefix", seed, False)
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
    print(json.dumps({"dataset": DATASET, "temperature": args.temperature, "runs": rows}))


if __name__ == "__main__":
    main()

"""Next-item recommendation: embedrec Item2Vec vs gensim Word2Vec defaults vs popularity.

Protocol (issue #3): leave-last-out per user (chronological; the last event is the test,
the one before it validation), full ranking over every item seen in training, each user's
training items excluded, HR@10 and NDCG@10 over the users with a test event.

Rows, per dataset, all trained on train + validation and scored on the test events:

* popularity: training counts.
* gensim defaults: ``gensim.models.Word2Vec(sequences, workers=2, seed=s)``, every other
  parameter at gensim's default (CBOW, window 5, negative 5, ns_exponent 0.75, sample 1e-3,
  min_count 5, 5 epochs, dim 100), on the same time-ordered per-user sequences (keys as
  str); the user is the mean of the history's normalised vectors and candidates are ranked by
  cosine, which is what ``wv.most_similar(positive=history)`` does.
* embedrec defaults: ``Item2Vec(Item2VecConfig(workers=2, seed=s))``.
* embedrec tuned: ``tune_item2vec`` (``embedrec tune``) on train + validation, which holds out
  each user's last event there (= the validation event) and never sees the test; the best
  configuration refitted on train + validation.

Usage::

    python benchmarks/bench_item2vec.py                  # a few minutes on 2 cores
    python benchmarks/bench_item2vec.py --seeds 1 2 3 --tune-budget 120

Datasets are read from ``$EMBEDREC_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("EMBEDREC_DATA", HERE.parent.parent / "shared" / "data"))
sys.path.insert(0, str(HERE.parent / "src"))


def load(name: str) -> Any:
    from embedrec.data import datasets

    if name == "ml-100k":
        return datasets.movielens_100k(DATA / "movielens-100k")
    if name == "ml-latest-small":
        return datasets.movielens_latest_small(DATA / "movielens-latest-small")
    if name == "lastfm-2k":
        # one event per (user, artist): its first tag date (repeat tags of an artist already
        # seen would be excluded from the ranking and could never be hit)
        return datasets.lastfm_2k(DATA / "lastfm-2k").first_occurrences()
    raise SystemExit(f"unknown dataset {name}")


class GensimScorer:
    """Mean of the history's unit vectors, cosine to every candidate (gensim most_similar)."""

    def __init__(self, wv: Any) -> None:
        self.unit = wv.get_normed_vectors()
        self.k2i = wv.key_to_index

    def score(self, histories: Any, candidates: Any, *, times: Any = None) -> np.ndarray:
        ci = np.array([self.k2i.get(str(c), -1) for c in np.asarray(candidates).tolist()])
        q = np.zeros((len(histories), self.unit.shape[1]), dtype=np.float32)
        for j, h in enumerate(histories):
            idx = [self.k2i[str(x)] for x in np.asarray(h).tolist() if str(x) in self.k2i]
            if idx:
                q[j] = self.unit[idx].mean(axis=0)
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        q /= np.where(norms > 0, norms, 1.0)
        s = q @ self.unit[np.maximum(ci, 0)].T
        s[:, ci < 0] = -np.inf
        return s.astype(np.float32)


def sequences(inter: Any) -> list[list[str]]:
    off = inter.user_offsets()
    keys = inter.item_keys
    return [
        [str(k) for k in keys[inter.item[off[u] : off[u + 1]]].tolist()]
        for u in range(inter.n_users)
        if off[u + 1] > off[u]
    ]


def run_dataset(name: str, seeds: list[int], tune_budget: float) -> dict[str, Any]:
    from gensim.models import Word2Vec as GensimWord2Vec

    from embedrec.eval import Popularity, evaluate, leave_last_out
    from embedrec.models import Item2Vec, Item2VecConfig
    from embedrec.tune import tune_item2vec

    inter = load(name)
    split = leave_last_out(inter)
    full, test = split.train_full, split.test
    rows: dict[str, list[dict[str, float]]] = {}

    def record(row: str, model: Any, seconds: float, train: Any = full) -> None:
        res = evaluate(model, train, test, ks=(10,))
        rows.setdefault(row, []).append(
            {"HR@10": res.metrics["HR@10"], "NDCG@10": res.metrics["NDCG@10"], "seconds": seconds}
        )
        print(
            f"{name:16s} {row:18s} HR@10 {res.metrics['HR@10']:.4f}  "
            f"NDCG@10 {res.metrics['NDCG@10']:.4f}  train {seconds:6.2f}s  "
            f"({res.n_users} users)",
            flush=True,
        )

    t0 = time.perf_counter()
    record("popularity", Popularity().fit(full), time.perf_counter() - t0)
    seqs = sequences(full)
    for seed in seeds:  # alternate the two libraries
        t0 = time.perf_counter()
        g = GensimWord2Vec(seqs, workers=2, seed=seed)
        record("gensim defaults", GensimScorer(g.wv), time.perf_counter() - t0)
        t0 = time.perf_counter()
        m = Item2Vec(Item2VecConfig(workers=2, seed=seed)).fit(full, progress=False)
        record("embedrec defaults", m, time.perf_counter() - t0)
    t0 = time.perf_counter()
    tuned = tune_item2vec(full, budget_seconds=tune_budget, seed=0, progress=False)
    tune_seconds = time.perf_counter() - t0
    print(tuned.table(), flush=True)
    for seed in seeds:
        cfg = tuned.best_config
        cfg = type(cfg)(**{**cfg.to_dict(), "seed": seed, "workers": 2})
        t0 = time.perf_counter()
        m = Item2Vec(cfg).fit(full, progress=False)
        record("embedrec tuned", m, time.perf_counter() - t0)
    return {
        "n_events": len(inter),
        "n_users": inter.n_users,
        "n_items": inter.n_items,
        "rows": rows,
        "tune": {
            "seconds": tune_seconds,
            "n_trials": len(tuned.trials),
            "best": tuned.best["params"],
            "best_valid": tuned.best["metrics"],
            "default_valid": tuned.trials[0]["metrics"],
        },
    }


def table(results: dict[str, Any]) -> str:
    lines = [
        "| dataset | method | HR@10 | NDCG@10 | train s | HR@10 / gensim | HR@10 / popularity |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        med = {
            row: {m: statistics.median(x[m] for x in runs) for m in runs[0]}
            for row, runs in r["rows"].items()
        }
        for row, v in med.items():
            g = med["gensim defaults"]["HR@10"]
            p = med["popularity"]["HR@10"]
            lines.append(
                f"| {name} | {row} | {v['HR@10']:.4f} | {v['NDCG@10']:.4f} | "
                f"{v['seconds']:.2f} | {v['HR@10'] / g:.2f}x | {v['HR@10'] / p:.2f}x |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["ml-100k", "ml-latest-small", "lastfm-2k"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--tune-budget", type=float, default=90.0, help="seconds per dataset")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "item2vec.json")
    a = ap.parse_args()
    t0 = time.perf_counter()
    results = {name: run_dataset(name, a.seeds, a.tune_budget) for name in a.datasets}
    total = time.perf_counter() - t0
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps({"seconds": total, "datasets": results}, indent=1))
    print(table(results))
    print(f"whole benchmark: {total:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()

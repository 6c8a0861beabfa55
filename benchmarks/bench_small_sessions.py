"""Session models trained on small logs: the latest N training sessions of each data set.

A team that starts with a few hundred sessions (a new market, a small shop, a sample)
trains on them; the kNN baselines need no training, an embedding model does. Each run
takes the latest ``N`` training sessions of a data set of ``bench_sessions.py`` (by their
last click) as the training log and scores next-item prediction at every position of the
test sessions (or, with ``--part validation``, of the validation split carved from the
training sessions, where choices are made). As the protocol says, test clicks on items
that the small log never saw are removed, then test sessions shorter than 2; so the test
sessions differ between sizes, and a figure compares methods at one size, not sizes.

Methods: those of ``bench_sessions.py`` (``vstan``, ``vsknn``, ``sr``, ``session-embed``,
...), and ``session-embed-fixed``: ``SessionEmbed`` with ``calibrate=False`` (the
configured scoring values, no re-ranker), what a log too small to calibrate gets.

Usage::

    python benchmarks/bench_small_sessions.py                 # validation and test parts
    python benchmarks/bench_small_sessions.py --part test --datasets yoochoose \
        --sizes 200 400 --methods vstan session-embed

Rows go to ``benchmarks/results/sessions_small.json`` (``--out``), one per (part, data
set, size, method); ``--merge`` replaces only the rows it reruns.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_sessions as bs

DATASETS = ["yoochoose", "taobao", "synthetic", "diginetica"]
SIZES = [200, 400, 700, 1200, 3000]
METHODS = ["sr", "vsknn", "vstan", "session-embed-fixed", "session-embed"]


def latest(log, n: int):
    """The events of ``log``'s latest ``n`` sessions (users) by last event."""
    from embedrec.data.interactions import Interactions

    last = np.full(len(log.user_keys), -np.inf)
    np.maximum.at(last, log.user, log.time)
    keep = np.zeros(len(log.user_keys), dtype=bool)
    keep[np.argsort(last, kind="stable")[::-1][:n]] = True
    e = keep[log.user]
    w = None if log.weight is None else log.weight[e]
    return Interactions(log.user_keys, log.item_keys, log.user[e], log.item[e], log.time[e], w)


def known_only(train, test):
    """``test`` without clicks on items ``train`` never saw, then without sessions shorter
    than 2 (the protocol's filter)."""
    from embedrec.data.interactions import Interactions

    seen = np.zeros(len(train.item_keys), dtype=bool)
    seen[train.item] = True
    e = seen[test.item]
    length = np.bincount(test.user[e], minlength=len(test.user_keys))
    e &= length[test.user] >= 2
    w = None if test.weight is None else test.weight[e]
    return Interactions(test.user_keys, test.item_keys, test.user[e], test.item[e], test.time[e], w)


def n_sessions(log) -> int:
    return int(np.unique(log.user).size)


def make(method: str):
    if method == "session-embed-fixed":
        from embedrec.models.session_embed import SessionEmbed, SessionEmbedConfig

        return SessionEmbed(SessionEmbedConfig(calibrate=False))
    return bs.make(method)


def run(part: str, dataset: str, sizes: list[int], methods: list[str]) -> list[dict]:
    from embedrec.data.sessions import SessionSplit
    from embedrec.eval.sessions import evaluate_sessions

    split = bs.load(dataset)
    if part == "validation":
        split = SessionSplit.from_parts(*bs.validation(dataset, split.train))
    else:
        split = SessionSplit.from_parts(split.train, split.test)
    available = n_sessions(split.train)
    rows = []
    for n in sizes:
        if n > available:
            continue
        train = latest(split.train, n)
        test = known_only(train, split.test)
        for method in methods:
            t0 = time.perf_counter()
            model = make(method).fit(train)
            fit_s = time.perf_counter() - t0
            r = evaluate_sessions(model, test, ks=(20,))
            row = {
                "part": part,
                "dataset": dataset,
                "sessions": n,
                "method": method,
                "HR@20": r.metrics["HR@20"],
                "MRR@20": r.metrics["MRR@20"],
                "repeat_MRR@20": r.by_kind["repeat"]["MRR@20"],
                "new_MRR@20": r.by_kind["new"]["MRR@20"],
                "predictions": r.n_predictions,
                "fit_s": fit_s,
                "calibration_parts": getattr(model, "calibration_parts_", None),
                "reranker": getattr(model, "reranker_", None) is not None,
                "scoring": getattr(model, "scoring_", None),
            }
            rows.append(row)
            print(
                f"{part:10s} {dataset:10s} {n:5d} {method:20s} HR@20 {row['HR@20']:.4f} "
                f"MRR@20 {row['MRR@20']:.4f} ({r.n_predictions} predictions) fit {fit_s:.1f}s",
                flush=True,
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["validation", "test", "both"], default="both")
    ap.add_argument("--datasets", nargs="+", default=DATASETS)
    ap.add_argument("--sizes", nargs="+", type=int, default=SIZES)
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--out", default="benchmarks/results/sessions_small.json")
    ap.add_argument("--merge", action="store_true", help="keep the rows of --out not rerun")
    args = ap.parse_args()
    parts = ["validation", "test"] if args.part == "both" else [args.part]
    rows = [
        row
        for part in parts
        for dataset in args.datasets
        for row in run(part, dataset, args.sizes, args.methods)
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.merge and out.exists():

        def key(r: dict) -> tuple:
            return (r["part"], r["dataset"], r["sessions"], r["method"])

        new = {key(r): r for r in rows}
        rows = [new.pop(key(r), r) for r in json.loads(out.read_text())] + list(new.values())
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

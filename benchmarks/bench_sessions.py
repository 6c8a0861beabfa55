"""Session-based recommendation: embedrec's session models against the session baselines.

Protocol (issue #16; session-rec's, see :mod:`embedrec.eval.sessions`): next-item prediction
at every position of each test session, the whole catalogue ranked, re-clicks allowed,
HR@10/20 and MRR@10/20 as means over all predictions.

Data sets:

* ``yoochoose``: session-rec's prepared YOOCHOOSE 100k sample (``*_train_full.txt`` /
  ``*_test.txt``, its own last-day split);
* ``diginetica``: SR-GNN's DIGINETICA sample, :func:`embedrec.data.sessions.session_split`
  (filters 2 / 5 / 2, the last 7 days of sessions as the test set);
* ``taobao``: the Taobao UserBehavior sample's page views cut into sessions at 30 minutes
  of inactivity (:func:`embedrec.data.sessions.sessionize`), the last day as the test set;
* ``synthetic``: :func:`embedrec.data.synthetic.session_log` (seed 0), the last 10% of the
  sessions as the test set;
* ``synthetic-large`` (not in the default list: what fit and query cost on a log of
  full-data-set size): ``session_log(200_000, 40_000, mean_length=5, seed=0)``, about a
  million clicks over 40,000 items, its times squeezed into 90 days, the last 3% of the
  sessions as the test set.
* held-out data sets (not in the default list; nothing of ``SessionEmbed`` was chosen on
  them, so they check that its defaults hold on data they were not tuned on; rows in
  ``results/sessions_heldout.json``): ``movielens-sessions`` and
  ``movielens-small-sessions``, the ratings of MovieLens 100K and of MovieLens latest-small
  cut into sessions at 30 minutes of inactivity (long sessions of rating sprees, no
  re-click at all), the latest 10% of the sessions as the test set; ``taobao-all``, the
  Taobao sample with every behaviour (page views, carts, favourites, purchases) instead of
  page views only, cut at 30 minutes, the last day as the test set.

Methods: S-POP, AR, SR, SKNN, V-SKNN, STAN, V-STAN at their published RSC15 settings (our
implementations, :mod:`embedrec.models.session_rules`, :mod:`embedrec.models.session_knn`), and
``SessionEmbed`` with its defaults, ``session-embed-deepwalk`` (the same scoring over
DeepWalk vectors of the session graph) (no parameter of it is chosen on the test sessions; its
calibration holds out the latest fifth of the *training* sessions), and
``session-embed-tuned``: :func:`embedrec.tune.tune_session_embed` on a validation split carved
from the training sessions (YOOCHOOSE: session-rec's own ``train_tr`` / ``train_valid``; the
others: the same split rule applied to the training sessions): a random search of the
embedding, then finals, in which the two best trials' embeddings and the defaults are each
fitted as the whole self-calibrating pipeline on the training part and scored on the
validation sessions; the winner (the defaults on a tie) is refitted on all training
sessions, calibrating itself. Each
``session-embed*`` row says whether a re-ranker was kept (``reranker``). Two more arms run
embedding models through :class:`embedrec.eval.sessions.ScorerSessions` (the session so far
is the history): ``item2vec`` (Item2Vec's defaults: recency-weighted user vector, output
scoring) and ``two-tower`` (a user tower over the history bag alone, trained on every prefix
of the training sessions, ``history_mode="prefix"``; needs torch).

Each (data set, method) runs in its own process, so the peak memory (``ru_maxrss``) is its
own. Usage::

    python benchmarks/bench_sessions.py                       # every data set and method
    python benchmarks/bench_sessions.py --datasets yoochoose --methods vsknn session-embed
    python benchmarks/bench_sessions.py --methods two-tower --merge   # rerun rows, keep others
    python benchmarks/bench_sessions.py --part validation --datasets yoochoose \
        --methods vstan session-embed --out /tmp/valid.json   # where choices are made
    python benchmarks/bench_sessions.py --datasets movielens-sessions \
        movielens-small-sessions taobao-all --methods sr vsknn stan vstan session-embed \
        --out benchmarks/results/sessions_heldout.json        # the held-out data sets

Datasets are read from ``$EMBEDREC_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(
    os.environ.get("EMBEDREC_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
METHODS = [
    "spop",
    "ar",
    "sr",
    "sknn",
    "vsknn",
    "stan",
    "vstan",
    "session-embed",
    "session-embed-deepwalk",
    "session-embed-tuned",
    "item2vec",
    "two-tower",
]
DATASETS = ["yoochoose", "diginetica", "taobao", "synthetic"]
HELD_OUT = ["movielens-sessions", "movielens-small-sessions", "taobao-all"]


def load(name: str):
    import numpy as np

    from embedrec.data import datasets
    from embedrec.data.interactions import Interactions
    from embedrec.data.sessions import SessionSplit, session_split
    from embedrec.data.synthetic import session_log

    if name == "yoochoose":
        d = DATA / "yoochoose-100k-sample"
        return SessionSplit.from_parts(
            datasets.yoochoose(d, split="train_full"), datasets.yoochoose(d, split="test")
        )
    if name == "diginetica":
        return session_split(datasets.diginetica(DATA / "diginetica-sample"), test_days=7.0)
    if name in ("taobao", "taobao-all"):
        from embedrec.data.interactions import read_interactions
        from embedrec.data.sessions import sessionize

        log = read_interactions(
            DATA / "taobao-userbehavior-sample" / "UserBehavior_head84475.csv",
            user_col="user",
            item_col="item",
            time_col="ts",
            event_col="behavior",
            event_types=["pv"] if name == "taobao" else None,
            has_header=False,
            column_names=["user", "item", "category", "behavior", "ts"],
        )
        return session_split(sessionize(log, gap=1800, min_length=2), test_days=1.0)
    if name in ("movielens-sessions", "movielens-small-sessions"):
        from embedrec.data.sessions import sessionize

        if name == "movielens-sessions":
            ratings = datasets.movielens_100k(DATA / "movielens-100k")
        else:
            ratings = datasets.movielens_latest_small(DATA / "movielens-latest-small")
        log = sessionize(ratings, gap=1800, min_length=2)
        return session_split(log, test_days=None, test_fraction=0.1)
    if name == "synthetic":
        return session_split(
            Interactions.from_arrays(*session_log(seed=0)), test_days=None, test_fraction=0.1
        )
    if name == "synthetic-large":
        users, items, times = session_log(200_000, 40_000, mean_length=5.0, seed=0)
        # session_log puts sessions an hour apart (23 years here); squeeze them into 90
        # days, so that V-STAN's 5-day decay of neighbour sessions sees as many as on real
        # logs (the order of every event stays the same)
        t = np.asarray(times, dtype=np.float64)
        log = Interactions.from_arrays(users, items, t * (90 * 86_400 / t.max()))
        return session_split(log, test_days=None, test_fraction=0.03)
    raise SystemExit(
        f"unknown data set {name!r}; use one of {[*DATASETS, 'synthetic-large', *HELD_OUT]}"
    )


def validation(name: str, train):
    """(train part, validation part) carved from the training sessions only."""
    from embedrec.data import datasets
    from embedrec.data.sessions import session_split

    if name == "yoochoose":  # session-rec's own validation split of the training days
        d = DATA / "yoochoose-100k-sample"
        return datasets.yoochoose(d, split="train_tr"), datasets.yoochoose(d, split="train_valid")
    if name in ("diginetica", "taobao", "taobao-all"):
        v = session_split(train, test_days=7.0 if name == "diginetica" else 1.0)
    else:
        v = session_split(train, test_days=None, test_fraction=0.1)
    return v.train, v.test


def make(method: str):
    if method == "session-embed":
        from embedrec.models.session_embed import SessionEmbed

        return SessionEmbed()
    if method == "session-embed-deepwalk":
        from embedrec.models import DeepWalk
        from embedrec.models.session_embed import SessionEmbed

        return SessionEmbed(embedder=DeepWalk())
    if method == "item2vec":  # its defaults, through ScorerSessions (the session = history)
        from embedrec.models import Item2Vec

        return Item2Vec()
    if method == "two-tower":  # a user tower over the history bag, trained on every prefix
        from embedrec.models.two_tower import TwoTower, TwoTowerConfig
        from embedrec.models.two_tower.spec import FeatureSpec, TowerConfig

        user = TowerConfig(features=(FeatureSpec(name="history", kind="history"),))
        return TwoTower(TwoTowerConfig(user=user, history_mode="prefix"))
    if method in ("spop", "ar", "sr"):
        from embedrec.models import session_rules as r

        return {"spop": r.SessionPop, "ar": r.AssociationRules, "sr": r.SequentialRules}[method]()
    from embedrec.models import session_knn as k

    return {"sknn": k.SKNN, "vsknn": k.VSKNN, "stan": k.STAN, "vstan": k.VSTAN}[method]()


def child(dataset: str, method: str, tune_budget: float, part: str = "test") -> None:
    from embedrec.data.sessions import SessionSplit
    from embedrec.eval.sessions import evaluate_sessions

    split = load(dataset)
    if part == "validation":  # fit on the training part, score the validation sessions
        if method == "session-embed-tuned":
            raise SystemExit("--part validation: session-embed-tuned tunes on that split itself")
        split = SessionSplit.from_parts(*validation(dataset, split.train))
    t0 = time.perf_counter()
    tune_s = 0.0
    tuned: dict = {}
    if method == "session-embed-tuned":
        from embedrec.tune import tune_session_embed

        tr, va = validation(dataset, split.train)
        res = tune_session_embed(tr, va, budget_seconds=tune_budget, progress=False)
        model = res.model()
        tuned = {
            "defaults_won": res.defaults_won,
            "check": res.check,
            "trials": len(res.trials),
            "finals": res.finals,
        }
        tune_s = time.perf_counter() - t0
        t0 = time.perf_counter()
    else:
        model = make(method)
    model.fit(split.train)
    fit_s = time.perf_counter() - t0
    r = evaluate_sessions(model, split, ks=(10, 20))
    out = {
        "dataset": dataset,
        "method": method,
        "part": part,
        **{k: r.metrics[k] for k in ("HR@10", "MRR@10", "HR@20", "MRR@20")},
        "repeat_MRR@20": r.by_kind["repeat"]["MRR@20"],
        "new_MRR@20": r.by_kind["new"]["MRR@20"],
        "fit_s": fit_s,
        "tune_s": tune_s,
        "query_s": r.seconds,
        "predictions": r.n_predictions,
        "reranker": getattr(model, "reranker_", None) is not None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **tuned,
    }
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=DATASETS)
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--out", default="benchmarks/results/sessions.json")
    ap.add_argument("--tune-budget", type=float, default=600.0, help="seconds of tuning")
    ap.add_argument(
        "--part",
        choices=["test", "validation"],
        default="test",
        help="score the test sessions (fit on all training sessions), or the validation "
        "sessions (fit on the training part of the validation split: where choices are made)",
    )
    ap.add_argument(
        "--merge", action="store_true", help="replace only these rows of --out, keep the others"
    )
    args = ap.parse_args()
    rows = []
    for d in args.datasets:
        for m in args.methods:
            p = subprocess.run(
                [sys.executable, __file__, "--child", d, m, str(args.tune_budget), args.part],
                capture_output=True,
                text=True,
            )
            if p.returncode:
                print(f"{d} {m} FAILED:\n{p.stderr[-2000:]}", flush=True)
                continue
            row = json.loads(p.stdout.strip().splitlines()[-1])
            rows.append(row)
            check = row.get("check")
            if check:
                print(
                    f"{d:10s} {m:14s} {row['trials']} trials; validation check MRR@20 tuned "
                    f"{check['tuned']:.4f} defaults {check['defaults']:.4f}: "
                    f"{'defaults' if row['defaults_won'] else 'tuned'} kept",
                    flush=True,
                )
            print(
                f"{d:10s} {m:14s} HR@20 {row['HR@20']:.4f} MRR@20 {row['MRR@20']:.4f} "
                f"HR@10 {row['HR@10']:.4f} MRR@10 {row['MRR@10']:.4f} "
                f"(repeat {row['repeat_MRR@20']:.3f}, new {row['new_MRR@20']:.3f}) "
                f"fit {row['fit_s']:.1f}s query {row['query_s']:.1f}s "
                f"{row['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.merge and out.exists():
        new = {(r["dataset"], r["method"]): r for r in rows}
        old = json.loads(out.read_text())
        kept = [new.pop((r["dataset"], r["method"]), r) for r in old]
        rows = kept + list(new.values())
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        main()

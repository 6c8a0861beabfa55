"""Airbnb's skip-gram extensions on real sessions: global context and in-group negatives.

Grbovic and Cheng (KDD 2018) train listing embeddings on click sessions with two additions:
the session's booked listing as a **global context** of every click, and **in-group
negatives** drawn from the clicked listing's own market. embedrec has both
(``Item2Vec.fit(global_context=..., groups=...)``, passed through by ``SessionEmbed.fit``).
This benchmark measures what they do to session-based next-item prediction on the one
public data set here with both conversions and groups: the Taobao UserBehavior sample.

* sessions: page views (``pv``) cut at 30 minutes of inactivity, sessions of 2+ clicks
  (:func:`embedrec.data.sessions.sessionize`), the last day as the test set
  (:func:`embedrec.data.sessions.session_split`, filters 2 / 5 / 2);
* global context: the item a session's user bought during it or within 30 minutes after it
  (:func:`embedrec.data.sessions.session_conversions` of the ``buy`` events);
* groups: the item's category (the data's third column).

Arms: ``SessionEmbed`` with its defaults, and with each extension and both; an EGES arm
(``SessionEmbed(embedder=EGES())`` with the category as side information) shows the other
way of using the categories. Each arm runs over several seeds of the embedder; the table
gives the mean and the spread. Metrics: HR@20 and MRR@20 of the session protocol (every
position, re-clicks allowed), and Airbnb's own question, ranking within a market: for the
test predictions of an item new to the session that shares the latest click's category,
MRR@10 of the target
among that category's items, by the model's scores (``cat MRR@10``) and by the cosine of
the item vectors to the latest click (``cat cos MRR@10``, the embeddings alone).

Usage::

    python benchmarks/bench_airbnb.py                 # every arm, seeds 1 2 3
    python benchmarks/bench_airbnb.py --arms base both --seeds 1

Datasets are read from ``$EMBEDREC_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

DATA = Path(
    os.environ.get("EMBEDREC_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
FILE = "taobao-userbehavior-sample/UserBehavior_head84475.csv"
COLUMNS = ["user", "item", "category", "behavior", "ts"]
ARMS = ["base", "global", "groups", "both", "eges"]
GAP = 1800.0


def load():
    """(split, {session key: bought item}, {item: category}) of the Taobao sample."""
    import pyarrow.csv as pv_csv

    from embedrec.data.interactions import read_interactions
    from embedrec.data.sessions import session_conversions, session_split, sessionize

    path = DATA / FILE
    kw = dict(
        user_col="user",
        item_col="item",
        time_col="ts",
        event_col="behavior",
        has_header=False,
        column_names=COLUMNS,
    )
    clicks = read_interactions(path, event_types=["pv"], **kw)
    buys = read_interactions(path, event_types=["buy"], **kw)
    sessions = sessionize(clicks, gap=GAP, min_length=2)
    bought = session_conversions(clicks, buys, gap=GAP, min_length=2)
    table = pv_csv.read_csv(path, read_options=pv_csv.ReadOptions(column_names=COLUMNS))
    category = dict(
        zip(table.column("item").to_pylist(), table.column("category").to_pylist(), strict=True)
    )
    return session_split(sessions, test_days=1.0), bought, category


def fit(arm: str, seed: int, split, bought, category):
    from embedrec.models import EGES, EGESConfig
    from embedrec.models.session_embed import SessionEmbed

    train = split.train
    if arm == "eges":
        model = SessionEmbed(embedder=EGES(EGESConfig(seed=seed)))
        return model.fit(train, side={"category": category})
    model = SessionEmbed(embedder_config={"seed": seed})
    return model.fit(
        train,
        global_context=bought if arm in ("global", "both") else None,
        groups=category if arm in ("groups", "both") else None,
    )


def in_category(model, split, category) -> dict[str, float]:
    """Airbnb's own question, ranking within a market: for the test predictions of an item
    new to the session that shares the latest click's category, MRR@10 of the target among
    that category's items, ranked by the model's scores and by the cosine of item vectors
    to the latest click."""
    import numpy as np

    from embedrec.eval.sessions import next_item_prefixes

    keys = model.item_keys_
    cat_of = {c: i for i, c in enumerate(sorted({category.get(k, -1) for k in keys.tolist()}))}
    cat = np.array([cat_of[category.get(k, -1)] for k in keys.tolist()])
    prefixes, targets = next_item_prefixes(split.test.sequences(), keys)
    lengths = prefixes.lengths()
    last = np.where(lengths > 0, prefixes.items[np.maximum(prefixes.offsets[1:] - 1, 0)], -1)
    ok = (targets >= 0) & (last >= 0)
    ok[ok] &= cat[targets[ok]] == cat[last[ok]]
    for i in np.flatnonzero(ok):  # new items only: a re-click is not a similarity question
        ok[i] = targets[i] not in prefixes.items[prefixes.offsets[i] : prefixes.offsets[i + 1]]
    scores = model.score_prefixes(prefixes)
    unit = model.embeddings_.unit_vectors
    rr = {"model": [], "cosine": []}
    for i in np.flatnonzero(ok):
        members = np.flatnonzero(cat == cat[last[i]])
        for name, s in (("model", scores[i, members]), ("cosine", unit[members] @ unit[last[i]])):
            t = s[members == targets[i]][0]
            rank = int((s > t).sum()) + 1
            rr[name].append(1.0 / rank if rank <= 10 else 0.0)
    n = len(rr["model"])
    return {
        "cat_predictions": n,
        "cat_MRR@10": float(np.mean(rr["model"])) if n else float("nan"),
        "cat_cos_MRR@10": float(np.mean(rr["cosine"])) if n else float("nan"),
    }


def main() -> None:
    from embedrec.eval.sessions import evaluate_sessions

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arms", nargs="+", default=ARMS, choices=ARMS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--out", default="benchmarks/results/airbnb.json")
    args = ap.parse_args()
    split, bought, category = load()
    train_sessions = set(split.train.user_keys[split.train.user].tolist())
    n_conv = sum(k in train_sessions for k in bought)
    print(
        f"taobao: {len(train_sessions)} training sessions, {n_conv} with a purchase; "
        f"{len(set(category.values()))} categories",
        flush=True,
    )
    rows = []
    # arms alternate within each seed, so the machine's drift hits all alike
    for seed in args.seeds:
        for arm in args.arms:
            t0 = time.perf_counter()
            model = fit(arm, seed, split, bought, category)
            fit_s = time.perf_counter() - t0
            r = evaluate_sessions(model, split, ks=(20,))
            row = {
                "arm": arm,
                "seed": seed,
                "HR@20": r.metrics["HR@20"],
                "MRR@20": r.metrics["MRR@20"],
                "new_MRR@20": r.by_kind["new"]["MRR@20"],
                **in_category(model, split, category),
                "fit_s": fit_s,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(
        f"\n{'arm':8s} {'HR@20':>16s} {'MRR@20':>16s} {'new MRR@20':>16s} "
        f"{'cat MRR@10':>16s} {'cat cos MRR@10':>16s} {'fit s':>6s}"
    )
    for arm in args.arms:
        got = [r for r in rows if r["arm"] == arm]

        def cell(name: str, got=got) -> str:
            v = [r[name] for r in got]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            return f"{statistics.mean(v):.4f} ± {sd:.4f}"

        fit_s = statistics.median(r["fit_s"] for r in got)
        print(
            f"{arm:8s} {cell('HR@20'):>16s} {cell('MRR@20'):>16s} "
            f"{cell('new_MRR@20'):>16s} {cell('cat_MRR@10'):>16s} "
            f"{cell('cat_cos_MRR@10'):>16s} {fit_s:6.1f}"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

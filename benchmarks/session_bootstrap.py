"""How sure is a session-protocol gain? A paired bootstrap over test sessions.

Fits two session methods of ``bench_sessions.py`` on a data set's training sessions, keeps
each prediction's reciprocal rank (MRR@20; the evaluator's order: equal scores rank the lower
code first, so the means equal :func:`embedrec.eval.sessions.evaluate_sessions`'s), and
resamples the *test sessions* (predictions of one session stay together) to give the
relative MRR@20 gain of the first method over the second, its 95% interval, and the share of
resamples at or above a bar. Usage::

    python benchmarks/session_bootstrap.py --dataset yoochoose --methods session-embed vstan
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import bench_sessions as bench


def reciprocal_ranks(model, test, k: int = 20):
    """Per-prediction reciprocal rank at ``k`` (0 beyond it or for an unknown target) and
    the test session of each prediction."""
    from embedrec.eval.sessions import next_item_prefixes

    prefixes, targets = next_item_prefixes(test, model.item_keys_)
    owner = np.repeat(np.arange(len(test)), np.maximum(test.lengths() - 1, 0))
    out = np.zeros(len(prefixes))
    for a in range(0, len(prefixes), 1000):
        b = min(len(prefixes), a + 1000)
        s = model.score_prefixes(prefixes.rows(a, b))
        t = targets[a:b]
        own = s[np.arange(b - a), np.maximum(t, 0)][:, None]
        codes = np.arange(s.shape[1])[None, :]
        rank = (s > own).sum(1) + ((s == own) & (codes < t[:, None])).sum(1) + 1
        out[a:b] = np.where((t >= 0) & (rank <= k), 1.0 / rank, 0.0)
    return out, owner


def main() -> None:
    from embedrec.eval.sessions import evaluate_sessions

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="yoochoose", choices=bench.DATASETS)
    ap.add_argument("--methods", nargs=2, default=["session-embed", "vstan"])
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--bar", type=float, default=0.05, help="relative gain to test against")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    split = bench.load(args.dataset)
    test = split.test.sequences()
    rr, owner = {}, None
    for name in args.methods:
        model = bench.make(name).fit(split.train)
        rr[name], owner = reciprocal_ranks(model, test)
        check = evaluate_sessions(model, split, ks=(20,)).metrics["MRR@20"]
        if abs(check - rr[name].mean()) > 1e-9:
            raise SystemExit(f"{name}: MRR@20 {rr[name].mean()} here, {check} by the evaluator")
    assert owner is not None
    first, second = args.methods
    n = np.bincount(owner)
    sums = {m: np.bincount(owner, weights=rr[m], minlength=n.size) for m in args.methods}
    rng = np.random.default_rng(args.seed)
    gains = np.empty(args.resamples)
    for i in range(args.resamples):
        pick = rng.integers(0, n.size, n.size)
        gains[i] = sums[first][pick].sum() / sums[second][pick].sum() - 1.0
    print(
        json.dumps(
            {
                "dataset": args.dataset,
                "MRR@20": {m: float(rr[m].mean()) for m in args.methods},
                "gain": float(rr[first].mean() / rr[second].mean() - 1.0),
                "ci95": [float(np.quantile(gains, 0.025)), float(np.quantile(gains, 0.975))],
                f"share_at_or_above_{args.bar:g}": float((gains >= args.bar).mean()),
                "test_sessions": int(n.size),
                "predictions": int(owner.size),
            }
        )
    )


if __name__ == "__main__":
    main()

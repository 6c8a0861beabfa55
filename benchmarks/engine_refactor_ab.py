"""In-process A/B of the training kernels of another git revision against the working tree.

Written for the engine refactor (#15) and reused for every later kernel change. The old
``kernels/`` package is taken from a git revision (default ``ded4b0a``, the last commit
before #15; ``--before 646253a`` is the last one before Airbnb's extensions) and imported
under another name, so both kernel versions run
in one process on the same encoded corpus, tables, shards, seeds and learning rates: the
machine's drift hits both alike. Fits alternate (before, after, then after, before, ...);
the medians, the minimum ratio and the count of rounds where "after" was slower are printed.

Usage::

    python benchmarks/engine_refactor_ab.py --rounds 16            # Item2Vec ML-100K, 2 threads
    python benchmarks/engine_refactor_ab.py --rounds 8 --workers 1
    python benchmarks/engine_refactor_ab.py --before 646253a --rounds 16   # session extensions

Datasets are read from ``$EMBEDREC_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import io
import os
import queue
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDREC_DATA", ROOT.parent / "shared" / "data"))


def old_kernels(rev: str) -> Path:
    """Extract ``src/embedrec/kernels`` of ``rev`` as the package ``kernels_before``."""
    out = Path(tempfile.mkdtemp(prefix="kernels-before-"))
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src/embedrec/kernels"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(out, filter="data")
    (out / "src" / "embedrec" / "kernels").rename(out / "kernels_before")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", default="ded4b0a", help="git revision of the old kernels")
    ap.add_argument("--rounds", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    sys.path.insert(0, str(old_kernels(args.before)))
    import kernels_before.train as before  # type: ignore[import-not-found]

    ts_before = before.train_shard
    grouped_before = ts_before.py_func.__code__.co_argcount == 6
    p_before = getattr(before, "shard_params", None)

    from embedrec.data import datasets
    from embedrec.eval import leave_last_out
    from embedrec.kernels.rng import seed_state
    from embedrec.kernels.train import no_session, shard_params
    from embedrec.kernels.train import train_shard as ts_after
    from embedrec.models import Item2Vec, Item2VecConfig
    from embedrec.models import _engine as engine

    split = leave_last_out(datasets.movielens_100k(DATA / "movielens-100k"))
    cfg = Item2VecConfig(workers=args.workers, seed=1)
    vocab, enc = Item2Vec(cfg)._encode(split.train_full, False)
    s = cfg.word2vec_config().engine_settings()
    t = engine.build_tables(vocab.counts, loss=s.loss, sample=s.sample, ns_exponent=s.ns_exponent)
    bounds = enc.shards(engine.SHARD_TOKENS)
    n, workers = len(vocab.counts), args.workers
    n_priv = min(engine.PRIVATE_ROWS, n) if workers > 1 else 0
    share = engine.SHARE_MODES[s.window_update]
    alpha_at = engine.linear_schedule(s.start_alpha, s.min_alpha, float(enc.n_tokens), s.epochs)
    print(f"{bounds.size - 1} shards, {enc.n_tokens} tokens, {s.epochs} epochs, {workers} threads")

    def fit(which: str, epochs: int) -> tuple[float, float]:
        w_in, w_out = engine.init_weights(n, n, s.dim, s.seed)
        w_out = np.concatenate([w_out, np.zeros((workers * n_priv, s.dim), np.float32)])
        slots: queue.SimpleQueue[int] = queue.SimpleQueue()
        for k in range(workers):
            slots.put(n + k * n_priv)

        def job(epoch: int, i: int):
            a, b = int(bounds[i]), int(bounds[i + 1])
            st = seed_state(s.seed, epoch, i)
            a0 = alpha_at(epoch, int(enc.offsets[a]))
            a1 = alpha_at(epoch, int(enc.offsets[b]))
            base = slots.get()
            try:
                kw = dict(
                    s_begin=a, s_end=b, cbow=False, cbow_mean=True, window=s.window,
                    shrink_windows=s.shrink_windows, basket=False, use_hs=False,
                    negative=s.negative, share_mode=share, priv_lo=0, priv_hi=n_priv,
                    priv_base=base,
                )  # fmt: skip
                grouped = ((enc.tokens, enc.offsets), (w_in, w_out), t.as_tuple())
                if which == "after":
                    p = shard_params(**kw)
                    return ts_after(*grouped, p, np.array([a0, a1]), st, no_session())
                if grouped_before:  # the grouped signature of #15, before the session tuple
                    return ts_before(*grouped, p_before(**kw), np.array([a0, a1]), st)
                return ts_before(
                    enc.tokens, enc.offsets, a, b, w_in, w_out, t.keep, False, True, s.window,
                    s.shrink_windows, False, False, s.negative, t.neg_prob, t.neg_alias,
                    t.codes, t.points, t.code_lens, share, 0, n_priv, base, a0, a1, t.sig,
                    t.logsig, st,
                )  # fmt: skip
            finally:
                slots.put(base)

        loss = 0.0
        with ThreadPoolExecutor(workers) as pool:
            t0 = time.perf_counter()
            for e in range(epochs):
                res = list(pool.map(lambda i: job(e, i), range(bounds.size - 1)))  # noqa: B023
                loss = sum(r[0] for r in res) / sum(r[1] for r in res)
            return time.perf_counter() - t0, loss

    for which in ("before", "after"):
        fit(which, 1)  # compile
    times: dict[str, list[float]] = {"before": [], "after": []}
    for r in range(args.rounds):
        for which in ("before", "after") if r % 2 == 0 else ("after", "before"):
            dt, loss = fit(which, s.epochs)
            times[which].append(dt)
            print(r, which, round(dt, 3), round(loss, 4), flush=True)
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    slower = sum(x > y for x, y in zip(times["after"], times["before"], strict=True))
    print(
        f"median before {b:.3f} s, after {a:.3f} s, ratio {a / b:.3f}; min ratio "
        f"{min(times['after']) / min(times['before']):.3f}; after slower in {slower} of "
        f"{args.rounds}"
    )


if __name__ == "__main__":
    main()

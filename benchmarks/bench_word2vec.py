"""embedrec Word2Vec vs gensim 4.4 on the shared Wikipedia corpus (about 9M tokens).

Every run is its own process, so whole-process wall time and peak RSS are measured the
same way for each (``os.wait4``). Runs alternate (ours, gensim iterable, gensim corpus_file,
repeat) and the table reports medians and ratios. Quality is scored afterwards by one
evaluator for everyone: analogy accuracy (restrict_vocab=30000, 3CosAdd) and WordSim-353
Spearman.

Usage::

    python benchmarks/prepare_corpus.py            # once: text8-like file in ~/.cache/embedrec
    python benchmarks/bench_word2vec.py --repeats 3 --configs sg-neg cbow-neg sg-hs

Parameters (the issue's): dim 100, window 5, negative 5, sample 1e-3, min_count 5,
epochs 5, workers 2; alpha 0.025 for skip-gram and 0.05 for CBOW (word2vec.c's defaults
and embedrec's; gensim's default is 0.025 for both), passed to both libraries.
``--alpha X`` forces one alpha for every config.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from prepare_corpus import data_root, default_out, prepare  # noqa: E402

CONFIGS = {
    # alpha: word2vec.c's per-arch defaults (embedrec's too), given to both libraries
    "sg-neg": {"arch": "skipgram", "loss": "neg", "alpha": 0.025},
    "cbow-neg": {"arch": "cbow", "loss": "neg", "alpha": 0.05},
    "sg-hs": {"arch": "skipgram", "loss": "hs", "alpha": 0.025},
}
COMMON = {
    "dim": 100,
    "window": 5,
    "negative": 5,
    "sample": 1e-3,
    "min_count": 5,
    "epochs": 5,
    "workers": 2,
}
IMPLS = ["embedrec", "gensim-iterable", "gensim-corpus_file"]


def child(impl: str, config: str, corpus: str, out: str) -> None:
    """Train once and write {"train_seconds", "effective_words"} JSON + vectors (binary)."""
    c = {**COMMON, **CONFIGS[config]}
    if os.environ.get("BENCH_ALPHA"):  # --alpha, passed down by the parent
        c["alpha"] = float(os.environ["BENCH_ALPHA"])
    if impl == "embedrec":
        from embedrec import Word2Vec, Word2VecConfig

        cfg = Word2VecConfig(
            arch=c["arch"],
            loss=c["loss"],
            dim=c["dim"],
            window=c["window"],
            negative=c["negative"] if c["loss"] == "neg" else 0,
            sample=c["sample"],
            min_count=c["min_count"],
            epochs=c["epochs"],
            workers=c["workers"],
            alpha=c["alpha"],
        )
        model = Word2Vec(cfg).fit(corpus, progress=False)
        train_s = sum(s["seconds"] for s in model.epoch_stats_)
        eff = sum(s["effective_words"] for s in model.epoch_stats_)
        model.embeddings_.save_word2vec_format(out + ".bin", binary=True)
    else:
        from gensim.models import Word2Vec as GW
        from gensim.models.word2vec import LineSentence

        hs = 1 if c["loss"] == "hs" else 0
        m = GW(
            vector_size=c["dim"],
            window=c["window"],
            negative=0 if hs else c["negative"],
            hs=hs,
            sg=1 if c["arch"] == "skipgram" else 0,
            sample=c["sample"],
            min_count=c["min_count"],
            workers=c["workers"],
            epochs=c["epochs"],
            alpha=c["alpha"],
        )
        if impl == "gensim-iterable":
            sents = LineSentence(corpus)
            m.build_vocab(sents)
            t0 = time.perf_counter()
            eff, _ = m.train(sents, total_examples=m.corpus_count, epochs=m.epochs)
        else:
            m.build_vocab(corpus_file=corpus)
            t0 = time.perf_counter()
            eff, _ = m.train(
                corpus_file=corpus,
                total_examples=m.corpus_count,
                total_words=m.corpus_total_words,
                epochs=m.epochs,
            )
        train_s = time.perf_counter() - t0
        m.wv.save_word2vec_format(out + ".bin", binary=True)
    Path(out + ".json").write_text(
        json.dumps({"train_seconds": train_s, "effective_words": int(eff)})
    )


def run_one(impl: str, config: str, corpus: Path, tmp: Path) -> dict[str, float]:
    out = str(tmp / f"{impl}-{config}")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", impl, config, str(corpus), out])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{impl} {config} failed with status {status}")
    res = json.loads(Path(out + ".json").read_text())
    res["wall_seconds"] = wall
    res["peak_rss_mb"] = usage.ru_maxrss / 1024.0
    res["words_per_sec"] = res["effective_words"] / res["train_seconds"]
    # scored in another process: the parent must stay small, since a child's peak RSS
    # (ru_maxrss) starts from the parent's size at fork
    ev = subprocess.run(
        [sys.executable, __file__, "--evaluate", out + ".bin"],
        check=True,
        capture_output=True,
        text=True,
    )
    res.update(json.loads(ev.stdout))
    return res


def evaluate(path: str) -> dict[str, float]:
    from embedrec import Embeddings

    emb = Embeddings.load_word2vec_format(path, binary=True)
    ev = data_root() / "word-eval"
    ana = emb.evaluate_analogies(ev / "questions-words.txt", restrict_vocab=30000)
    ws = emb.evaluate_pairs(ev / "wordsim353.tsv")
    return {"analogy": 100.0 * ana["total"]["accuracy"], "ws353": ws["spearman"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--child", nargs=4, metavar=("IMPL", "CONFIG", "CORPUS", "OUT"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--impls", nargs="+", default=IMPLS, choices=IMPLS)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--alpha", type=float, default=None, help="one alpha for every config")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "word2vec.json")
    ap.add_argument("--evaluate", metavar="VECTORS", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.evaluate:
        print(json.dumps(evaluate(a.evaluate)))
        return
    if a.child:
        child(*a.child)
        return
    corpus = a.corpus or default_out()
    if a.alpha is not None:
        os.environ["BENCH_ALPHA"] = str(a.alpha)
    if not corpus.exists():
        prepare(corpus)
    runs: dict[str, dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmpd:
        # warm numba's cache first so that no measured run pays the one-off compile
        subprocess.run(
            [sys.executable, "-m", "embedrec", "warmup"], check=True, capture_output=True
        )
        for rep in range(a.repeats):
            for config in a.configs:
                for impl in a.impls:
                    r = run_one(impl, config, corpus, Path(tmpd))
                    runs.setdefault(config, {}).setdefault(impl, []).append(r)
                    print(
                        f"[{rep + 1}/{a.repeats}] {config:9s} {impl:19s} "
                        f"{r['words_per_sec']:>10,.0f} words/s  wall {r['wall_seconds']:6.1f}s"
                        f"  rss {r['peak_rss_mb']:6.0f}MB  analogy {r['analogy']:5.2f}"
                        f"  ws353 {r['ws353']:.3f}",
                        flush=True,
                    )
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(runs, indent=1))
    print(table(runs))


def table(runs: dict[str, dict[str, list[dict[str, float]]]]) -> str:
    keys = ["words_per_sec", "wall_seconds", "peak_rss_mb", "analogy", "ws353"]
    lines = [
        "| config | impl | words/s | wall s | peak RSS MB | analogy % | WS353 ρ |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for config, by_impl in runs.items():
        med = {
            i: {k: statistics.median(r[k] for r in rs) for k in keys} for i, rs in by_impl.items()
        }
        for impl, m in med.items():
            lines.append(
                f"| {config} | {impl} | {m['words_per_sec']:,.0f} | "
                f"{m['wall_seconds']:.1f} | {m['peak_rss_mb']:.0f} | {m['analogy']:.2f}"
                f" | {m['ws353']:.3f} |"
            )
        if "embedrec" in med:
            ours = med["embedrec"]
            for ref in ("gensim-corpus_file", "gensim-iterable"):
                if ref in med:
                    g = med[ref]
                    lines.append(
                        f"| {config} | ratio vs {ref} "
                        f"| {ours['words_per_sec'] / g['words_per_sec']:.2f}x"
                        f" | {g['wall_seconds'] / ours['wall_seconds']:.2f}x faster"
                        f" | {ours['peak_rss_mb'] / g['peak_rss_mb']:.2f}x"
                        f" | {ours['analogy'] - g['analogy']:+.2f}"
                        f" | {ours['ws353'] - g['ws353']:+.3f} |"
                    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()

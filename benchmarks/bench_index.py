"""Nearest-neighbour indexes: build time, single-thread queries/s and recall@10 vs exact.

Two catalogues:

(a) ``wiki``: Word2Vec vectors trained by embedrec on the Wikipedia corpus of
    ``prepare_corpus.py`` (skip-gram, negative sampling, dim 100, min_count 5: ~58k keys; the
    model is cached in ``~/.cache/embedrec/bench/``); queries are the vectors of 2,000 random
    keys (each finds itself, in exact and approximate search alike).
(b) ``synthetic``: 1M x 64 vectors from a seeded, anisotropic Gaussian mixture (1,000 clusters
    of Zipf-distributed sizes and different spreads; see :func:`synthetic_catalogue`); 1,000
    queries drawn from the same mixture.

Indexes: ``ExactIndex`` (NumPy BLAS), faiss HNSW, faiss IVF-Flat and IVF-PQ through embedrec
(``embedrec.index``: filters, exact re-scoring of the candidates), the same faiss HNSW graph
called directly (``faiss-raw``, to show the wrapper's cost) and hnswlib with the same M,
ef_construction and ef. All metrics are cosine (vectors normalised, inner product).

Builds use every core (2 here); every query rate is measured on ONE thread
(``faiss.omp_set_num_threads(1)``, ``hnswlib.set_num_threads(1)``, NumPy's OpenBLAS set to
one thread), as the fastest of two passes over the whole query batch. Recall@10 is against
``ExactIndex``.

Usage::

    python benchmarks/prepare_corpus.py        # once
    python benchmarks/bench_index.py           # ~15 minutes on 2 cores
    python benchmarks/bench_index.py --quick   # 100k synthetic items, a smoke run

It writes ``benchmarks/results/index.json`` and ``benchmarks/results/index.md``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import glob
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from embedrec import Embeddings, Word2Vec, Word2VecConfig  # noqa: E402
from embedrec.index import ExactIndex, Index, sweep  # noqa: E402
from embedrec.index.faiss import FaissHNSWIndex, FaissIVFIndex, import_faiss  # noqa: E402

log = logging.getLogger("bench_index")

K = 10
EF_VALUES = [16, 32, 48, 64, 96, 128, 192, 256]
NPROBE_VALUES = [4, 8, 16, 32, 64, 128]
RECALL_TARGETS = [0.90, 0.95, 0.98]
BAR_RECALL = 0.95
BAR_QPS = 2000.0
CACHE = Path.home() / ".cache" / "embedrec" / "bench"
W2V_CONFIG = {
    "arch": "skipgram",
    "loss": "neg",
    "dim": 100,
    "window": 5,
    "negative": 5,
    "sample": 1e-3,
    "min_count": 5,
    "epochs": 5,
    "workers": 2,
    "seed": 1,
}


# ---------------------------------------------------------------------------------- threads
def _numpy_blas() -> Callable[[int], None] | None:
    """NumPy's OpenBLAS thread setter (threadpoolctl's trick, without the dependency)."""
    import numpy

    libs_dir = Path(numpy.__file__).resolve().parent.parent / "numpy.libs"
    for path in glob.glob(str(libs_dir / "*openblas*")):
        lib = ctypes.CDLL(path)
        for name in (
            "scipy_openblas_set_num_threads64_",
            "openblas_set_num_threads64_",
            "openblas_set_num_threads",
        ):
            if hasattr(lib, name):
                return getattr(lib, name)  # type: ignore[no-any-return]
    return None


_SET_BLAS = _numpy_blas()


def set_threads(n: int) -> None:
    """Threads for faiss (OpenMP) and NumPy's BLAS; hnswlib takes its own per call."""
    import_faiss().omp_set_num_threads(n)
    if _SET_BLAS is not None:
        _SET_BLAS(n)


# ---------------------------------------------------------------------------------- data
def synthetic_catalogue(
    n: int, dim: int = 64, n_clusters: int = 1000, n_queries: int = 1000, seed: int = 0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """A clustered catalogue and queries from the same distribution.

    Cluster centres ~ N(0, S) and points ~ centre + s_c * N(0, S), with S a decaying spectrum
    (variance 1 / (1 + j / 8) along axis j, as trained embeddings have), cluster sizes
    Zipf(0.5) and spreads s_c ~ U(0.8, 1.5): neighbours are mostly but not only in-cluster,
    so the search is neither trivial (well separated blobs) nor hopeless (uniform noise).
    """
    rng = np.random.default_rng(seed)
    scale = (1.0 / np.sqrt(1 + np.arange(dim) / 8)).astype(np.float32)
    centres = rng.normal(size=(n_clusters, dim)).astype(np.float32) * scale
    weights = 1.0 / (1 + np.arange(n_clusters)) ** 0.5
    weights /= weights.sum()
    spread = rng.uniform(0.8, 1.5, n_clusters).astype(np.float32)

    def draw(m: int, r: np.random.Generator) -> npt.NDArray[np.float32]:
        c = r.choice(n_clusters, m, p=weights)
        x = r.normal(size=(m, dim)).astype(np.float32) * scale
        x *= spread[c, None]
        x += centres[c]
        return x

    return draw(n, rng), draw(n_queries, np.random.default_rng(seed + 1))


def wiki_embeddings(corpus: Path) -> tuple[Embeddings, float | None]:
    """The Word2Vec vectors (cached); returns them and the training seconds (None if cached)."""
    cached = CACHE / "w2v-sg-neg-d100"
    if (cached / "manifest.json").is_file():
        log.info("loading the cached Word2Vec model %s", cached)
        return Word2Vec.load(cached).embeddings_, None
    if not corpus.is_file():
        raise SystemExit(f"{corpus} is missing; run `python benchmarks/prepare_corpus.py` first")
    t0 = time.perf_counter()
    model = Word2Vec(Word2VecConfig(**W2V_CONFIG)).fit(corpus, progress=False)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    model.save(cached)
    return model.embeddings_, seconds


# ---------------------------------------------------------------------------------- measuring
def timed(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def recall_of(found_rows: npt.NDArray[np.int64], truth_rows: npt.NDArray[np.int64]) -> float:
    hits = [
        len(set(a) & set(b)) / len(b)
        for a, b in zip(found_rows.tolist(), truth_rows.tolist(), strict=True)
    ]
    return float(np.mean(hits))


def rows_of(index: Index, keys: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    lookup = {k: i for i, k in enumerate(index.keys)}
    return np.array([[lookup.get(k, -1) for k in row] for row in keys.tolist()], dtype=np.int64)


def at_recall(points: list[dict[str, Any]], target: float) -> dict[str, Any] | None:
    """The fastest measured point whose recall@10 reaches ``target`` (None if none does)."""
    ok = [p for p in points if p["recall@10"] >= target]
    return max(ok, key=lambda p: p["queries/s"]) if ok else None


class Bench:
    def __init__(self, budget_s: float) -> None:
        self.t0 = time.perf_counter()
        self.budget_s = budget_s

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.t0)

    def allow(self, what: str, needs_s: float) -> bool:
        if self.left() < needs_s:
            log.warning("skipping %s: %.0fs left, it needs ~%.0fs", what, self.left(), needs_s)
            return False
        return True


def run_catalogue(
    name: str,
    emb: Embeddings,
    queries: npt.NDArray[np.float32],
    bench: Bench,
    *,
    est_build_s: float,
    with_pq: bool = True,
) -> dict[str, Any]:
    """Every index over one catalogue; returns a JSON-able dict."""
    out: dict[str, Any] = {"n_items": len(emb), "dim": emb.dim, "n_queries": len(queries)}
    n_q = len(queries)
    log.info("[%s] %d x %d, %d queries; %.0fs left", name, len(emb), emb.dim, n_q, bench.left())

    # --- exact: the reference
    set_threads(2)
    t0 = time.perf_counter()
    exact = ExactIndex().build(emb)
    exact_build = time.perf_counter() - t0
    set_threads(1)
    exact_s, truth = timed(lambda: exact.search(queries, K), repeats=1)
    truth_rows = rows_of(exact, truth.keys)
    out["exact"] = {"build_s": round(exact_build, 2), "queries/s": round(n_q / exact_s, 1)}
    log.info("[%s] exact: %.0f queries/s (1 thread)", name, n_q / exact_s)
    unit_q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    unit_q = np.ascontiguousarray(unit_q, dtype=np.float32)

    # --- faiss HNSW through embedrec, at its defaults, then swept
    hnsw_defaults = FaissHNSWIndex().params
    if bench.allow(f"{name} faiss HNSW", est_build_s):
        set_threads(2)
        t0 = time.perf_counter()
        hnsw = FaissHNSWIndex().build(emb)
        build_s = time.perf_counter() - t0
        set_threads(1)
        q_s, res = timed(lambda: hnsw.search(queries, K))
        default = {
            **hnsw.params,
            "build_s": round(build_s, 1),
            "recall@10": round(recall_of(rows_of(hnsw, res.keys), truth_rows), 4),
            "queries/s": round(n_q / q_s, 1),
        }
        # one query at a time (a service's pattern): Python and wrapper costs show here
        n_single = min(n_q, 300)
        t0 = time.perf_counter()
        for i in range(n_single):
            hnsw.search(queries[i], K)
        default["queries/s one-by-one"] = round(n_single / (time.perf_counter() - t0), 1)
        out["faiss-hnsw default"] = default
        log.info("[%s] faiss HNSW default: %s", name, default)
        out["faiss-hnsw sweep"] = sweep(
            hnsw, queries, K, {"ef_search": EF_VALUES}, reference=truth, repeats=3
        )
        # the same graph without the embedrec wrapper
        raw = hnsw._faiss_index
        raw_points = []
        for ef in EF_VALUES:
            raw.hnsw.efSearch = ef
            s, (_, labels) = timed(lambda: raw.search(unit_q, K))
            raw_points.append(
                {
                    "ef_search": ef,
                    "recall@10": round(recall_of(labels, truth_rows), 4),
                    "queries/s": round(n_q / s, 1),
                }
            )
        out["faiss-raw sweep"] = raw_points
        del hnsw, raw
        gc.collect()

    # --- hnswlib, same M / ef_construction / ef
    try:
        import hnswlib
    except ImportError:
        hnswlib = None
        log.warning("hnswlib is not installed; skipping it (pip install -e '.[bench]')")
    if hnswlib is not None and bench.allow(f"{name} hnswlib", est_build_s):
        data = np.ascontiguousarray(emb.unit_vectors)
        t0 = time.perf_counter()
        h = hnswlib.Index(space="ip", dim=emb.dim)
        h.init_index(
            max_elements=len(emb),
            M=hnsw_defaults["M"],
            ef_construction=hnsw_defaults["ef_construction"],
            random_seed=100,
        )
        h.set_num_threads(2)
        h.add_items(data, np.arange(len(emb)))
        build_s = time.perf_counter() - t0
        h.set_num_threads(1)
        points = []
        for ef in EF_VALUES:
            h.set_ef(max(ef, K))
            s, (labels, _) = timed(lambda: h.knn_query(unit_q, k=K, num_threads=1))
            points.append(
                {
                    "ef": ef,
                    "recall@10": round(recall_of(labels.astype(np.int64), truth_rows), 4),
                    "queries/s": round(n_q / s, 1),
                }
            )
        out["hnswlib"] = {
            "M": hnsw_defaults["M"],
            "ef_construction": hnsw_defaults["ef_construction"],
            "build_s": round(build_s, 1),
        }
        out["hnswlib sweep"] = points
        log.info("[%s] hnswlib built in %.1fs", name, build_s)
        del h, data
        gc.collect()

    # --- IVF-Flat and IVF-PQ through embedrec
    kinds = [("ivf-flat", {})] + ([("ivf-pq", {"pq_m": "auto"})] if with_pq else [])
    for kind, params in kinds:
        if not bench.allow(f"{name} {kind}", est_build_s / 3):
            continue
        set_threads(2)
        t0 = time.perf_counter()
        ivf = FaissIVFIndex(**params).build(emb)
        build_s = time.perf_counter() - t0
        set_threads(1)
        q_s, res = timed(lambda ivf=ivf: ivf.search(queries, K))
        out[f"{kind} default"] = {
            **ivf.params,
            "nlist_used": ivf.nlist_,
            "build_s": round(build_s, 1),
            "recall@10": round(recall_of(rows_of(ivf, res.keys), truth_rows), 4),
            "queries/s": round(n_q / q_s, 1),
        }
        log.info("[%s] %s default: %s", name, kind, out[f"{kind} default"])
        values = [v for v in NPROBE_VALUES if v <= ivf.nlist_]
        out[f"{kind} sweep"] = sweep(
            ivf, queries, K, {"nprobe": values}, reference=truth, repeats=3
        )
        del ivf
        gc.collect()

    # --- equal recall: faiss (raw and through embedrec) vs hnswlib
    compare = []
    for target in RECALL_TARGETS:
        row: dict[str, Any] = {"recall@10 >=": target}
        for label, key, param in [
            ("embedrec faiss-hnsw", "faiss-hnsw sweep", "ef_search"),
            ("faiss-raw", "faiss-raw sweep", "ef_search"),
            ("hnswlib", "hnswlib sweep", "ef"),
            ("embedrec ivf-flat", "ivf-flat sweep", "nprobe"),
            ("embedrec ivf-pq", "ivf-pq sweep", "nprobe"),
        ]:
            if key not in out:
                row[label] = "not run"
                continue
            hit = at_recall(out[key], target)
            row[label] = None if hit is None else {param: hit[param], "queries/s": hit["queries/s"]}
        compare.append(row)
    out["equal recall"] = compare
    set_threads(2)
    return out


# ---------------------------------------------------------------------------------- report
def _fmt_qps(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def markdown(res: dict[str, Any]) -> str:
    m = res["meta"]
    lines = [
        "## Nearest-neighbour indexes (`bench_index.py`)",
        "",
        f"Machine: {m['machine']}. faiss-cpu {m['faiss']}, hnswlib {m['hnswlib']}, "
        f"numpy {m['numpy']}. Builds use {m['build_threads']} threads; every queries/s figure "
        "is ONE thread (faiss `omp_set_num_threads(1)`, hnswlib `num_threads=1`, NumPy's "
        "OpenBLAS at 1 thread), the best of three passes over the whole query batch. Recall@10 "
        "is against `ExactIndex`. Cosine everywhere (unit vectors, inner product).",
        "",
        "```bash",
        m["command"],
        "```",
        "",
        "Catalogues: **wiki**: embedrec Word2Vec (skip-gram, negative 5, dim 100, min_count 5, "
        "5 epochs) on the `prepare_corpus.py` Wikipedia text; queries: the vectors of 2,000 "
        "random keys. **synthetic**: a seeded anisotropic Gaussian mixture (1,000 clusters, "
        "Zipf sizes, spreads U(0.8, 1.5)), 1,000 queries from the same mixture. "
        "`embedrec` rows go through `embedrec.index` (filter handling; IVF-PQ candidates "
        "re-ranked by their exact scores, `refine_factor` 4); `faiss-raw` is the same faiss "
        "graph called directly, so the gap between the two is the wrapper's cost plus "
        "run-to-run noise.",
        "",
    ]
    for name, r in res["catalogues"].items():
        lines += [f"### {name}: {r['n_items']:,} x {r['dim']}, {r['n_queries']:,} queries", ""]
        lines += [
            "| index | parameters | build s (2 threads) | recall@10 | queries/s (1 thread) |",
            "|---|---|---:|---:|---:|",
        ]
        lines.append(
            f"| exact (NumPy) | - | {r['exact']['build_s']} | 1.0000 | "
            f"{_fmt_qps(r['exact']['queries/s'])} |"
        )
        d = r.get("faiss-hnsw default")
        if d:
            lines.append(
                f"| embedrec faiss-hnsw (defaults) | M={d['M']}, ef_construction="
                f"{d['ef_construction']}, ef_search={d['ef_search']} | {d['build_s']} | "
                f"{d['recall@10']:.4f} | {_fmt_qps(d['queries/s'])} "
                f"({_fmt_qps(d['queries/s one-by-one'])} one query per call) |"
            )
        h = r.get("hnswlib")
        if h:
            lines.append(
                f"| hnswlib | M={h['M']}, ef_construction={h['ef_construction']} | "
                f"{h['build_s']} | see sweep | see sweep |"
            )
        for kind in ("ivf-flat", "ivf-pq"):
            d = r.get(f"{kind} default")
            if d:
                extra = f", pq_m={d['pq_m']}" if kind == "ivf-pq" else ""
                lines.append(
                    f"| embedrec {kind} (defaults) | nlist={d['nlist_used']}, "
                    f"nprobe={d['nprobe']}{extra} | {d['build_s']} | {d['recall@10']:.4f} | "
                    f"{_fmt_qps(d['queries/s'])} |"
                )
        lines.append("")
        sweeps = [
            ("embedrec faiss-hnsw", "faiss-hnsw sweep", "ef_search"),
            ("faiss-raw", "faiss-raw sweep", "ef_search"),
            ("hnswlib", "hnswlib sweep", "ef"),
        ]
        have = [s for s in sweeps if r.get(s[1])]
        if have:
            lines.append(
                "HNSW sweep (recall@10 / queries/s, 1 thread): "
                + ", ".join(s[0] for s in have)
                + "."
            )
            lines.append("")
            lines.append("| ef | " + " | ".join(s[0] for s in have) + " |")
            lines.append("|---:|" + "---:|" * len(have))
            for i, ef in enumerate(EF_VALUES):
                cells = []
                for _, key, _ in have:
                    p = r[key][i]
                    cells.append(f"{p['recall@10']:.4f} / {_fmt_qps(p['queries/s'])}")
                lines.append(f"| {ef} | " + " | ".join(cells) + " |")
            lines.append("")
        for kind in ("ivf-flat", "ivf-pq"):
            pts = r.get(f"{kind} sweep")
            if pts:
                lines.append(
                    f"{kind} sweep (nprobe: recall@10 / queries/s): "
                    + ", ".join(
                        f"{p['nprobe']}: {p['recall@10']:.3f} / {_fmt_qps(p['queries/s'])}"
                        for p in pts
                    )
                    + "."
                )
                lines.append("")
        labels = [c for c in r["equal recall"][0] if c != "recall@10 >="]
        lines.append("At equal recall (the fastest swept point reaching it; queries/s, 1 thread):")
        lines.append("")
        lines.append("| recall@10 >= | " + " | ".join(labels) + " |")
        lines.append("|---:|" + "---:|" * len(labels))
        for row in r["equal recall"]:
            cells = []
            for label in labels:
                v = row[label]
                if v is None or isinstance(v, str):
                    cells.append(v or "not reached")
                else:
                    param, value = next((k, x) for k, x in v.items() if k != "queries/s")
                    cells.append(f"{_fmt_qps(v['queries/s'])} ({param} {value})")
            lines.append(f"| {row['recall@10 >=']} | " + " | ".join(cells) + " |")
        lines.append("")
    bar = res.get("bar")
    if bar:
        verdict = "**met**" if bar["met"] else "**not met**"
        lines += [
            "### The bar",
            "",
            f"A documented default reaching recall@10 >= {BAR_RECALL} at >= {BAR_QPS:,.0f} "
            f"queries/s per core on the 1M catalogue: {verdict}. `FaissHNSWIndex()` "
            f"({bar['params']}) gives recall@10 {bar['recall@10']:.4f} at "
            f"{bar['queries/s']:,.0f} queries/s on one thread "
            f"(build {bar['build_s']} s on {m['build_threads']} threads).",
            "",
        ]
    load = m["load_average_1m_before_after"]
    lines.append(
        f"Total benchmark wall time: {m['wall_s']:.0f} s; 1-minute load average {load[0]} "
        f"before and {load[1]} after (2 means both cores were busy: other processes shared "
        "the machine, so the rates carry that noise)."
    )
    return "\n".join(lines) + "\n"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", nargs="+", default=["wiki", "synthetic"])
    ap.add_argument("--n-items", type=int, default=1_000_000, help="synthetic catalogue size")
    ap.add_argument("--quick", action="store_true", help="100k synthetic items, no IVF-PQ")
    ap.add_argument("--budget-s", type=float, default=900.0, help="skip stages past this")
    ap.add_argument(
        "--corpus", type=Path, default=CACHE / "wiki-text8like.txt", help="prepare_corpus output"
    )
    ap.add_argument("--out", type=Path, default=HERE / "results" / "index")
    ap.add_argument(
        "--report-only", action="store_true", help="rewrite OUT.md from OUT.json, run nothing"
    )
    args = ap.parse_args(argv)
    if args.report_only:
        res = json.loads(args.out.with_suffix(".json").read_text())
        args.out.with_suffix(".md").write_text(markdown(res))
        print(args.out.with_suffix(".md").read_text())
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("faiss").setLevel(logging.WARNING)  # its "Loading faiss with AVX2" lines
    if args.quick:
        args.n_items = min(args.n_items, 100_000)
    faiss = import_faiss()
    try:
        import hnswlib  # noqa: F401

        hnswlib_version = "0.8"
        from importlib.metadata import version

        hnswlib_version = version("hnswlib")
    except Exception:
        hnswlib_version = "not installed"
    load_before = os.getloadavg()
    bench = Bench(args.budget_s)
    res: dict[str, Any] = {"catalogues": {}}
    if "synthetic" in args.parts:
        t0 = time.perf_counter()
        data, queries = synthetic_catalogue(args.n_items)
        emb = Embeddings(np.arange(args.n_items), data)
        del data
        log.info("synthetic catalogue ready in %.1fs", time.perf_counter() - t0)
        est = 300 * args.n_items / 1_000_000
        r = run_catalogue("synthetic", emb, queries, bench, est_build_s=est, with_pq=not args.quick)
        name = f"synthetic ({args.n_items:,} clustered)"
        res["catalogues"][name] = r
        d = r.get("faiss-hnsw default")
        if d and args.n_items >= 1_000_000:
            res["bar"] = {
                "params": ", ".join(f"{k}={d[k]}" for k in ("M", "ef_construction", "ef_search")),
                "recall@10": d["recall@10"],
                "queries/s": d["queries/s"],
                "build_s": d["build_s"],
                "met": d["recall@10"] >= BAR_RECALL and d["queries/s"] >= BAR_QPS,
            }
    if "wiki" in args.parts:
        emb, train_s = wiki_embeddings(args.corpus)
        rng = np.random.default_rng(0)
        queries = np.asarray(emb.vectors[rng.choice(len(emb), 2000, replace=False)])
        r = run_catalogue("wiki", emb, queries, bench, est_build_s=30)
        r["word2vec_train_s"] = train_s
        res["catalogues"][f"wiki (Word2Vec, {len(emb):,} keys)"] = r
        del emb
        gc.collect()
    res["meta"] = {
        "machine": f"{os.cpu_count()} CPUs ({cpu_model()}), "
        f"{platform.system()}, Python {platform.python_version()}",
        "faiss": faiss.__version__,
        "hnswlib": hnswlib_version,
        "numpy": np.__version__,
        "build_threads": 2,
        "command": ("python benchmarks/bench_index.py " + " ".join(argv or sys.argv[1:])).strip(),
        "wall_s": round(bench.budget_s - bench.left(), 1),
        "load_average_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "date": time.strftime("%Y-%m-%d"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    json_path = args.out.with_suffix(".json")
    json_path.write_text(json.dumps(res, indent=2) + "\n")
    md_path = args.out.with_suffix(".md")
    md_path.write_text(markdown(res))
    print(md_path.read_text())
    log.info("wrote %s and %s", json_path, md_path)


if __name__ == "__main__":
    main()

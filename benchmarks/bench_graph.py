"""Graph embeddings: BlogCatalog against PecanPy, and item graphs (EGES vs DeepWalk).

Usage::

    python benchmarks/bench_graph.py ../shared/data --pecanpy-python /tmp/pecan/bin/python

1. **BlogCatalog** (10,312 nodes, 333,983 undirected edges, 39 labels), 128 dimensions,
   10 walks of length 80 per node, window 10, 5 negatives, one epoch, subsampling 1e-3
   (gensim's default, which PecanPy's ``embed`` uses), 2 threads; embedrec with its default
   skip-gram updates (negatives shared by a window, pairs updated one after another:
   "embedrec"), with the exact per-pair draws of word2vec.c / gensim ("embedrec-exact") and
   with the window updated as one mini-batch ("embedrec-batch"); for DeepWalk (PecanPy
   ``FirstOrderUnweighted``) and node2vec with p = q = 0.25 (PecanPy ``SparseOTF`` and
   ``PreComp``). Each run is a fresh subprocess, embedrec and PecanPy alternating, timed
   from reading the edge list to holding the embedding matrix (numba compilation included:
   embedrec's kernels are cached on disk, PecanPy's compile in every process); peak RSS
   from ``getrusage``. Macro/Micro-F1 at 50% labelled nodes (one-vs-rest logistic
   regression, DeepWalk's top-k protocol, 10 seeded splits) for every run's embeddings.
   PecanPy pins numpy < 2, so it runs in its own virtual environment
   (``python -m venv /tmp/pecan && /tmp/pecan/bin/pip install pecanpy``).
2. **Item graphs**, next-item protocol of the Item2Vec benchmark (leave-last-out, full
   ranking, seen items excluded): MovieLens 100K (side information: genre combination and
   year; one sequence per user) and the Taobao UserBehavior sample (side information:
   category; sessions split at one-hour gaps) with EGES, GES, DeepWalk, Item2Vec and
   popularity; the DIGINETICA sample (no side information) with DeepWalk, Item2Vec and
   popularity. The graph is built from the training sequences only; catalogue items that
   never occur in a training session get EGES/GES vectors from their side information.
   Users are scored as Item2Vec scores them (recency-weighted mean of the history's unit
   vectors, half-life 3 items), by cosine.

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
DIM, WALKS, LENGTH, WINDOW, NEG, SAMPLE = 128, 10, 80, 10, 5, 1e-3
P = Q = 0.25


# --------------------------------------------------------------------------- job processes
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def job_embedrec(
    edges: Path, method: str, out: Path, threads: int, seed: int, mode: str
) -> dict[str, Any]:
    t0 = time.perf_counter()
    import numpy as np

    from embedrec.data.graph import Graph
    from embedrec.models.walks import DeepWalk, DeepWalkConfig, Node2Vec, Node2VecConfig

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    graph = Graph.from_edgelist(edges, directed=False, weighted=False)
    common: dict[str, Any] = dict(
        dim=DIM,
        walks_per_node=WALKS,
        walk_length=LENGTH,
        window=WINDOW,
        negative=NEG,
        sample=SAMPLE,
        epochs=1,
        workers=threads,
        seed=seed,
    )
    if mode != "sequential":  # the default; "exact" is the per-pair word2vec.c update
        common["window_update"] = mode
    model: Any
    if method == "deepwalk":
        model = DeepWalk(DeepWalkConfig(**common))
    else:
        model = Node2Vec(Node2VecConfig(p=P, q=Q, **common))
    model.fit(graph, progress=False)
    vec = model.embeddings_.vectors[model.embeddings_.index_of(graph.keys)]
    total = time.perf_counter() - t0
    np.save(out, np.ascontiguousarray(vec, dtype=np.float32))
    np.save(out.with_suffix(".keys.npy"), np.asarray(graph.keys, dtype=np.int64))
    return {
        "walks_s": model.timings_["walks_s"],
        "train_s": model.timings_["train_s"],
        "total_s": total,
        "import_s": t_import,
        "peak_rss_mb": _peak_mb(),
    }


def job_pecanpy(
    edges: Path, method: str, mode: str, out: Path, threads: int, seed: int
) -> dict[str, Any]:
    t0 = time.perf_counter()
    import numpy as np
    from gensim.models import Word2Vec
    from pecanpy import pecanpy as p2v

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    cls = getattr(p2v, mode)
    p, q = (1.0, 1.0) if method == "deepwalk" else (P, Q)
    g = cls(p=p, q=q, workers=threads, verbose=False, random_state=seed)
    g.read_edg(str(edges), weighted=False, directed=False)
    g.preprocess_transition_probs()
    t_walk = time.perf_counter()
    walks = g.simulate_walks(WALKS, LENGTH)
    walks_s = time.perf_counter() - t_walk
    t_train = time.perf_counter()
    w2v = Word2Vec(
        walks,
        vector_size=DIM,
        window=WINDOW,
        sg=1,
        negative=NEG,
        sample=SAMPLE,
        min_count=0,
        workers=threads,
        epochs=1,
        seed=seed,
    )
    vec = w2v.wv[g.nodes]
    train_s = time.perf_counter() - t_train
    total = time.perf_counter() - t0
    np.save(out, np.ascontiguousarray(vec, dtype=np.float32))
    np.save(out.with_suffix(".keys.npy"), np.asarray([int(n) for n in g.nodes], dtype=np.int64))
    return {
        "walks_s": walks_s,
        "train_s": train_s,
        "total_s": total,
        "import_s": t_import,
        "peak_rss_mb": _peak_mb(),
    }


# --------------------------------------------------------------------------- orchestration
def write_edges(data: Path, tmp: Path) -> tuple[Path, Any, Any]:
    """BlogCatalog's .mat network as a tab-separated edge list (each undirected edge once)."""
    import numpy as np

    from embedrec.data.graph import Graph, read_mat_labels

    mat = data / "graphs" / "blogcatalog" / "blogcatalog.mat"
    graph = Graph.from_mat(mat)
    labels, _ = read_mat_labels(mat)
    coo = graph.to_scipy().tocoo()
    keep = coo.row < coo.col
    path = tmp / "blogcatalog.edg"
    np.savetxt(path, np.stack([coo.row[keep], coo.col[keep]], axis=1), fmt="%d", delimiter="\t")
    return path, graph, labels


def run_job(python: str, args: list[str], threads: int) -> dict[str, Any]:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS="1")
    res = subprocess.run(
        [python, str(HERE), *args], env=env, capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        raise RuntimeError(f"job {args} failed:\n{res.stderr[-3000:]}")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def f1_of(emb_path: Path, graph: Any, labels: Any, repeats: int) -> dict[str, float]:
    import numpy as np

    from embedrec import Embeddings
    from embedrec.eval.graph import node_classification

    vec = np.load(emb_path)
    keys = np.load(emb_path.with_suffix(".keys.npy"))
    emb = Embeddings(keys.tolist(), vec)
    # rows of the labels follow graph.keys; reorder the embeddings to match
    res = node_classification(
        emb, graph.keys, labels, train_fractions=(0.5,), repeats=repeats, seed=0
    )
    r = res["fractions"]["0.5"] if "fractions" in res else res["0.5"]
    return {"macro_f1": float(r["macro_f1"]["mean"]), "micro_f1": float(r["micro_f1"]["mean"])}


def blogcatalog(data: Path, pecan_python: str, repeats: int, threads: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        edges, graph, labels = write_edges(data, tmp)
        # fill embedrec's numba cache once (a deployed install has it; `embedrec warmup`)
        run_job(
            sys.executable,
            [
                "--job",
                "embedrec",
                "--method",
                "node2vec",
                "--edges",
                str(edges),
                "--out",
                str(tmp / "warm.npy"),
            ],
            threads,
        )
        plan = {
            "deepwalk": [
                ("embedrec", None),
                ("embedrec", "exact"),
                ("embedrec", "batch"),
                ("pecanpy", "FirstOrderUnweighted"),
            ],
            "node2vec": [
                ("embedrec", None),
                ("embedrec", "exact"),
                ("embedrec", "batch"),
                ("pecanpy", "SparseOTF"),
                ("pecanpy", "PreComp"),
            ],
        }
        for method, runners in plan.items():
            runs: dict[str, list[dict[str, Any]]] = {}
            for r in range(repeats):
                for lib, mode in runners:
                    name = lib if mode is None else f"{lib}-{mode}"
                    emb = tmp / f"{method}-{name}-{r}.npy"
                    args = [
                        "--job",
                        lib,
                        "--method",
                        method,
                        "--edges",
                        str(edges),
                        "--out",
                        str(emb),
                        "--seed",
                        str(r + 1),
                    ]
                    if mode is not None:
                        args += ["--mode", mode]
                    python = sys.executable if lib == "embedrec" else pecan_python
                    res = run_job(python, args, threads)
                    res.update(f1_of(emb, graph, labels, repeats=10))
                    runs.setdefault(name, []).append(res)
                    print(
                        f"blogcatalog {method:8s} {name:28s} run {r}: total {res['total_s']:6.2f}s "
                        f"walks {res['walks_s']:6.2f}s train {res['train_s']:6.2f}s "
                        f"rss {res['peak_rss_mb']:6.0f}MB macro {res['macro_f1']:.4f} "
                        f"micro {res['micro_f1']:.4f}",
                        flush=True,
                    )
            summary = {
                name: {k: statistics.median(x[k] for x in rs) for k in rs[0]}
                for name, rs in runs.items()
            }
            best_pecan = min(
                (v for k, v in summary.items() if k.startswith("pecanpy")),
                key=lambda v: v["total_s"],
            )
            out[method] = {"summary": summary, "runs": runs}
            for name in ("embedrec", "embedrec-exact", "embedrec-batch"):
                ours = summary[name]
                out[method][name] = {
                    "ratio_total_vs_fastest_pecanpy": ours["total_s"] / best_pecan["total_s"],
                    "ratio_walks_vs_fastest_pecanpy": ours["walks_s"] / best_pecan["walks_s"],
                    "macro_f1_minus_pecanpy": ours["macro_f1"] - best_pecan["macro_f1"],
                }
                print(
                    f"blogcatalog {method} {name}: end-to-end ratio "
                    f"{out[method][name]['ratio_total_vs_fastest_pecanpy']:.3f} (bar <= 0.5), "
                    f"Macro-F1 {ours['macro_f1']:.4f} vs {best_pecan['macro_f1']:.4f}",
                    flush=True,
                )
    out["paper"] = {"node2vec_macro_f1": 0.2581, "deepwalk_macro_f1": 0.2110}
    out["params"] = {
        "dim": DIM,
        "walks_per_node": WALKS,
        "walk_length": LENGTH,
        "window": WINDOW,
        "negative": NEG,
        "sample": SAMPLE,
        "epochs": 1,
        "p": P,
        "q": Q,
        "threads": threads,
    }
    return out


# --------------------------------------------------------------------------- item graphs
ITEM_WALK = dict(dim=64, walks_per_node=10, walk_length=20, window=5, negative=5, epochs=5)


def taobao(data: Path) -> tuple[Any, dict[Any, Any]]:
    """Taobao UserBehavior sample: every behaviour counts as an interaction; item -> category."""
    import numpy as np

    from embedrec.data.interactions import read_interactions

    path = data / "taobao-userbehavior-sample" / "UserBehavior_head84475.csv"
    names = ["user", "item", "category", "behavior", "ts"]
    inter = read_interactions(
        path,
        user_col="user",
        item_col="item",
        time_col="ts",
        has_header=False,
        column_names=names,
    )
    raw = np.loadtxt(path, delimiter=",", usecols=(1, 2), dtype=np.int64)
    category = dict(zip(raw[:, 0].tolist(), raw[:, 1].tolist(), strict=True))
    return inter, category


def item_graphs(data: Path, seeds: list[int]) -> dict[str, Any]:
    from embedrec.data import datasets as ds

    out: dict[str, Any] = {}
    tb, category = taobao(data)
    ml = data / "movielens-100k"
    items = ds.movielens_100k_items(ml).to_pydict()
    ml_side = {
        "genres": dict(zip(items["item"], items["genres"], strict=True)),
        "year": dict(zip(items["item"], items["year"], strict=True)),
    }
    sets: list[tuple[str, Any, dict[str, dict[Any, Any]] | None, float | None]] = [
        ("movielens-100k", ds.movielens_100k(ml), ml_side, None),
        ("taobao-sample", tb, {"category": category}, 3600.0),
        (
            "diginetica-sample",
            ds.diginetica(data / "diginetica-sample" / "sample_train-item-views.csv"),
            None,
            None,
        ),
    ]
    for name, inter, side, gap in sets:
        out[name] = item_graph(name, inter, side, gap, seeds)
    return out


def item_graph(
    name: str,
    inter: Any,
    side: dict[str, dict[Any, Any]] | None,
    gap: float | None,
    seeds: list[int],
) -> dict[str, Any]:
    """Popularity, Item2Vec, DeepWalk (and EGES/GES with side information) on one log."""
    import numpy as np

    from embedrec import Embeddings
    from embedrec.data.graph import Graph
    from embedrec.eval import Popularity, evaluate, leave_last_out
    from embedrec.models import Item2Vec, Item2VecConfig
    from embedrec.models.eges import EGES, EGESConfig
    from embedrec.models.walks import DeepWalk, DeepWalkConfig

    ks = (10, 50)
    split = leave_last_out(inter)
    full = split.train_full
    # sessions: a one-hour gap on Taobao (Wang et al. 2018); DIGINETICA rows are sessions
    graph = Graph.from_sessions(full.sequences(session_gap=gap))
    rows: dict[str, list[dict[str, float]]] = {}

    def record(row: str, model: Any, seconds: float) -> None:
        res = evaluate(model, full, split.test, ks=ks)
        m = {k: float(res.metrics[k]) for k in ("HR@10", "NDCG@10", "HR@50")}
        m["seconds"] = seconds
        rows.setdefault(row, []).append(m)
        print(
            f"{name:18s} {row:10s} HR@10 {m['HR@10']:.4f} NDCG@10 {m['NDCG@10']:.4f} "
            f"HR@50 {m['HR@50']:.4f} {seconds:6.1f}s",
            flush=True,
        )

    def recommender(keys: Any, vectors: Any) -> Any:
        return Item2Vec.from_vectors(
            Embeddings(list(keys), np.ascontiguousarray(vectors, dtype=np.float32)),
            config=Item2VecConfig(scoring="cosine"),  # Item2Vec's recency user vector
        )

    t0 = time.perf_counter()
    record("popularity", Popularity().fit(full), time.perf_counter() - t0)
    for seed in seeds:
        t0 = time.perf_counter()
        i2v = Item2Vec(Item2VecConfig(workers=2, seed=seed)).fit(full, progress=False)
        record("item2vec", i2v, time.perf_counter() - t0)
        t0 = time.perf_counter()
        dw = DeepWalk(DeepWalkConfig(workers=2, seed=seed, **ITEM_WALK)).fit(  # type: ignore[arg-type]
            graph, progress=False
        )
        record(
            "deepwalk",
            recommender(dw.embeddings_.keys, dw.embeddings_.vectors),
            time.perf_counter() - t0,
        )
        if side is None:
            continue
        keys = np.asarray(graph.keys)
        field = {f: [m.get(k) for k in keys.tolist()] for f, m in side.items()}
        # items of the catalogue that never occur in a training session: side info only
        cold = np.setdiff1d(np.asarray(full.item_keys), keys)
        cold_field = {f: [m.get(k) for k in cold.tolist()] for f, m in side.items()}
        for mode in ("eges", "ges"):
            t0 = time.perf_counter()
            eg = EGES(EGESConfig(mode=mode, workers=2, seed=seed, **ITEM_WALK)).fit(  # type: ignore[arg-type]
                graph, field, progress=False
            )
            vec = np.concatenate([eg.embeddings_.vectors, eg.cold_start(cold_field)])
            record(
                mode,
                recommender(np.concatenate([eg.embeddings_.keys, cold]), vec),
                time.perf_counter() - t0,
            )
    return {
        "summary": {
            row: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for row, rs in rows.items()
        },
        "runs": rows,
        "graph": {"nodes": graph.n_nodes, "edges": graph.n_edges},
        "test_users": len(np.unique(split.test.user)),
        "config": ITEM_WALK,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data", nargs="?", type=Path, help="shared data folder")
    ap.add_argument("--pecanpy-python", default="/tmp/pecan/bin/python")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parts", nargs="+", default=["blogcatalog", "items"])
    ap.add_argument("--json", type=Path, help="also write the JSON here")
    # job mode (internal)
    ap.add_argument("--job", choices=["embedrec", "pecanpy"])
    ap.add_argument("--method", choices=["deepwalk", "node2vec"])
    ap.add_argument("--mode", default="SparseOTF")
    ap.add_argument("--edges", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.job == "embedrec":
        res = job_embedrec(args.edges, args.method, args.out, args.threads, args.seed, args.mode)
        print(json.dumps(res))
        return
    if args.job == "pecanpy":
        print(
            json.dumps(
                job_pecanpy(args.edges, args.method, args.mode, args.out, args.threads, args.seed)
            )
        )
        return
    if args.data is None:
        ap.error("give the shared data folder, e.g. ../shared/data")
    result: dict[str, Any] = {}
    if "blogcatalog" in args.parts:
        result["blogcatalog"] = blogcatalog(
            args.data, args.pecanpy_python, args.repeats, args.threads
        )
    if "items" in args.parts:
        result["items"] = item_graphs(args.data, seeds=list(range(1, args.repeats + 1)))
    line = json.dumps(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(line)


if __name__ == "__main__":
    main()

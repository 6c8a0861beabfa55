"""Latency of exact ``/v1/similar`` while another CPU-bound process runs (issue #14, part 5).

On a 2-core machine a query that spreads over two BLAS threads has to share a core with the
neighbour, and its threads wait on each other. This measures ``--threads 1`` (the default of
``embedrec serve``) against ``--threads 2`` with one CPU-bound neighbour process running.

What runs:

1. Model. A Word2Vec (skip-gram, dim 100, one epoch, ``min_count=24``: 19.8k keys) on the
   Wikipedia corpus of ``bench_word2vec.py`` (``prepare_corpus.py``; made here if missing),
   cached under ``~/.cache/embedrec/bench/`` and copied into a temporary directory to serve.
2. Neighbour. One single-threaded CPU-bound process (``--neighbour python``: a Python busy
   loop; ``matmul``: a numpy 300x300 matmul loop on one BLAS thread), started after the idle
   runs and kept running through every busy run. Its CPU share and the 1-minute load
   average are recorded for every run.
3. In-process. ``load_artifact(DIR).similar([key], 10)`` timed per query (uniform random
   keys) under ``threadpoolctl.threadpool_limits(T)`` for T = 1 and 2, in alternating
   blocks, without and then with the neighbour: median and p99 per query.
4. HTTP. ``python -m embedrec serve DIR --no-access-log --threads T`` (a fresh process for
   every run), 4 keep-alive connections in a closed loop (``bench_service.closed_loop``)
   sending ``GET /v1/similar?key=K&k=10`` for ``--seconds``: T = 1 and 2 alternating for
   ``--rounds`` rounds with the neighbour running, and one run of T = 1 without it (context).

The bar: with the neighbour running, p99 under 20 ms at 4 connections (median over rounds).
``uptime`` and ``top -bn1 | head -15`` are recorded before and after: other work on the
machine shows up in the tails.

Usage::

    python benchmarks/bench_service_busy.py --wait-quiet 40   # 3.5-8 minutes on 2 cores
    python benchmarks/bench_service_busy.py --seconds 3 --rounds 1 --out /tmp/x.json

Writes ``benchmarks/results/service-busy.json`` (``--out``); ``--tables FILE`` prints the
tables of such a file, or of a list of them (the committed file holds two runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

import bench_service as bs  # benchmarks/ is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("EMBEDREC_CACHE", Path.home() / ".cache" / "embedrec")) / "bench"
MIN_COUNT = 24
CONNECTIONS = 4
NEIGHBOURS = {
    "python": "while True:\n    pass\n",
    "matmul": "import numpy as np\na = np.random.rand(300, 300)\nwhile True:\n    a @ a\n",
}
ONE_THREAD = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


# ---------------------------------------------------------------------------------- setup
def word2vec_dir() -> tuple[Path, float | None]:
    """The cached model directory (trained on first use) and its training seconds."""
    out = CACHE / f"service-busy-word2vec-sg100-mc{MIN_COUNT}"
    if (out / "CURRENT").exists() or (out / "manifest.json").exists():  # a store, or flat
        return out, None
    import prepare_corpus

    corpus = bs.CORPUS if bs.CORPUS.exists() else prepare_corpus.prepare(bs.CORPUS)
    from embedrec.models import Word2Vec, Word2VecConfig

    cfg = Word2VecConfig(arch="skipgram", dim=100, min_count=MIN_COUNT, epochs=1, workers=2)
    t0 = time.perf_counter()
    model = Word2Vec(cfg).fit([corpus], progress=False)
    seconds = time.perf_counter() - t0
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(tmp)
    os.replace(tmp, out)
    return out, seconds


def machine_state() -> dict[str, Any]:
    """``uptime`` and the head of ``top``: what else runs on the machine right now."""
    top = subprocess.run(
        "top -bn1 | head -15", shell=True, capture_output=True, text=True, check=False
    ).stdout
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    return {"uptime": uptime.strip(), "top": top.rstrip("\n").splitlines()}


def start_neighbour(kind: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, **ONE_THREAD)
    return subprocess.Popen([sys.executable, "-c", NEIGHBOURS[kind]], env=env)


def start_server(model_dir: Path, log: Path, threads: int) -> tuple[subprocess.Popen[bytes], int]:
    """``bench_service.start_server`` with ``--threads`` appended to the serve command."""
    popen = subprocess.Popen

    def with_threads(cmd: list[str], *a: Any, **kw: Any) -> subprocess.Popen[bytes]:
        return popen([*cmd, "--threads", str(threads)], *a, **kw)

    with mock.patch.object(bs.subprocess, "Popen", with_threads):
        return bs.start_server(model_dir, log)


def _ticks(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return float(int(fields[11]) + int(fields[12]))  # utime + stime


class Shares:
    """Cores used during a run by named processes and by everything else on the machine."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids, self.tick = pids, os.sysconf("SC_CLK_TCK")
        self.t0, self.busy0 = time.perf_counter(), bs.CpuMeter._busy()
        self.ticks0 = {k: _ticks(p) for k, p in pids.items()}

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        out = {
            f"{k}_cpu": (_ticks(p) - self.ticks0[k]) / self.tick / wall
            for k, p in self.pids.items()
        }
        busy = (bs.CpuMeter._busy() - self.busy0) / self.tick / wall
        out["other_cpu"] = max(busy - sum(out.values()), 0.0)
        return {k: round(v, 2) for k, v in out.items()}


def wait_quiet(limit: float, neighbour: subprocess.Popen[bytes] | None) -> float:
    """``bench_service.wait_quiet`` that does not count the neighbour: wait (up to ``limit``
    seconds) until everything else has used under 0.25 cores for 2 s; returns the wait."""
    bs.wait_quiet(0)  # freezes this client's heap (no GC pauses in the measurement)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        meter = Shares({"neighbour": neighbour.pid} if neighbour is not None else {})
        time.sleep(2.0)
        if meter.stop()["other_cpu"] < 0.25:
            break
    return round(time.perf_counter() - t0, 1)


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


# ---------------------------------------------------------------------------------- runs
def in_process(
    art: Any, keys: list[Any], pids: dict[str, int], blocks: int, per_block: int, cap_s: float
) -> dict[str, Any]:
    """Per-query ms of ``art.similar([key], 10)`` at 1 and 2 BLAS threads, alternating blocks
    (ABBA order) of ``per_block`` queries or ``cap_s`` seconds, whichever ends first."""
    from threadpoolctl import threadpool_limits

    rng = random.Random(5)
    lat: dict[int, list[float]] = {1: [], 2: []}
    block_medians: dict[int, list[float]] = {1: [], 2: []}
    for t in (1, 2):
        with threadpool_limits(limits=t):
            for _ in range(30):
                art.similar([rng.choice(keys)], 10)
    meter = Shares(pids)
    load = [os.getloadavg()[0]]
    for b in range(blocks):
        for t in (1, 2) if b % 2 == 0 else (2, 1):
            ms = []
            with threadpool_limits(limits=t):
                t_end = time.perf_counter() + cap_s
                while len(ms) < per_block and time.perf_counter() < t_end:
                    key = rng.choice(keys)
                    t0 = time.perf_counter()
                    art.similar([key], 10)
                    ms.append(1000.0 * (time.perf_counter() - t0))
            lat[t] += ms
            block_medians[t].append(round(statistics.median(ms), 3))
        load.append(os.getloadavg()[0])
    cpu = meter.stop()
    return {
        str(t): {
            "queries": len(lat[t]),
            "median_ms": pct(lat[t], 50),
            "p99_ms": pct(lat[t], 99),
            "block_medians_ms": block_medians[t],
        }
        for t in (1, 2)
    } | {"cpu": cpu, "load_average_1min": [round(x, 2) for x in load]}


def http_run(
    model_dir: Path,
    tmp: Path,
    threads: int,
    pool: list[bytes],
    seconds: float,
    neighbour: subprocess.Popen[bytes] | None,
    wait_s: float,
) -> dict[str, Any]:
    proc, port = start_server(model_dir, tmp / f"serve-t{threads}.log", threads)
    try:
        asyncio.run(bs.closed_loop(port, pool[:300], CONNECTIONS, 2.0))  # warm up
        waited = wait_quiet(wait_s, neighbour)
        pids = {"client": os.getpid(), "server": proc.pid}
        if neighbour is not None:
            pids["neighbour"] = neighbour.pid
        load0 = os.getloadavg()[0]
        meter = Shares(pids)
        tally, elapsed = asyncio.run(bs.closed_loop(port, pool, CONNECTIONS, seconds))
        cpu = meter.stop()
    finally:
        bs.stop_server(proc)
    row = bs.summary(tally, elapsed, {})
    return (
        {"threads": threads, "neighbour": neighbour is not None}
        | row
        | cpu
        | {"load_average_1min": [round(load0, 2), round(os.getloadavg()[0], 2)]}
        | {"waited_for_quiet_s": waited}
    )


def http_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(field: str) -> float:
        return round(statistics.median(r[field] for r in runs), 2)

    return {
        "runs": len(runs),
        "p50_ms": med("p50_ms"),
        "p99_ms": med("p99_ms"),
        "req_per_s": med("req_per_s"),
        "worst_p99_ms": max(r["p99_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }


def tables(doc: dict[str, Any]) -> str:
    ip, http = doc["in_process"], doc["http"]
    out = [
        "In-process `ServedArtifact.similar([key], 10)`, ms per query "
        f"({doc['n_keys']:,} x {doc['dim']}, exact index):",
        "",
        "| neighbour | threads | median ms | p99 ms | queries |",
        "|---|---:|---:|---:|---:|",
    ]
    for state in ("idle", "busy"):
        for t in ("1", "2"):
            r = ip[state][t]
            out.append(
                f"| {'yes' if state == 'busy' else 'no'} | {t} | {r['median_ms']:.2f} | "
                f"{r['p99_ms']:.2f} | {r['queries']:,} |"
            )
        a, b = ip[state]["1"], ip[state]["2"]
        out.append(
            f"| {'yes' if state == 'busy' else 'no'} | ratio 2 vs 1 | "
            f"{b['median_ms'] / a['median_ms']:.2f}x | {b['p99_ms'] / a['p99_ms']:.2f}x | |"
        )
    out += [
        "",
        f"HTTP, `GET /v1/similar?key=K&k=10`, {CONNECTIONS} keep-alive connections, closed loop, "
        f"{doc['seconds_per_run']:.0f} s per run (medians over runs):",
        "",
        "| neighbour | --threads | runs | p50 ms | p99 ms | worst p99 ms | req/s | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, key in (("no", "idle-1"), ("yes", "busy-1"), ("yes", "busy-2")):
        s = http[key]["summary"]
        out.append(
            f"| {label} | {key[-1]} | {s['runs']} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
            f"{s['worst_p99_ms']:.2f} | {s['req_per_s']:,.0f} | {s['errors']} |"
        )
    a, b = http["busy-1"]["summary"], http["busy-2"]["summary"]
    out.append(
        f"| yes | ratio 2 vs 1 | | {b['p50_ms'] / a['p50_ms']:.2f}x | "
        f"{b['p99_ms'] / a['p99_ms']:.2f}x | | {b['req_per_s'] / a['req_per_s']:.2f}x | |"
    )
    out += ["", "Every HTTP run, in order:", "", "```"]
    for r in doc["http_runs"]:
        nb = f"neighbour {r['neighbour_cpu']:.2f}" if r["neighbour"] else "no neighbour"
        out.append(
            f"threads={r['threads']} {nb:15s} {r['req_per_s']:7.1f} req/s  p50 "
            f"{r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  errors {r['errors']}  cpu "
            f"client {r['client_cpu']:.2f} server {r['server_cpu']:.2f} other "
            f"{r['other_cpu']:.2f}  load {r['load_average_1min'][0]:.2f}  waited "
            f"{r['waited_for_quiet_s']:.0f}s"
        )
    out += ["```", "", doc["bar"]["text"]]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="Length of each HTTP run.")
    ap.add_argument("--rounds", type=int, default=3, help="HTTP rounds of threads 1 and 2.")
    ap.add_argument("--neighbour", choices=sorted(NEIGHBOURS), default="python")
    ap.add_argument("--blocks", type=int, default=4, help="In-process blocks per thread count.")
    ap.add_argument("--block-queries", type=int, default=400)
    ap.add_argument("--block-seconds", type=float, default=2.5)
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=45.0,
        metavar="SECONDS",
        help="Before each run wait up to this long for work on the machine other than the "
        "neighbour to stop (0: do not wait); the CPU it used during each run is recorded.",
    )
    ap.add_argument("--out", type=Path, default=HERE / "results" / "service-busy.json")
    ap.add_argument("--tables", type=Path, default=None, help="Only print a results JSON.")
    args = ap.parse_args()
    if args.tables is not None:
        doc = json.loads(args.tables.read_text())
        print("\n\n".join(tables(d) for d in (doc if isinstance(doc, list) else [doc])))
        return

    t_all = time.perf_counter()
    before = machine_state()
    print(before["uptime"], *before["top"], sep="\n", flush=True)
    cached, train_s = word2vec_dir()
    print(f"model {cached} ({'cached' if train_s is None else f'trained in {train_s:.1f}s'})")
    from embedrec.service.artifact import load_artifact

    doc: dict[str, Any] = {
        "machine": bs.machine(),
        "command": " ".join(["python", *sys.argv]),
        "neighbour": args.neighbour,
        "neighbour_code": NEIGHBOURS[args.neighbour],
        "connections": CONNECTIONS,
        "seconds_per_run": args.seconds,
        "bar_p99_ms": bs.BAR_MS,
        "min_count": MIN_COUNT,
        "train_seconds": train_s,
        "machine_before": before,
    }
    http: dict[str, list[dict[str, Any]]] = {"idle-1": [], "busy-1": [], "busy-2": []}
    order: list[dict[str, Any]] = []  # every HTTP run, in the order they ran
    neighbour = None
    with tempfile.TemporaryDirectory(prefix="bench-service-busy-") as d:
        tmp = Path(d)
        model_dir = shutil.copytree(cached, tmp / "word2vec")
        art = load_artifact(model_dir)
        keys = list(art.embeddings.keys)
        doc |= {"n_keys": len(keys), "dim": art.embeddings.dim, "index": art.index_source}
        pool = bs.similar_requests(keys, 60000, seed=2)
        try:
            waited = wait_quiet(args.wait_quiet, None)
            print(f"\n== idle (waited {waited:.0f}s for quiet)", flush=True)
            ip = {"idle": in_process(art, keys, {"bench": os.getpid()}, *_blk(args))}
            ip["idle"]["waited_for_quiet_s"] = waited
            _print_ip("idle", ip["idle"])
            r = http_run(model_dir, tmp, 1, pool, args.seconds, None, args.wait_quiet)
            http["idle-1"].append(r)
            order.append(r)
            _print_http(r)

            neighbour = start_neighbour(args.neighbour)
            waited = wait_quiet(args.wait_quiet, neighbour)
            print(
                f"\n== neighbour ({args.neighbour}, pid {neighbour.pid}) running (waited "
                f"{waited:.0f}s for the rest to be quiet)",
                flush=True,
            )
            ip["busy"] = in_process(
                art, keys, {"bench": os.getpid(), "neighbour": neighbour.pid}, *_blk(args)
            )
            ip["busy"]["waited_for_quiet_s"] = waited
            _print_ip("busy", ip["busy"])
            for rnd in range(args.rounds):
                for t in (1, 2) if rnd % 2 == 0 else (2, 1):
                    r = http_run(model_dir, tmp, t, pool, args.seconds, neighbour, args.wait_quiet)
                    r["round"] = rnd + 1
                    http[f"busy-{t}"].append(r)
                    order.append(r)
                    _print_http(r)
            during = machine_state()
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    after = machine_state()
    busy1 = http_summary(http["busy-1"])
    met = busy1["p99_ms"] < bs.BAR_MS and busy1["errors"] == 0
    doc |= {
        "machine_during": during,
        "machine_after": after,
        "in_process": ip,
        "http": {k: {"summary": http_summary(v)} for k, v in http.items()},
        "http_runs": order,
        "bar": {
            "met": met,
            "text": f"Bar (busy neighbour, --threads 1, p99 < {bs.BAR_MS:.0f} ms at "
            f"{CONNECTIONS} connections): median p99 {busy1['p99_ms']:.2f} ms, worst round "
            f"{busy1['worst_p99_ms']:.2f} ms, errors {busy1['errors']}: "
            f"{'met' if met else 'NOT met'}",
        },
        "wall_seconds": round(time.perf_counter() - t_all, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print("\n" + tables(doc))
    print(f"\n{after['uptime']}", *after["top"], sep="\n")
    print(f"wrote {args.out} in {doc['wall_seconds']:.0f}s")


def _blk(args: argparse.Namespace) -> tuple[int, int, float]:
    return args.blocks, args.block_queries, args.block_seconds


def _print_ip(state: str, r: dict[str, Any]) -> None:
    for t in ("1", "2"):
        print(
            f"   in-process {state} threads={t}: median {r[t]['median_ms']:.2f} ms  "
            f"p99 {r[t]['p99_ms']:.2f} ms  ({r[t]['queries']} queries; blocks "
            f"{r[t]['block_medians_ms']})",
            flush=True,
        )
    print(f"   cpu {r['cpu']}  load {r['load_average_1min']}", flush=True)


def _print_http(r: dict[str, Any]) -> None:
    print(
        f"   http threads={r['threads']} neighbour={r['neighbour']}: {r['req_per_s']:.1f} "
        f"req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  errors {r['errors']}  "
        f"cpu client {r['client_cpu']:.2f} server {r['server_cpu']:.2f} neighbour "
        f"{r.get('neighbour_cpu', 0.0):.2f} other {r['other_cpu']:.2f}  "
        f"load {r['load_average_1min']}  waited {r['waited_for_quiet_s']}s",
        flush=True,
    )


if __name__ == "__main__":
    main()

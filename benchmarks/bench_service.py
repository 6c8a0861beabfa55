"""Load test of ``embedrec serve`` on loopback: throughput and latency of /v1/similar and
/v1/recommend.

What runs:

1. Models. An Item2Vec trained on MovieLens 100K (``Item2VecConfig(workers=2)``: 1,682 int
   keys, dim 64; recommend goes through the model's recency user vector and output scoring),
   and, unless ``--no-word2vec``, a Word2Vec (skip-gram, dim 100, min_count 5, one epoch) on
   the Wikipedia corpus of ``bench_word2vec.py`` (58,508 str keys), served once with the exact
   index and once with ``--index hnsw`` (faiss; skipped without it, or with ``--no-hnsw``).
   Each is served by ``python -m embedrec serve DIR --no-access-log`` (one uvicorn worker) in
   its own process.
2. In-process baseline. The same query the endpoint runs, called directly on the loaded
   artifact (``ServedArtifact.similar`` / ``.recommend``) in one thread: the throughput the
   index and model allow before HTTP, JSON and pydantic.
3. Closed loop. ``c`` keep-alive connections (c = 1, 4, 16, 64), each sending its next request
   as soon as the previous answer arrives, for ``--seconds`` or ``--max-requests``, whichever
   ends first. The client is a minimal asyncio HTTP/1.1 client in this process (its CPU share
   is recorded); every status is checked and every 50th body parsed.
4. Open loop. Poisson arrivals at 50% and 80% of the best closed-loop throughput, on 64
   connections. Latency counts from the scheduled arrival, so queueing counts (no
   coordinated omission).

Requests: ``GET /v1/similar?key=K&k=10`` with K uniform over the catalogue;
``POST /v1/recommend {"history": [...], "k": 10}`` with the last 20 items of a random
MovieLens user (Item2Vec) or 5 random words of the 20,000 most frequent (Word2Vec).

The bar (issue): p99 under 20 ms at the throughput the index allows, with no errors. Per
endpoint: met when some run reaches at least 80% of the peak HTTP throughput with p99 < 20 ms,
and no run had an error. The 1-minute load average before each server is recorded: other
work on the machine shows up in the tails.

Usage::

    python benchmarks/bench_service.py                     # ~5 minutes on 2 cores
    python benchmarks/bench_service.py --seconds 3 --no-word2vec   # quick look

Writes ``benchmarks/results/service.json`` (``--out``). Data from ``$EMBEDREC_DATA``
(default ``../shared/data``); the Word2Vec corpus from ``--corpus``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("EMBEDREC_DATA", HERE.parent.parent / "shared" / "data"))
CORPUS = Path.home() / ".cache" / "embedrec" / "bench" / "wiki-text8like.txt"
sys.path.insert(0, str(HERE.parent / "src"))

LEVELS = (1, 4, 16, 64)
BAR_MS = 20.0


# ---------------------------------------------------------------------------------- models
def train_item2vec(out: Path) -> dict[str, Any]:
    from embedrec.data import datasets
    from embedrec.models import Item2Vec, Item2VecConfig

    inter = datasets.movielens_100k(DATA / "movielens-100k")
    t0 = time.perf_counter()
    model = Item2Vec(Item2VecConfig(workers=2)).fit(inter, progress=False)
    seconds = time.perf_counter() - t0
    model.save(out)
    off = inter.user_offsets()
    keys = inter.item_keys
    histories = [
        keys[inter.item[max(off[u], off[u + 1] - 20) : off[u + 1]]].tolist()
        for u in range(inter.n_users)
        if off[u + 1] > off[u]
    ]
    emb = model.embeddings_
    return {
        "name": "item2vec-ml100k",
        "dir": out,
        "keys": list(emb.keys),
        "histories": histories,
        "train_seconds": seconds,
        "n_keys": len(emb),
        "dim": emb.dim,
    }


def train_word2vec(out: Path, corpus: Path) -> dict[str, Any]:
    from embedrec.models import Word2Vec, Word2VecConfig

    t0 = time.perf_counter()
    cfg = Word2VecConfig(dim=100, min_count=5, epochs=1, workers=2)
    model = Word2Vec(cfg).fit([corpus], progress=False)
    seconds = time.perf_counter() - t0
    model.save(out)
    emb = model.embeddings_
    rng = random.Random(0)
    frequent = emb.keys[:20000]
    histories = [rng.sample(frequent, 5) for _ in range(2000)]
    return {
        "name": "word2vec-wiki",
        "dir": out,
        "keys": list(emb.keys),
        "histories": histories,
        "train_seconds": seconds,
        "n_keys": len(emb),
        "dim": emb.dim,
    }


# ---------------------------------------------------------------------------------- requests
def similar_requests(keys: list[Any], n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        key = quote(str(rng.choice(keys)), safe="")
        out.append(
            f"GET /v1/similar?key={key}&k=10 HTTP/1.1\r\nHost: bench\r\n\r\n".encode("ascii")
        )
    return out


def recommend_requests(histories: list[list[Any]], n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        body = json.dumps({"history": rng.choice(histories), "k": 10}).encode()
        head = (
            "POST /v1/recommend HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        out.append(head + body)
    return out


# ---------------------------------------------------------------------------------- client
class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.checked = 0


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, tally: Tally
) -> None:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length)
    if status != 200:
        tally.errors.append(f"{status} {body[:200]!r}")
    elif len(tally.latencies) % 50 == 0:
        doc = json.loads(body)
        items = doc.get("neighbors", doc.get("items"))
        if not isinstance(items, list) or len(items) != 10:
            tally.errors.append(f"bad body {body[:200]!r}")
        tally.checked += 1


async def closed_loop(
    port: int, requests: list[bytes], concurrency: int, seconds: float
) -> tuple[Tally, float]:
    tally = Tally()
    it = iter(requests)
    deadline = time.perf_counter() + seconds

    async def conn() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for req in it:
                t0 = time.perf_counter()
                try:
                    await _exchange(reader, writer, req, tally)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    tally.errors.append(repr(exc))
                    return
                tally.latencies.append(time.perf_counter() - t0)
                if t0 > deadline:
                    return
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(conn() for _ in range(concurrency)))
    return tally, time.perf_counter() - t0


async def open_loop(
    port: int, requests: list[bytes], rate: float, seconds: float, pool_size: int = 64
) -> tuple[Tally, float]:
    """Poisson arrivals at ``rate``/s served by ``pool_size`` keep-alive connections.

    Request ``i`` is due at its arrival time; the first free connection sends it (at once if
    one is free, else when one frees up) and its latency counts from the arrival time, so
    time spent queued behind a slow answer is included (no coordinated omission).
    """
    tally = Tally()
    rng = np.random.default_rng(0)
    n = min(len(requests), int(rate * seconds))
    due = np.cumsum(rng.exponential(1.0 / rate, size=n)).tolist()
    next_i = 0
    start = time.perf_counter()

    async def conn() -> None:
        nonlocal next_i
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_i < n:
                i = next_i
                next_i += 1
                at = start + due[i]
                delay = at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    await _exchange(reader, writer, requests[i], tally)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    tally.errors.append(repr(exc))
                    return
                tally.latencies.append(time.perf_counter() - at)
        finally:
            writer.close()

    await asyncio.gather(*(conn() for _ in range(pool_size)))
    return tally, time.perf_counter() - start


async def reload_under_load(
    port: int, requests: list[bytes], seconds: float
) -> tuple[Tally, float, float, int]:
    """Closed loop at c=4 while ``POST /admin/reload {"wait": true}`` re-reads the model."""
    run = asyncio.create_task(closed_loop(port, requests, 4, seconds))
    await asyncio.sleep(min(1.0, seconds / 4))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b'{"wait": true}'
    writer.write(
        b"POST /admin/reload HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    t0 = time.perf_counter()
    head = await reader.readuntil(b"\r\n\r\n")
    reload_seconds = time.perf_counter() - t0
    writer.close()
    tally, elapsed = await run
    return tally, elapsed, reload_seconds, int(head[9:12])


class CpuMeter:
    """CPU used during a run, in cores: this client, the server, and everything else on the
    machine (other work there shows up in the tail latencies; this says how much there was)."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.tick = os.sysconf("SC_CLK_TCK")
        self.t0, self.client0 = time.perf_counter(), time.process_time()
        self.busy0, self.server0 = self._busy(), self._server()

    @staticmethod
    def _busy() -> float:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
        return float(user + nice + system + irq + softirq + steal)

    def _server(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return float(int(fields[11]) + int(fields[12]))  # utime + stime

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        client = (time.process_time() - self.client0) / wall
        server = (self._server() - self.server0) / self.tick / wall
        busy = (self._busy() - self.busy0) / self.tick / wall
        return {
            "client_cpu": round(client, 2),
            "server_cpu": round(server, 2),
            "other_cpu": round(max(busy - client - server, 0.0), 2),
        }


def wait_quiet(limit: float, threshold: float = 0.25) -> float:
    """Wait (up to ``limit`` seconds) until the machine has used under ``threshold`` cores for
    2 s in a row, so that other work does not land in the measurement; returns the wait.

    Also freezes this client's heap (trained models, key lists, prepared requests): a full
    cyclic-GC pass over it stalls the client's event loop for tens of ms, which would be
    measured as server latency.
    """
    gc.collect()
    gc.freeze()
    t0 = time.perf_counter()
    tick = os.sysconf("SC_CLK_TCK")
    while time.perf_counter() - t0 < limit:
        b0 = CpuMeter._busy()
        time.sleep(2.0)
        if (CpuMeter._busy() - b0) / tick / 2.0 < threshold:
            break
    return time.perf_counter() - t0


def summary(tally: Tally, elapsed: float, cpu: dict[str, float]) -> dict[str, Any]:
    lat = np.asarray(tally.latencies) * 1000.0
    return cpu | {
        "requests": int(lat.size),
        "errors": len(tally.errors),
        "error_examples": tally.errors[:3],
        "seconds": round(elapsed, 2),
        "req_per_s": round(lat.size / elapsed, 1) if elapsed > 0 else None,
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if lat.size else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if lat.size else None,
        "max_ms": round(float(lat.max()), 2) if lat.size else None,
        "bodies_checked": tally.checked,
    }


# ---------------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    model_dir: Path, log: Path, workers: int = 1, index: str | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    import httpx

    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
    cmd = [sys.executable, "-m", "embedrec", "serve", str(model_dir), "--port", str(port)]
    cmd += ["--no-access-log", "--workers", str(workers)]
    cmd += ["--index", index] if index else []
    fh = open(log, "wb")  # the child writes its log there
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc, port
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


# ---------------------------------------------------------------------------------- runs
def in_process(
    model_dir: Path, model: dict[str, Any], index: str | None, seconds: float = 3.0
) -> dict[str, Any]:
    """Single-thread queries/s of the exact calls the endpoints make, without HTTP."""
    from embedrec.service import load_artifact

    art = load_artifact(model_dir, index_kind=index)
    rng = random.Random(1)
    out = {}
    for name, call in (
        ("similar", lambda: art.similar([rng.choice(model["keys"])], 10)),
        ("recommend", lambda: art.recommend(rng.choice(model["histories"]), 10)),
    ):
        for _ in range(20):
            call()
        n = 0
        t0 = time.perf_counter()
        while n < 5000 and time.perf_counter() - t0 < seconds:
            call()
            n += 1
        seconds = time.perf_counter() - t0
        out[name] = {"queries_per_s": round(n / seconds, 1), "ms_per_query": 1000 * seconds / n}
    return out


def run_model(
    model: dict[str, Any], index: str | None, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    label = f"{model['name']} ({index or 'exact'} index)"
    print(f"\n== {label}: {model['n_keys']} keys x {model['dim']} dims", flush=True)
    wait_quiet(args.wait_quiet)
    base = in_process(model["dir"], model, index)
    for ep, r in base.items():
        print(f"   in-process {ep:10s} {r['queries_per_s']:9.1f} q/s  {r['ms_per_query']:.3f} ms")
    load0 = os.getloadavg()[0]
    proc, port = start_server(model["dir"], tmp / f"{model['name']}.log", index=index)
    result: dict[str, Any] = {k: model[k] for k in ("name", "n_keys", "dim", "train_seconds")} | {
        "index": index or "exact",
        "load_average_before": round(load0, 2),
        "in_process": base,
        "closed_loop": {},
        "open_loop": {},
    }
    try:
        n = args.max_requests
        reqs = {
            "similar": similar_requests(model["keys"], n, seed=2),
            "recommend": recommend_requests(model["histories"], n, seed=3),
        }
        for ep, pool in reqs.items():
            asyncio.run(closed_loop(port, pool[:200], 4, 2.0))  # warm up the server
            rows = []
            for c in LEVELS:
                waited = wait_quiet(args.wait_quiet)
                meter = CpuMeter(proc.pid)
                tally, elapsed = asyncio.run(closed_loop(port, pool, c, args.seconds))
                row = {"concurrency": c} | summary(tally, elapsed, meter.stop())
                row["waited_for_quiet_s"] = round(waited, 1)
                rows.append(row)
                print(
                    f"   closed {ep:10s} c={c:<3d} {row['req_per_s']:8.1f} req/s  "
                    f"p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  "
                    f"errors {row['errors']}  cpu client {row['client_cpu']:.2f} server "
                    f"{row['server_cpu']:.2f} other {row['other_cpu']:.2f}",
                    flush=True,
                )
            result["closed_loop"][ep] = rows
            peak = max(r["req_per_s"] for r in rows)
            open_rows = []
            for frac in (0.5, 0.8):
                rate = frac * peak
                waited = wait_quiet(args.wait_quiet)
                meter = CpuMeter(proc.pid)
                tally, elapsed = asyncio.run(open_loop(port, pool, rate, args.seconds))
                row = {"fraction_of_peak": frac, "target_req_per_s": round(rate, 1)} | summary(
                    tally, elapsed, meter.stop()
                )
                row["waited_for_quiet_s"] = round(waited, 1)
                open_rows.append(row)
                print(
                    f"   open   {ep:10s} {frac:.0%} of peak ({rate:7.1f}/s) "
                    f"{row['req_per_s']:8.1f} req/s  p50 {row['p50_ms']:7.2f} ms  "
                    f"p99 {row['p99_ms']:7.2f} ms  errors {row['errors']}  "
                    f"cpu client {row['client_cpu']:.2f} server {row['server_cpu']:.2f} other "
                    f"{row['other_cpu']:.2f}",
                    flush=True,
                )
            result["open_loop"][ep] = open_rows
            runs = rows + open_rows
            errors = sum(r["errors"] for r in runs)
            under = [r for r in runs if r["p99_ms"] is not None and r["p99_ms"] < BAR_MS]
            best = max(under, key=lambda r: r["req_per_s"], default=None)
            result.setdefault("bar", {})[ep] = {
                "peak_req_per_s": peak,
                "best_req_per_s_with_p99_under_bar": best and best["req_per_s"],
                "at": best
                and (
                    f"closed c={best['concurrency']}"
                    if "concurrency" in best
                    else f"open {best['fraction_of_peak']:.0%} of peak"
                ),
                "p99_ms_there": best and best["p99_ms"],
                "errors": errors,
                "met": bool(best and best["req_per_s"] >= 0.8 * peak and errors == 0),
            }
        wait_quiet(args.wait_quiet)
        meter = CpuMeter(proc.pid)
        tally, elapsed, reload_s, status = asyncio.run(
            reload_under_load(port, reqs["similar"], args.seconds)
        )
        row = summary(tally, elapsed, meter.stop())
        result["reload_under_load"] = row | {"reload_seconds": reload_s, "reload_status": status}
        print(
            f"   reload under load (similar, c=4): reload {reload_s:.2f}s (HTTP {status}), "
            f"{row['req_per_s']:.1f} req/s  p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms"
            f"  max {row['max_ms']:.2f} ms  errors {row['errors']}  other cpu {row['other_cpu']}",
            flush=True,
        )
        result["load_average_after"] = round(os.getloadavg()[0], 2)
    finally:
        stop_server(proc)
    return result


def _has_faiss() -> bool:
    try:
        import faiss  # noqa: F401

        import embedrec.index.faiss  # noqa: F401
    except ImportError:
        return False
    return True


def machine() -> dict[str, Any]:
    import fastapi
    import uvicorn

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "http": "h11 (no httptools/uvloop installed)",
    }


def tables(doc: dict[str, Any]) -> str:
    """Markdown tables of a results document (what benchmarks/results/service.md shows)."""
    out = []
    for m in doc["models"]:
        base = m["in_process"]
        out.append(
            f"**{m['name']}**, {m['index']} index ({m['n_keys']:,} keys x {m['dim']}; "
            f"load average {m['load_average_before']} before): in-process "
            f"{base['similar']['queries_per_s']:,.0f} similar/s, "
            f"{base['recommend']['queries_per_s']:,.0f} recommend/s (one thread, no HTTP)\n"
        )
        out.append("| endpoint | load | req/s | p50 ms | p99 ms | errors | other CPU |")
        out.append("|---|---|---:|---:|---:|---:|---:|")
        for ep in ("similar", "recommend"):
            for r in m["closed_loop"][ep]:
                out.append(
                    f"| {ep} | closed, c={r['concurrency']} | {r['req_per_s']:,.0f} | "
                    f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | "
                    f"{r['other_cpu']:.2f} |"
                )
            for r in m["open_loop"][ep]:
                out.append(
                    f"| {ep} | open, {r['fraction_of_peak']:.0%} of peak "
                    f"({r['target_req_per_s']:,.0f}/s) | {r['req_per_s']:,.0f} | "
                    f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | "
                    f"{r['other_cpu']:.2f} |"
                )
        rl = m["reload_under_load"]
        out.append(
            f"| similar | closed, c=4, POST /admin/reload during the run "
            f"({rl['reload_seconds']:.2f} s to load) | {rl['req_per_s']:,.0f} | "
            f"{rl['p50_ms']:.2f} | {rl['p99_ms']:.2f} | "
            f"{rl['errors']} | {rl['other_cpu']:.2f} |"
        )
        out.append("")
        for ep, bar in m["bar"].items():
            best = bar["best_req_per_s_with_p99_under_bar"]
            where = (
                f"{best:,.0f} req/s ({bar['at']}, p99 {bar['p99_ms_there']} ms)" if best else "-"
            )
            out.append(
                f"- {ep}: peak {bar['peak_req_per_s']:,.0f} req/s; best with p99 < "
                f"{doc['bar_p99_ms']:.0f} ms: {where}; errors {bar['errors']}; bar "
                f"{'met' if bar['met'] else 'NOT met'}"
            )
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="Length of each run.")
    ap.add_argument("--max-requests", type=int, default=30000, help="Cap per run.")
    ap.add_argument("--no-word2vec", action="store_true", help="Item2Vec only.")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument(
        "--no-hnsw",
        dest="hnsw",
        action="store_false",
        help="Word2Vec with the exact index only (default: also --index hnsw, needs faiss).",
    )
    ap.add_argument("--out", type=Path, default=HERE / "results" / "service.json")
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="Before each run wait up to this long for other work on the machine to stop "
        "(0: do not wait); the CPU other processes used during each run is recorded.",
    )
    ap.add_argument(
        "--tables", type=Path, default=None, help="Only print the tables of a results JSON."
    )
    args = ap.parse_args()
    if args.tables is not None:
        print(tables(json.loads(args.tables.read_text())))
        return

    info = machine()
    print(json.dumps(info, indent=1))
    t_all = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-service-") as d:
        tmp = Path(d)
        models = [train_item2vec(tmp / "item2vec")]
        print(f"trained Item2Vec in {models[0]['train_seconds']:.1f}s", flush=True)
        if not args.no_word2vec:
            if args.corpus.exists():
                models.append(train_word2vec(tmp / "word2vec", args.corpus))
                print(f"trained Word2Vec in {models[1]['train_seconds']:.1f}s", flush=True)
            else:
                print(f"skipping Word2Vec: {args.corpus} is missing (prepare_corpus.py)")
        runs: list[tuple[dict[str, Any], str | None]] = [(models[0], None)]
        for model in models[1:]:
            runs.append((model, None))
            if args.hnsw and _has_faiss():
                runs.append((model, "hnsw"))
            elif args.hnsw:
                print("skipping --index hnsw: faiss is not installed (embedrec[faiss])")
        for model, index in runs:
            results.append(run_model(model, index, args, tmp))
    doc = {
        "machine": info,
        "command": " ".join(["python", *sys.argv]),
        "seconds_per_run": args.seconds,
        "max_requests_per_run": args.max_requests,
        "wait_quiet_s": args.wait_quiet,
        "bar_p99_ms": BAR_MS,
        "wall_seconds": round(time.perf_counter() - t_all, 1),
        "models": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print("\n" + tables(doc))
    print(f"wrote {args.out} in {doc['wall_seconds']:.0f}s")


if __name__ == "__main__":
    main()

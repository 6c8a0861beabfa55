"""Index commands: ``embedrec index build`` and ``embedrec index sweep``.

Both read a model directory of any class (through the model registry,
:mod:`embedrec.models.registry`) and use :mod:`embedrec.index`, the same code as the Python
API. ``build`` publishes a new generation of the model directory holding the model's
files plus the index in ``index/`` (generations never change: see :mod:`embedrec.artifacts`),
where ``embedrec serve`` and :func:`embedrec.index.load_index` find it. Both print a
readable report, and JSON with ``--json``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from .._io import read_manifest
from ..artifacts import extend_artifact, has_file, load_consistent, resolve_artifact
from ..index import INDEX_KINDS, Index, build_index, format_sweep, load_index, sweep
from ..models.registry import read_embeddings
from ..vectors import Embeddings
from ._common import check_writable, echo_fields, echo_report, format_value, json_option

logger = logging.getLogger("embedrec")

INDEX_DIR = "index"

#: the points ``index sweep`` measures when --values is not given
DEFAULT_SWEEPS: dict[str, dict[str, list[int]]] = {
    "exact": {},
    "hnsw": {"ef_search": [16, 32, 48, 64, 96, 128, 192, 256]},
    "ivf-flat": {"nprobe": [1, 2, 4, 8, 16, 32, 64, 128]},
    "ivf-pq": {"nprobe": [1, 2, 4, 8, 16, 32, 64, 128]},
}


def _index_params(
    kind: str,
    M: int | None,
    ef_construction: int | None,
    ef_search: int | None,
    nlist: int | None,
    nprobe: int | None,
    pq_m: int | None,
) -> dict[str, Any]:
    """The flags a user gave, checked against the kind (a flag of another kind is an error)."""
    given = {
        "M": M,
        "ef_construction": ef_construction,
        "ef_search": ef_search,
        "nlist": nlist,
        "nprobe": nprobe,
        "pq_m": pq_m,
    }
    allowed = {
        "exact": set(),
        "hnsw": {"M", "ef_construction", "ef_search"},
        "ivf-flat": {"nlist", "nprobe"},
        "ivf-pq": {"nlist", "nprobe", "pq_m"},
    }[kind]
    params = {k: v for k, v in given.items() if v is not None}
    wrong = sorted(set(params) - allowed)
    if wrong:
        flags = ", ".join("--" + w.replace("_", "-") for w in wrong)
        usable = ", ".join("--" + a.replace("_", "-") for a in sorted(allowed)) or "none"
        raise click.UsageError(f"{flags} do not apply to --kind {kind} (its flags: {usable})")
    return params


def index_options(f: Any) -> Any:
    options = [
        click.option(
            "--kind",
            type=click.Choice(list(INDEX_KINDS)),
            default="hnsw",
            show_default=True,
            help="exact: NumPy brute force; hnsw, ivf-flat, ivf-pq: faiss (embedrec[faiss]).",
        ),
        click.option("--M", "M", type=int, default=None, help="HNSW graph degree [32]."),
        click.option(
            "--ef-construction", type=int, default=None, help="HNSW build candidate list [100]."
        ),
        click.option(
            "--ef-search", type=int, default=None, help="HNSW search candidate list [128]."
        ),
        click.option("--nlist", type=int, default=None, help="IVF cells [4*sqrt(n)]."),
        click.option("--nprobe", type=int, default=None, help="IVF cells searched [64]."),
        click.option("--pq-m", type=int, default=None, help="IVF-PQ sub-quantisers [dim/2]."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.group()
def index() -> None:
    """Nearest-neighbour indexes over a model's embeddings: build, sweep."""


@index.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@index_options
@json_option
def build(
    model_dir: Path,
    kind: str,
    M: int | None,
    ef_construction: int | None,
    ef_search: int | None,
    nlist: int | None,
    nprobe: int | None,
    pq_m: int | None,
    as_json: bool,
) -> None:
    """Build an index over MODEL_DIR's embeddings and save it into MODEL_DIR/index/.

    The index inherits the embeddings' metric. An earlier index there is replaced.
    """
    params = _index_params(kind, M, ef_construction, ef_search, nlist, nprobe, pq_m)
    check_writable(model_dir / INDEX_DIR, "MODEL_DIR")
    # a new generation: the live one's files (hard links) plus index/; the store stays
    # locked meanwhile, so the index is built from the vectors it is published with
    with extend_artifact(model_dir, drop=(INDEX_DIR,)) as staging:
        emb = read_embeddings(staging)
        t0 = time.perf_counter()
        idx = build_index(emb, kind, **params)
        seconds = time.perf_counter() - t0
        idx.write_dir(staging / INDEX_DIR)
    out = resolve_artifact(model_dir)[0] / INDEX_DIR
    payload = {
        "kind": kind,
        "n_keys": len(idx),
        "dim": idx.dim,
        "metric": idx.metric,
        "params": idx.params,
        "seconds": seconds,
        "path": str(out),
    }
    echo_report(
        payload,
        lambda: echo_fields(
            [
                ("index", f"{kind} over {len(idx)} keys (dim {idx.dim}, {idx.metric})"),
                ("parameters", format_value(idx.params) if idx.params else "none"),
                ("built in", f"{seconds:.2f}s"),
                ("saved", str(out)),
            ]
        ),
        as_json=as_json,
    )


def _parse_values(text: str) -> dict[str, list[int]]:
    """``ef_search=16,32,64`` -> ``{"ef_search": [16, 32, 64]}``."""
    name, sep, rest = text.partition("=")
    name = name.strip().replace("-", "_")
    try:
        values = [int(v) for v in rest.split(",") if v.strip()]
    except ValueError:
        values = []
    if not sep or not name or not values:
        raise click.BadParameter(
            f"{text!r} is not NAME=V1,V2,...; e.g. --values ef_search=16,32,64",
            param_hint="--values",
        )
    return {name: values}


@index.command(name="sweep")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@index_options
@click.option(
    "--queries",
    "n_queries",
    type=int,
    default=1000,
    show_default=True,
    help="Query with the vectors of this many random keys (each finds itself too).",
)
@click.option("-k", "--k", "k", type=int, default=10, show_default=True, help="Neighbours.")
@click.option(
    "--values",
    default=None,
    help="Search parameter to sweep, e.g. ef_search=16,32,64 or nprobe=1,4,16 "
    "(default: a standard range for the kind).",
)
@click.option("--threads", type=int, default=None, help="faiss threads (1: per-core rate).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the query sample.")
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Timed runs per point; the fastest counts (a busy machine slows single runs).",
)
@json_option
def sweep_cmd(
    model_dir: Path,
    kind: str,
    M: int | None,
    ef_construction: int | None,
    ef_search: int | None,
    nlist: int | None,
    nprobe: int | None,
    pq_m: int | None,
    n_queries: int,
    k: int,
    values: str | None,
    threads: int | None,
    seed: int,
    repeats: int,
    as_json: bool,
) -> None:
    """Recall@k against exact search and queries/s, for a range of search parameters.

    Uses MODEL_DIR/index/ when it holds an index of --kind built with the same flags;
    otherwise builds one in memory (nothing is saved). Pick a point, then
    `embedrec index build MODEL_DIR --kind ... --ef-search ...`.
    """
    if n_queries < 1:
        raise click.BadParameter(f"{n_queries} is invalid; use >= 1", param_hint="--queries")
    params = _index_params(kind, M, ef_construction, ef_search, nlist, nprobe, pq_m)
    emb, saved = load_consistent(model_dir, _embeddings_and_index)
    idx = _saved_or_built(saved, emb, kind, params)
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(emb), size=min(n_queries, len(emb)), replace=False)
    queries = np.asarray(emb.vectors[np.sort(rows)])
    points = _parse_values(values) if values else DEFAULT_SWEEPS[kind]
    if threads is not None and kind != "exact":
        from ..index.faiss import import_faiss

        import_faiss().omp_set_num_threads(threads)
    result = sweep(idx, queries, k=k, values=points, repeats=repeats)
    payload = {"kind": kind, "params": idx.params, "n_queries": len(rows), "points": result}
    shown = format_value(idx.params) if idx.params else "no parameters"

    def render() -> None:
        click.echo(
            f"{kind} over {len(idx)} keys ({shown}), {len(rows)} queries, recall@{k} against "
            "exact search:"
        )
        click.echo(format_sweep(result))

    echo_report(payload, render, as_json=as_json)


def _embeddings_and_index(directory: Path) -> tuple[Embeddings, Index | None]:
    """The embeddings of one generation and its saved index (``None`` if none is usable)."""
    emb = read_embeddings(directory)
    saved = None
    if has_file(directory, read_manifest(directory), INDEX_DIR):
        try:
            saved = load_index(directory / INDEX_DIR)
        except ValueError as exc:
            logger.info("the saved index in %s is not used: %s", directory / INDEX_DIR, exc)
    return emb, saved


def _saved_or_built(
    saved: Index | None, emb: Embeddings, kind: str, params: dict[str, Any]
) -> Index:
    if (
        saved is not None
        and saved.kind == kind
        and len(saved) == len(emb)
        and all(saved.params.get(p) == v for p, v in params.items())
    ):
        logger.info("sweeping the saved index")
        return saved
    return build_index(emb, kind, **params)

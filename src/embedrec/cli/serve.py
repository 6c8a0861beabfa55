"""``embedrec serve DIR``: the HTTP service (FastAPI on uvicorn) over one model directory.

The command only parses flags into a :class:`~embedrec.service.config.ServeConfig`; the app
lives in :mod:`embedrec.service`. FastAPI and uvicorn are imported when the command runs, so
the rest of the CLI works without the ``service`` extra.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from ..index import INDEX_KINDS
from ._common import State

logger = logging.getLogger("embedrec")


def _param_value(text: str) -> Any:
    """``32`` -> 32, ``0.5`` -> 0.5, ``true`` -> True, ``null`` -> None, else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _index_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(
                f"{pair!r} is not NAME=VALUE, e.g. --index-param M=32", param_hint="--index-param"
            )
        out[name.strip().replace("-", "_")] = _param_value(value.strip())
    return out


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=int, default=8000, show_default=True, help="TCP port.")
@click.option(
    "--index",
    "index_kind",
    type=click.Choice(INDEX_KINDS),
    default=None,
    help="Similarity index to build at start (MODEL/index/ is then not used). Default: load "
    "MODEL/index/ when it exists, else build an exact one. hnsw and ivf-* need the faiss extra. "
    "A model without item vectors (a session baseline) has no index.",
)
@click.option(
    "--index-param",
    "index_param",
    multiple=True,
    metavar="NAME=VALUE",
    help="Parameter of the built index, e.g. --index-param M=32 (repeatable).",
)
@click.option(
    "--max-k", type=int, default=1000, show_default=True, help="Largest k a request may ask for."
)
@click.option(
    "--max-batch",
    type=int,
    default=1000,
    show_default=True,
    help="Most keys per batch request (and candidates per /v1/score).",
)
@click.option(
    "--max-history",
    type=int,
    default=1000,
    show_default=True,
    help="Most history keys per /v1/recommend or /v1/score.",
)
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="uvicorn worker processes; each loads MODEL (memory x workers).",
)
@click.option(
    "--watch",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Poll MODEL every SECONDS (its CURRENT generation pointer, or every file of a flat "
    "directory) and reload on every worker when the model is re-saved.",
)
@click.option(
    "--admin/--no-admin",
    default=False,
    show_default=True,
    help="Serve POST/GET /admin/reload, behind a bearer token ($EMBEDREC_ADMIN_TOKEN or "
    "--admin-token).",
)
@click.option(
    "--admin-token",
    envvar="EMBEDREC_ADMIN_TOKEN",
    default=None,
    show_envvar=True,
    metavar="TOKEN",
    help="Bearer token of the admin endpoints (16+ characters). Prefer the environment "
    "variable: other users can read command lines in the process list.",
)
@click.option(
    "--reload-root",
    "reload_root",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="A directory whose artifacts POST /admin/reload may switch to, named relative to it "
    "(repeatable). Always allowed: MODEL's own directory (e.g. a kept generation).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Threads of each worker's numeric libraries (BLAS, OpenMP, faiss, numba). One is "
    "fastest on a shared machine; scale out with --workers.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="uvicorn's one line per request.",
)
@click.pass_obj
def serve(
    state: State,
    model: Path,
    host: str,
    port: int,
    index_kind: str | None,
    index_param: tuple[str, ...],
    max_k: int,
    max_batch: int,
    max_history: int,
    workers: int,
    watch: float | None,
    admin: bool,
    admin_token: str | None,
    reload_root: tuple[Path, ...],
    threads: int,
    access_log: bool,
) -> None:
    """Serve MODEL over HTTP: similar items, recommendations, scores and embeddings.

    MODEL is a directory a train command wrote (Word2Vec, Item2Vec, TwoTower, Embeddings), a
    saved session model (SessionEmbed, or a baseline without item vectors: S-POP, AR, SR,
    SKNN, V-SKNN, STAN, V-STAN, which recommend, score and answer /v1/similar with their
    next items) or a word2vec-format file; it is only read. Endpoints are under /v1 (docs
    at /docs, health at /healthz). Reload a re-saved or new model on every worker without
    dropping requests with `kill -HUP PID`, --watch SECONDS, or (with --admin and a token)
    `POST /admin/reload` (body {"path": NAME} to switch to an artifact under MODEL or a
    --reload-root).
    """
    from ..service.config import ServeConfig, ServiceLimits

    try:
        from ..service.server import run
    except ModuleNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        cfg = ServeConfig(
            artifact=model,
            index_kind=index_kind,
            index_params=_index_params(index_param),
            limits=ServiceLimits(max_k=max_k, max_batch=max_batch, max_history=max_history),
            watch=watch,
            admin=admin,
            admin_token=admin_token if admin else None,
            reload_roots=reload_root,
            threads=threads,
            workers=workers,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    run(
        cfg,
        host=host,
        port=port,
        workers=workers,
        log_level="warning" if state.quiet else "info",
        access_log=access_log,
    )

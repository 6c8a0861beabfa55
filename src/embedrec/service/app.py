"""The FastAPI application: versioned endpoints over one served artifact.

============================  =====================================================
``GET  /v1/similar``          nearest keys of one key (``?key=...&k=10``), via the index
                              (a session model without vectors: its next items after the
                              one-item session ``[key]``)
``POST /v1/similar``          nearest keys of a batch of keys (per-key ``null`` if unknown)
``POST /v1/recommend``        items for a history (Item2Vec: the model's own user vector
                              and scoring; session models: their own next-item scores, the
                              history being the session so far; TwoTower: the user tower
                              over a user key, raw features and/or history, via the index;
                              others: mean of unit vectors via the index)
``POST /v1/score``            score of each candidate for a history (or TwoTower user)
``GET  /v1/embedding/{key}``  the vector of one key (404 for a model without vectors)
``POST /v1/embeddings``       vectors of a batch of keys (per-key ``null`` if unknown)
``GET  /v1/info``             model class, config, sizes, metric, index (``null`` for a
                              model without vectors), limits, reload, and a TwoTower
                              model's user features
``GET  /healthz``             liveness and the served generation
``POST /admin/reload``        load an artifact in the background and swap it in on every
                              worker (off unless ``--admin``; needs the bearer token)
``GET  /admin/reload``        outcome of the latest reload (same token)
============================  =====================================================

Status codes: 404 for an unknown key in a single-key request (batches answer ``null`` for that
key instead), for a history with no known key when the model has no popularity fallback
and no user tower, and for vectors asked of a model that has none (``/v1/embedding`` and
``/v1/embeddings`` of a session baseline: what was asked for does not exist, as for an
unknown key); 422 for malformed input, ``k`` over ``--max-k``, ``user``/``features`` sent to
a model that is not two-tower, and raw feature values of the wrong type; 413 for a
batch over ``--max-batch`` (also the values of one multi-categorical feature) or a history over
``--max-history``; 400 for a body that is not JSON (invalid JSON, ``NaN``, a lone UTF-16
surrogate, a Content-Type other than ``application/json``); 405, with an ``Allow`` header
naming every method of the path, for any other method (``OPTIONS`` included); 409 for a reload
while one is loading. User input never causes a 500; a 500 is a bug: its body carries only an
``error_id``, which the server log names beside the traceback. Every error body is one schema,
``ErrorResponse``, and ``/openapi.json`` describes the served model and caps exactly
(:mod:`embedrec.service.contract`; checked by schemathesis in the tests).

Query endpoints are ``async`` and compute inline on the event loop: a query takes 0.1-2 ms, so
handing it to a thread pool costs more than it saves (with thread-pool handlers, threads
contending for the GIL halved the throughput and doubled the p50 latency at 4 concurrent
requests; benchmarks/results/service.md). A worker therefore answers one query at a time; the
caps bound the longest one, and ``--workers`` adds processes. After loading, the artifact is
moved out of the cyclic garbage collector's reach (``gc.freeze``), which removes 5-10 ms
pauses.

The OpenAPI schema is at ``/openapi.json`` and the interactive docs at ``/docs``.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

from .artifact import NoKnownKeyError, NoVectorsError, ServedArtifact, load_artifact
from .channel import ReloadChannel
from .config import CHANNEL_ENV, CONFIG_ENV, ServeConfig, ServiceLimits
from .state import ReloadInProgressError, ReloadStatus, ServiceState

try:
    from fastapi import FastAPI, HTTPException, Query, Response
    from fastapi import Path as PathParam
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    raise ModuleNotFoundError(
        f"the embedrec service needs FastAPI and uvicorn ({exc.name} is missing); "
        'install them with: pip install "embedrec[service]"'
    ) from exc

from .. import __version__
from . import schemas as s
from .admin import add_admin_routes
from .contract import install_error_handlers, serve_openapi

__all__ = ["app_from_env", "create_app"]

logger = logging.getLogger("embedrec")

_LIBRARY_ERRORS = (ValueError, TypeError, KeyError)
#: response header naming the artifact generation that answered (it changes on every reload)
GENERATION_HEADER = "X-Embedrec-Generation"
#: response header naming the artifact's own generation (its CURRENT pointer), when it has one
ARTIFACT_GENERATION_HEADER = "X-Embedrec-Artifact-Generation"


def _error(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": s.ErrorResponse, "description": description}}


_E400 = _error(
    400,
    "The body is not JSON: invalid JSON, not UTF-8, NaN or Infinity, a lone UTF-16 surrogate, "
    "or a Content-Type other than application/json. The detail says which.",
)
_E404 = _error(404, "Unknown key.")
_E404_VECTORS = _error(
    404,
    "Unknown key (GET only; a batch answers null for it), or a served model without item "
    "vectors (a session baseline): the detail names its class.",
)
_E404_HISTORY = _error(
    404, "No history key is known, for a model without a popularity fallback or user tower."
)
_E413 = _error(413, "Too many keys: the message names the cap and the flag that raises it.")
_E422 = _error(
    422,
    "Input that does not match the schema (each problem under 'errors'), or k over --max-k.",
)
_E422_USER = _error(
    422,
    "Input that does not match the schema (each problem under 'errors'), k over --max-k, times "
    "of another length than the history, or (TwoTower) a raw feature value of the wrong type.",
)
_E500 = _error(
    500,
    "A bug, never the client's input: the body carries only an error_id, which the server log "
    "names beside the traceback.",
)


def _fail(status: int, message: str) -> NoReturn:
    raise HTTPException(status_code=status, detail=message)


class _Checks:
    """Request caps, with messages naming the flag that raises each."""

    def __init__(self, limits: ServiceLimits) -> None:
        self.limits = limits

    def k(self, k: int) -> int:
        if k > self.limits.max_k:
            _fail(
                422,
                f"k={k} is over the cap max_k={self.limits.max_k}; ask for fewer results, or "
                "start the server with a larger --max-k",
            )
        return k

    def batch(self, n: int, what: str = "keys") -> None:
        if n > self.limits.max_batch:
            _fail(
                413,
                f"{n} {what} is over the cap max_batch={self.limits.max_batch}; split the "
                "request, or start the server with a larger --max-batch",
            )

    def features(self, features: dict[str, Any] | None) -> None:
        for name, value in (features or {}).items():
            if isinstance(value, list):
                self.batch(len(value), f"values of feature {name!r}")

    def history(self, n: int) -> None:
        if n > self.limits.max_history:
            _fail(
                413,
                f"a history of {n} keys is over the cap max_history={self.limits.max_history}; "
                "send the most recent keys only, or start the server with a larger "
                "--max-history",
            )


def _neighbors(keys: Sequence[Any], scores: Sequence[float]) -> list[s.Neighbor]:
    return [s.Neighbor(key=k, score=v) for k, v in zip(keys, scores, strict=True)]


def _user_tower_info(art: ServedArtifact) -> s.UserTowerInfo | None:
    rt = art.user_tower
    if rt is None:
        return None
    return s.UserTowerInfo(
        features=[
            s.UserFeatureInfo(name=f.name, kind=f.kind, column=f.column, source=f.source)
            for f in rt.features
        ],
        n_users=rt.n_users,
        user_key_type=rt.user_key_type,
        output_dim=rt.output_dim,
        history=rt.has_history,
    )


def _reload_info(status: ReloadStatus) -> dict[str, Any]:
    return {
        "state": status.state,
        "path": status.path,
        "trigger": status.trigger,
        "started_at": status.started_at,
        "finished_at": status.finished_at,
        "generation": status.generation,
        "error": status.error,
        "error_id": status.error_id,
        "workers": status.workers,
    }


class _GenerationHeader:
    """ASGI middleware: every response names the generation that answered it (handlers that
    read the artifact set it themselves; this fills it in for the others, e.g. 422s)."""

    def __init__(self, app: Any, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == _GEN_BYTES for k, _ in headers):
                    gen = str(self.state.current.generation).encode("ascii")
                    headers.append((_GEN_BYTES, gen))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)


_GEN_BYTES = GENERATION_HEADER.lower().encode("ascii")


def limit_threads(n: int) -> None:
    """Run this process's numeric libraries on ``n`` threads: BLAS and OpenMP pools
    (threadpoolctl), faiss's OpenMP pool and numba's parallel kernels.

    A query uses one core well; with more threads per worker, a busy neighbour process makes
    the threads wait on each other (an exact top-k over 19.6k x 100 vectors took 14.6 ms on two
    OpenBLAS threads beside a CPU-bound process, 2.5 ms on one). Scale out with ``--workers``.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    try:
        import faiss
    except ImportError:  # pragma: no cover - the faiss extra is optional
        pass
    else:
        faiss.omp_set_num_threads(n)
    import numba

    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


_API_DESCRIPTION = """\
Serves one embedrec model directory, read-only.

* **Keys** are JSON strings or integers, read in the model's key type (`GET /v1/info` shows
  it): with int keys `"42"` is `42`; with str keys `42` is `"42"`.
* **Errors**: 404 for an unknown key in a single-key request (batch requests answer `null`
  for that key and list it in `unknown`), and for `/v1/embedding` and `/v1/embeddings` when
  the model has no item vectors (a session baseline; the detail names its class); 422 for
  input that does not match the schema and for `k` over the server's `--max-k`; 413 for a
  batch over `--max-batch` or a history over `--max-history`; 400 for a body that is not
  strict JSON in UTF-8 sent as `application/json`; 405 (with `Allow`) for a method a path
  does not serve. Every error body is an `ErrorResponse`: `{"detail": ...}` saying what to
  change, plus `errors` (each problem) for a 422 and `error_id` for a 500 (the server log has
  the traceback under it).
* **This description is the served model's**: it states the server's caps (`maximum`,
  `maxItems`), and the fields the model takes (`user` and `features` for TwoTower models
  only); its examples are keys of the model. `times` has one entry per `history` key.
* **Recommend and score**: Item2Vec models use their own user vector and scoring (a history
  with no known key gets popular items, `fallback: true`); session models (S-POP, AR, SR,
  SKNN, V-SKNN, STAN, V-STAN, SessionEmbed) use their own next-item scores, the history being
  the session so far (an empty history, or one with no known key, gets popular items,
  `fallback: true`); TwoTower models run their user tower (in NumPy) on `user` (a key),
  `features` (raw side features; `GET /v1/info` lists them under `user_tower`) and/or
  `history`, and rank by cosine (or dot) through the index; other models use the mean of the
  history's unit vectors, cosine (or dot) through the index. `user` and `features` are for
  TwoTower models only (422 elsewhere).
* **Models without item vectors** (the session baselines): `GET /v1/info` shows `dim`,
  `metric` and `index` as `null`; `/v1/similar` answers with the model's next items after the
  one-item session `[key]` (the key excluded; `strategy` says so).
* **Cold start (TwoTower)**: an unknown `user` key is not an error; it gets the user tower's
  default row (every feature missing), plus any `features` and `history` sent, and the
  answer says `known_user: false`. A known user without `history` is answered from their
  stored history, which `exclude_seen` excludes.
* **Hot reload**: `POST /admin/reload` (optionally `{"path": DIR}`), `SIGHUP`, or
  `--watch SECONDS` load the new model in the background and swap it in atomically; every
  response carries the generation that answered it in `X-Embedrec-Generation`.
"""


def create_app(
    artifact_dir: str | os.PathLike[str] | ServedArtifact,
    *,
    index_kind: str | None = None,
    index_params: dict[str, Any] | None = None,
    limits: ServiceLimits | None = None,
    watch: float | None = None,
    admin: bool = False,
    admin_token: str | None = None,
    reload_roots: Sequence[str | os.PathLike[str]] = (),
    sighup: bool = True,
    threads: int = 1,
    workers: int = 1,
    channel: ReloadChannel | None = None,
) -> FastAPI:
    """Build the app serving one artifact directory (loaded now, so errors show at start).

    Parameters
    ----------
    artifact_dir : path or ServedArtifact
        A model directory (Word2Vec, Item2Vec, Embeddings, ...) or word2vec-format file, or an
        already loaded :class:`~embedrec.service.artifact.ServedArtifact`.
    index_kind, index_params
        See :class:`~embedrec.service.config.ServeConfig`; reloads use the same.
    limits : ServiceLimits, optional
        Request caps (default :class:`ServiceLimits()`).
    watch : float, optional
        Poll the served artifact every ``watch`` seconds and reload on a change.
    admin : bool, default False
        Serve ``/admin/reload`` (needs ``admin_token``).
    admin_token : str, optional
        Bearer token of the admin endpoints (at least 16 characters).
    reload_roots : paths
        Directories a reload's ``path`` may name artifacts in, besides the served one's own.
    sighup : bool, default True
        Reload the served directory on ``SIGHUP`` (when the app runs in the main thread).
    threads : int, default 1
        Threads of the numeric libraries (BLAS, OpenMP, faiss, numba) in this process.
    workers : int, default 1
        Worker processes of the service (with ``channel``).
    channel : ReloadChannel, optional
        The reload channel shared by the workers of a multi-worker service.

    Returns
    -------
    FastAPI

    Raises
    ------
    FileNotFoundError, NotADirectoryError, ValueError
        The artifact cannot be loaded.

    Examples
    --------
    >>> app = create_app("art/")  # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, port=8000)  # doctest: +SKIP
    """
    cfg = ServeConfig(
        artifact=Path(
            artifact_dir.path if isinstance(artifact_dir, ServedArtifact) else artifact_dir
        ),
        index_kind=index_kind,
        index_params=dict(index_params or {}),
        limits=limits or ServiceLimits(),
        watch=watch,
        admin=admin,
        admin_token=admin_token,
        reload_roots=tuple(Path(r) for r in reload_roots),
        sighup=sighup,
        threads=threads,
        workers=workers,
    )
    limit_threads(cfg.threads)

    def loader(path: Path, generation: int) -> ServedArtifact:
        return load_artifact(
            path, index_kind=cfg.index_kind, index_params=cfg.index_params, generation=generation
        )

    if isinstance(artifact_dir, ServedArtifact):
        initial = artifact_dir
    else:
        # a worker (re)started after reloads serves the latest order, like the others
        order = channel.read() if channel is not None else None
        if order is not None and order.path is not None:
            initial = loader(Path(order.path), order.seq)
        else:
            initial = loader(cfg.artifact, order.seq if order is not None else 0)
    state = ServiceState(initial, loader, channel=channel, n_workers=cfg.workers)
    if channel is not None:
        channel.ack(initial.generation, ok=True)
    roots = reload_roots_of(cfg)
    state.display = lambda p: _display_path(p, roots)
    check = _Checks(cfg.limits)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        previous: Any = None
        hup = getattr(signal, "SIGHUP", None)
        if cfg.sighup and hup is not None and threading.current_thread() is threading.main_thread():

            def on_hup(_signum: int, _frame: object) -> None:
                try:
                    state.reload(trigger="sighup")
                except ReloadInProgressError as exc:
                    logger.warning("SIGHUP ignored: %s", exc)

            previous = signal.signal(hup, on_hup)
            logger.info("SIGHUP reloads %s (pid %d)", state.current.path, os.getpid())
        if cfg.watch is not None and channel is None:  # the supervisor watches for workers
            state.start_watching(cfg.watch)
        state.start_following()
        # the loaded artifact and every imported module live as long as the process: keep the
        # cyclic GC from rescanning them (a full pass costs ~5-10 ms, a p99 spike per pass)
        state.freeze_gc = True
        gc.freeze()
        try:
            yield
        finally:
            state.stop()
            if previous is not None and hup is not None:
                signal.signal(hup, previous)

    app = FastAPI(
        title="embedrec",
        version=__version__,
        summary="Similar items, recommendations, scores and embeddings from one embedrec model.",
        description=_API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.embedrec = state
    app.add_middleware(_GenerationHeader, state=state)

    install_error_handlers(app)  # one error body; strict JSON; 405 with Allow; id'd 500s
    serve_openapi(app, lambda: state.current, cfg.limits)

    def served(response: Response) -> ServedArtifact:
        """The artifact a request is answered from: read once, so a reload mid-request cannot
        mix two artifacts; its generation goes into a response header."""
        art = state.current
        response.headers[GENERATION_HEADER] = str(art.generation)
        if art.artifact_generation is not None:
            response.headers[ARTIFACT_GENERATION_HEADER] = art.artifact_generation
        return art

    def library_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Library errors caused by the request become 404 / 422 with the library's message."""
        try:
            return fn(*args, **kwargs)
        except (NoKnownKeyError, NoVectorsError) as exc:
            _fail(404, str(exc))
        except _LIBRARY_ERRORS as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            _fail(422, str(msg))

    # ------------------------------------------------------------------ similar
    @app.get(
        "/v1/similar",
        response_model=s.SimilarResponse,
        responses={**_E404, **_E422, **_E500},
        tags=["similar"],
    )
    async def similar(
        response: Response,
        key: Annotated[str, Query(max_length=s.MAX_KEY_LENGTH, description="The query key.")],
        k: Annotated[int, Query(ge=1, description="Neighbours wanted (at most --max-k).")] = 10,
    ) -> s.SimilarResponse:
        """Nearest keys of ``key`` through the index, best first, ``key`` itself excluded.

        A session model without item vectors answers with its next items after the one-item
        session ``[key]`` (``strategy`` says which). With int keys, integer-looking text is
        looked up as an int. 404 if ``key`` is unknown.
        """
        art = served(response)
        check.k(k)
        q = art.parse_key(key)
        (res,) = library_call(art.similar, [q], k)
        if res is None:
            _fail(404, f"unknown key {q!r}; GET /v1/info shows the key type and count")
        return s.SimilarResponse(
            key=q, k=k, neighbors=_neighbors(res.keys, res.scores), strategy=art.similar_strategy
        )

    @app.post(
        "/v1/similar",
        response_model=s.SimilarBatchResponse,
        responses={**_E400, **_E413, **_E422, **_E500},
        tags=["similar"],
    )
    async def similar_batch(
        body: s.SimilarBatchRequest, response: Response
    ) -> s.SimilarBatchResponse:
        """Nearest keys of each key of a batch; an unknown key gets ``null`` (and is listed in
        ``unknown``) instead of failing the batch."""
        art = served(response)
        check.k(body.k)
        check.batch(len(body.keys))
        keys = art.parse_keys(body.keys)
        results = library_call(art.similar, keys, body.k)
        return s.SimilarBatchResponse(
            k=body.k,
            results=[
                None
                if r is None
                else s.SimilarResult(key=q, neighbors=_neighbors(r.keys, r.scores))
                for q, r in zip(keys, results, strict=True)
            ],
            unknown=[q for q, r in zip(keys, results, strict=True) if r is None],
            strategy=art.similar_strategy,
        )

    # ------------------------------------------------------------------ recommend / score
    def user_inputs(
        art: ServedArtifact, body: s.RecommendRequest | s.ScoreRequest
    ) -> dict[str, Any]:
        """The history, user and features of a request, parsed and checked against the caps."""
        if body.history is not None:
            check.history(len(body.history))
        check.features(body.features)
        return {
            "history": None if body.history is None else art.parse_keys(body.history),
            "user": None if body.user is None else art.parse_user(body.user),
            "features": body.features,
        }

    @app.post(
        "/v1/recommend",
        response_model=s.RecommendResponse,
        responses={**_E400, **_E404_HISTORY, **_E413, **_E422_USER, **_E500},
        tags=["recommend"],
    )
    async def recommend(body: s.RecommendRequest, response: Response) -> s.RecommendResponse:
        """Top-``k`` items for a history (TwoTower: for a user key, raw features and/or a
        history).

        Item2Vec models answer through ``Item2Vec.recommend_users`` (the model's user-vector
        strategy and scoring); a history with no known key gets its most popular items
        (``fallback: true``). Session models (S-POP, AR, SR, SKNN, V-SKNN, STAN, V-STAN,
        SessionEmbed) answer through their own ``recommend``: the history is the session so
        far (``times`` reach STAN, V-STAN and SessionEmbed), and an empty history or one with
        no known key gets their most popular items (``fallback: true``). TwoTower models run
        their user tower on ``user``, ``features`` and ``history`` (as ``TwoTower.recommend``)
        and rank by cosine (or dot) through the index: an unknown ``user`` is the cold-start
        user (``known_user: false``), a known user without ``history`` is answered from (and
        ``exclude_seen`` excludes) their stored history. Other models rank by the cosine (or
        dot) to the mean of the known history keys' unit vectors, through the index; a history
        with no known key is a 404 there. Unknown history keys are listed in ``unknown``.
        """
        art = served(response)
        check.k(body.k)
        inputs = user_inputs(art, body)
        rec = library_call(
            art.recommend, k=body.k, exclude_seen=body.exclude_seen, times=body.times, **inputs
        )
        return s.RecommendResponse(
            items=_neighbors(rec.ranked.keys, rec.ranked.scores),
            unknown=rec.unknown,
            fallback=rec.fallback,
            known_user=rec.known_user,
            strategy=art.strategy,
        )

    @app.post(
        "/v1/score",
        response_model=s.ScoreResponse,
        responses={**_E400, **_E404_HISTORY, **_E413, **_E422_USER, **_E500},
        tags=["recommend"],
    )
    async def score(body: s.ScoreRequest, response: Response) -> s.ScoreResponse:
        """Score of each candidate for a history (TwoTower: for a user key, raw features
        and/or a history, as in ``/v1/recommend``): the number ``/v1/recommend`` ranks by.

        Item2Vec: ``Item2Vec.score``; session models: their ``score_next``; TwoTower: cosine
        (or dot, the model's metric) of the user tower's vector and each candidate; others:
        cosine (or dot) of the mean of the history's unit vectors and each candidate. ``null``
        for an unknown candidate.
        """
        art = served(response)
        check.batch(len(body.candidates), "candidates")
        inputs = user_inputs(art, body)
        candidates = art.parse_keys(body.candidates)
        scores, unknown, fallback = library_call(
            art.score, candidates=candidates, times=body.times, **inputs
        )
        return s.ScoreResponse(
            scores=scores,
            unknown=unknown,
            unknown_candidates=[c for c, v in zip(candidates, scores, strict=True) if v is None],
            fallback=fallback,
            strategy=art.strategy,
        )

    # ------------------------------------------------------------------ vectors
    @app.get(
        "/v1/embedding/{key:path}",
        response_model=s.EmbeddingResponse,
        responses={**_E404_VECTORS, **_E422, **_E500},
        tags=["embeddings"],
    )
    async def embedding(
        response: Response,
        key: Annotated[str, PathParam(max_length=s.MAX_KEY_LENGTH, description="The key.")],
    ) -> s.EmbeddingResponse:
        """The stored vector of ``key`` (URL-encode keys with reserved characters); 404 if
        ``key`` is unknown or the model has no item vectors (a session baseline)."""
        art = served(response)
        emb, _ = library_call(art.require_vectors)
        q = art.parse_key(key)
        (vec,) = art.vectors([q])
        if vec is None:
            _fail(404, f"unknown key {q!r}; GET /v1/info shows the key type and count")
        return s.EmbeddingResponse(key=q, dim=emb.dim, vector=vec)

    @app.post(
        "/v1/embeddings",
        response_model=s.EmbeddingsResponse,
        responses={**_E400, **_E404_VECTORS, **_E413, **_E422, **_E500},
        tags=["embeddings"],
    )
    async def embeddings(body: s.EmbeddingsRequest, response: Response) -> s.EmbeddingsResponse:
        """Vectors of a batch of keys (feature lookup); ``null`` for an unknown key (also
        listed in ``unknown``); 404 if the model has no item vectors (a session baseline)."""
        art = served(response)
        emb, _ = library_call(art.require_vectors)
        check.batch(len(body.keys))
        keys = art.parse_keys(body.keys)
        vectors = art.vectors(keys)
        return s.EmbeddingsResponse(
            dim=emb.dim,
            vectors=vectors,
            unknown=[q for q, v in zip(keys, vectors, strict=True) if v is None],
        )

    # ------------------------------------------------------------------ service
    @app.get("/healthz", response_model=s.HealthResponse, tags=["service"])
    async def healthz(response: Response) -> s.HealthResponse:
        """Liveness: the service answers, and which artifact generation it serves."""
        art = served(response)
        return s.HealthResponse(
            generation=art.generation,
            artifact_generation=art.artifact_generation,
            worker=os.getpid(),
            loaded_at=art.loaded_at,
        )

    @app.get("/v1/info", response_model=s.InfoResponse, tags=["service"])
    async def info(response: Response) -> s.InfoResponse:
        """What is served: model class and config, sizes, metric, index, limits, reloads, and
        (TwoTower) the user tower's inputs: which go in ``features``, under which column.
        ``dim``, ``metric`` and ``index`` are ``null`` for a model without item vectors."""
        art = served(response)
        emb, index = art.embeddings, art.index
        return s.InfoResponse(
            model_class=art.model_class,
            config=art.config,
            dim=None if emb is None else emb.dim,
            n_items=len(art.item_keys),
            key_type=art.key_type,
            metric=None if emb is None else emb.metric,
            index=None
            if index is None or art.index_source is None
            else s.IndexInfo(kind=index.kind, params=art.index_params, source=art.index_source),
            recommend_strategy=art.strategy,
            similar_strategy=art.similar_strategy,
            user_tower=_user_tower_info(art),
            artifact=printable_name(art.path.name),
            artifact_generation=art.artifact_generation,
            loaded_at=art.loaded_at,
            load_seconds=art.load_seconds,
            generation=art.generation,
            limits=s.LimitsInfo(**vars(cfg.limits)),
            reload=s.ReloadStatusInfo(**_reload_info(state.last_reload)),
            version=__version__,
        )

    if cfg.admin:
        assert cfg.admin_token is not None  # ServeConfig refuses admin without a token
        add_admin_routes(app, state, cfg.admin_token, roots)

    return app


def reload_roots_of(cfg: ServeConfig) -> list[Path]:
    """The reload roots of a configuration (see :func:`embedrec.service.admin.reload_roots`)."""
    from .admin import reload_roots

    return reload_roots(cfg.artifact, cfg.reload_roots)


def _display_path(path: Path, roots: Sequence[Path]) -> str:
    """How statuses name an artifact: relative to its reload root, never absolute."""
    real = os.path.realpath(path)
    for root in roots:
        rel = os.path.relpath(real, root)
        if not rel.startswith(".."):
            return printable_name(path.name if rel == "." else rel)
    return printable_name(path.name)


def printable_name(name: str) -> str:
    """``name`` as valid UTF-8 text: undecodable bytes of a file name (which Python keeps as
    lone surrogates) become ``\\xNN`` escapes, so a JSON answer can always carry it."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def app_from_config(cfg: ServeConfig, channel: ReloadChannel | None = None) -> FastAPI:
    """:func:`create_app` with the fields of a :class:`ServeConfig`."""
    return create_app(
        cfg.artifact,
        index_kind=cfg.index_kind,
        index_params=cfg.index_params,
        limits=cfg.limits,
        watch=cfg.watch,
        admin=cfg.admin,
        admin_token=cfg.admin_token,
        reload_roots=cfg.reload_roots,
        sighup=cfg.sighup,
        threads=cfg.threads,
        workers=cfg.workers,
        channel=channel,
    )


def app_from_env() -> FastAPI:
    """App factory of uvicorn worker processes (``--workers > 1``): the configuration comes
    as JSON in ``$EMBEDREC_SERVE_CONFIG``."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"${CONFIG_ENV} is not set; start the service with `embedrec serve DIR`")
    if not logger.handlers:  # a fresh worker process: log like the parent does
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    channel_dir = os.environ.get(CHANNEL_ENV)
    channel = ReloadChannel(channel_dir) if channel_dir else None
    return app_from_config(ServeConfig.from_json(text), channel)

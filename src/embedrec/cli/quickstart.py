"""``embedrec quickstart``: the library's main job, end to end, on a built-in interaction log.

It generates a listening log with planted structure (:func:`embedrec.data.synthetic.genre_log`:
users with favourite genres, items often followed by particular others, Zipf popularity),
compiles the training kernels, trains Item2Vec on every event but each user's last, evaluates
the held-out events against popularity by the library's own protocol, prints recommendations
and similar items, saves the model and the log, and prints the next commands to try (every
one of them runs as printed). ``--serve`` then serves the model through ``embedrec serve``.

Everything goes into one directory: ``--out DIR``, or a new temporary one. Results go to
stdout; progress and log lines go to stderr (``embedrec -q`` silences them).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import shlex
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..artifacts import is_artifact_dir
from ..models.item2vec import Item2Vec, Item2VecConfig
from ..models.word2vec import MAX_SEED
from ._common import (
    State,
    check_out_dir,
    check_writable,
    echo_json,
    echo_table,
    json_option,
)
from .datasets_cmds import ITEM, TIME, USER, write_interactions_csv
from .serve import serve

__all__ = ["LOG_FILE", "MODEL_DIR", "quickstart"]

logger = logging.getLogger("embedrec")

#: what quickstart writes into its directory
MODEL_DIR = "model"
LOG_FILE = "interactions.csv"
#: cut-off of the evaluation and the number of items shown
K = 10
SHOWN = 5


def _check_service_extra() -> None:
    """Refuse ``--serve`` before any work when FastAPI or uvicorn is missing."""
    for module in ("fastapi", "uvicorn"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise click.ClickException(
                f"--serve needs FastAPI and uvicorn ({module} is missing: {exc}); install them "
                'with: pip install "embedrec[service]", or leave out --serve'
            ) from None


def _check_dir(out: Path) -> None:
    """Refuse an --out that holds anything quickstart did not write, before any work.

    A directory of an earlier quickstart (only ``model/`` and ``interactions.csv``) is
    reused: its model is replaced by a new generation, its log rewritten.
    """
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory; choose another --out")
    if out.is_dir():
        names = {p.name for p in out.iterdir()}
        earlier = names <= {MODEL_DIR, LOG_FILE} and is_artifact_dir(out / MODEL_DIR)
        if names and not earlier:
            raise FileExistsError(
                f"{out} is a non-empty directory that is not an embedrec artifact nor an "
                "earlier quickstart's; choose an empty or new --out directory so nothing of "
                "yours is overwritten"
            )
    check_out_dir(out / MODEL_DIR)
    check_writable(out / LOG_FILE)


def _command(*words: str | Path) -> str:
    return "embedrec " + " ".join(shlex.quote(str(w)) for w in words)


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory to write the log and the model into (new or empty, or an earlier "
    "quickstart's). Default: a new temporary directory, whose path is printed.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
    default=0,
    show_default=True,
    help="Seed of the built-in log and of the training.",
)
@click.option(
    "--serve",
    "serve_after",
    is_flag=True,
    help="Then serve the model over HTTP (`embedrec serve`; needs the service extra: "
    'pip install "embedrec[service]").',
)
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve: interface.")
@click.option("--port", type=int, default=8000, show_default=True, help="With --serve: TCP port.")
@json_option
@click.pass_context
def quickstart(
    ctx: click.Context,
    out: Path | None,
    seed: int,
    serve_after: bool,
    host: str,
    port: int,
    as_json: bool,
) -> None:
    """Train, evaluate and query item recommendations on a built-in interaction log.

    The log is synthetic, with structure a good recommender finds: users have favourite
    genres, items are often followed by particular others, popularity is skewed. Item2Vec is
    trained on every event but each user's last and must beat recommending the most
    popular items. The first run compiles the training kernels (cached afterwards).
    """
    from click.core import ParameterSource

    from ..data.synthetic import genre_log
    from ..eval import Popularity, evaluate, leave_last_out

    state = ctx.ensure_object(State)
    if not serve_after:
        sources = {n: ctx.get_parameter_source(n) for n in ("host", "port")}
        given = [
            f"--{n}" for n, src in sources.items() if src not in (None, ParameterSource.DEFAULT)
        ]
        if given:
            raise click.UsageError(f"{' and '.join(given)} only go with --serve")
    if serve_after:
        _check_service_extra()
    where = ""
    if out is not None:
        _check_dir(out)
    else:
        out = Path(tempfile.mkdtemp(prefix="embedrec-quickstart-"))
        where = " (a new temporary directory; choose one with --out DIR)"
    say = (lambda *_: None) if as_json else click.echo
    say(f"embedrec quickstart: writing into {out}{where}\n")

    # (a) the log
    log, genre_of = genre_log(seed=seed)
    genres = sorted(set(genre_of.values()))
    log_path = out / LOG_FILE
    event_genres = np.array([genre_of[k] for k in log.item_keys.tolist()], dtype=object)
    write_interactions_csv(log, log_path, {"genre": event_genres[log.item]})
    say(
        f"1. the log: {log.n_users:,} users, {log.n_items} items in {len(genres)} genres "
        f"({', '.join(genres)}), {len(log):,} events\n"
        "   built-in and synthetic: users have 1-3 favourite genres, items are often followed "
        "by particular others,\n   popularity is Zipf-skewed; item keys read genre/title. "
        f"Written to {log_path}"
    )

    # (b) compile: a tiny fit with the same settings compiles what the real fit runs
    cfg = Item2VecConfig(seed=seed)
    say("\n2. compiling the training kernels (first run only, cached afterwards) ...")
    t0 = time.perf_counter()
    tiny = dataclasses.replace(cfg, dim=8, epochs=1, workers=1)
    level = logger.level  # the tiny corpus's log lines say nothing useful here
    logger.setLevel(max(level, logging.WARNING))
    try:
        Item2Vec(tiny).fit([["a", "b", "c", "d"], ["b", "c", "d", "a"]] * 4, progress=False)
    finally:
        logger.setLevel(level)
    compile_seconds = time.perf_counter() - t0
    say(f"   ready in {compile_seconds:.1f}s (timed as a tiny Item2Vec fit with these settings)")

    # (c) train on everything but each user's last event
    split = leave_last_out(log)
    settings = " ".join(
        f"{f.name}={getattr(cfg, f.name)}"
        for f in dataclasses.fields(cfg)
        if f.name in ("mode", "dim", "window", "negative", "epochs", "user_vector", "scoring")
    )
    say(
        f"\n3. training Item2Vec (library defaults: {settings}) on {len(split.train_full):,} "
        f"events, each user's last one held out ..."
    )
    t0 = time.perf_counter()
    model = Item2Vec(cfg).fit(split.train_full, progress=not state.quiet)
    train_seconds = time.perf_counter() - t0
    say(f"   trained in {train_seconds:.1f}s, final loss {model.loss_history_[-1]:.4f}")

    # (d) evaluate against popularity
    results = {
        "item2vec": evaluate(model, split.train_full, split.test, ks=(K,)),
        "popularity": evaluate(
            Popularity().fit(split.train_full), split.train_full, split.test, ks=(K,)
        ),
    }
    say(
        f"\n4. evaluation: each user's held-out next item against a ranking of all "
        f"{results['item2vec'].n_candidates} items (seen items excluded), "
        f"{results['item2vec'].n_users:,} users"
    )
    if not as_json:
        rows = [(" ", "metric", *results)]
        for metric in (f"HR@{K}", f"NDCG@{K}"):
            rows.append((" ", metric, *(f"{r.metrics[metric]:.3f}" for r in results.values())))
        echo_table(rows, "<<>>")
        say(
            f"   HR@{K}: share of users whose next item is in their top {K}; NDCG@{K} also "
            "rewards ranking it higher"
        )

    # (e) recommendations for two users
    off = split.train_full.user_offsets()
    test_item = dict(zip(split.test.user.tolist(), split.test.item.tolist(), strict=True))
    shown_users = sorted(test_item)[:2]
    histories = [
        split.train_full.item_keys[split.train_full.item[off[u] : off[u + 1]]].tolist()
        for u in shown_users
    ]
    recs = model.recommend_users(histories, K)
    say(f"\n5. recommendations (top {SHOWN} of each user's {K}; keys read genre/title)")
    rec_rows: list[dict[str, Any]] = []
    for u, history, keys in zip(shown_users, histories, recs.keys.tolist(), strict=True):
        target = log.item_keys[test_item[u]]
        rank = keys.index(target) + 1 if target in keys else None
        counts = Counter(genre_of[k] for k in history).most_common()
        rec_rows.append(
            {
                "user": log.user_keys[u],
                "history": history,
                "history_genres": dict(counts),
                "recommended": keys,
                "held_out": target,
                "held_out_rank": rank,
            }
        )
        said = ", ".join(f"{g} {n}" for g, n in counts)
        say(f"   {log.user_keys[u]}: {len(history)} items in training ({said})")
        table = [("last items, oldest first", f"recommended (top {SHOWN})")]
        table += list(zip(history[-SHOWN:], keys[:SHOWN], strict=False))
        if not as_json:
            echo_table([("   ", *row) for row in table], "<<<")
        found = f"rank {rank} of the top {K}" if rank else f"not in the top {K}"
        say(f"     held-out next item: {target} ({found})")

    # (f) similar items: the most popular item, and the most popular of another genre
    counts_all = log.item_counts()
    first = str(log.item_keys[int(np.argmax(counts_all))])
    by_count = log.item_keys[np.argsort(-counts_all, kind="stable")].tolist()
    second = next((k for k in by_count if genre_of[k] != genre_of[first]), by_count[1])
    queries = [first, str(second)]
    sim = model.most_similar(queries, k=SHOWN)
    say(f"\n6. similar items (cosine of the item vectors, top {SHOWN})")
    sim_rows: list[dict[str, Any]] = []
    for q, keys, scores in zip(queries, sim.keys.tolist(), sim.scores.tolist(), strict=True):
        same = sum(genre_of[k] == genre_of[q] for k in keys)
        sim_rows.append({"item": q, "similar": keys, "scores": scores})
        say(f"   {q}: {same} of {len(keys)} in its genre")
        say("     " + ", ".join(f"{k} {s:.2f}" for k, s in zip(keys, scores, strict=True)))

    # (g) save, and what to try next
    model_dir = out / MODEL_DIR
    model.metadata_ = {
        "interactions": str(log_path),
        "read": {"user_col": USER, "item_col": ITEM, "time_col": TIME},
        "holdout": "leave-last-out",
        "split_seed": 0,
        "session_gap": None,
        "min_length": 1,
    }
    model.save(model_dir)
    read_flags = ("--user-col", USER, "--item-col", ITEM, "--time-col", TIME)
    history = rec_rows[0]["history"][-3:]
    next_commands = [
        _command("similar", model_dir, queries[0]),
        _command("recommend", model_dir, *(w for k in history for w in ("--history", k))),
        _command("eval", model_dir, log_path, *read_flags),
        _command("serve", model_dir),
    ]
    say(f"\n7. saved the model to {model_dir}; next, try:")
    for line in next_commands:
        say(f"   {line}")
    say(f"\nembedrec quickstart: everything is in {out}")
    if as_json:
        echo_json(
            {
                "out": str(out),
                "log": {
                    "path": str(log_path),
                    "users": log.n_users,
                    "items": log.n_items,
                    "events": len(log),
                    "genres": genres,
                },
                "compile_seconds": compile_seconds,
                "train_seconds": train_seconds,
                "config": cfg.to_dict(),
                "results": {name: r.to_dict() for name, r in results.items()},
                "recommendations": rec_rows,
                "similar": sim_rows,
                "model": str(model_dir),
                "next": next_commands,
            }
        )
    if serve_after:
        base = f"http://{host}:{port}"
        history_json = ", ".join(f'"{k}"' for k in history)
        # after a JSON summary, stdout stays one JSON document
        click.echo(
            f"\nserving {model_dir} at {base} (docs at {base}/docs; Ctrl-C stops); try:\n"
            f"   curl '{base}/v1/similar?key={queries[0]}&k=5'\n"
            f"   curl -X POST {base}/v1/recommend -H 'Content-Type: application/json' "
            f'-d \'{{"history": [{history_json}], "k": 5}}\'',
            err=as_json,
        )
        ctx.invoke(serve, model=model_dir, host=host, port=port)

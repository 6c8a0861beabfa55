"""Recommendation commands: ``item2vec train``, ``recommend``, ``eval`` and ``tune``.

They read interaction logs through :func:`embedrec.data.interactions.read_interactions`, split
them with :mod:`embedrec.eval.split` and score with :func:`embedrec.eval.evaluate`, the same
code as the Python API.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import click

from ..artifacts import load_consistent
from ..keys import format_keys, parse_key
from ..models.item2vec import Item2Vec, Item2VecConfig
from ..models.registry import SESSION_CLASSES, model_class, read_model
from ..models.word2vec import MAX_SEED
from ._common import (
    State,
    build_config,
    check_out_dir,
    check_out_file,
    config_options,
    echo_fields,
    echo_report,
    echo_table,
    format_value,
    given_flags,
    json_option,
    jsonable,
    loss_trend,
    read_config_file,
)

logger = logging.getLogger("embedrec")

F = TypeVar("F", bound=Callable[..., Any])
Holdout = Literal["none", "leave-last-out", "temporal", "random"]
_PROTOCOLS = ["leave-last-out", "temporal", "random"]
#: ``--holdout`` of ``item2vec train`` and ``tune``: the default ``--protocol`` of ``eval``,
#: so train -> eval with defaults is honest, and what ``tune_item2vec`` expects to be given
#: (training interactions, never the test events)
DEFAULT_HOLDOUT: Holdout = "leave-last-out"
#: the session protocol's methods (fitted by ``eval`` itself on the training sessions), by name,
#: and their model classes (the name a saved one is reported under)
SESSION_METHODS = {
    "session-embed": "SessionEmbed",
    "s-pop": "SessionPop",
    "ar": "AssociationRules",
    "sr": "SequentialRules",
    "sknn": "SKNN",
    "vsknn": "VSKNN",
    "stan": "STAN",
    "vstan": "VSTAN",
}
_SESSION_BASELINES = ["s-pop", "sr", "vsknn", "stan", "vstan"]
#: session protocol (session-rec): sessions shorter than this are dropped, before and after
#: the item filter, and test sessions again after removing unknown items
MIN_SESSION_LENGTH = 2


def interaction_options(f: F) -> F:
    """The flags that say how to read an interaction log (shared by every command here)."""
    options = [
        click.argument("interactions", type=click.Path(exists=True, path_type=Path)),
        click.option("--user-col", required=True, help="Column of user (or session) IDs."),
        click.option("--item-col", required=True, help="Column of item IDs."),
        click.option("--time-col", default=None, help="Column of event times (sorts histories)."),
        click.option("--weight-col", default=None, help="Column of ratings / weights."),
        click.option("--event-col", default=None, help="Column of event types."),
        click.option("--sep", default=None, help="Field separator (default: from the file)."),
        click.option(
            "--encoding",
            default="utf8",
            show_default=True,
            help="Text encoding of a CSV/TSV file, e.g. latin-1 (Parquet is always UTF-8).",
        ),
        click.option(
            "--no-header",
            "no_header",
            is_flag=True,
            help="The file has no header row: name columns by 0-based position (--user-col 0).",
        ),
        click.option("--min-weight", type=float, default=None, help="Drop events below it."),
        click.option(
            "--event-types", multiple=True, help="Keep only these event types (repeatable)."
        ),
        click.option(
            "--min-item-interactions",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="k-core: items need this many events (iterated with --min-user-interactions).",
        ),
        click.option(
            "--min-user-interactions",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="k-core: users need this many events.",
        ),
        click.option(
            "--dedupe",
            is_flag=True,
            help="Drop repeated (user, item, time) events instead of keeping them.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


_DATA_KEYS = (
    "user_col",
    "item_col",
    "time_col",
    "weight_col",
    "event_col",
    "sep",
    "encoding",
    "no_header",
    "min_weight",
    "event_types",
    "min_item_interactions",
    "min_user_interactions",
    "dedupe",
)


def pop_data_flags(flags: dict[str, Any]) -> dict[str, Any]:
    """Remove the :func:`interaction_options` values from a command's ``flags`` and return
    them (what :func:`read_log` takes)."""
    return {k: flags.pop(k) for k in _DATA_KEYS}


def read_log(path: Path, data: dict[str, Any]) -> Any:
    """The log at ``path`` read with the :func:`interaction_options` values ``data``
    (:func:`pop_data_flags`), as :class:`~embedrec.data.interactions.Interactions`."""
    import codecs

    from ..data.interactions import read_interactions

    kwargs = dict(data)
    try:
        codecs.lookup(kwargs["encoding"])
    except LookupError:
        raise ValueError(
            f"--encoding {kwargs['encoding']!r} is not a known text encoding; use e.g. utf8, "
            "latin-1 or cp1252"
        ) from None
    kwargs["event_types"] = list(kwargs["event_types"]) or None
    if kwargs.pop("no_header"):
        kwargs["has_header"] = False
        for role in ("user_col", "item_col", "time_col", "weight_col", "event_col"):
            v = kwargs[role]
            if isinstance(v, str) and v.isdigit():
                kwargs[role] = int(v)
    inter = read_interactions(path, **kwargs)
    logger.info(
        "read %d events of %d users and %d items from %s",
        len(inter),
        inter.n_users,
        inter.n_items,
        path,
    )
    return inter


def _split(inter: Any, protocol: str, seed: int) -> Any:
    from ..eval import split as sp

    if protocol == "leave-last-out":
        return sp.leave_last_out(inter)
    if protocol == "temporal":
        return sp.temporal_split(inter)
    if protocol == "random":
        return sp.random_holdout(inter, seed=seed)
    raise ValueError(f"protocol={protocol!r} is invalid; use one of {_PROTOCOLS}")


_holdout_option = click.option(
    "--holdout",
    type=click.Choice(list(get_args(Holdout))),
    default=DEFAULT_HOLDOUT,
    show_default=True,
    help="Leave out the test events of this split protocol, so `embedrec eval` (whose default "
    "--protocol is leave-last-out) scores events the model never saw; `none` trains on every "
    "event (a production model).",
)


_split_seed = click.option(
    "--split-seed",
    type=click.IntRange(0, MAX_SEED),
    default=0,
    show_default=True,
    help="Seed of the random holdout.",
)


@click.group()
def item2vec() -> None:
    """Item2Vec: item vectors from interaction logs."""


@item2vec.command(name="train")
@interaction_options
@click.option(
    "--session-gap",
    type=float,
    default=None,
    help="Split histories into sessions at gaps longer than this many seconds.",
)
@click.option(
    "--min-length",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Shorter sequences are dropped.",
)
@_holdout_option
@_split_seed
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory to save the model in (created; an earlier model there is replaced).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file of Item2VecConfig fields (e.g. written by `embedrec tune`); flags override.",
)
@config_options(Item2VecConfig)
@json_option
@click.pass_obj
def item2vec_train(
    state: State,
    /,
    interactions: Path,
    session_gap: float | None,
    min_length: int,
    holdout: str,
    split_seed: int,
    out: Path,
    config_file: Path | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Train Item2Vec on INTERACTIONS (CSV/TSV/Parquet) and save it in --out.

    Prints a summary (items, sequences, holdout, loss); --json prints it as JSON.
    """
    data = pop_data_flags(flags)
    values = read_config_file(config_file, Item2VecConfig) if config_file is not None else {}
    given = {k: v for k, v in flags.items() if v is not None}
    values.update(given)
    cfg = build_config(Item2VecConfig, values, flags=given, config_file=config_file)
    check_out_dir(out)
    inter = read_log(interactions, data)
    n_test = 0
    if holdout != "none":
        split = _split(inter, holdout, split_seed)
        inter, n_test = split.train_full, len(split.test)
        logger.info("holding out the %d test events of the %s split", n_test, holdout)
    seqs = inter.sequences(session_gap=session_gap, min_length=min_length)
    t0 = time.perf_counter()
    model = Item2Vec(cfg).fit(seqs, progress=not state.quiet)
    seconds = time.perf_counter() - t0
    model.metadata_ = {
        "interactions": str(interactions),
        "read": jsonable(data),
        "holdout": holdout,
        "split_seed": split_seed,
        "session_gap": session_gap,
        "min_length": min_length,
    }
    model.save(out)
    logger.info("saved the model to %s", out)
    payload = {
        "out": str(out),
        "n_items": len(model.embeddings_),
        "n_sequences": len(seqs),
        "holdout": holdout,
        "seconds": seconds,
        "loss": model.loss_history_,
        "config": cfg.to_dict(),
    }
    held_out = (
        "none: trained on every event"
        if holdout == "none"
        else f"{holdout}: {n_test} test events left out (`embedrec eval --protocol {holdout}` "
        "scores them)"
    )
    echo_report(
        payload,
        lambda: echo_fields(
            [
                ("saved", f"{out} (Item2Vec)"),
                ("items", f"{len(model.embeddings_)} vectors of dim {cfg.dim}"),
                ("sequences", len(seqs)),
                ("holdout", held_out),
                ("training", f"{cfg.epochs} epoch(s) in {seconds:.2f}s"),
                ("loss", loss_trend(model.loss_history_)),
            ]
        ),
        as_json=as_json,
    )


#: the model classes that recommend and are evaluated here
_RECOMMENDERS = ("Item2Vec", "TwoTower", *SESSION_CLASSES)
_NEEDS_RECOMMENDER = (
    "this command needs an Item2Vec, TwoTower or session model (`embedrec similar` and "
    "`embedrec export` read the vectors of any model)"
)


def _load_model(
    path: Path, classes: tuple[str, ...] = _RECOMMENDERS, needs: str = _NEEDS_RECOMMENDER
) -> Any:
    """A model directory of one of ``classes``, through the model registry; ``ValueError``
    saying what the command ``needs`` for another class."""
    return load_consistent(path, lambda directory: _load_model_dir(directory, classes, needs))


def _load_model_dir(directory: Path, classes: tuple[str, ...], needs: str) -> Any:
    """The model of one generation directory."""
    kind = model_class(directory)
    if kind not in classes:
        raise ValueError(f"{directory} holds a {kind!r}; {needs}")
    return read_model(directory)


def _parse_keys(texts: tuple[str, ...], model: Any) -> list[Any]:
    """The --history items in the model's key type (the one key policy)."""
    keys = getattr(model, "item_keys_", None)
    if keys is not None:  # a session model
        return [parse_key(t, "int" if keys.dtype.kind in "iu" else "str") for t in texts]
    emb = model.embeddings_
    return list(texts) if emb is None else [parse_key(t, emb.key_type) for t in texts]


#: what separates the keys inside one --history value
_HISTORY_SEPARATORS = re.compile(r"[,\s]+")


def history_texts(values: tuple[str, ...], history_file: Path | None) -> list[str]:
    """The history keys as text, oldest first: each --history value split at commas and
    whitespace, then the lines of ``history_file`` (one key per line, taken as it is, so a
    key may hold commas or spaces; blank lines are skipped; ``-`` is stdin)."""
    texts = [t for value in values for t in _HISTORY_SEPARATORS.split(value) if t]
    if history_file is not None:
        with click.open_file(str(history_file), encoding="utf-8") as fh:
            texts += [line.rstrip("\r\n") for line in fh if line.strip()]
    return texts


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--history",
    multiple=True,
    metavar="KEYS",
    help="Items of the history, oldest first, separated by commas or spaces "
    "(--history 3,7,9 or --history '3 7 9'); repeatable. A key holding a comma or a space "
    "goes in --history-file.",
)
@click.option(
    "--history-file",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="More history items, one key per line as it is (after the --history ones); - reads stdin.",
)
@click.option("-k", "k", type=int, default=10, show_default=True, help="Items to recommend.")
@click.option("--keep-seen", is_flag=True, help="Allow the history's own items in the answer.")
@click.option(
    "--user",
    default=None,
    help="Two-tower models: the user's key (their stored features, and their training "
    "history when no --history is given).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Fail (exit status 2) when a history item is unknown to the model, instead of "
    "recommending from the known ones (or from popularity when none is known).",
)
@json_option
def recommend(
    model: Path,
    history: tuple[str, ...],
    history_file: Path | None,
    k: int,
    keep_seen: bool,
    user: str | None,
    strict: bool,
    as_json: bool,
) -> None:
    """Recommend items to a user whose history is the --history items (oldest first).

    Unknown history items are left out and listed in the output ("unknown"); when no history
    item is known, the answer is a fallback (the most popular items; for a two-tower model,
    its user tower fed only unknown items), which the output says ("fallback"). --strict
    makes an unknown item an error instead.
    """
    m = _load_model(model)
    texts = history_texts(history, history_file)
    keys = _parse_keys(tuple(texts), m)
    if user is not None:
        if not hasattr(m, "user_keys_"):
            raise ValueError(f"{model} is not a two-tower model; --user needs one")
        user_key = parse_key(user, "int" if _int_users(m) else "str")
        res = m.recommend(keys or None, k=k, user=user_key, exclude_seen=not keep_seen)
    elif not keys:
        raise ValueError(
            "give --history ITEMS (or --history-file FILE, or --user KEY for a two-tower model)"
        )
    else:
        res = m.recommend(keys, k=k, exclude_seen=not keep_seen)
    unknown = list(res.unknown)
    if unknown and strict:
        raise KeyError(
            f"--strict: {len(unknown)} history item(s) unknown to the model: "
            f"{format_keys(unknown)}; give keys as in the training log, or leave out --strict "
            "to recommend from the known items"
        )
    fallback = user is None and len(unknown) == len(keys)
    if unknown:
        logger.warning(
            "%d history item(s) unknown to the model: %s%s",
            len(unknown),
            format_keys(unknown),
            "; no item is known, so the answer is a fallback" if fallback else "",
        )
    rows = list(zip(res.keys.tolist(), res.scores.tolist(), strict=True))
    payload = {
        "items": [{"key": key, "score": s} for key, s in rows],
        "unknown": unknown,
        "fallback": fallback,
    }

    def render() -> None:
        table: list[tuple[Any, ...]] = [("rank", "item", "score")]
        table += [(r, key, f"{s:.4f}") for r, (key, s) in enumerate(rows, 1)]
        echo_table(table, "><<")
        how = (
            "the user tower fed only unknown items, no personalisation"
            if hasattr(m, "user_keys_")
            else "popularity"
        )
        listed = f"{format_value(unknown)} (not in the model; left out)"
        echo_fields(
            [
                ("unknown", listed if unknown else None),
                (
                    "fallback",
                    f"{how} (no history item is known to the model)" if fallback else None,
                ),
            ]
        )

    echo_report(payload, render, as_json=as_json)


# ---------------------------------------------------------------------------------- sessions
def session_gap_option(dropped: str, scope: str = "") -> Callable[[F], F]:
    """``--session-gap`` of the session commands (``eval --protocol session``, ``sessions
    train`` and ``tune``, through :func:`read_sessions`); ``dropped`` says which short
    sessions the command then drops, ``scope`` where the flag applies."""
    option: Callable[[F], F] = click.option(
        "--session-gap",
        type=click.FloatRange(min=0),
        default=None,
        help=f"{scope}--user-col holds users, not sessions: cut each user's events into "
        f"sessions at gaps longer than this many seconds (needs --time-col); {dropped}.",
    )
    return option


def read_sessions(
    path: Path,
    data: dict[str, Any],
    session_gap: float | None,
    min_length: int = MIN_SESSION_LENGTH,
) -> Any:
    """The session log in ``path`` read with ``data`` (:func:`pop_data_flags`): each user key
    a session, or, with ``session_gap`` (``--session-gap``), the users' events cut into
    sessions (:func:`embedrec.data.sessions.sessionize`) of at least ``min_length`` events."""
    from ..data.sessions import sessionize

    if session_gap is not None and data["time_col"] is None:
        raise click.UsageError(
            "--session-gap cuts sessions at gaps between event times: give --time-col"
        )
    log = read_log(path, data)
    if session_gap is not None:
        users = log.n_users
        log = sessionize(log, gap=session_gap, min_length=min_length)
        logger.info(
            "cut the events of %d users into %d sessions at gaps > %g s",
            users,
            log.n_users,
            session_gap,
        )
    return log


def days_or_fraction(days_name: str, fraction_name: str) -> tuple[float | None, float | None]:
    """The holdout of a session split, given to the running command as a number of days
    (parameter ``days_name``, e.g. ``test_days``) or a fraction of the sessions
    (``fraction_name``): ``(days, None)`` or ``(None, fraction)``.

    The days flag's value (its default, if it has one) applies unless the fraction flag is
    given; giving both is a ``click.UsageError`` naming both.
    """
    params = click.get_current_context().params
    days, fraction = params[days_name], params[fraction_name]
    if fraction is None:
        return days, None
    if given_flags([days_name]):
        days_flag, fraction_flag = given_flags([days_name, fraction_name])
        raise click.UsageError(
            f"{days_flag} and {fraction_flag}: give one (the sessions ending in the last N "
            "days, or the latest fraction F of the sessions)"
        )
    return None, fraction


def holdout_flag(days: float | None, fraction: float | None, prefix: str = "--test") -> str:
    """The flag and value that chose a holdout: ``--test-days 2`` or ``--test-fraction 0.1``."""
    return f"{prefix}-days {days:g}" if fraction is None else f"{prefix}-fraction {fraction:g}"


def holdout_span(days: float | None, fraction: float | None) -> str:
    """What a holdout holds, in words: ``the sessions ending in the last 2 days`` or ``the
    10% of the sessions ending last``."""
    if fraction is not None:
        return f"the {100 * fraction:.4g}% of the sessions ending last"
    assert days is not None
    return f"the sessions ending in the last {days:g} day" + ("" if days == 1 else "s")


def split_sessions(
    log: Any,
    *,
    test_days: float | None,
    test_fraction: float | None,
    min_session_length: int = MIN_SESSION_LENGTH,
    min_item_support: int = 5,
    what: str,
) -> Any:
    """:func:`embedrec.data.sessions.session_split` of ``log``, with ``what`` (the flag and
    its role, e.g. "the test holdout (--test-days 1)") leading its error message."""
    from ..data.sessions import session_split

    try:
        return session_split(
            log,
            test_days=test_days,
            test_fraction=test_fraction,
            min_session_length=min_session_length,
            min_item_support=min_item_support,
        )
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _session_model(name: str) -> Any:
    """A new model of the session method ``name``."""
    from .. import models

    if name not in SESSION_METHODS:
        raise ValueError(
            f"with --protocol session, MODEL is a method fitted on the training sessions: one "
            f"of {', '.join(SESSION_METHODS)}; or a saved session model's directory: {name!r} "
            "is neither"
        )
    return getattr(models, SESSION_METHODS[name])()


def _eval_sessions(
    name: str,
    inter: Any,
    *,
    ks: tuple[int, ...],
    baselines: bool,
    test_days: float | None,
    test_fraction: float | None,
    min_session_length: int,
    min_item_support: int,
    session_gap: float | None,
    positions: Literal["all", "last"],
) -> tuple[dict[str, Any], str]:
    """The method ``name`` (and the baselines) fitted on the training sessions of the session
    log ``inter`` and scored on its test sessions: the JSON payload and the readable report."""
    from ..eval.sessions import compare_sessions, evaluate_sessions

    names = [name] + ([b for b in _SESSION_BASELINES if b != name] if baselines else [])
    models = {n: _session_model(n) for n in names}  # unknown names fail before any work
    split = split_sessions(
        inter,
        test_days=test_days,
        test_fraction=test_fraction,
        min_session_length=min_session_length,
        min_item_support=min_item_support,
        what=f"the session split ({holdout_flag(test_days, test_fraction)})",
    )
    results = {}
    for n, m in models.items():
        logger.info("session protocol: fitting %s", n)
        results[n] = evaluate_sessions(m.fit(split.train), split, ks=ks, positions=positions)
    payload = {
        "model": name,
        "protocol": "session",
        "test_days": test_days,
        "test_fraction": test_fraction,
        "min_session_length": min_session_length,
        "min_item_support": min_item_support,
        "session_gap": session_gap,
        "positions": positions,
        "results": {n: r.to_dict() for n, r in results.items()},
    }
    note = (
        f"test: {holdout_span(test_days, test_fraction)}, after "
        f"session-rec's filters (sessions >= {min_session_length} events, items >= "
        f"{min_item_support} events); predicted: "
        + ("every position" if positions == "all" else "each session's last item")
    )
    return payload, f"{compare_sessions(results)}\n{note}"


def _saved_session_test(inter: Any, item_keys: Any) -> tuple[Any, dict[str, int]]:
    """The session log ``inter`` as test sessions of a saved model whose item table is
    ``item_keys``: the session protocol's last step (:func:`embedrec.data.sessions.session_split`)
    removes the events of items the model does not know, then the sessions left shorter than
    2. Returns the sessions on the model's item table and what was removed.

    Keys are matched by the one key policy (:func:`embedrec.keys.parse_key`), so a log read
    with int item keys meets a model with str keys ``"42"``, and the reverse.
    """
    import numpy as np

    from ..data.interactions import Interactions
    from ..keys import key_type_of

    model_keys = item_keys.tolist()
    key_type = key_type_of(model_keys)
    lookup = {key: i for i, key in enumerate(model_keys)}
    table = np.array(
        [lookup.get(parse_key(key, key_type), -1) for key in inter.item_keys.tolist()],
        dtype=np.int64,
    )
    codes = table[inter.item]
    known = codes >= 0
    lengths = np.bincount(inter.user[known], minlength=inter.n_users)
    keep = known & (lengths[inter.user] >= MIN_SESSION_LENGTH)
    test = Interactions(
        inter.user_keys,
        item_keys,
        inter.user[keep],
        codes[keep].astype(np.int32),
        inter.time[keep],
        None if inter.weight is None else inter.weight[keep],
    )
    n_sessions = int((np.bincount(inter.user, minlength=inter.n_users) > 0).sum())
    kept = int((lengths >= MIN_SESSION_LENGTH).sum())
    facts = {
        "sessions": kept,
        "events": int(keep.sum()),
        "unknown_item_events": int((~known).sum()),
        "short_sessions_dropped": n_sessions - kept,
    }
    if kept == 0:
        raise ValueError(
            f"no test session is left with {MIN_SESSION_LENGTH} events of items the model "
            f"knows ({facts['unknown_item_events']} of {len(inter)} events are of unknown "
            "items); check that --item-col names the items the model was trained on"
        )
    return test, facts


def _eval_saved_session(
    path: Path,
    inter: Any,
    *,
    ks: tuple[int, ...],
    session_gap: float | None,
    positions: Literal["all", "last"],
) -> tuple[dict[str, Any], str]:
    """A saved session model evaluated on ``inter``, every session of which is a test
    session (the model was trained elsewhere, on other sessions)."""
    from ..eval.sessions import compare_sessions, evaluate_sessions

    needs = (
        f"--protocol session evaluates a saved session model ({', '.join(SESSION_CLASSES)}) "
        f"or fits a method ({', '.join(SESSION_METHODS)}); evaluate other models with "
        f"--protocol {' / '.join(_PROTOCOLS)}"
    )
    m = _load_model(path, SESSION_CLASSES, needs)
    test, facts = _saved_session_test(inter, m.item_keys_)
    cls = type(m).__name__
    name = next((n for n, c in SESSION_METHODS.items() if c == cls), cls)
    result = evaluate_sessions(m, test, ks=ks, positions=positions)
    payload = {
        "model": str(path),
        "model_class": cls,
        "protocol": "session",
        "session_gap": session_gap,
        "positions": positions,
        "test": facts,
        "results": {name: result.to_dict()},
    }
    note = (
        f"test log: {facts['sessions']} sessions, {facts['events']} events; removed "
        f"{facts['unknown_item_events']} events of items unknown to the model, then "
        f"{facts['short_sessions_dropped']} sessions shorter than {MIN_SESSION_LENGTH}; "
        "predicted: " + ("every position" if positions == "all" else "each session's last item")
    )
    return payload, f"{compare_sessions({name: result})}\n{note}"


#: flags of the session protocol's split and baselines, which a saved model does not use
_SPLIT_FLAGS = (
    "test_days",
    "test_fraction",
    "min_session_length",
    "min_item_support",
    "baselines",
)
#: flags of the session protocol alone (the split's, the sessions' and the positions')
_SESSION_FLAGS = (
    "test_days",
    "test_fraction",
    "min_session_length",
    "min_item_support",
    "session_gap",
    "positions",
)


def _refuse_split_flags(model: Path) -> None:
    """Refuse the split and baseline flags, when given, with a saved session model
    (``--no-baselines`` is what a saved model does anyway, and is allowed)."""
    ctx = click.get_current_context()
    names = [n for n in _SPLIT_FLAGS if n != "baselines" or ctx.params["baselines"]]
    given = given_flags(names)
    if given:
        raise click.UsageError(
            f"{' and '.join(given)}: only for a method fitted here (they split the log and fit "
            f"baselines on its training sessions); {model} is a saved model, evaluated on "
            "every session of INTERACTIONS (its test log): leave them out"
        )


def _refuse_session_flags(protocol: str) -> None:
    """Refuse the flags of the session protocol, when given, under another ``protocol``."""
    given = given_flags(_SESSION_FLAGS)
    if given:
        raise click.UsageError(
            f"{' and '.join(given)}: only for --protocol session (its session split and "
            f"next-item positions); --protocol {protocol} does not use them: leave them out, "
            "or pass --protocol session"
        )


def _refuse_holdout_flags() -> None:
    """Refuse, under ``--protocol session``, the flags of the other protocols' holdouts."""
    given = given_flags(("split_seed", "allow_leak", "keep_seen"))
    if given:
        raise click.UsageError(
            f"{' and '.join(given)}: only for --protocol leave-last-out, temporal or random; "
            "the session protocol splits by time (no seed), keeps the session's own items in "
            "the ranking (re-clicks are predicted) and evaluates a saved model on a log you "
            "name as its test log: leave them out"
        )


@click.command(name="eval")
@click.argument("model", type=click.Path())
@interaction_options
@click.option(
    "--protocol",
    type=click.Choice([*_PROTOCOLS, "session"]),
    default="leave-last-out",
    show_default=True,
    help="How the test events are chosen. 'session': the session-rec protocol (users are "
    "sessions, or users cut into sessions with --session-gap; the next item at every "
    "position, or the last with --positions last). MODEL is then either a method fitted "
    f"here ({', '.join(SESSION_METHODS)}) on the log's training sessions, the last "
    "--test-days (or the latest --test-fraction of the sessions) being the test; or a saved "
    "session model's directory (write ./sr for a directory named like a method), evaluated "
    "on every session of INTERACTIONS, events of items it does not know removed.",
)
@click.option(
    "--test-days",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Session protocol, fitted method: sessions ending in the last N days are the test set.",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Session protocol, fitted method: the latest F of the sessions (by last event) are "
    "the test set, instead of the last --test-days.",
)
@click.option(
    "--min-session-length",
    type=click.IntRange(min=1),
    default=MIN_SESSION_LENGTH,
    show_default=True,
    help="Session protocol, fitted method: drop sessions with fewer events, before and after "
    "the item filter, and test sessions left shorter (session-rec: 2).",
)
@click.option(
    "--min-item-support",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Session protocol, fitted method: drop items with fewer events (session-rec: 5).",
)
@session_gap_option(
    "sessions shorter than --min-session-length (with a saved model, 2) are dropped",
    scope="Session protocol: ",
)
@click.option(
    "--positions",
    type=click.Choice(["all", "last"]),
    default="all",
    show_default=True,
    help="Session protocol: predict the next item at every position of each test session "
    "(the protocol), or only each session's last item.",
)
@_split_seed
@click.option(
    "-k",
    "ks",
    type=click.IntRange(min=1),
    multiple=True,
    help="Cut-offs (repeatable; default 10 and 20).",
)
@click.option(
    "--baselines/--no-baselines",
    default=True,
    show_default=True,
    help="Also score popularity and random by the same code.",
)
@click.option(
    "--allow-leak",
    is_flag=True,
    help="Evaluate a model not trained with --holdout of this protocol (its test events may "
    "have been in its training data).",
)
@click.option(
    "--keep-seen",
    is_flag=True,
    help="Rank the users' training items too (the TensorFlow Recommenders protocol).",
)
@json_option
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON here."
)
@click.pass_obj
def eval_recommendations(
    state: State,
    /,
    model: str,
    protocol: str,
    split_seed: int,
    ks: tuple[int, ...],
    baselines: bool,
    allow_leak: bool,
    keep_seen: bool,
    as_json: bool,
    out: Path | None,
    test_days: float,
    test_fraction: float | None,
    min_session_length: int,
    min_item_support: int,
    session_gap: float | None,
    positions: Literal["all", "last"],
    **flags: Any,
) -> None:
    """Next-item evaluation of MODEL on INTERACTIONS: full ranking, seen items excluded.

    Prints HR, Recall, NDCG, MRR and catalogue coverage at each k for the model and, by
    default, the popularity and random baselines. With ``--protocol session`` the users are
    sessions (with --session-gap, users whose events are cut into sessions at gaps of
    inactivity) and seen items stay in the ranking; the next item is predicted at every
    position of each test session (--positions last: only the last). MODEL then names a
    method fitted on the training sessions (the baselines are S-POP, SR, V-SKNN, STAN and
    V-STAN) of session-rec's split: --min-session-length and --min-item-support filter the
    log, and the sessions ending in the last --test-days (or the latest --test-fraction of
    them) are the test. Or MODEL is a saved session model's directory, evaluated on every
    session of INTERACTIONS (a test log it was not trained on): events of items it does not
    know are removed, then sessions shorter than 2, and the output says how many. The
    session flags are refused under the other protocols, and the split's flags with a saved
    model.
    """
    from ..eval import Popularity, RandomScorer, compare, evaluate

    interactions: Path = flags.pop("interactions")
    data = pop_data_flags(flags)
    if protocol != "session":
        _refuse_session_flags(protocol)
    else:
        _refuse_holdout_flags()
    if out is not None:
        check_out_file(out)
    if protocol == "session":
        # an exact method name is the method, even beside a directory of that name (./sr)
        if model in SESSION_METHODS or not Path(model).is_dir():
            if model in SESSION_METHODS and Path(model).is_dir():
                logger.info(
                    "fitting the method %s (to evaluate the saved model in the directory %s, "
                    "write ./%s)",
                    model,
                    model,
                    model,
                )
            days, fraction = days_or_fraction("test_days", "test_fraction")
            payload, table = _eval_sessions(
                model,
                read_sessions(interactions, data, session_gap, min_session_length),
                ks=tuple(ks) or (10, 20),
                baselines=baselines,
                test_days=days,
                test_fraction=fraction,
                min_session_length=min_session_length,
                min_item_support=min_item_support,
                session_gap=session_gap,
                positions=positions,
            )
        else:
            _refuse_split_flags(Path(model))
            payload, table = _eval_saved_session(
                Path(model),
                read_sessions(interactions, data, session_gap),
                ks=tuple(ks) or (10, 20),
                session_gap=session_gap,
                positions=positions,
            )
        if out is not None:
            from .._io import write_json

            write_json(out, jsonable(payload))
        echo_report(payload, lambda: click.echo(table), as_json=as_json)
        return
    m = _load_model(
        Path(model),
        tuple(c for c in _RECOMMENDERS if c not in SESSION_CLASSES),
        f"--protocol {protocol} evaluates an Item2Vec or TwoTower model; evaluate a session "
        "model with --protocol session",
    )
    trained = m.metadata_.get("holdout")
    same_split = m.metadata_.get("split_seed", 0) == split_seed or protocol != "random"
    if (trained != protocol or not same_split) and not allow_leak:
        raise ValueError(
            f"{model} was trained with holdout={trained!r}, so the {protocol} test events may "
            f"be in its training data; retrain with `embedrec item2vec train --holdout "
            f"{protocol}` (same --split-seed), or pass --allow-leak to evaluate anyway"
        )
    inter = read_log(interactions, data)
    split = _split(inter, protocol, split_seed)
    cutoffs = tuple(ks) or (10, 20)
    name = type(m).__name__.lower()
    ex = not keep_seen
    results = {name: evaluate(m, split.train_full, split.test, ks=cutoffs, exclude_seen=ex)}
    if baselines:
        results["popularity"] = evaluate(
            Popularity().fit(split.train_full),
            split.train_full,
            split.test,
            ks=cutoffs,
            exclude_seen=ex,
        )
        results["random"] = evaluate(
            RandomScorer(seed=split_seed), split.train_full, split.test, ks=cutoffs, exclude_seen=ex
        )
    payload = {
        "model": str(Path(model)),
        "protocol": protocol,
        "results": {name: r.to_dict() for name, r in results.items()},
    }
    if out is not None:
        from .._io import write_json

        write_json(out, jsonable(payload))
    echo_report(payload, lambda: click.echo(compare(results)), as_json=as_json)


def search_options(f: F) -> F:
    """``--budget``, ``--max-trials`` and ``--seed`` of a random search (``tune``,
    ``sessions tune``)."""
    options = [
        click.option(
            "--budget",
            type=click.FloatRange(min=0, min_open=True),
            default=300.0,
            show_default=True,
            help="Seconds to search (a started trial finishes).",
        ),
        click.option(
            "--max-trials",
            type=click.IntRange(min=1),
            default=None,
            help="Stop after this many trials.",
        ),
        click.option(
            "--seed",
            type=click.IntRange(0, MAX_SEED),
            default=0,
            show_default=True,
            help="Seed of the search.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.command()
@interaction_options
@_holdout_option
@_split_seed
@search_options
@click.option(
    "--user-fraction",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Tune on this share of users (default: all up to 5,000 users, else >= 10%).",
)
@click.option("--metric", default="NDCG@10", show_default=True, help="Validation metric.")
@click.option(
    "--out-config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the best configuration as TOML (for `item2vec train --config`).",
)
@json_option
@click.pass_obj
def tune(
    state: State,
    /,
    holdout: str,
    split_seed: int,
    budget: float,
    max_trials: int | None,
    user_fraction: float | None,
    metric: str,
    seed: int,
    out_config: Path | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Random search of Item2Vec hyper-parameters on a validation split of INTERACTIONS.

    With the default --holdout leave-last-out (as in `item2vec train`), the test events are
    removed first, so the search validates on each user's second-to-last event and never sees
    the test.
    """
    from ..tune import tune_item2vec

    interactions: Path = flags.pop("interactions")
    data = pop_data_flags(flags)
    if out_config is not None:
        check_out_file(out_config, "--out-config")
    inter = read_log(interactions, data)
    if holdout != "none":
        inter = _split(inter, holdout, split_seed).train_full
    res = tune_item2vec(
        inter,
        budget_seconds=budget,
        max_trials=max_trials,
        user_fraction=user_fraction,
        metric=metric,
        seed=seed,
        progress=not state.quiet,
    )
    if out_config is not None:
        from .._io import atomic_open

        with atomic_open(out_config, "w") as fh:
            fh.write(to_toml(res.best_config.to_dict()))

    def render() -> None:
        click.echo(res.table())
        score = res.best["metrics"][metric]
        click.echo(f"\nbest ({metric} {score:.4f} on {res.n_users} users):")
        click.echo(to_toml(res.best_config.to_dict()), nl=False)

    echo_report(res.to_dict(), render, as_json=as_json)


def _int_users(model: Any) -> bool:
    keys = getattr(model, "user_keys_", None)
    return keys is not None and keys.dtype.kind in "iu"


def to_toml(values: dict[str, Any]) -> str:
    """Flat TOML for a config dict (``None`` values are left out: they mean the default)."""
    lines = []
    for k, v in values.items():
        if v is None:
            continue
        lines.append(f"{k} = {json.dumps(v)}")
    return "\n".join(lines) + "\n"

"""``embedrec sessions``: train a session model and tune ``SessionEmbed`` from the command line.

``sessions train METHOD LOG`` fits one of the session protocol's methods (those that
``embedrec eval --protocol session`` fits) on every session of a log, after session-rec's
filters (:func:`embedrec.data.sessions.session_filter`), and saves it for ``embedrec
recommend``, ``embedrec serve`` and ``embedrec eval --protocol session DIR TEST_LOG``.

``sessions tune LOG`` removes the test sessions first (the sessions ending in the last
``--test-days``, or the latest ``--test-fraction`` of them, as ``eval --protocol session``
chooses them), carves validation sessions out of the rest the same way, and runs
:func:`embedrec.tune.tune_session_embed` on them; its JSON result is what ``sessions train
session-embed --tuned FILE`` builds the model from
(:meth:`embedrec.tune.SessionTuneResult.model`).
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import recsys
from ._common import (
    F,
    State,
    check_out_dir,
    check_out_file,
    echo_fields,
    echo_report,
    echo_table,
    format_value,
    given_flags,
    json_option,
    jsonable,
)

if TYPE_CHECKING:
    from ..tune import SessionTuneResult

__all__ = ["sessions"]

logger = logging.getLogger("embedrec")

#: the session methods by CLI name and their model classes (the ones ``eval`` fits)
METHODS: dict[str, str] = dict(recsys.SESSION_METHODS)
#: session-rec's filters: sessions need this many events (before and after the item filter)
MIN_SESSION_LENGTH = recsys.MIN_SESSION_LENGTH
#: session-rec's item filter: items need this many events
DEFAULT_MIN_ITEM_SUPPORT = 5


@click.group()
def sessions() -> None:
    """Session models: train one on a session log, or tune SessionEmbed on it."""


def _min_item_support_option(help_text: str) -> Callable[[F], F]:
    option: Callable[[F], F] = click.option(
        "--min-item-support",
        type=click.IntRange(min=1),
        default=DEFAULT_MIN_ITEM_SUPPORT,
        show_default=True,
        help=help_text,
    )
    return option


_session_gap_option = recsys.session_gap_option(
    f"sessions shorter than {MIN_SESSION_LENGTH} are dropped"
)


# ---------------------------------------------------------------------------------- helpers
def _n_sessions(log: Any) -> int:
    return int((log.user_counts() > 0).sum())


def _data_args(path: Path, data: dict[str, Any], **more: Any) -> str:
    """The command-line words that read ``path`` as it was read here (non-default flags)."""
    words = [str(path)]
    values = {**data, **more}
    for key, value in values.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False or value == ():
            continue
        if key in ("min_item_interactions", "min_user_interactions") and value == 1:
            continue
        if (key, value) in (("encoding", "utf8"), ("min_item_support", DEFAULT_MIN_ITEM_SUPPORT)):
            continue
        if value is True:
            words.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                words += [flag, str(v)]
        else:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


def _read_tuned(path: Path) -> SessionTuneResult:
    """The :class:`~embedrec.tune.SessionTuneResult` in the JSON file ``path``."""
    from ..tune import SessionTuneResult

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"--tuned {path} is not JSON ({exc}); give the file `embedrec sessions tune --out` "
            "wrote"
        ) from None
    try:
        return SessionTuneResult.from_dict(doc)
    except ValueError as exc:
        raise ValueError(f"--tuned {path}: {exc}") from None


def _example_history(log: Any) -> str:
    """The history flag of an example ``recommend`` command: the last two distinct items of
    the log (its last session's first) whose keys ``--history`` takes as written (no
    separator, quote or blank), or ``--history-file FILE`` when no key is such."""
    picked: list[str] = []
    for code in log.item[::-1].tolist():
        key = str(log.item_keys[code])
        plain_key = key and not any(c.isspace() or c in ",'\"" for c in key)
        if plain_key and key not in picked:
            picked.append(key)
            if len(picked) == 2:
                break
    return f"--history {','.join(picked)}" if picked else "--history-file FILE"


# ---------------------------------------------------------------------------------- train
@sessions.command(name="train")
@click.argument("method", type=click.Choice(list(METHODS)), metavar="METHOD")
@recsys.interaction_options
@_session_gap_option
@_min_item_support_option(
    "Drop items with fewer events (session-rec's filter; 1 keeps every item). Sessions "
    "shorter than 2 are dropped before and after it."
)
@click.option(
    "--tuned",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="session-embed only: the JSON file of `embedrec sessions tune --out`; the model "
    "takes its embedding values, scoring values and re-ranker as they are, without "
    "calibrating again (or is the default SessionEmbed, when the defaults won the file's "
    "check).",
)
@click.option(
    "--test-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Hold out the sessions ending in the last N days (as `eval --protocol session "
    "--test-days` does: items unseen in training removed from them, then sessions shorter "
    "than 2) and train on the rest; with --test-out, write them for `embedrec eval`.",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Hold out the latest F of the sessions (by last event) instead of the last "
    "--test-days, as `eval --protocol session --test-fraction` does.",
)
@click.option(
    "--test-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --test-days or --test-fraction: write the held-out test sessions here as CSV "
    "(columns user, "
    "item, timestamp), the TEST_LOG of `embedrec eval --protocol session DIR TEST_LOG`.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory to save the model in (created; an earlier model there is replaced).",
)
@json_option
@click.pass_obj
def sessions_train(
    state: State,
    /,
    method: str,
    session_gap: float | None,
    min_item_support: int,
    tuned: Path | None,
    test_days: float | None,
    test_fraction: float | None,
    test_out: Path | None,
    out: Path,
    as_json: bool,
    **flags: Any,
) -> None:
    """Train the session method METHOD on every session of INTERACTIONS; save it in --out.

    METHOD is one of session-embed, s-pop, ar, sr, sknn, vsknn, stan, vstan (the methods of
    `embedrec eval --protocol session`). INTERACTIONS (CSV/TSV/Parquet) holds one session
    per --user-col key, or users' events cut with --session-gap. Session-rec's filters are
    applied (sessions of 2+ events, items of --min-item-support events), then the model is
    fitted on all remaining sessions: evaluate it on sessions held out of INTERACTIONS
    (`embedrec eval --protocol session DIR TEST_LOG`), or let `embedrec eval --protocol
    session METHOD INTERACTIONS` split the log and compare methods.

    With --test-days N the sessions ending in the last N days are held out instead (with
    --test-fraction F, the latest F of the sessions), and --test-out writes them as the test
    log of that `eval` command.

    SessionEmbed calibrates its scoring on the latest fifth of the sessions (at most
    20,000 predictions), or, where that holds under 5,000 predictions, on each fifth in
    turn (50 sessions or more); with --tuned (from `embedrec sessions tune`) it
    uses the tuned values and re-ranker instead, without calibrating again.

    Prints what was trained (sessions, events, items, seconds) and the next commands;
    --json prints it as JSON.
    """
    from .. import models
    from ..data.sessions import session_filter

    interactions: Path = flags.pop("interactions")
    data = recsys.pop_data_flags(flags)
    if tuned is not None and method != "session-embed":
        raise click.UsageError(
            f"--tuned holds SessionEmbed values (from `embedrec sessions tune`); train "
            f"session-embed with it, or leave out --tuned to train {method}"
        )
    test_days, test_fraction = recsys.days_or_fraction("test_days", "test_fraction")
    held_out = test_days is not None or test_fraction is not None
    if test_out is not None and not held_out:
        raise click.UsageError(
            "--test-out writes the sessions --test-days or --test-fraction holds out: give both "
            "(--test-out and one of them)"
        )
    result = _read_tuned(tuned) if tuned is not None else None
    check_out_dir(out)
    if test_out is not None:
        check_out_file(test_out, "--test-out")
    log = recsys.read_sessions(interactions, data, session_gap)
    n_read, sessions_read = len(log), _n_sessions(log)
    test = None
    if held_out:
        split = recsys.split_sessions(
            log,
            test_days=test_days,
            test_fraction=test_fraction,
            min_item_support=min_item_support,
            what=f"the test holdout ({recsys.holdout_flag(test_days, test_fraction)})",
        )
        # session_split filtered the whole log (session-rec's order); the training part is
        # what `eval --protocol session METHOD LOG` fits on, as it is
        log, test = split.train, split.test
        logger.info(
            "held out %d test sessions (%d events): %s",
            _n_sessions(test),
            len(test),
            recsys.holdout_span(test_days, test_fraction),
        )
    else:
        log = session_filter(
            log, min_session_length=MIN_SESSION_LENGTH, min_item_support=min_item_support
        )
    if len(log) == 0:
        raise ValueError(
            f"session-rec's filters (sessions of >= {MIN_SESSION_LENGTH} events, items of "
            f">= {min_item_support} events) removed every event of {interactions}; lower "
            "--min-item-support (1 keeps every item)"
        )
    n_sessions = _n_sessions(log)
    logger.info(
        "filters: %d sessions / %d events kept of %d / %d",
        n_sessions,
        len(log),
        sessions_read,
        n_read,
    )
    # what the filters removed (the held-out test sessions are not counted as removed)
    removed_sessions = sessions_read - n_sessions - (0 if test is None else _n_sessions(test))
    removed_events = n_read - len(log) - (0 if test is None else len(test))
    cls = METHODS[method]
    model = result.model() if result is not None else getattr(models, cls)()
    logger.info("fitting %s (%s) on %d sessions", method, cls, n_sessions)
    t0 = time.perf_counter()
    model.fit(log, progress=not state.quiet)
    seconds = time.perf_counter() - t0
    model.save(out)
    logger.info("saved the model to %s", out)
    if test is not None and test_out is not None:
        from .datasets_cmds import write_interactions_csv

        write_interactions_csv(test, test_out)
        logger.info("wrote the test sessions to %s", test_out)
    is_embed = cls == "SessionEmbed"
    defaults_won = result is not None and result.defaults_won
    parts = getattr(model, "calibration_parts_", 0)
    reranker = (model.reranker_ is not None) if is_embed else None
    scoring = dict(model.scoring_) if is_embed else None
    cols = {k: data[k] for k in ("user_col", "item_col", "time_col")}
    test_log = Path("TEST_LOG")
    if test_out is not None:  # the columns write_interactions_csv names
        from .datasets_cmds import ITEM, TIME, USER

        cols = {"user_col": USER, "item_col": ITEM, "time_col": TIME}
        test_log = test_out
    history = _example_history(log)
    next_commands = [
        f"embedrec recommend {shlex.quote(str(out))} {history} --keep-seen",
        f"embedrec eval --protocol session {shlex.quote(str(out))} " + _data_args(test_log, cols),
    ]
    payload = {
        "method": method,
        "model_class": cls,
        "out": str(out),
        "sessions": n_sessions,
        "events": len(log),
        "items": int(model.n_items),
        "removed": {"sessions": removed_sessions, "events": removed_events},
        "session_gap": session_gap,
        "min_item_support": min_item_support,
        "tuned": None if tuned is None else str(tuned),
        "test_days": test_days,
        "test_fraction": test_fraction,
        "test": None
        if test is None
        else {
            "sessions": _n_sessions(test),
            "events": len(test),
            "out": None if test_out is None else str(test_out),
        },
        "defaults_won": None if result is None else defaults_won,
        "scoring": scoring,
        "calibration_parts": parts if is_embed else None,
        "reranker": reranker,
        "seconds": seconds,
        "next": next_commands,
    }

    def render() -> None:
        how = None
        if is_embed:
            how = (
                f"tuned values from {tuned}, no calibration"
                if result is not None and not defaults_won and not result.calibrate
                else "calibrated on the latest fifth of the sessions"
                if parts == 1
                else f"calibrated on each of {parts} blocks of the sessions in turn (cross-fitted)"
                if parts > 1
                else "configured values (too few sessions to calibrate)"
            )
            if defaults_won:
                how += f"; {tuned} says the defaults won its check, so they were trained"
            elif result is not None and result.calibrate:
                how += f"; the embedding tuned in {tuned}"
        echo_fields(
            [
                ("saved", f"{out} ({cls})"),
                ("sessions", n_sessions),
                ("events", len(log)),
                ("items", int(model.n_items)),
                (
                    "filtered",
                    f"{removed_sessions} sessions / {removed_events} events "
                    f"removed (sessions < {MIN_SESSION_LENGTH}, items < {min_item_support})",
                ),
                ("scoring", None if scoring is None else f"{format_value(scoring)} ({how})"),
                ("re-ranker", None if reranker is None else "kept" if reranker else "none"),
                ("training", f"{seconds:.2f}s"),
                (
                    "test",
                    None
                    if test is None
                    else f"{_n_sessions(test)} sessions / {len(test)} events held out ("
                    f"{recsys.holdout_span(test_days, test_fraction)})"
                    + ("" if test_out is None else f", written to {test_out}"),
                ),
            ]
        )
        click.echo("\nnext:")
        for command in next_commands:
            click.echo(f"  {command}")
        if test_out is None:
            click.echo("  (TEST_LOG: sessions held out of the training log)")

    echo_report(jsonable(payload), render, as_json=as_json)


# ---------------------------------------------------------------------------------- tune
@sessions.command(name="tune")
@recsys.interaction_options
@_session_gap_option
@_min_item_support_option("Drop items with fewer events (session-rec's filter, as in eval).")
@click.option(
    "--test-days",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Remove the sessions ending in the last N days first: the test set of `embedrec eval "
    "--protocol session` (same --test-days), never seen by the search.",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Remove the latest F of the sessions (by last event) first instead of the last "
    "--test-days (as `embedrec eval --protocol session --test-fraction F`).",
)
@click.option(
    "--no-test-holdout",
    is_flag=True,
    help="Tune on the whole log (for a production model trained on all of it; evaluate it "
    "on other sessions only).",
)
@click.option(
    "--valid-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Validation: the remaining sessions ending in the last N days [default: as the test "
    "holdout, --test-days or --test-fraction].",
)
@click.option(
    "--valid-fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Validation: the latest F of the remaining sessions, instead of --valid-days.",
)
@recsys.search_options
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file for the result (what `sessions train session-embed --tuned` reads).",
)
@json_option
@click.pass_obj
def sessions_tune(
    state: State,
    /,
    session_gap: float | None,
    min_item_support: int,
    test_days: float | None,
    test_fraction: float | None,
    no_test_holdout: bool,
    valid_days: float | None,
    valid_fraction: float | None,
    budget: float,
    max_trials: int | None,
    seed: int,
    out: Path,
    as_json: bool,
    **flags: Any,
) -> None:
    """Random search of SessionEmbed on validation sessions of INTERACTIONS; result in --out.

    The test sessions are removed first: those ending in the last --test-days (or the
    latest --test-fraction of the sessions), as `embedrec eval --protocol session` chooses
    them (--no-test-holdout keeps them). The validation sessions are the remaining ones
    ending in the last --valid-days (or the latest --valid-fraction of them; by default
    chosen as the test sessions were); the search fits on
    the sessions before them and scores the session protocol (every position, MRR@20) on
    them, then fits a re-ranker on half of their predictions and keeps it if it wins on the
    other half, where the default SessionEmbed is scored too (the "check").

    `embedrec sessions train session-embed INTERACTIONS --tuned FILE --out DIR` then trains
    the model with the chosen values and re-ranker as they are, without calibrating again
    (or the default SessionEmbed, calibrating itself, when the defaults won the check).
    Prints the trials, the best values and the split; --json prints the result as JSON.
    """
    from .._io import write_json
    from ..tune import SESSION_SPACE, SIGNIFICANCE_Z, tune_session_embed

    interactions: Path = flags.pop("interactions")
    data = recsys.pop_data_flags(flags)
    test_flags = given_flags(["test_days", "test_fraction"])
    if no_test_holdout and test_flags:
        raise click.UsageError(
            f"{' and '.join(test_flags)} and --no-test-holdout: give one (--no-test-holdout "
            "keeps every session)"
        )
    test_days, test_fraction = recsys.days_or_fraction("test_days", "test_fraction")
    valid_days, valid_fraction = recsys.days_or_fraction("valid_days", "valid_fraction")
    if valid_days is None and valid_fraction is None:  # validate as the test was held out
        valid_days, valid_fraction = test_days, test_fraction
    if data["time_col"] is None:
        raise click.UsageError(
            "sessions tune splits sessions by their last event's time: give --time-col"
        )
    check_out_file(out)
    log = recsys.read_sessions(interactions, data, session_gap)
    split: dict[str, Any] = {
        "test_holdout": not no_test_holdout,
        "test_days": None if no_test_holdout else test_days,
        "test_fraction": test_fraction,
        "valid_days": valid_days,
        "valid_fraction": valid_fraction,
        "min_item_support": min_item_support,
        "session_gap": session_gap,
        "test_sessions": 0,
    }
    train = log
    if not no_test_holdout:
        held = recsys.split_sessions(
            log,
            test_days=test_days,
            test_fraction=test_fraction,
            min_item_support=min_item_support,
            what=f"the test holdout ({recsys.holdout_flag(test_days, test_fraction)})",
        )
        train = held.train
        split["test_sessions"] = _n_sessions(held.test)
        logger.info(
            "left out %d test sessions: %s",
            split["test_sessions"],
            recsys.holdout_span(test_days, test_fraction),
        )
    parts = recsys.split_sessions(
        train,
        test_days=valid_days,
        test_fraction=valid_fraction,
        min_item_support=min_item_support,
        what=f"the validation split ({recsys.holdout_flag(valid_days, valid_fraction, '--valid')})"
        f" of the " + ("log" if no_test_holdout else "sessions before the test sessions"),
    )
    split.update(
        train_sessions=_n_sessions(parts.train),
        train_events=len(parts.train),
        valid_sessions=_n_sessions(parts.test),
        valid_events=len(parts.test),
    )
    res = tune_session_embed(
        parts.train,
        parts.test,
        budget_seconds=budget,
        max_trials=max_trials,
        seed=seed,
        progress=not state.quiet,
    )
    result = {**res.to_dict(), "split": split}
    write_json(out, jsonable(result))
    logger.info("wrote the tuning result to %s", out)
    train_data = _data_args(
        interactions, data, session_gap=session_gap, min_item_support=min_item_support
    )
    next_command = (
        f"embedrec sessions train session-embed {train_data} --tuned {shlex.quote(str(out))} "
        "--out DIR"
    )
    payload = {**result, "out": str(out), "next": next_command}

    def render() -> None:
        click.echo(res.table())
        best = next(t for t in res.trials if t["params"] == res.best_params)
        score = best["metrics"][res.metric]
        click.echo(
            f"\nbest ({res.metric} {score:.4f} on {split['valid_sessions']} validation sessions):"
        )
        echo_fields(
            [
                *((name, value) for name, value in res.best_params.items()),
                *((name, value) for name, value in res.best_scoring.items()),
                (
                    "re-ranker",
                    "fitted by the model's own calibration when it is trained"
                    if res.calibrate
                    else "kept"
                    if res.reranker_weights is not None
                    else "none",
                ),
            ],
            indent=2,
        )
        check = res.check
        if res.finals is not None:
            click.echo(
                f"\nfinals: the whole pipeline (calibrating itself, re-ranking) over each "
                f"embedding, fitted on the training part, {res.metric} on all "
                f"{split['valid_sessions']} validation sessions:"
            )
            rows: list[tuple[Any, ...]] = [(*SESSION_SPACE, res.metric, "")]
            for f in res.finals:
                rows.append(
                    (
                        *(f["params"][n] for n in SESSION_SPACE),
                        f"{f[res.metric]:.4f}",
                        "(the defaults)" if f["defaults"] else "",
                    )
                )
            echo_table(rows, ">" * len(SESSION_SPACE) + "><")
            if check is not None and "gain" in check:
                click.echo(
                    f"the best tuned one against the defaults: {check['gain']:+.4f} "
                    f"(standard error {check['standard_error']:.4f}, by session); it must be "
                    f"{SIGNIFICANCE_Z:g} standard errors ahead to replace them"
                )
            click.echo(
                "the defaults win: `sessions train --tuned` trains the default SessionEmbed"
                if res.defaults_won
                else "the tuned embedding wins: `sessions train --tuned` trains the default "
                "pipeline over it"
            )
        elif check is not None:
            verdict = (
                "the defaults win: `sessions train --tuned` trains the default SessionEmbed"
                if res.defaults_won
                else "the tuned model wins"
            )
            click.echo(
                f"\ncheck: MRR@20 tuned {check['tuned']:.4f}, defaults {check['defaults']:.4f} "
                f"on {int(check['sessions'])} validation sessions no re-ranker was fitted on: "
                f"{verdict}"
            )
        held = (
            "none (--no-test-holdout)"
            if no_test_holdout
            else f"{split['test_sessions']} test sessions ("
            f"{recsys.holdout_span(test_days, test_fraction)}) left out"
        )
        echo_fields(
            [
                ("test", held),
                (
                    "search",
                    f"fitted on {split['train_sessions']} sessions, validated on "
                    f"{split['valid_sessions']} ({recsys.holdout_span(valid_days, valid_fraction)}"
                    + (")" if no_test_holdout else ", of those before the test sessions)"),
                ),
                ("wrote", str(out)),
            ]
        )
        click.echo(f"\nnext:\n  {next_command}")
        if not no_test_holdout:
            click.echo(
                f"  (it trains on every session, {recsys.holdout_span(test_days, test_fraction)} "
                "included: a model for production; to score the tuned model, train it on a log "
                "without the test sessions and run `embedrec eval --protocol session DIR "
                "TEST_LOG` on them)"
            )

    echo_report(payload, render, as_json=as_json)

"""``embedrec eval --protocol session`` on a saved session model directory and a test log."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

from embedrec import Embeddings, Item2Vec, Item2VecConfig
from embedrec.cli.main import cli
from embedrec.data import read_interactions
from embedrec.data.sessions import session_split, sessionize
from embedrec.eval.sessions import evaluate_sessions
from embedrec.models import VSKNN, SequentialRules, SessionEmbed, SessionEmbedConfig

COLS = ["--user-col", "session", "--item-col", "item", "--time-col", "ts"]


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def write_log(path, sessions, t0=0.0):
    """A session CSV: session s's clicks 30 s apart, sessions 864 s apart."""
    rows = ["session,item,ts"]
    for s, items in enumerate(sessions):
        rows += [f"{s},{item},{t0 + s * 864.0 + 30 * j}" for j, item in enumerate(items)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def full_log(tmp_path_factory):
    """600 sessions over 6 days; session s walks 4 items of chain s % 3 (items 100c + j)."""
    rng = np.random.default_rng(1)
    sessions = []
    for s in range(600):
        start = int(rng.integers(0, 6))
        sessions.append([100 * (s % 3) + start + j for j in range(4)])
    return write_log(tmp_path_factory.mktemp("sessions") / "sessions.csv", sessions)


@pytest.fixture(scope="module")
def split(full_log):
    log = read_interactions(full_log, user_col="session", item_col="item", time_col="ts")
    return session_split(log, test_days=1.0)


@pytest.fixture(scope="module")
def test_csv(split, tmp_path_factory):
    """The split's test sessions as a CSV of their own (the log a saved model is scored on)."""
    t = split.test
    rows = ["session,item,ts"]
    rows += [
        f"{u},{i},{ts}"
        for u, i, ts in zip(t.user_keys[t.user], t.item_keys[t.item], t.time, strict=True)
    ]
    path = tmp_path_factory.mktemp("test") / "test.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _session_embed():
    return SessionEmbed(
        SessionEmbedConfig(calibrate=False),
        embedder=Item2Vec(Item2VecConfig(dim=8, epochs=3, workers=1, seed=3)),
    )


@pytest.mark.parametrize(
    ("make", "name"),
    [(SequentialRules, "sr"), (VSKNN, "vsknn"), (_session_embed, "session-embed")],
)
def test_a_saved_model_is_scored_as_the_library_scores_it(make, name, split, test_csv, tmp_path):
    model = make().fit(split.train)
    model.save(tmp_path / "model")
    table = run("-q", "eval", tmp_path / "model", test_csv, *COLS, "--protocol", "session", "-k", 3)
    assert (
        "HR@3" in table.output
        and name in table.output
        and "test log: 101 sessions" in (table.output)
    )
    res = run(
        "-q", "eval", tmp_path / "model", test_csv, *COLS, "--protocol", "session", "-k", "3",
        "--json",
    )  # fmt: skip
    out = json.loads(res.output)
    want = evaluate_sessions(model, split, ks=(3,))
    assert out["protocol"] == "session" and list(out["results"]) == [name]
    assert out["model_class"] == type(model).__name__
    got = out["results"][name]
    # 101 test sessions of 4 clicks (see test_cli_recsys): 303 predictions, all items known
    assert got["n_predictions"] == want.n_predictions == 303
    assert got["metrics"].keys() == want.metrics.keys()
    assert_allclose(list(got["metrics"].values()), list(want.metrics.values()), rtol=1e-12)
    assert out["test"] == {
        "sessions": 101,
        "events": 404,
        "unknown_item_events": 0,
        "short_sessions_dropped": 0,
    }


def test_a_saved_model_matches_the_method_fitted_by_eval(full_log, split, test_csv, tmp_path):
    """The two routes agree: SR fitted here on the log's training sessions, and SR fitted on
    the same split in Python, saved, and scored on the test sessions."""
    fitted = run(
        "-q", "eval", "sr", full_log, *COLS, "--protocol", "session", "--no-baselines", "-k",
        "3", "--json",
    )  # fmt: skip
    SequentialRules().fit(split.train).save(tmp_path / "sr-model")
    saved = run(
        "-q", "eval", tmp_path / "sr-model", test_csv, *COLS, "--protocol", "session", "-k", "3",
        "--json",
    )  # fmt: skip
    a, b = json.loads(fitted.output)["results"]["sr"], json.loads(saved.output)["results"]["sr"]
    assert a["metrics"] == b["metrics"] and a["n_predictions"] == b["n_predictions"]


def test_unknown_test_items_are_removed_then_short_sessions(tmp_path):
    # SR on a -> b only; x and y are unknown to it
    SequentialRules().fit([["a", "b"]] * 5).save(tmp_path / "sr")
    log = write_log(tmp_path / "test.csv", [["a", "x", "b"], ["a", "y"], ["x", "y"], ["b", "a"]])
    res = run("-q", "eval", tmp_path / "sr", log, *COLS, "--protocol", "session", "-k", "1")
    # session 0 keeps a, b (x removed); session 1 keeps a alone and session 2 nothing: both
    # dropped; session 3 keeps b, a. 4 unknown events, 2 predictions: a -> b (a hit at rank 1:
    # SR's only rule) and b -> a (no rule after b: every score is 0, and the tie rule puts a,
    # code 0, first: a hit)
    assert "removed 4 events of items unknown to the model, then 2 sessions" in res.output
    res = run(
        "-q", "eval", tmp_path / "sr", log, *COLS, "--protocol", "session", "-k", "1", "--json"
    )
    out = json.loads(res.output)
    assert out["test"] == {
        "sessions": 2,
        "events": 4,
        "unknown_item_events": 4,
        "short_sessions_dropped": 2,
    }
    sr = out["results"]["sr"]
    assert sr["n_predictions"] == 2 and sr["n_unknown_targets"] == 0
    assert sr["metrics"]["HR@1"] == 1.0


def test_int_item_ids_of_the_log_meet_a_model_with_str_keys(tmp_path):
    # the model's keys are text "1", "2"; the CSV's ids read as ints: the one key policy
    SequentialRules().fit([["1", "2"]] * 5).save(tmp_path / "sr")
    log = write_log(tmp_path / "test.csv", [[1, 2], [1, 2]])
    res = run(
        "-q", "eval", tmp_path / "sr", log, *COLS, "--protocol", "session", "-k", "1", "--json"
    )
    out = json.loads(res.output)
    assert out["test"]["unknown_item_events"] == 0
    assert out["results"]["sr"]["metrics"]["HR@1"] == 1.0


def test_a_method_name_is_the_method_and_dot_slash_the_directory(
    full_log, split, tmp_path, monkeypatch
):
    VSKNN().fit(split.train).save(tmp_path / "sr")  # a V-SKNN saved in a directory named sr
    monkeypatch.chdir(tmp_path)
    args = [full_log, *COLS, "--protocol", "session", "--no-baselines", "-k", "3", "--json"]
    assert list(json.loads(run("-q", "eval", "sr", *args).output)["results"]) == ["sr"]
    saved = json.loads(run("-q", "eval", "./sr", *args).output)  # --no-baselines is fine
    assert list(saved["results"]) == ["vsknn"] and saved["model_class"] == "VSKNN"


def test_clear_errors(split, full_log, tmp_path):
    SequentialRules().fit(split.train).save(tmp_path / "sr")
    Embeddings(["a", "b"], [[1.0, 0.0], [0.0, 1.0]]).save(tmp_path / "emb")
    session = [full_log, *COLS, "--protocol", "session"]
    # a model that is not a session model
    bad = run("eval", tmp_path / "emb", *session, ok=False)
    assert bad.exit_code != 0 and "evaluates a saved session model" in bad.output
    # neither a method nor a directory
    bad = run("eval", tmp_path / "nope", *session, ok=False)
    assert bad.exit_code != 0 and "one of session-embed" in bad.output and "neither" in bad.output
    # the split's flags and the baselines belong to the fitted methods
    for flags in (
        ["--test-days", "2"],
        ["--test-fraction", "0.2"],
        ["--min-session-length", "3"],
        ["--min-item-support", "3"],
        ["--baselines"],
    ):
        bad = run("eval", tmp_path / "sr", *session, *flags, ok=False)
        assert bad.exit_code == 2 and flags[0] in bad.output and "saved model" in bad.output
    # the other protocols' holdout flags, with a saved model or a fitted method
    for target in (tmp_path / "sr", "sr"):
        for flags in (["--split-seed", "3"], ["--allow-leak"], ["--keep-seen"]):
            bad = run("eval", target, *session, *flags, ok=False)
            assert bad.exit_code == 2 and flags[0] in bad.output
            assert "only for --protocol leave-last-out" in bad.output
    # a session model under another protocol
    bad = run("eval", tmp_path / "sr", full_log, *COLS, ok=False)
    assert bad.exit_code != 0 and "--protocol session" in bad.output
    # a test log of other items
    other = write_log(tmp_path / "other.csv", [["p", "q"], ["q", "r"]])
    bad = run("eval", tmp_path / "sr", other, *COLS, "--protocol", "session", ok=False)
    assert bad.exit_code != 0 and "no test session is left" in bad.output


def test_recommend_with_no_known_item_says_the_popularity_fallback(tmp_path):
    # b is clicked 6 times, a 5 times, c once: popularity ranks b, a, c
    SequentialRules().fit([["a", "b"]] * 5 + [["c", "b"]]).save(tmp_path / "sr")
    res = run("recommend", tmp_path / "sr", "--history", "zz,yy", "-k", "2", "--json")
    out = json.loads(res.stdout)
    assert out["fallback"] is True and out["unknown"] == ["zz", "yy"]
    assert [item["key"] for item in out["items"]] == ["b", "a"]
    text = run("recommend", tmp_path / "sr", "--history", "zz", "-k", "2").stdout
    assert [line.split()[1] for line in text.splitlines()[1:3]] == ["b", "a"]
    assert "popularity (no history item is known to the model)" in text
    # a known item: no fallback, SR's rule a -> b answers
    out = json.loads(run("recommend", tmp_path / "sr", "--history", "a", "--json").stdout)
    assert out["fallback"] is False and out["items"][0]["key"] == "b"


# ------------------------------------------------------------------ the session protocol's flags
SR_ONLY = ["--protocol", "session", "--no-baselines", "--min-item-support", 1, "-k", 1, "--json"]


def _fitted(log_path, *flags):
    """``eval sr LOG`` under the session protocol: the JSON payload and SR's result."""
    out = json.loads(run("-q", "eval", "sr", log_path, *COLS, *SR_ONLY, *flags).output)
    return out, out["results"]["sr"]


def _library(log, *, ks=(1,), positions="all", **split_args):
    """What the library gives for SR on ``log``: session_split, then evaluate_sessions."""
    split = session_split(log, min_item_support=1, **split_args)
    return evaluate_sessions(SequentialRules().fit(split.train), split, ks=ks, positions=positions)


def _assert_same(got, want):
    assert got["n_predictions"] == want.n_predictions
    assert got["n_sessions"] == want.n_sessions
    assert got["metrics"].keys() == want.metrics.keys()
    assert_allclose(list(got["metrics"].values()), list(want.metrics.values()), rtol=1e-12)


def _read(path, user_col="session"):
    return read_interactions(path, user_col=user_col, item_col="item", time_col="ts")


def test_test_fraction_holds_out_the_latest_sessions(tmp_path):
    # 8 sessions of 3 clicks, 864 s apart: all end within a day of the last event, so the
    # default --test-days 1 leaves no training session. --test-fraction 0.25 takes the
    # latest round(0.25 * 8) = 2 sessions (6 and 7): 2 x 2 = 4 predictions
    path = write_log(tmp_path / "log.csv", [[1, 2, 3], [1, 3, 2]] * 4)
    out, sr = _fitted(path, "--test-fraction", 0.25)
    want = _library(_read(path), test_days=None, test_fraction=0.25)
    assert sr["n_predictions"] == want.n_predictions == 4 and sr["n_sessions"] == 2
    _assert_same(sr, want)
    # by hand: SR learns 1 -> 2 and 1 -> 3 equally (a tie, item 2 first), 2 -> 3 and 3 -> 2.
    # Session 6 (1 2 3): [1] -> 2 hit, [1 2] -> 3 hit; session 7 (1 3 2): [1] -> 3 miss (2 is
    # first), [1 3] -> 2 hit. HR@1 = 3/4; the top-1 items are 2 and 3 of 3: Coverage@1 = 2/3
    assert_allclose([sr["metrics"]["HR@1"], sr["metrics"]["Coverage@1"]], [0.75, 2 / 3], rtol=1e-12)
    assert (out["test_days"], out["test_fraction"]) == (None, 0.25)
    assert (out["min_session_length"], out["min_item_support"]) == (2, 1)
    assert (out["session_gap"], out["positions"]) == (None, "all")
    # the readable report says which sessions were the test
    text = run("-q", "eval", "sr", path, *COLS, *SR_ONLY[:-1], "--test-fraction", 0.25).output
    assert "test: the 25% of the sessions ending last, after" in text
    assert "predicted: every position" in text
    bad = run("eval", "sr", path, *COLS, *SR_ONLY, ok=False)  # --test-days 1: no training
    assert bad.exit_code == 2 and "--test-days 1" in bad.output and "0 training" in bad.output


def test_test_days_is_recorded_when_no_fraction_is_given(full_log, split):
    out, sr = _fitted(full_log, "--min-item-support", 5)
    # 101 sessions of 4 clicks end in the last day (see test_cli_recsys): 303 predictions
    want = evaluate_sessions(SequentialRules().fit(split.train), split, ks=(1,))
    assert sr["n_predictions"] == want.n_predictions == 303
    _assert_same(sr, want)
    assert (out["test_days"], out["test_fraction"], out["min_item_support"]) == (1.0, None, 5)


def test_min_session_length_drops_the_shorter_sessions(tmp_path):
    # lengths 3, 2, 3, 2, 3, 2, 2, 3 (sessions 0..7, in time order)
    sessions = [[1, 2, 3], [1, 2], [1, 3, 2], [2, 3], [1, 2, 3], [3, 1], [1, 2], [1, 3, 2]]
    path = write_log(tmp_path / "log.csv", sessions)
    log = _read(path)
    # --min-session-length 2 keeps all 8: the latest 2 (6: 2 clicks, 7: 3) give 1 + 2 = 3
    # predictions
    out, sr = _fitted(path, "--test-fraction", 0.25)
    assert (sr["n_predictions"], sr["n_sessions"], out["min_session_length"]) == (3, 2, 2)
    _assert_same(sr, _library(log, test_days=None, test_fraction=0.25))
    # --min-session-length 3 drops the four of 2 clicks: of sessions 0, 2, 4, 7 the latest
    # round(0.25 * 4) = 1 (7) is the test, 2 predictions
    out, sr = _fitted(path, "--test-fraction", 0.25, "--min-session-length", 3)
    assert (sr["n_predictions"], sr["n_sessions"], out["min_session_length"]) == (2, 1, 3)
    want = _library(log, test_days=None, test_fraction=0.25, min_session_length=3)
    _assert_same(sr, want)


def _user_log(path):
    """4 users, each with two visits of 3 clicks an hour apart (3 items of chain u % 2);
    users start 100 s apart. Without a gap each user is one session of 6 clicks."""
    rows = ["user,item,ts"]
    for u in range(4):
        for visit in range(2):
            for j in range(3):
                item = 10 * (u % 2) + visit + j
                rows.append(f"u{u},{item},{u * 100 + visit * 3600 + j * 30}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_session_gap_cuts_users_into_sessions(tmp_path):
    path = _user_log(tmp_path / "users.csv")
    users = ["--user-col", "user", "--item-col", "item", "--time-col", "ts"]
    fitted = ["-q", "eval", "sr", path, *users, *SR_ONLY, "--test-fraction", 0.25]
    out = json.loads(run(*fitted, "--session-gap", 1800).output)
    # 8 sessions of 3 clicks; the latest 2 (the second visits of u2 and u3) are the test:
    # 2 x 2 = 4 predictions
    log = _read(path, "user")
    cut = sessionize(log, gap=1800, min_length=2)
    want = _library(cut, test_days=None, test_fraction=0.25)
    assert out["results"]["sr"]["n_predictions"] == want.n_predictions == 4
    _assert_same(out["results"]["sr"], want)
    assert out["session_gap"] == 1800
    # without a gap: 4 sessions of 6 clicks, the latest one (u3) the test, 5 predictions
    whole = json.loads(run(*fitted).output)
    assert whole["results"]["sr"]["n_predictions"] == 5 and whole["session_gap"] is None
    # a saved model's test log is cut the same way: every session of it is a test session
    model = SequentialRules().fit(cut)
    model.save(tmp_path / "sr")
    saved = ["-q", "eval", tmp_path / "sr", path, *users, "--protocol", "session", "-k", 1]
    out = json.loads(run(*saved, "--session-gap", 1800, "--json").output)
    want = evaluate_sessions(model, cut, ks=(1,))
    assert out["results"]["sr"]["n_predictions"] == want.n_predictions == 8 * 2
    _assert_same(out["results"]["sr"], want)
    assert out["test"]["sessions"] == 8 and out["session_gap"] == 1800
    assert json.loads(run(*saved, "--json").output)["results"]["sr"]["n_predictions"] == 4 * 5
    # a gap needs event times
    no_time = ["--user-col", "user", "--item-col", "item"]
    bad = run("eval", "sr", path, *no_time, *SR_ONLY, "--session-gap", 1800, ok=False)
    assert bad.exit_code == 2 and "--session-gap" in bad.output and "--time-col" in bad.output


def test_positions_last_predicts_once_per_test_session(full_log, split, test_csv, tmp_path):
    # the 101 test sessions of 4 clicks: 101 predictions (the 4th click) instead of 303
    out, sr = _fitted(full_log, "--min-item-support", 5, "--positions", "last", "-k", 3)
    model = SequentialRules().fit(split.train)
    want = evaluate_sessions(model, split, ks=(1, 3), positions="last")
    assert sr["n_predictions"] == sr["n_sessions"] == want.n_predictions == 101
    assert sr["positions"] == out["positions"] == "last"
    _assert_same(sr, want)
    # a saved model on the test log: the same predictions
    model.save(tmp_path / "sr")
    saved = json.loads(
        run(
            "-q", "eval", tmp_path / "sr", test_csv, *COLS, "--protocol", "session", "-k", 1,
            "-k", 3, "--positions", "last", "--json",
        ).output
    )  # fmt: skip
    assert saved["positions"] == "last"
    _assert_same(saved["results"]["sr"], want)
    text = run(
        "-q", "eval", tmp_path / "sr", test_csv, *COLS, "--protocol", "session",
        "--positions", "last",
    ).output  # fmt: skip
    assert "predicted: each session's last item" in text


def test_session_flag_errors(full_log, tmp_path):
    path = write_log(tmp_path / "log.csv", [[1, 2, 3], [1, 3, 2]] * 4)
    # a number of days and a fraction: one or the other
    bad = run("eval", "sr", path, *COLS, *SR_ONLY, "--test-days", 2, "--test-fraction", 0.25,
              ok=False)  # fmt: skip
    assert bad.exit_code == 2
    assert "--test-days and --test-fraction: give one" in bad.output
    # a fraction that leaves no training session names the flag
    bad = run("eval", "sr", path, *COLS, *SR_ONLY, "--test-fraction", 0.99, ok=False)
    assert bad.exit_code == 2 and "--test-fraction 0.99" in bad.output
    assert "0 training" in bad.output
    # values out of range
    for flag, value in (
        ("--test-fraction", 0),
        ("--test-fraction", 1),
        ("--test-fraction", 1.5),
        ("--min-session-length", 0),
        ("--session-gap", -1),
        ("--positions", "first"),
    ):
        bad = run("eval", "sr", path, *COLS, *SR_ONLY, flag, value, ok=False)
        assert bad.exit_code == 2 and f"Invalid value for '{flag}'" in bad.output
    # the session protocol's flags under another protocol
    for flags in (
        ["--test-days", 2],
        ["--test-fraction", 0.2],
        ["--min-session-length", 3],
        ["--min-item-support", 3],
        ["--session-gap", 1800],
        ["--positions", "last"],
    ):
        bad = run("eval", tmp_path / "model", full_log, *COLS, *flags, ok=False)
        assert bad.exit_code == 2 and f"{flags[0]}: only for --protocol session" in bad.output
    bad = run("eval", tmp_path / "model", full_log, *COLS, "--protocol", "temporal",
              "--positions", "all", "--session-gap", 60, ok=False)  # fmt: skip
    assert bad.exit_code == 2
    assert "--session-gap and --positions: only for --protocol session" in bad.output
    assert "--protocol temporal does not use them" in bad.output

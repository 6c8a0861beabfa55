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
from embedrec.data.sessions import session_split
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
    for flags in (["--test-days", "2"], ["--min-item-support", "3"], ["--baselines"]):
        bad = run("eval", tmp_path / "sr", *session, *flags, ok=False)
        assert bad.exit_code == 2 and flags[0] in bad.output and "saved model" in bad.output
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

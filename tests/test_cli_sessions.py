"""``embedrec sessions train`` and ``embedrec sessions tune``: what they fit on, what they save,
what they refuse."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedrec.cli.main import cli
from embedrec.data import read_interactions
from embedrec.data.sessions import session_filter, session_split
from embedrec.data.synthetic import session_log
from embedrec.models.registry import load_model
from embedrec.tune import SESSION_SCORING, SESSION_SPACE, SessionTuneResult

COLS = ["--user-col", "session", "--item-col", "item", "--time-col", "ts"]
HOUR = 3600.0


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def run_json(*args):
    return json.loads(run("-q", *args, "--json").stdout)


def write_csv(path, sessions, items, times):
    rows = ["session,item,ts"]
    rows += [f"{s},{i},{t}" for s, i, t in zip(sessions, items, times, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return path


def n_sessions(log):
    return int((log.user_counts() > 0).sum())


@pytest.fixture(scope="module")
def log_csv(tmp_path_factory):
    """300 synthetic sessions over 40 items, an hour apart (12.5 days), and 5 sessions the
    filters remove: 3 of a common item and an item clicked once (the item filter leaves
    them 1 event long), and 2 of one event."""
    sessions, items, times = session_log(300, 40, seed=0)
    counts = np.bincount(items)
    assert counts[counts > 0].min() >= 5  # the synthetic part passes the item filter
    common = int(np.argmax(counts))
    for j in range(3):  # early in the log, so the test days stay the synthetic sessions'
        sessions += [1000 + j, 1000 + j]
        items += [common, 900 + j]
        times += [HOUR * j + 600, HOUR * j + 630]
    sessions += [1003, 1004]
    items += [common, common]
    times += [HOUR * 5 + 600, HOUR * 6 + 600]
    return write_csv(tmp_path_factory.mktemp("log") / "log.csv", sessions, items, times)


@pytest.fixture(scope="module")
def log(log_csv):
    return read_interactions(log_csv, user_col="session", item_col="item", time_col="ts")


@pytest.mark.parametrize("method", ["vsknn", "session-embed"])
def test_train_saves_a_model_that_recommend_reads(method, log_csv, log, tmp_path):
    out = run_json("sessions", "train", method, log_csv, *COLS, "--out", tmp_path / "model")
    kept = session_filter(log, min_session_length=2, min_item_support=5)
    # the 5 planted sessions go: 3 x 2 events and 2 x 1 event
    assert out["removed"] == {"sessions": 5, "events": 8}
    assert out["sessions"] == n_sessions(kept) == n_sessions(log) - 5
    assert out["events"] == len(kept) == len(log) - 8
    assert out["items"] == int((kept.item_counts() > 0).sum()) == 40
    assert out["model_class"] == {"vsknn": "VSKNN", "session-embed": "SessionEmbed"}[method]
    model = load_model(tmp_path / "model")
    assert type(model).__name__ == out["model_class"]
    assert sorted(model.item_keys_.tolist()) == list(range(40))
    if method == "session-embed":
        # 305 sessions: a fifth (61) is too few to hold out alone, so calibration is
        # cross-fitted over five blocks; what it chose is what was saved
        assert out["calibration_parts"] == 5
        assert out["reranker"] is (model.reranker_ is not None)
        assert out["scoring"] == model.scoring_
    else:
        assert out["reranker"] is None and out["scoring"] is None
        assert out["calibration_parts"] is None
    recommend = next(c for c in out["next"] if c.startswith("embedrec recommend"))
    history = recommend.split("--history ")[1].split()[0]
    recs = run_json("recommend", tmp_path / "model", "--history", history, "--keep-seen", "-k", 5)
    assert len(recs["items"]) == 5 and not recs["fallback"]
    assert {r["key"] for r in recs["items"]} <= set(range(40))


def test_the_readable_report_names_the_model_and_the_next_commands(log_csv, tmp_path):
    res = run("-q", "sessions", "train", "sr", log_csv, *COLS, "--out", tmp_path / "sr")
    assert "SequentialRules" in res.stdout and "embedrec recommend" in res.stdout
    assert "embedrec eval --protocol session" in res.stdout and "--keep-seen" in res.stdout
    assert res.stderr == ""  # -q: no log lines
    res = run("sessions", "train", "sr", log_csv, *COLS, "--out", tmp_path / "sr")
    assert "fitting sr (SequentialRules) on 300 sessions" in res.stderr
    assert "saved the model" in res.stderr and "fitting" not in res.stdout


def test_session_gap_cuts_user_histories(tmp_path):
    # user a: clicks at 0, 60, 120 s, then 5000 and 5060 (4880 s idle > 1800): 2 sessions;
    # user b: 0 and 30 s, then 10000 alone (a 1-click session, dropped): 1 session.
    # 3 sessions of 3 + 2 + 2 = 7 events; every item is distinct (--min-item-support 1).
    path = write_csv(
        tmp_path / "users.csv",
        ["a"] * 5 + ["b"] * 3,
        [1, 2, 3, 4, 5, 6, 7, 8],
        [0, 60, 120, 5000, 5060, 0, 30, 10000],
    )
    args = [path, *COLS, "--min-item-support", 1]
    cut = run_json(
        "sessions", "train", "s-pop", *args, "--session-gap", 1800, "--out", tmp_path / "c"
    )
    assert (cut["sessions"], cut["events"], cut["items"]) == (3, 7, 7)
    assert cut["session_gap"] == 1800
    # without a gap each user is one session: 2 sessions, all 8 events
    whole = run_json("sessions", "train", "s-pop", *args, "--out", tmp_path / "w")
    assert (whole["sessions"], whole["events"], whole["items"]) == (2, 8, 8)
    # a gap needs times
    bad = run(
        "sessions", "train", "s-pop", path, "--user-col", "session", "--item-col", "item",
        "--session-gap", 1800, "--out", tmp_path / "x", ok=False,
    )  # fmt: skip
    assert bad.exit_code == 2 and "--time-col" in bad.output


def _tuning(log_csv, tmp_path, *flags):
    path = tmp_path / "tuned.json"
    out = run_json(
        "sessions", "tune", log_csv, *COLS, "--out", path, "--max-trials", 1, "--seed", 3, *flags
    )
    return path, out


@pytest.mark.slow
def test_tune_then_train_with_the_tuned_values(log_csv, tmp_path):
    path, out = _tuning(log_csv, tmp_path)
    doc = json.loads(path.read_text())
    res = SessionTuneResult.from_dict(doc)  # the file round-trips
    assert res.to_dict() == {k: v for k, v in doc.items() if k != "split"}
    assert len(res.trials) == 1 and set(res.best_params) == set(SESSION_SPACE)
    assert set(res.best_scoring) == set(SESSION_SCORING)
    assert out["best_params"] == res.best_params and out["out"] == str(path)
    assert "--tuned" in out["next"] and out["next"].startswith("embedrec sessions train")
    # one trial: the defaults are the only finalist, so they win
    assert res.calibrate is True and out["defaults_won"] is True
    assert [(f["params"], f["defaults"]) for f in res.finals] == [(res.best_params, True)]
    # a tuned embedding (whatever the finals said) goes into the calibrating pipeline
    tuned = tmp_path / "tuned-values.json"
    tuned.write_text(json.dumps({**doc, "defaults_won": False}))
    trained = run_json(
        "sessions", "train", "session-embed", log_csv, *COLS, "--tuned", tuned,
        "--out", tmp_path / "model",
    )  # fmt: skip
    model = load_model(tmp_path / "model")
    cfg = model.config
    assert cfg.calibrate is True and trained["tuned"] == str(tuned)
    assert trained["defaults_won"] is False
    assert cfg.update_budget == res.best_params["update_budget"]
    assert model.embeddings_.vectors.shape[1] == res.best_params["dim"]
    # a result of the tuner before final="pipeline" (no "calibrate"): its values as they are
    old = tmp_path / "old-values.json"
    old.write_text(json.dumps({**doc, "defaults_won": False, "calibrate": False}))
    trained = run_json(
        "sessions", "train", "session-embed", log_csv, *COLS, "--tuned", old,
        "--out", tmp_path / "old",
    )  # fmt: skip
    model = load_model(tmp_path / "old")
    cfg = model.config
    assert cfg.calibrate is False
    assert {k: getattr(cfg, k) for k in SESSION_SCORING} == res.best_scoring
    assert trained["scoring"] == res.best_scoring
    assert cfg.update_budget == res.best_params["update_budget"]
    assert trained["reranker"] is (doc["reranker"] is not None)
    assert (model.reranker_ is None) is (doc["reranker"] is None)
    # a result whose check the defaults won builds the default SessionEmbed
    won = tmp_path / "defaults-won.json"
    won.write_text(json.dumps({**doc, "defaults_won": True}))
    trained = run_json(
        "sessions", "train", "session-embed", log_csv, *COLS, "--tuned", won,
        "--out", tmp_path / "defaults",
    )  # fmt: skip
    assert trained["defaults_won"] is True
    assert load_model(tmp_path / "defaults").config.calibrate is True


@pytest.mark.parametrize(
    ("flags", "test_holdout", "valid_holdout"),
    [
        ([], (1.0, None), (1.0, None)),
        (["--test-days", 2, "--valid-days", 1.5], (2.0, None), (1.5, None)),
        # the validation sessions are chosen as the test ones were, unless told otherwise
        (["--test-fraction", 0.1], (None, 0.1), (None, 0.1)),
        (["--test-fraction", 0.1, "--valid-days", 1.5], (None, 0.1), (1.5, None)),
        (["--test-days", 2, "--valid-fraction", 0.2], (2.0, None), (None, 0.2)),
    ],
)
def test_tune_never_sees_the_test_sessions(
    flags, test_holdout, valid_holdout, log_csv, log, tmp_path, monkeypatch
):
    seen = {}
    real = SessionTuneResult(
        [{"trial": 0, "params": {}, "scoring": {}, "metrics": {"MRR@20": 0.5}, "seconds": 0.0}],
        {"dim": 8, "window": 2, "negative": 5, "ns_exponent": 0.5, "update_budget": 1000},
        {"half_life": 1.0, "temperature": 1.0, "transition_weight": 0.3},
        "MRR@20",
    )

    def spy(train, valid, **kw):
        seen.update(train=train, valid=valid, **kw)
        return real

    monkeypatch.setattr("embedrec.tune.tune_session_embed", spy)
    _, out = _tuning(log_csv, tmp_path, *flags)
    # computed here: the test split of eval --protocol session, then validation of the rest
    test_days, test_fraction = test_holdout
    valid_days, valid_fraction = valid_holdout
    test = session_split(log, test_days=test_days, test_fraction=test_fraction)
    parts = session_split(test.train, test_days=valid_days, test_fraction=valid_fraction)
    keys = {
        n: set(x.user_keys[x.user].tolist()) for n, x in seen.items() if n in ("train", "valid")
    }
    test_keys = set(test.test.user_keys[test.test.user].tolist())
    assert test_keys and not (keys["train"] | keys["valid"]) & test_keys
    assert keys["valid"] == set(parts.test.user_keys[parts.test.user].tolist())
    split = out["split"]
    assert split["test_sessions"] == n_sessions(test.test)
    assert split["train_sessions"] == n_sessions(parts.train) == len(keys["train"])
    assert split["valid_sessions"] == n_sessions(parts.test) == len(keys["valid"])
    assert split["train_events"] == len(parts.train) and split["valid_events"] == len(parts.test)
    assert (split["test_days"], split["test_fraction"]) == test_holdout
    assert (split["valid_days"], split["valid_fraction"]) == valid_holdout
    assert seen["max_trials"] == 1 and seen["seed"] == 3 and seen["progress"] is False


def test_no_test_holdout_validates_on_the_last_days_of_the_whole_log(
    log_csv, log, tmp_path, monkeypatch
):
    seen = {}

    def spy(train, valid, **kw):
        seen.update(train=train, valid=valid)
        raise RuntimeError("stop here")

    monkeypatch.setattr("embedrec.tune.tune_session_embed", spy)
    res = CliRunner().invoke(
        cli, ["-q", "sessions", "tune", str(log_csv), *COLS, "--out", str(tmp_path / "t.json"),
              "--no-test-holdout"],
    )  # fmt: skip
    assert isinstance(res.exception, RuntimeError)
    parts = session_split(log, test_days=1.0)
    assert n_sessions(seen["valid"]) == n_sessions(parts.test)
    assert n_sessions(seen["train"]) == n_sessions(parts.train)


def test_clear_errors(log_csv, tmp_path):
    train = ["sessions", "train"]
    # an unknown method is refused before the log is read (this one is no CSV)
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\x01 not a log")
    bad = run(*train, "knn", junk, *COLS, "--out", tmp_path / "m", ok=False)
    assert bad.exit_code == 2 and "'knn' is not one of" in bad.output
    assert all(m in bad.output for m in ("session-embed", "vsknn", "stan"))
    # --tuned is SessionEmbed's
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps({"kind": "something else"}))
    bad = run(*train, "vsknn", log_csv, *COLS, "--tuned", doc, "--out", tmp_path / "m", ok=False)
    assert bad.exit_code == 2 and "train session-embed with it" in bad.output
    # a JSON file that is no tuning result, and a file that is no JSON
    bad = run(
        *train, "session-embed", log_csv, *COLS, "--tuned", doc, "--out", tmp_path / "m", ok=False
    )
    assert bad.exit_code == 2 and "not a session tuning result" in bad.output
    assert str(doc) in bad.output
    bad = run(
        *train, "session-embed", log_csv, *COLS, "--tuned", junk, "--out", tmp_path / "m", ok=False
    )
    assert bad.exit_code == 2 and "is not JSON" in bad.output
    assert not (tmp_path / "m").exists()
    # --out is an existing file
    taken = tmp_path / "taken"
    taken.write_text("mine")
    bad = run(*train, "sr", log_csv, *COLS, "--out", taken, ok=False)
    assert bad.exit_code == 2 and "not a directory" in bad.output and taken.read_text() == "mine"
    # a missing column
    bad = run(
        *train, "sr", log_csv, "--user-col", "SessionId", "--item-col", "item", "--out",
        tmp_path / "m", ok=False,
    )  # fmt: skip
    assert bad.exit_code == 2 and "SessionId" in bad.output
    # filters that leave nothing
    bad = run(
        *train, "sr", log_csv, *COLS, "--min-item-support", 10**6, "--out", tmp_path / "m", ok=False
    )
    assert bad.exit_code == 2 and "--min-item-support" in bad.output


def test_tune_errors(log_csv, tmp_path):
    tune = ["sessions", "tune", log_csv, *COLS, "--out", tmp_path / "t.json", "--max-trials", 1]
    # the log spans 12.5 days: a 20-day test leaves no training session
    bad = run(*tune, "--test-days", 20, ok=False)
    assert bad.exit_code == 2 and "--test-days 20" in bad.output
    assert "0 training" in bad.output
    # 12 days of test leave half a day before them, all of which 5 days of validation take
    bad = run(*tune, "--test-days", 12, "--valid-days", 5, ok=False)
    assert bad.exit_code == 2 and "--valid-days 5" in bad.output
    bad = run(*tune, "--test-days", 2, "--no-test-holdout", ok=False)
    assert bad.exit_code == 2 and "--no-test-holdout" in bad.output
    bad = run(*tune, "--test-fraction", 0.1, "--no-test-holdout", ok=False)
    assert bad.exit_code == 2 and "--test-fraction and --no-test-holdout: give one" in bad.output
    # days or a fraction, not both
    bad = run(*tune, "--test-days", 2, "--test-fraction", 0.1, ok=False)
    assert bad.exit_code == 2 and "--test-days and --test-fraction: give one" in bad.output
    bad = run(*tune, "--valid-days", 1, "--valid-fraction", 0.1, ok=False)
    assert bad.exit_code == 2 and "--valid-days and --valid-fraction: give one" in bad.output
    # a validation fraction that leaves nothing to fit on names its flag
    bad = run(*tune, "--valid-fraction", 0.999, ok=False)
    assert bad.exit_code == 2 and "--valid-fraction 0.999" in bad.output
    bad = run(*tune, "--test-fraction", 1, ok=False)
    assert bad.exit_code == 2 and "Invalid value for '--test-fraction'" in bad.output
    no_time = ["sessions", "tune", log_csv, "--user-col", "session", "--item-col", "item"]
    bad = run(*no_time, "--out", tmp_path / "t.json", ok=False)
    assert bad.exit_code == 2 and "--time-col" in bad.output
    bad = run("sessions", "tune", log_csv, *COLS, "--out", tmp_path, ok=False)  # a directory
    assert bad.exit_code == 2 and "is a directory" in bad.output
    assert not (tmp_path / "t.json").exists()


def test_train_holds_out_the_test_days_and_writes_the_log_eval_scores(log_csv, log, tmp_path):
    from embedrec.eval.sessions import evaluate_sessions

    model_dir, test_csv = tmp_path / "model", tmp_path / "test.csv"
    out = run_json(
        "sessions", "train", "vsknn", log_csv, *COLS, "--out", model_dir,
        "--test-days", 2, "--test-out", test_csv,
    )  # fmt: skip
    split = session_split(log, test_days=2.0, min_item_support=5)
    assert out["test"] == {
        "sessions": n_sessions(split.test),
        "events": len(split.test),
        "out": str(test_csv),
    }
    assert out["sessions"] == n_sessions(split.train) and out["events"] == len(split.train)
    # what the filters removed: neither the training part nor the held-out test sessions
    assert out["removed"]["sessions"] == n_sessions(log) - n_sessions(split.train) - n_sessions(
        split.test
    )
    assert out["removed"]["events"] == len(log) - len(split.train) - len(split.test)
    # the written test log is the split's test sessions, event for event
    written = read_interactions(test_csv, user_col="user", item_col="item", time_col="timestamp")
    assert len(written) == len(split.test)
    assert sorted(written.item_keys[written.item].tolist()) == sorted(
        split.test.item_keys[split.test.item].tolist()
    )
    # and `eval --protocol session DIR TEST_LOG`, the command it prints, scores the saved
    # model on them as evaluate_sessions does on the split
    assert any(f"eval --protocol session {model_dir} {test_csv}" in c for c in out["next"])
    cols = ["--user-col", "user", "--item-col", "item", "--time-col", "timestamp"]
    got = run_json("eval", "--protocol", "session", model_dir, test_csv, *cols)
    want = evaluate_sessions(load_model(model_dir), split, ks=(10, 20))
    result = next(iter(got["results"].values()))
    assert result["n_predictions"] == want.n_predictions
    assert result["metrics"]["MRR@20"] == pytest.approx(want.metrics["MRR@20"], abs=1e-12)
    # --test-out without --test-days is refused before any work
    bad = run("sessions", "train", "vsknn", log_csv, *COLS, "--out", tmp_path / "m2",
              "--test-out", tmp_path / "t.csv", ok=False)  # fmt: skip
    assert bad.exit_code == 2 and "give both" in bad.output
    assert not (tmp_path / "m2").exists()


def test_train_holds_out_the_latest_fraction_of_the_sessions(log_csv, log, tmp_path):
    test_csv = tmp_path / "test.csv"
    out = run_json(
        "sessions", "train", "s-pop", log_csv, *COLS, "--out", tmp_path / "model",
        "--test-fraction", 0.1, "--test-out", test_csv,
    )  # fmt: skip
    # 300 sessions pass the filters: the latest round(0.1 * 300) = 30 are the test
    split = session_split(log, test_days=None, test_fraction=0.1, min_item_support=5)
    assert n_sessions(split.test) == 30
    assert out["test"] == {"sessions": 30, "events": len(split.test), "out": str(test_csv)}
    assert (out["test_days"], out["test_fraction"]) == (None, 0.1)
    assert out["sessions"] == n_sessions(split.train) == 270
    assert out["events"] == len(split.train)
    written = read_interactions(test_csv, user_col="user", item_col="item", time_col="timestamp")
    assert len(written) == len(split.test)
    text = run("-q", "sessions", "train", "s-pop", log_csv, *COLS, "--out", tmp_path / "m2",
               "--test-fraction", 0.1).stdout  # fmt: skip
    assert "30 sessions" in text and "held out (the 10% of the sessions ending last)" in text
    # days or a fraction, not both; checked before any work
    bad = run("sessions", "train", "s-pop", log_csv, *COLS, "--out", tmp_path / "m3",
              "--test-days", 2, "--test-fraction", 0.1, ok=False)  # fmt: skip
    assert bad.exit_code == 2 and "--test-days and --test-fraction: give one" in bad.output
    assert not (tmp_path / "m3").exists()


def test_the_example_history_skips_keys_the_flag_cannot_take():
    from embedrec.cli.sessions_cmds import _example_history
    from embedrec.data.interactions import Interactions

    log = Interactions.from_arrays([0, 0, 1, 1, 1], ["a", "b", "c", "x,y", "c"], [0, 1, 2, 3, 4])
    # from the end: c, then "x,y" (a comma: skipped), c again, then b
    assert _example_history(log) == "--history c,b"
    odd = Interactions.from_arrays([0, 0], ["p q", "r'"], [0, 1])
    assert _example_history(odd) == "--history-file FILE"

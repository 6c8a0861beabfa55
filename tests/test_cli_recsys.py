"""Recommendation commands: item2vec train, recommend, eval, tune (on a planted log)."""

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from embedrec.cli.main import cli
from embedrec.models import Item2Vec

COLS = ["--user-col", "user", "--item-col", "item", "--time-col", "ts"]
FAST = ["--dim", "16", "--epochs", "10", "--workers", "1"]


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def log_csv(tmp_path_factory):
    """300 users; user u walks items of cluster u % 5 (items 100c .. 100c + 14) in order."""
    rng = np.random.default_rng(0)
    rows = ["user,item,ts"]
    for u in range(300):
        c = u % 5
        start = int(rng.integers(0, 10))
        for t, j in enumerate(range(start, start + 6)):
            rows.append(f"{u},{100 * c + j},{1000 + 10 * t}")
    path = tmp_path_factory.mktemp("log") / "log.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def model_dir(log_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "i2v"
    res = run(
        "-q",
        "item2vec",
        "train",
        log_csv,
        *COLS,
        *FAST,
        "--holdout",
        "leave-last-out",
        "--out",
        out,
        "--json",
    )
    summary = json.loads(res.output)
    assert summary["holdout"] == "leave-last-out"
    assert summary["n_sequences"] == 300
    return out


def test_train_saves_an_item2vec_model(model_dir):
    m = Item2Vec.load(model_dir)
    assert m.embeddings_.key_type == "int"
    assert m.metadata_["holdout"] == "leave-last-out"


def test_recommend_stays_in_the_cluster(model_dir):
    res = run("recommend", model_dir, "--history", "203 204", "-k", "3", "--json")
    items = [r["key"] for r in json.loads(res.output)["items"]]
    assert len(items) == 3 and all(200 <= i < 215 for i in items)
    table = run("recommend", model_dir, "--history", "203", "--history", "999999", "-k", "2")
    assert "rank" in table.output


def test_history_takes_commas_spaces_repeats_and_a_file(model_dir, tmp_path):
    def items(*args):
        res = run("recommend", model_dir, *args, "-k", "3", "--json")
        return [r["key"] for r in json.loads(res.stdout)["items"]]

    reference = items("--history", "203", "--history", "204")
    assert items("--history", "203,204") == reference
    assert items("--history", "203, 204") == reference
    assert items("--history", "203 204") == reference
    history = tmp_path / "history.txt"
    history.write_text("204\n\n", encoding="utf-8")
    assert items("--history", "203", "--history-file", history) == reference


def test_recommend_says_unknown_keys_and_the_fallback(model_dir):
    # one known key: no fallback, the unknown one is listed
    res = json.loads(run("recommend", model_dir, "--history", "203,999999", "--json").stdout)
    assert res["unknown"] == [999999] and res["fallback"] is False
    table = run("recommend", model_dir, "--history", "203,999999").stdout
    assert "\nunknown:  999999 (not in the model; left out)\n" in table
    assert "fallback" not in table
    # no known key: the answer is the popularity fallback, and the output says so
    res = json.loads(run("recommend", model_dir, "--history", "x1 x2", "--json").stdout)
    assert res["unknown"] == ["x1", "x2"] and res["fallback"] is True
    table = run("recommend", model_dir, "--history", "x1", "--history", "x2").stdout
    assert re.search(r"\nfallback: +popularity \(no history item is known to the model\)", table)
    assert re.search(r"\nunknown: +x1, x2 \(not in the model; left out\)", table)


def test_recommend_strict_refuses_unknown_keys(model_dir):
    res = run("recommend", model_dir, "--history", "203,999999", "--strict", ok=False)
    assert res.exit_code == 2
    assert "--strict: 1 history item(s) unknown to the model: [999999]" in res.stderr
    assert run("recommend", model_dir, "--history", "203", "--strict").exit_code == 0


def test_train_summary_table_says_the_holdout(log_csv, tmp_path):
    out = run("-q", "item2vec", "train", log_csv, *COLS, *FAST, "--out", tmp_path / "m").stdout
    fields = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in out.splitlines()}
    # the default holdout is leave-last-out: each of the 300 users' last event is left out
    assert fields["holdout"].startswith("leave-last-out: 300 test events left out")
    assert fields["sequences"] == "300"
    assert Item2Vec.load(tmp_path / "m").metadata_["holdout"] == "leave-last-out"


def test_train_and_tune_share_the_holdout_default():
    from embedrec.cli.recsys import item2vec_train, tune

    def default(cmd):
        return next(p.default for p in cmd.params if p.name == "holdout")

    assert default(item2vec_train) == default(tune) == "leave-last-out"


def test_eval_beats_the_baselines(model_dir, log_csv):
    res = run("-q", "eval", model_dir, log_csv, *COLS, "-k", "5", "--json")
    out = json.loads(res.output)["results"]
    assert out["item2vec"]["metrics"]["HR@5"] > out["popularity"]["metrics"]["HR@5"]
    assert out["item2vec"]["metrics"]["HR@5"] > out["random"]["metrics"]["HR@5"]
    table = run("-q", "eval", model_dir, log_csv, *COLS, "-k", "5")
    assert "HR@5" in table.output and "popularity" in table.output


def test_eval_refuses_a_model_that_saw_the_test(log_csv, tmp_path):
    out = tmp_path / "leaky"
    run("-q", "item2vec", "train", log_csv, *COLS, *FAST, "--holdout", "none", "--out", out)
    res = run("-q", "eval", out, log_csv, *COLS, ok=False)
    assert res.exit_code == 2
    assert "--holdout leave-last-out" in res.output
    run("-q", "eval", out, log_csv, *COLS, "--allow-leak", "--no-baselines")


def test_tune_writes_a_config_that_train_reads(log_csv, tmp_path):
    cfg = tmp_path / "best.toml"
    res = run(
        "-q",
        "tune",
        log_csv,
        *COLS,
        "--max-trials",
        "2",
        "--budget",
        "60",
        "--metric",
        "HR@5",
        "--out-config",
        cfg,
    )
    assert "best (HR@5" in res.output
    text = cfg.read_text()
    assert "ns_exponent" in text and "mode" in text
    out = tmp_path / "tuned"
    run("-q", "item2vec", "train", log_csv, *COLS, "--config", cfg, "--workers", "1", "--out", out)
    assert Item2Vec.load(out).config.ns_exponent == pytest.approx(
        float(text.split("ns_exponent = ")[1].split()[0])
    )


def test_bad_input_is_named(log_csv, tmp_path):
    res = run(
        "item2vec",
        "train",
        log_csv,
        "--user-col",
        "nope",
        "--item-col",
        "item",
        "--out",
        tmp_path / "x",
        ok=False,
    )
    assert res.exit_code == 2 and "nope" in res.output
    res = run("tune", log_csv, *COLS, "--metric", "F1@3", ok=False)
    assert res.exit_code == 2 and "metric" in res.output


def test_headerless_file_by_column_position(log_csv, tmp_path):
    lines = log_csv.read_text().splitlines()[1:]
    raw = tmp_path / "u.data"
    raw.write_text("\n".join(line.replace(",", "\t") for line in lines) + "\n")
    out = tmp_path / "m"
    pos = ["--no-header", "--user-col", "0", "--item-col", "1", "--time-col", "2"]
    res = run("-q", "item2vec", "train", raw, *pos, *FAST, "--out", out, "--json")
    assert json.loads(res.output)["n_items"] == Item2Vec.load(out).embeddings_.vectors.shape[0]
    assert Item2Vec.load(out).embeddings_.key_type == "int"


@pytest.fixture(scope="module")
def session_csv(tmp_path_factory):
    """600 sessions, 864 s apart (6 days); session s walks 4 items of chain s % 3 in order."""
    rng = np.random.default_rng(1)
    rows = ["session,item,ts"]
    for s in range(600):
        c = s % 3
        start = int(rng.integers(0, 6))
        t0 = s * 864.0
        for j in range(4):
            rows.append(f"{s},{100 * c + start + j},{t0 + 30 * j}")
    path = tmp_path_factory.mktemp("sessions") / "sessions.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.slow
def test_eval_session_protocol_fits_the_method_and_the_baselines(session_csv):
    cols = ["--user-col", "session", "--item-col", "item", "--time-col", "ts"]
    res = run("-q", "eval", "sr", session_csv, *cols, "--protocol", "session", "-k", "3", "--json")
    out = json.loads(res.output)
    assert out["protocol"] == "session" and list(out["results"]) == [
        "sr",
        "s-pop",
        "vsknn",
        "stan",
        "vstan",
    ]
    sr = out["results"]["sr"]
    # the last event is at 599 * 864 + 90; sessions ending within a day of it are s >= 499
    # (499 * 864 + 90 >= 599 * 864 + 90 - 86400): 101 sessions of 4 clicks, 303 predictions.
    # Chains are planted, so the sequential rules find the next item
    assert sr["n_predictions"] == 303 and sr["metrics"]["HR@3"] > 0.9
    table = run(
        "-q",
        "eval",
        "session-embed",
        session_csv,
        *cols,
        "--protocol",
        "session",
        "--no-baselines",
        "-k",
        "3",
    )
    assert "HR@3" in table.output and "session-embed" in table.output
    bad = run("eval", "gru4rec", session_csv, *cols, "--protocol", "session", ok=False)
    assert bad.exit_code != 0 and "one of session-embed" in bad.output


def test_recommend_reads_a_saved_session_model(session_csv, tmp_path):
    from embedrec.data import read_interactions
    from embedrec.models import SequentialRules

    log = read_interactions(session_csv, user_col="session", item_col="item", time_col="ts")
    SequentialRules().fit(log).save(tmp_path / "sr")
    # chain 1 is 100..111 in order: after 103 comes 104
    res = run("recommend", tmp_path / "sr", "--history", "102 103", "-k", "1", "--json")
    assert [r["key"] for r in json.loads(res.output)["items"]] == [104]

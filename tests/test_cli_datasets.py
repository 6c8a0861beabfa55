"""``embedrec datasets list`` and ``get``: what is known and found locally, and CSV copies that
hold exactly the data set's events and train as printed. No network: the data comes from
``$EMBEDREC_DATA`` (the shared data folder), and a download attempt fails the test."""

import json
import shlex

import numpy as np
import pytest
from numpy.testing import assert_allclose

from embedrec.cli.datasets_cmds import CATALOGUE
from embedrec.data import datasets as ds
from embedrec.data.interactions import read_interactions
from embedrec.eval import leave_last_out
from tests.test_cli_quickstart import run


@pytest.fixture(autouse=True)
def no_network(tmp_path, monkeypatch):
    """An empty download cache, and any download attempt fails the test."""
    monkeypatch.setenv("EMBEDREC_CACHE", str(tmp_path / "cache"))

    def refuse(*args, **kwargs):
        pytest.fail(f"a download was attempted: {args}")

    monkeypatch.setattr(ds, "_download", refuse)


@pytest.fixture
def shared(shared_data, monkeypatch):
    """$EMBEDREC_DATA set to the shared data folder, which must hold the data sets read here
    (the test fails under CI when one is missing)."""
    for name in ("ml-100k", "diginetica"):
        shared_data.require(ds.LOCAL_FOLDERS[name])
    monkeypatch.setenv("EMBEDREC_DATA", str(shared_data))
    return shared_data


def test_list_names_every_data_set_and_its_local_copy(shared):
    rows = {r["name"]: r for r in json.loads(run("datasets", "list", "--json").stdout)}
    assert list(rows) == list(CATALOGUE) == list(ds.LOCAL_FOLDERS)
    for name, row in rows.items():
        assert row["licence"] and row["size"] and row["what"]
        folder = shared / ds.LOCAL_FOLDERS[name]
        assert row["local"] == (str(folder) if folder.is_dir() else "-")
    assert rows["ml-100k"]["download"] == ds.URLS["ml-100k"]
    assert "EMBEDREC_DATA" in rows["yoochoose"]["download"]
    table = run("datasets", "list").stdout
    assert table.splitlines()[0].split()[:2] == ["name", "what"]
    assert all(any(line.startswith(name + " ") for line in table.splitlines()) for name in rows)


def test_list_finds_the_download_cache_without_a_shared_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBEDREC_DATA", raising=False)
    cache = tmp_path / "cache"
    # a cached copy counts once every verified member is there
    (cache / "ml-100k").mkdir(parents=True)
    members = list(ds.CHECKSUMS["ml-100k"])
    for member in members[:-1]:
        (cache / "ml-100k" / member).write_bytes(b"")
    rows = {r["name"]: r["local"] for r in json.loads(run("datasets", "list", "--json").stdout)}
    assert set(rows.values()) == {"-"}
    (cache / "ml-100k" / members[-1]).write_bytes(b"")
    rows = {r["name"]: r["local"] for r in json.loads(run("datasets", "list", "--json").stdout)}
    assert rows["ml-100k"] == str(cache / "ml-100k")
    assert {v for k, v in rows.items() if k != "ml-100k"} == {"-"}


def test_get_writes_the_events_as_csv_that_trains_as_printed(shared, tmp_path):
    out = tmp_path / "ml.csv"
    stdout = run("datasets", "get", "ml-100k", "--out", out).stdout
    assert "100,000 of 943 users and 1,682 items" in stdout
    assert str(shared / "movielens-100k") in stdout
    assert out.read_text(encoding="utf-8").splitlines()[0] == "user,item,rating,timestamp"
    # the CSV holds the data set's events exactly
    expected = ds.movielens_100k(shared / "movielens-100k")
    got = read_interactions(
        out, user_col="user", item_col="item", time_col="timestamp", weight_col="rating"
    )
    assert len(got) == 100_000
    for name in ("user_keys", "item_keys", "user", "item", "time"):
        assert np.array_equal(getattr(got, name), getattr(expected, name)), name
    assert_allclose(got.weight, expected.weight, rtol=0)
    # the printed next command runs (with a short training added)
    (line,) = [s for s in stdout.splitlines() if s.startswith("next:")]
    words = shlex.split(line.removeprefix("next:"))
    assert words[:3] == ["embedrec", "item2vec", "train"]
    assert json.loads(run("datasets", "get", "ml-100k", "--out", out, "--json").stdout)[
        "next"
    ] == " ".join(shlex.quote(w) for w in words)
    quick = ("--epochs", "1", "--dim", "8", "--workers", "1", "--json")
    summary = json.loads(run("-q", *words[1:], *quick).stdout)
    # trained on every event but each user's last: the items of the training events
    trained = int(np.count_nonzero(leave_last_out(expected).train_full.item_counts()))
    assert summary["n_items"] == trained and summary["holdout"] == "leave-last-out"


def test_get_keeps_fractional_times_of_a_session_data_set(shared, tmp_path):
    out = tmp_path / "dg.csv"
    run("datasets", "get", "diginetica", "--out", out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "user,item,timestamp" and len(lines) == 12_391 + 1
    expected = ds.diginetica(shared / "diginetica-sample")
    got = read_interactions(out, user_col="user", item_col="item", time_col="timestamp")
    assert np.array_equal(got.item_keys[got.item], expected.item_keys[expected.item])
    assert_allclose(got.time, expected.time, rtol=0, atol=1e-6)


def test_get_unknown_name_lists_the_known_ones(tmp_path):
    result = run("datasets", "get", "ml-1m", "--out", tmp_path / "x.csv", ok=False)
    assert result.exit_code == 2 and "'ml-1m'" in result.output
    assert all(name in result.output for name in CATALOGUE)
    assert not (tmp_path / "x.csv").exists()


def test_get_refuses_a_directory_before_reading(tmp_path):
    result = run("datasets", "get", "ml-100k", "--out", tmp_path, ok=False)
    assert result.exit_code == 2 and "is a directory" in result.stderr


def test_get_without_a_local_copy_of_a_session_data_set_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDREC_DATA", str(tmp_path / "empty"))
    result = run("datasets", "get", "yoochoose", "--out", tmp_path / "y.csv", ok=False)
    assert result.exit_code == 2 and "yoochoose-100k-sample" in result.stderr
    assert not (tmp_path / "y.csv").exists()

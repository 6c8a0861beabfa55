"""`embedrec two-tower train --config`, then `embedrec eval` and `embedrec recommend` on it."""

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

from embedrec.cli.main import cli
from embedrec.models.two_tower.model import TwoTower
from tests.models.two_tower.planted import planted_log


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The planted log as CSV files: events, and a user table whose segment is the group."""
    log, users, _, _ = planted_log()
    d = tmp_path_factory.mktemp("data")
    rows = ["user,item,ts"]
    keys_u, keys_i = log.user_keys, log.item_keys
    for u, i, t in zip(log.user, log.item, log.time, strict=True):
        rows.append(f"{keys_u[u]},{keys_i[i]},{int(t)}")
    (d / "log.csv").write_text("\n".join(rows) + "\n")
    lines = ["user,segment"] + [
        f"{u},{s}" for u, s in zip(users["user"], users["segment"], strict=True)
    ]
    (d / "users.csv").write_text("\n".join(lines) + "\n")
    (d / "cfg.toml").write_text(
        """
out = "model"

[data]
interactions = "log.csv"
user_col = "user"
item_col = "item"
time_col = "ts"
user_table = "users.csv"
holdout = "leave-last-out"

[model]
epochs = 12
batch_size = 128
lr = 0.01
seed = 1
patience = 0

[user]
embedding_dim = 16
hidden = [32]
output_dim = 16
[[user.features]]
name = "user"
kind = "id"
[[user.features]]
name = "segment"
kind = "categorical"
[[user.features]]
name = "history"
kind = "history"

[item]
embedding_dim = 16
hidden = []
output_dim = 16
[[item.features]]
name = "item"
kind = "id"
"""
    )
    return d


def test_train_eval_recommend(files, tmp_path):
    out = tmp_path / "tt"
    res = run("-q", "two-tower", "train", "--config", files / "cfg.toml", "--out", out, "--json")
    summary = json.loads(res.stdout)
    assert summary["holdout"] == "leave-last-out"
    assert len(summary["epochs"]) == 12
    model = TwoTower.load(out)
    assert model.metadata_["holdout"] == "leave-last-out"
    res = run(
        "eval",
        out,
        files / "log.csv",
        "--user-col",
        "user",
        "--item-col",
        "item",
        "--time-col",
        "ts",
        "-k",
        "10",
        "--json",
    )
    payload = json.loads(res.stdout)
    tt = payload["results"]["twotower"]["metrics"]
    pop = payload["results"]["popularity"]["metrics"]
    assert tt["HR@10"] >= 0.9 > pop["HR@10"]
    res = run("recommend", out, "--user", "4", "-k", "3", "--json")
    items = [row["key"] for row in json.loads(res.stdout)["items"]]
    assert len(items) == 3


def test_unknown_config_key_is_refused(files, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((files / "cfg.toml").read_text().replace("[model]", "[model]\nepoch = 3"))
    res = run("two-tower", "train", "--config", bad, "--out", tmp_path / "x", ok=False)
    assert res.exit_code != 0
    assert "epoch" in res.output


def test_unknown_data_key_is_refused_before_training(files, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((files / "cfg.toml").read_text().replace("[data]", "[data]\nholdot = 'none'"))
    res = run("two-tower", "train", "--config", bad, "--out", tmp_path / "x", ok=False)
    assert res.exit_code == 2
    assert "holdot" in res.output and "holdout" in res.output  # the allowed keys are listed
    assert not (tmp_path / "x").exists()


def copy_files(files, folder):
    """The fixture's log, user table and config in ``folder`` (the config's relative paths
    resolve against its own folder, so they travel together)."""
    folder.mkdir()
    for name in ("log.csv", "users.csv", "cfg.toml"):
        (folder / name).write_text((files / name).read_text())
    return folder


def test_set_overrides_keys_of_the_file(files, tmp_path):
    cfg = copy_files(files, tmp_path / "cfg") / "cfg.toml"
    res = run(
        "-q",
        "two-tower",
        "train",
        "--config",
        cfg,
        "--set",
        "model.epochs=2",
        "--set",
        "data.holdout=none",
        "--set",
        "item.hidden=[8]",
        "--set",
        f"out={tmp_path / 'over'}",
        "--json",
    )
    summary = json.loads(res.stdout)
    assert len(summary["epochs"]) == 2
    assert summary["holdout"] == "none"
    model = TwoTower.load(tmp_path / "over")
    assert model.config.item.hidden == (8,)
    assert model.metadata_["holdout"] == "none"
    res = run("two-tower", "train", "--config", cfg, "--set", "model.epoch=2", ok=False)
    assert res.exit_code == 2 and "epoch" in res.output


def test_out_in_the_file_is_relative_to_the_file(files, tmp_path, monkeypatch):
    folder = copy_files(files, tmp_path / "cfg")
    monkeypatch.chdir(tmp_path)
    run("-q", "two-tower", "train", "--config", "cfg/cfg.toml", "--epochs", "1")
    assert (folder / "model" / "CURRENT").is_file()  # `out = "model"` beside the file
    assert not (tmp_path / "model").exists()


def test_example_config_trains_on_movielens(shared_data, tmp_path, monkeypatch):
    """The example of `embedrec two-tower config`, unchanged but for a short run (1 epoch
    of at most 3 events per user), trains on MovieLens 100K with every side feature."""
    shared_data.require("movielens-100k", "u.data")
    monkeypatch.setenv("EMBEDREC_DATA", str(shared_data))
    monkeypatch.chdir(tmp_path)
    run("two-tower", "config", "--out", "movielens.toml")
    res = run(
        "-q",
        "two-tower",
        "train",
        "--config",
        "movielens.toml",
        "--epochs",
        "1",
        "--set",
        "model.examples_per_user=3",
        "--json",
    )
    summary = json.loads(res.stdout)
    assert summary["holdout"] == "leave-last-out"
    assert summary["n_users"] == 943
    assert len(summary["epochs"]) == 1
    assert summary["epochs"][0]["valid_NDCG@50"] > 0
    model = TwoTower.load(tmp_path / "tt-movielens")
    assert [f.name for f in model.config.user.features] == [
        "user",
        "history",
        "age",
        "gender",
        "occupation",
        "zip",
    ]
    assert [f.name for f in model.config.item.features] == ["item", "genres", "year"]
    # the model's items are MovieLens' after the file's 5-core filter, with 64-d vectors
    assert model.embeddings_ is not None and model.embeddings_.vectors.shape[1] == 64
    assert summary["n_items"] == len(model.embeddings_) < 1682


def test_train_prints_a_readable_summary_and_epoch_table(files, tmp_path):
    out = tmp_path / "tt"
    args = ("--config", files / "cfg.toml", "--epochs", "2", "--set", "data.holdout=none")
    lines = run("-q", "two-tower", "train", *args, "--out", out).stdout.splitlines()
    assert lines[0].split() == ["saved:", str(out), "(TwoTower)"]
    fields = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in lines[:5]}
    assert fields["holdout"] == "none" and fields["training"].startswith("2 epoch(s) in")
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["epoch"])
    epochs = TwoTower.load(out).epoch_stats_
    rows = [line.split() for line in lines[header + 1 :]]
    assert [int(r[0]) for r in rows] == [e["epoch"] for e in epochs] == [1, 2]
    loss_col = lines[header].split().index("loss")
    assert [float(r[loss_col]) for r in rows] == pytest.approx(
        [e["loss"] for e in epochs], rel=1e-3
    )

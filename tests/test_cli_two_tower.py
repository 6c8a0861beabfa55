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
    res = run("-q", "two-tower", "train", "--config", files / "cfg.toml", "--out", out)
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

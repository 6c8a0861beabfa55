"""The root command's own behaviour: ``-q`` anywhere, ``similar``'s unknown keys and
``export --vectors output``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_array_equal

from embedrec import Embeddings
from embedrec.cli.main import cli
from embedrec.models import Item2Vec, Item2VecConfig


def _invoke(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def item2vec_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Item2Vec, Path]:
    rng = np.random.default_rng(0)
    sequences = [rng.integers(0, 30, size=8).tolist() for _ in range(200)]
    model = Item2Vec(Item2VecConfig(dim=8, epochs=3, workers=1)).fit(sequences, progress=False)
    path = tmp_path_factory.mktemp("i2v") / "model"
    model.save(path)
    return model, path


@pytest.mark.parametrize(
    "args",
    [["-q", "similar", "{m}", "3"], ["similar", "{m}", "3", "-q"], ["similar", "-q", "{m}", "3"]],
    ids=["before", "after", "between"],
)
def test_quiet_is_accepted_anywhere(item2vec_dir, args, caplog):
    _, path = item2vec_dir
    res = _invoke(*(a.format(m=path) for a in args))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].split() == ["query", "rank", "neighbor", "score"]
    # after "--" a "-q" is an argument, not the flag: here an unknown key
    res = _invoke("similar", path, "--", "-q")
    assert res.exit_code == 2 and "unknown key(s) ['-q']" in res.output
    assert logging.getLogger("embedrec").level == logging.NOTSET  # restored after each run


def test_similar_reports_unknown_keys_or_skips_them(item2vec_dir):
    _, path = item2vec_dir
    res = _invoke("similar", path, "3", "zebra")
    assert res.exit_code == 2
    assert "unknown key(s) ['zebra']" in res.output and "--missing skip" in res.output
    res = _invoke("similar", path, "3", "zebra", "--missing", "skip", "-k", "2")
    assert res.exit_code == 0
    assert res.stdout.splitlines()[-1] == "unknown keys (left out): zebra"
    out = json.loads(_invoke("similar", path, "zebra", "3", "--missing", "skip", "--json").stdout)
    assert [row["query"] for row in out] == ["zebra", 3]
    assert out[0] == {"query": "zebra", "neighbors": [], "unknown": True}
    assert len(out[1]["neighbors"]) == 10 and "unknown" not in out[1]


def test_export_output_vectors_of_item2vec(item2vec_dir, tmp_path):
    model, path = item2vec_dir
    res = _invoke("export", path, "--vectors", "output", "--format", "npy", "--out", tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "output vectors" in res.stdout
    back = Embeddings.load(tmp_path / "o")
    assert back.keys == model.embeddings_.keys and back.metric == "dot"
    assert model.output_weights_ is not None
    assert_array_equal(back.vectors, model.output_weights_)
    # the input vectors stay the default
    _invoke("export", path, "--format", "npy", "--out", tmp_path / "i")
    assert_array_equal(Embeddings.load(tmp_path / "i").vectors, model.embeddings_.vectors)


def test_export_output_vectors_refuses_models_without_them(tmp_path):
    emb = Embeddings(["a", "b"], np.eye(2, dtype=np.float32))
    emb.save(tmp_path / "emb")
    res = _invoke("export", tmp_path / "emb", "--vectors", "output", "--out", tmp_path / "v.txt")
    assert res.exit_code == 2
    assert "holds a Embeddings without output vectors" in res.output
    emb.save_word2vec_format(tmp_path / "w.txt")
    res = _invoke("export", tmp_path / "w.txt", "--vectors", "output", "--out", tmp_path / "x")
    assert res.exit_code == 2 and "needs a model directory" in res.output
    assert not (tmp_path / "v.txt").exists() and not (tmp_path / "x").exists()

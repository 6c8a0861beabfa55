"""`embedrec index build` and `embedrec index sweep`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedrec import Embeddings, Word2Vec, Word2VecConfig
from embedrec.artifacts import resolve_artifact
from embedrec.cli.main import cli
from embedrec.data.synthetic import topic_corpus
from embedrec.index import ExactIndex, load_index

from .conftest import clustered

pytest.importorskip("faiss")


@pytest.fixture()
def emb_dir(tmp_path):
    path = tmp_path / "emb"
    Embeddings([f"i{j}" for j in range(2000)], clustered(2000, 16)).save(path)
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, ["-q", *args], catch_exceptions=False)


def test_build_saves_into_the_model_directory(emb_dir):
    res = invoke("index", "build", str(emb_dir), "--kind", "hnsw", "--M", "16", "--ef-search", "40")
    assert res.exit_code == 0, res.output
    assert "hnsw over 2000 keys" in res.output
    # a new generation holds the model's files and the index; the first stays untouched
    live, generation = resolve_artifact(emb_dir)
    assert generation == "gen-000002" and not (emb_dir / "gen-000001" / "index").exists()
    fields = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in res.output.splitlines()}
    assert fields["saved"] == str(live / "index")
    assert fields["parameters"] == "M=16, ef_construction=100, ef_search=40"
    index = load_index(live / "index")
    assert index.kind == "hnsw" and index.params["M"] == 16 and index.params["ef_search"] == 40
    assert index.search_keys("i0", k=3).keys.shape == (3,)
    # the model directory still loads, next to its index
    assert len(Embeddings.load(emb_dir)) == 2000
    assert index.keys == Embeddings.load(emb_dir).keys
    # rebuilding replaces the index in a third generation
    res = invoke("index", "build", str(emb_dir), "--kind", "exact", "--json")
    assert res.exit_code == 0, res.output
    live, generation = resolve_artifact(emb_dir)
    built = json.loads(res.output)
    assert (built["kind"], built["n_keys"], built["dim"], built["params"]) == (
        "exact",
        2000,
        16,
        {},
    )
    assert built["path"] == str(live / "index")
    assert generation == "gen-000003" and isinstance(load_index(live / "index"), ExactIndex)
    assert sorted(p.name for p in live.iterdir()) == [
        "index",
        "keys.json",
        "manifest.json",
        "vectors.npy",
    ]


def test_build_from_a_word2vec_directory(tmp_path):
    sentences, _ = topic_corpus(n_sentences=500, seed=0)
    cfg = Word2VecConfig(dim=8, epochs=1, min_count=1, workers=1, seed=1)
    Word2Vec(cfg).fit(sentences, progress=False).save(tmp_path / "w2v")
    res = invoke("index", "build", str(tmp_path / "w2v"), "--kind", "exact")
    assert res.exit_code == 0, res.output
    assert isinstance(load_index(resolve_artifact(tmp_path / "w2v")[0] / "index"), ExactIndex)


def test_flags_of_another_kind_are_refused(emb_dir):
    res = CliRunner().invoke(cli, ["index", "build", str(emb_dir), "--kind", "exact", "--M", "8"])
    assert res.exit_code == 2
    assert "--M do not apply to --kind exact" in res.output


def test_bad_parameter_is_one_error_line(emb_dir):
    res = CliRunner().invoke(
        cli, ["index", "build", str(emb_dir), "--kind", "ivf-flat", "--nlist", "5000"]
    )
    assert res.exit_code == 2
    assert "error: nlist=5000 needs at least" in res.output


def test_sweep_prints_recall_and_rate(emb_dir):
    res = invoke(
        "index", "sweep", str(emb_dir), "--kind", "hnsw", "--M", "8", "--queries", "100",
        "--values", "ef_search=10,80",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert "recall@10" in lines[1] and "queries/s" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["10", "80"]
    res = invoke(
        "index", "sweep", str(emb_dir), "--kind", "ivf-flat", "--nlist", "16", "--queries", "50",
        "--values", "nprobe=1,16", "--json",
    )  # fmt: skip
    points = json.loads(res.output)["points"]
    assert [p["nprobe"] for p in points] == [1, 16]
    assert points[1]["recall@10"] == 1.0  # every cell probed


def test_sweep_uses_the_saved_index(emb_dir, caplog):
    assert invoke("index", "build", str(emb_dir), "--kind", "hnsw", "--M", "12").exit_code == 0
    res = CliRunner().invoke(
        cli, ["index", "sweep", str(emb_dir), "--queries", "20", "--values", "ef_search=20"]
    )
    assert res.exit_code == 0, res.output
    assert "M=12" in res.output
    assert np.isfinite(json.loads(invoke(
        "index", "sweep", str(emb_dir), "--queries", "20", "--json", "--values", "ef_search=20",
    ).output)["points"][0]["queries/s"])  # fmt: skip


def test_sweep_times_each_point_repeats_times(emb_dir, monkeypatch):
    from embedrec.index.base import Index

    calls = []
    original = Index.search

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Index, "search", counting)
    args = ["index", "sweep", str(emb_dir), "--kind", "exact", "--queries", "10", "--json"]
    assert invoke(*args, "--repeats", "1").exit_code == 0
    once = len(calls)
    calls.clear()
    assert invoke(*args, "--repeats", "4").exit_code == 0
    assert len(calls) - once == 3  # three more timed runs of the one point
    res = invoke(*args, "--repeats", "0")
    assert res.exit_code == 2 and "--repeats" in res.output

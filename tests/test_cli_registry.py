"""Every command that reads vectors accepts every model directory (the one model registry).

A tiny model of each class (Word2Vec, Item2Vec, DeepWalk, Node2Vec, EGES, TwoTower and plain
Embeddings) is trained on one planted world, saved, and read by ``embedrec similar``,
``embedrec export`` (every format) and ``embedrec index build``. The answers are checked
against the library: the neighbours are the model's own ``most_similar``, the exported vectors
are the saved ones, and the built index answers as the model does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose, assert_array_equal

from embedrec import Embeddings
from embedrec.artifacts import load_consistent
from embedrec.cli.main import cli
from embedrec.models.registry import (
    load_embeddings,
    load_model,
    model_class,
    read_counts,
    registered,
)

N_CLUSTERS, PER_CLUSTER = 4, 8
ITEMS = [100 * c + j for c in range(N_CLUSTERS) for j in range(PER_CLUSTER)]
QUERIES = [ITEMS[0], ITEMS[9], ITEMS[-1]]


def _histories() -> list[list[int]]:
    rng = np.random.default_rng(0)
    return [
        [100 * (u % N_CLUSTERS) + int(j) for j in rng.choice(PER_CLUSTER, 6, replace=False)]
        for u in range(80)
    ]


def _graph() -> Any:
    from embedrec.data.graph import Graph

    src = [100 * c + i for c in range(N_CLUSTERS) for i in range(PER_CLUSTER)]
    dst = [100 * c + (i + 1) % PER_CLUSTER for c in range(N_CLUSTERS) for i in range(PER_CLUSTER)]
    return Graph.from_edges(np.array(src), np.array(dst), nodes=np.array(ITEMS))


def _word2vec() -> Any:
    from embedrec import Word2Vec, Word2VecConfig

    cfg = Word2VecConfig(dim=8, window=2, epochs=2, min_count=1, sample=0.0, workers=1, seed=1)
    return Word2Vec(cfg).fit(_histories(), progress=False)


def _item2vec() -> Any:
    from embedrec import Item2Vec, Item2VecConfig

    return Item2Vec(Item2VecConfig(dim=8, epochs=2, workers=1, seed=1)).fit(
        _histories(), progress=False
    )


def _walk_config(cls: Any, **extra: Any) -> Any:
    return cls(dim=8, walks_per_node=2, walk_length=6, window=2, epochs=1, workers=1, **extra)


def _deepwalk() -> Any:
    from embedrec.models.walks import DeepWalk, DeepWalkConfig

    return DeepWalk(_walk_config(DeepWalkConfig, seed=1)).fit(_graph(), progress=False)


def _node2vec() -> Any:
    from embedrec.models.walks import Node2Vec, Node2VecConfig

    cfg = _walk_config(Node2VecConfig, p=0.5, q=2.0, seed=1)
    return Node2Vec(cfg).fit(_graph(), progress=False)


def _eges() -> Any:
    from embedrec.models.eges import EGES, EGESConfig

    side = {"cluster": [f"c{k // 100}" for k in ITEMS]}
    return EGES(_walk_config(EGESConfig)).fit(_graph(), side, progress=False)


def _two_tower() -> Any:
    pytest.importorskip("torch")
    from embedrec.data.interactions import Interactions
    from embedrec.models.two_tower import FeatureSpec, TowerConfig
    from embedrec.models.two_tower.model import TwoTower, TwoTowerConfig

    users, items = [], []
    for u, hist in enumerate(_histories()):
        users += [u] * len(hist)
        items += hist
    tower = dict(embedding_dim=8, hidden=(), output_dim=8)
    cfg = TwoTowerConfig(
        user=TowerConfig(features=(FeatureSpec(name="user", kind="id"),), **tower),
        item=TowerConfig(features=(FeatureSpec(name="item", kind="id"),), **tower),
        epochs=1,
        batch_size=128,
        patience=0,
        seed=1,
    )
    log = Interactions.from_arrays(np.array(users), np.array(items))
    return TwoTower(cfg).fit(log, progress=False)


def _embeddings() -> Any:
    rng = np.random.default_rng(2)
    return Embeddings(ITEMS, rng.standard_normal((len(ITEMS), 8)).astype(np.float32))


def _session_embed() -> Any:
    from embedrec import Item2Vec, Item2VecConfig
    from embedrec.models import SessionEmbed, SessionEmbedConfig

    emb = Item2Vec(Item2VecConfig(dim=8, epochs=2, workers=1, seed=1))
    return SessionEmbed(SessionEmbedConfig(calibrate=False), embedder=emb).fit(_histories())


MODELS: dict[str, Callable[[], Any]] = {
    "Word2Vec": _word2vec,
    "Item2Vec": _item2vec,
    "DeepWalk": _deepwalk,
    "Node2Vec": _node2vec,
    "EGES": _eges,
    "TwoTower": _two_tower,
    "Embeddings": _embeddings,
    "SessionEmbed": _session_embed,
}


def test_every_registered_class_is_tested():
    assert set(registered()) == set(MODELS)


@pytest.fixture(scope="module", params=list(MODELS))
def saved(request, tmp_path_factory) -> tuple[str, Any, Path]:
    """(class name, the fitted model, its saved directory)."""
    name = request.param
    model = MODELS[name]()
    path = tmp_path_factory.mktemp(name) / "model"
    model.save(path)
    assert model_class(path) == name
    return name, model, path


def _vectors(model: Any) -> Embeddings:
    emb: Embeddings = model if isinstance(model, Embeddings) else model.embeddings_
    return emb


def _run(*args: str) -> str:
    res = CliRunner().invoke(cli, ["-q", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_registry_reads_the_saved_vectors(saved):
    name, model, path = saved
    emb = load_embeddings(path)
    assert emb.keys == _vectors(model).keys
    assert_array_equal(emb.vectors, _vectors(model).vectors)
    assert emb.metric == _vectors(model).metric
    if name != "TwoTower":  # the full two-tower model is torch's; covered by its own tests
        assert type(load_model(path)).__name__ == name


def test_similar_matches_most_similar(saved):
    _, model, path = saved
    out = json.loads(
        _run("similar", path, *map(str, QUERIES), "-k", "5", "--min-count", "0", "--json")
    )
    expected = model.most_similar(QUERIES, k=5)
    assert [row["query"] for row in out] == QUERIES
    for row, keys, scores in zip(out, expected.keys.tolist(), expected.scores, strict=True):
        assert [n["key"] for n in row["neighbors"]] == keys
        assert_allclose([n["score"] for n in row["neighbors"]], scores, rtol=1e-6, atol=1e-6)
    # the table shows the same neighbours
    table = _run("similar", path, str(QUERIES[0]), "-k", "5", "--min-count", "0").splitlines()
    assert table[0].split() == ["query", "rank", "neighbor", "score"]
    assert [int(line.split()[2]) for line in table[1:]] == expected.keys.tolist()[0]


def test_similar_shows_only_neighbours_seen_min_count_times(saved):
    _, model, path = saved
    emb = _vectors(model)
    saved_counts = load_consistent(path, read_counts)
    if saved_counts is None:  # no counts: the default floor is off, an explicit one refused
        res = CliRunner().invoke(cli, ["similar", str(path), str(QUERIES[0]), "--min-count", "3"])
        assert res.exit_code == 2 and "has no training counts; drop --min-count" in res.output
        return
    counts = dict(zip(emb.keys, saved_counts.tolist(), strict=True))
    floor = sorted(counts.values())[len(counts) // 2]  # hides about half of the keys
    out = json.loads(
        _run("similar", path, *map(str, QUERIES), "-k", "5", "--min-count", str(floor), "--json")
    )
    for row in out:
        keys = [n["key"] for n in row["neighbors"]]
        assert keys and all(counts[key] >= floor for key in keys)
        # the same as the unrestricted ranking with the rarer keys taken out
        full = model.most_similar(row["query"], k=len(emb) - 1)
        assert keys == [key for key in full.keys.tolist() if counts[key] >= floor][:5]
    hidden = sum(c < floor for c in counts.values())
    note = _run("similar", path, str(QUERIES[0]), "--min-count", str(floor)).splitlines()[-1]
    assert note.startswith(f"({hidden} of {len(emb)} keys seen fewer than {floor} times")


@pytest.mark.parametrize("binary", [False, True])
def test_export_word2vec_has_the_saved_vectors(saved, tmp_path, binary):
    _, model, path = saved
    out = tmp_path / ("v.bin" if binary else "v.txt")
    _run("export", path, "--format", "word2vec", "--out", out, *(["--binary"] if binary else []))
    back = Embeddings.load_word2vec_format(out, binary=binary)
    emb = _vectors(model)
    assert [int(k) for k in back.keys] == emb.keys
    # text holds each value's repr and binary its float32 bytes: both round-trip exactly
    assert_array_equal(back.vectors, emb.vectors)


def test_export_npy_has_the_saved_vectors(saved, tmp_path):
    _, model, path = saved
    _run("export", path, "--format", "npy", "--out", tmp_path / "npy")
    back = Embeddings.load(tmp_path / "npy")
    assert back.keys == _vectors(model).keys
    assert_array_equal(back.vectors, _vectors(model).vectors)


@pytest.mark.parametrize("layout", ["list", "columns"])
def test_export_parquet_has_the_saved_vectors(saved, tmp_path, layout):
    pq = pytest.importorskip("pyarrow.parquet")
    _, model, path = saved
    out = tmp_path / "v.parquet"
    _run("export", path, "--format", "parquet", "--layout", layout, "--out", out)
    table = pq.read_table(out).to_pydict()
    emb = _vectors(model)
    assert table["key"] == emb.keys
    if layout == "list":
        vectors = np.array(table["vector"], dtype=np.float32)
    else:
        vectors = np.array([table[f"v{j}"] for j in range(emb.dim)], dtype=np.float32).T
    assert_array_equal(vectors, emb.vectors)


def test_export_tensorboard_has_the_saved_vectors(saved, tmp_path):
    _, model, path = saved
    out = tmp_path / "tb"
    _run("export", path, "--format", "tensorboard", "--out", out)
    emb = _vectors(model)
    vectors = np.loadtxt(out / "vectors.tsv", delimiter="\t", dtype=np.float64, ndmin=2)
    assert_allclose(vectors, emb.vectors, rtol=1e-5, atol=1e-7)  # "%.6g": 6 significant digits
    rows = (out / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    first = rows[0].split("\t")
    keys = [r.split("\t")[0] for r in (rows[1:] if first[0] == "key" else rows)]
    assert keys == [str(k) for k in emb.keys]


def test_index_build_answers_as_the_model(saved):
    from embedrec.artifacts import resolve_artifact
    from embedrec.index import load_index

    name, model, path = saved
    out = _run("index", "build", path, "--kind", "exact")
    assert f"over {len(ITEMS)} keys" in out
    index = load_index(resolve_artifact(path)[0] / "index")
    assert index.keys == _vectors(model).keys
    expected = model.most_similar(QUERIES, k=5)
    got = index.search_keys(QUERIES, 5)
    assert np.asarray(got.keys).tolist() == expected.keys.tolist()
    assert_allclose(got.scores, expected.scores, rtol=1e-6, atol=1e-6)
    # the new generation still holds the model: the vectors read as before
    assert_array_equal(load_embeddings(path).vectors, _vectors(model).vectors)
    assert model_class(path) == name


def test_export_output_vectors_where_the_model_has_them(saved, tmp_path):
    name, model, path = saved
    out = tmp_path / "out.txt"
    res = CliRunner().invoke(cli, ["export", str(path), "--vectors", "output", "--out", str(out)])
    expected = {"Item2Vec": "output_weights_", "SessionEmbed": "out_"}.get(name)
    if expected is None:
        assert res.exit_code == 2 and "without output vectors" in res.output
        assert not out.exists()
        return
    assert res.exit_code == 0, res.output
    back = Embeddings.load_word2vec_format(out)
    assert [int(k) for k in back.keys] == _vectors(model).keys
    assert_allclose(back.vectors, getattr(model, expected), rtol=1e-6)

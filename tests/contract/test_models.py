"""The model contract, run by every model (in the spirit of implicit's shared recommender tests).

One planted world: 6 clusters of 10 items (int keys ``100 * c + j``). Each model gets it in its
own input form (token sequences for Word2Vec, user histories for Item2Vec, an item graph with
dense clusters for the walk models and EGES (whose side field is the cluster), and an
interaction log for the two-tower model) and must:

- put an item's nearest neighbours in its own cluster (planted structure recovered);
- answer a batch of keys exactly as it answers each key alone;
- handle ``k`` larger than the catalogue (every other item, once, best first);
- refuse unknown keys with a ``KeyError`` that names them, and skip them when asked;
- refuse ``k < 1`` with a ``ValueError`` naming ``k``;
- give identical vectors and answers after a save/load round trip (through the one model
  registry, as every CLI command and the service load directories);
- recommend, where the model recommends: ``exclude_seen`` holds, and a batch equals single
  calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from embedrec import Embeddings

N_CLUSTERS, PER_CLUSTER = 6, 10
ITEMS = [100 * c + j for c in range(N_CLUSTERS) for j in range(PER_CLUSTER)]


def cluster(key: Any) -> int:
    return int(key) // 100


def _histories(n_users: int = 240, length: int = 8, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    out = []
    for u in range(n_users):
        c = u % N_CLUSTERS
        out.append([100 * c + int(j) for j in rng.choice(PER_CLUSTER, size=length, replace=False)])
    return out


def _graph():
    from embedrec.data.graph import Graph

    rng = np.random.default_rng(1)
    src, dst = [], []
    for c in range(N_CLUSTERS):
        for i in range(PER_CLUSTER):
            for j in rng.choice(np.delete(np.arange(PER_CLUSTER), i), 4, replace=False):
                src.append(100 * c + i)
                dst.append(100 * c + int(j))
    return Graph.from_edges(np.array(src), np.array(dst), nodes=np.array(ITEMS))


# ---------------------------------------------------------------------------------- the models
def _word2vec():
    from embedrec import Word2Vec, Word2VecConfig

    cfg = Word2VecConfig(dim=16, window=3, epochs=10, min_count=1, sample=0.0, workers=1, seed=3)
    return Word2Vec(cfg).fit(_histories(), progress=False)


def _item2vec():
    from embedrec import Item2Vec, Item2VecConfig

    cfg = Item2VecConfig(dim=16, epochs=10, workers=1, seed=3)
    return Item2Vec(cfg).fit(_histories(), progress=False)


def _deepwalk():
    from embedrec.models.walks import DeepWalk, DeepWalkConfig

    cfg = DeepWalkConfig(dim=16, walks_per_node=10, walk_length=20, window=3, epochs=2, seed=3)
    return DeepWalk(cfg).fit(_graph(), progress=False)


def _node2vec():
    from embedrec.models.walks import Node2Vec, Node2VecConfig

    cfg = Node2VecConfig(
        dim=16, walks_per_node=10, walk_length=20, window=3, epochs=2, p=0.5, q=2.0, seed=3
    )
    return Node2Vec(cfg).fit(_graph(), progress=False)


def _eges():
    from embedrec.models.eges import EGES, EGESConfig

    cfg = EGESConfig(dim=16, walks_per_node=10, walk_length=20, window=3, epochs=3, workers=1)
    side = {"cluster": [f"c{cluster(k)}" for k in ITEMS]}
    return EGES(cfg).fit(_graph(), side, progress=False)


def _two_tower():
    pytest.importorskip("torch")
    from embedrec.data.interactions import Interactions
    from embedrec.models.two_tower import FeatureSpec, TowerConfig
    from embedrec.models.two_tower.model import TwoTower, TwoTowerConfig

    users, items = [], []
    for u, hist in enumerate(_histories()):
        users += [u] * len(hist)
        items += hist
    log = Interactions.from_arrays(np.array(users), np.array(items))
    tower = dict(embedding_dim=16, hidden=(), output_dim=16)
    cfg = TwoTowerConfig(
        user=TowerConfig(
            features=(FeatureSpec(name="user", kind="id"), FeatureSpec(name="h", kind="history")),
            **tower,
        ),
        item=TowerConfig(features=(FeatureSpec(name="item", kind="id"),), **tower),
        epochs=15,
        batch_size=128,
        lr=0.01,
        patience=0,
        seed=3,
    )
    return TwoTower(cfg).fit(log, progress=False)


@dataclass(frozen=True)
class Spec:
    name: str
    fit: Callable[[], Any]
    #: the share of nearest neighbours that must be in the item's own cluster
    in_cluster: float


SPECS = [
    Spec("Word2Vec", _word2vec, 0.9),
    Spec("Item2Vec", _item2vec, 0.9),
    Spec("DeepWalk", _deepwalk, 0.9),
    Spec("Node2Vec", _node2vec, 0.9),
    Spec("EGES", _eges, 0.9),
    Spec("TwoTower", _two_tower, 0.8),
]


@pytest.fixture(scope="module", params=SPECS, ids=[s.name for s in SPECS])
def fitted(request):
    spec: Spec = request.param
    return spec, spec.fit()


def _keys(res: Any) -> list[Any]:
    return np.asarray(res.keys).tolist()


# ---------------------------------------------------------------------------------- the contract
def test_neighbours_stay_in_cluster(fitted):
    spec, model = fitted
    k = 5
    hits = sum(
        cluster(n) == cluster(item) for item in ITEMS for n in _keys(model.most_similar(item, k=k))
    )
    assert hits / (len(ITEMS) * k) >= spec.in_cluster, (spec.name, hits / (len(ITEMS) * k))


def test_batch_equals_single(fitted):
    _, model = fitted
    queries = [ITEMS[0], ITEMS[13], ITEMS[-1]]
    batch = model.most_similar(queries, k=4)
    assert np.asarray(batch.keys).shape == (3, 4)
    for row, q in enumerate(queries):
        single = model.most_similar(q, k=4)
        assert_array_equal(np.asarray(batch.keys)[row], np.asarray(single.keys))
        assert_allclose(np.asarray(batch.scores)[row], np.asarray(single.scores), rtol=1e-5)


def test_k_over_the_catalogue_returns_every_other_item_once(fitted):
    _, model = fitted
    res = model.most_similar(ITEMS[0], k=len(ITEMS) + 50)
    keys = _keys(res)
    assert sorted(keys) == sorted(ITEMS[1:])  # every other item, the query excluded
    scores = np.asarray(res.scores)
    assert np.all(np.diff(scores) <= 1e-6)  # best first


def test_unknown_keys_raise_naming_them_or_are_skipped(fitted):
    _, model = fitted
    with pytest.raises(KeyError, match="99999"):
        model.most_similar(99999, k=3)
    res = model.most_similar([ITEMS[0], 99999], k=3, missing="skip")
    assert len(_keys(res)) == 1


def test_k_below_one_is_refused(fitted):
    _, model = fitted
    with pytest.raises(ValueError, match="k"):
        model.most_similar(ITEMS[0], k=0)


def test_save_load_round_trip_through_the_registry(fitted, tmp_path):
    from embedrec.models.registry import load_embeddings

    _, model = fitted
    model.save(tmp_path / "m")
    loaded = type(model).load(tmp_path / "m")
    before, after = model.embeddings_, loaded.embeddings_
    assert before.keys == after.keys
    assert_array_equal(before.vectors, after.vectors)
    for q in (ITEMS[0], ITEMS[25]):
        assert _keys(model.most_similar(q, k=5)) == _keys(loaded.most_similar(q, k=5))
    # the registry every CLI command and the service use reads the same vectors
    via_registry = load_embeddings(tmp_path / "m")
    assert via_registry.keys == before.keys
    assert_array_equal(via_registry.vectors, before.vectors)


def test_recommend_excludes_seen_and_batch_equals_single(fitted):
    _, model = fitted
    history = [ITEMS[0], ITEMS[1], ITEMS[2]]
    rec = model.recommend(history, k=5, exclude_seen=True)
    keys = _keys(rec)
    assert len(keys) == 5 and not set(keys) & set(history)
    assert sum(cluster(k) == 0 for k in keys) >= 3  # the history's cluster
    if hasattr(model, "recommend_users"):
        batch = model.recommend_users([history, [ITEMS[30]]], 5)
        assert np.asarray(batch.keys)[0].tolist() == keys


def test_fit_refuses_empty_input(fitted):
    spec, model = fitted
    with pytest.raises(ValueError):
        if spec.name in ("Word2Vec", "Item2Vec"):
            type(model)(model.config).fit([], progress=False)
        elif spec.name in ("DeepWalk", "Node2Vec"):
            from embedrec.data.graph import Graph

            type(model)(model.config).fit(
                Graph.from_edges(np.array([], np.int64), np.array([], np.int64)), progress=False
            )
        elif spec.name == "EGES":
            from embedrec.data.graph import Graph

            empty = Graph.from_edges(np.array([], np.int64), np.array([], np.int64))
            type(model)(model.config).fit(empty, {}, progress=False)
        else:
            from embedrec.data.interactions import Interactions

            empty = Interactions.from_arrays(np.array([], np.int64), np.array([], np.int64))
            type(model)(model.config).fit(empty, progress=False)


def test_embeddings_contract_on_a_known_answer():
    """The vectors every model hands on: cosine neighbours of 2-d vectors by hand.

    a=(1,0), b=(0.8,0.6), c=(0,1): cos(a,b)=0.8, cos(a,c)=0, cos(b,c)=0.6.
    """
    emb = Embeddings(["a", "b", "c"], np.array([[1, 0], [0.8, 0.6], [0, 1]], np.float32))
    res = emb.most_similar("a", k=5)
    assert _keys(res) == ["b", "c"]
    assert_allclose(np.asarray(res.scores), [0.8, 0.0], atol=1e-6)
    assert _keys(emb.most_similar("c", k=1)) == ["b"]

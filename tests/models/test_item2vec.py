"""Item2Vec: planted structure, set-mode context, user-vector known answers, contract."""

import dataclasses

import numpy as np
import pytest
from numpy.testing import assert_allclose

from embedrec import Embeddings
from embedrec.data.interactions import Interactions
from embedrec.data.vocab import Vocab
from embedrec.models import Item2Vec, Item2VecConfig


def _clustered_users(n_clusters=8, per_cluster=15, n_users=400, length=12, seed=0):
    """Users each pick one cluster of items and draw their history from it."""
    rng = np.random.default_rng(seed)
    users, cluster_of = [], {}
    for c in range(n_clusters):
        for j in range(per_cluster):
            cluster_of[f"c{c}_{j}"] = c
    for _ in range(n_users):
        c = int(rng.integers(n_clusters))
        items = rng.choice(per_cluster, size=length, replace=False)
        users.append([f"c{c}_{j}" for j in items])
    return users, cluster_of


@pytest.mark.parametrize("mode", ["window", "set"])
@pytest.mark.parametrize("user_vector", ["mean", "recency", "last_n", "multi_interest"])
def test_recommendations_stay_in_the_planted_cluster(mode, user_vector):
    users, cluster_of = _clustered_users()
    cfg = Item2VecConfig(mode=mode, user_vector=user_vector, dim=16, epochs=10, workers=1)
    model = Item2Vec(cfg).fit(users, progress=False)
    hist = [u[:6] for u in users[:100]]
    rec = model.recommend_users(hist, k=5)
    same = [
        cluster_of[r] == cluster_of[h[0]]
        for h, row in zip(hist, rec.keys, strict=True)
        for r in row
    ]
    assert np.mean(same) >= 0.9
    # exclude_seen: no history item comes back
    for h, row in zip(hist, rec.keys, strict=True):
        assert not set(h) & set(row)


def test_set_mode_context_covers_the_whole_basket():
    """Baskets of 10: an item of group A_i first, 8 random fillers, an item of B_i last.

    A_i's items share contexts only through the far end of the basket (B_i), 9 positions
    away. Window mode (window=2) never sees that far, so A_i's neighbours are noise; set mode
    with window=5 trains the whole basket (10 <= 2*5+1) as one context, so A_i's neighbours
    come from A_i and B_i.
    """
    rng = np.random.default_rng(1)
    baskets = []
    for _ in range(150):
        for i in range(10):
            fill = rng.choice(300, size=8, replace=False)
            a, b = rng.integers(4, size=2)
            baskets.append([f"a{i}_{a}"] + [f"f{x}" for x in fill] + [f"b{i}_{b}"])

    def in_group(mode, window):
        cfg = Item2VecConfig(mode=mode, window=window, dim=16, epochs=10, workers=1, sample=0)
        m = Item2Vec(cfg).fit(baskets, progress=False)
        queries = [f"a{i}_{j}" for i in range(10) for j in range(4)]
        near = m.most_similar(queries, k=3).keys
        group = lambda key: key.split("_")[0][1:] if key[0] in "ab" else None  # noqa: E731
        return np.mean(
            [group(n) == group(q) for q, row in zip(queries, near, strict=True) for n in row]
        )

    assert in_group("set", 5) >= 0.9  # measured 0.98
    assert in_group("window", 2) <= 0.2  # measured 0.03


def test_long_basket_trains_with_bounded_cost():
    """A 50,000-item basket in set mode costs at most 2*window pairs per item."""
    basket = [int(x) for x in np.random.default_rng(0).integers(0, 5000, size=50_000)]
    cfg = Item2VecConfig(mode="set", window=3, dim=8, epochs=1, workers=1, sample=0)
    m = Item2Vec(cfg).fit([basket], progress=False)
    stats = m.epoch_stats_[0]
    assert stats["effective_words"] == 50_000  # nothing truncated
    assert stats["examples"] <= 50_000 * 2 * 3
    assert stats["examples"] >= 50_000 * 2 * 3 - 2 * 3 * 4  # only the two ends lose context


def test_int_keys_and_interactions_input_end_to_end():
    users, items, times = [], [], []
    for u in range(60):
        for t, i in enumerate(range(100 + (u % 3) * 10, 100 + (u % 3) * 10 + 8)):
            users.append(u)
            items.append(i)
            times.append(float(t))
    inter = Interactions.from_arrays(users, items, times)
    m = Item2Vec(Item2VecConfig(dim=8, epochs=30, workers=1)).fit(inter, progress=False)
    assert m.embeddings_.key_type == "int"
    assert set(m.embeddings_.keys) == set(items)
    rec = m.recommend([100, 101], k=3)
    assert rec.keys.dtype == np.int64
    assert all(100 <= k < 108 for k in rec.keys.tolist())


def _toy_model(cfg, keys, vectors, counts=None):
    """A model with hand-set input vectors (cosine scoring unless ``cfg`` says otherwise)."""
    if cfg.scoring == "output":
        cfg = dataclasses.replace(cfg, scoring="cosine")
    m = Item2Vec(cfg)
    m.embeddings_ = Embeddings(keys, np.asarray(vectors, dtype=np.float32))
    m.vocab_ = Vocab(list(keys), np.asarray(counts if counts is not None else [1] * len(keys)))
    return m


def test_user_vector_known_answers():
    keys = ["x", "y"]
    vecs = [[2.0, 0.0], [0.0, 3.0]]  # unit vectors e1, e2
    hist = [["x", "y"]]
    mean = _toy_model(Item2VecConfig(user_vector="mean"), keys, vecs).user_vectors(hist)
    assert_allclose(mean[0, 0], [0.5**0.5, 0.5**0.5], rtol=1e-6)
    # recency by position, half-life 1: y (age 0) weight 1, x (age 1) weight 0.5 -> (0.5, 1)/|.|
    rec = _toy_model(Item2VecConfig(user_vector="recency", half_life=1.0), keys, vecs)
    assert_allclose(rec.user_vectors(hist)[0, 0], np.array([0.5, 1.0]) / 1.25**0.5, rtol=1e-6)
    # recency by time, half-life 10 s, x at t=0 and y at t=20: weights 0.25 and 1
    tim = _toy_model(
        Item2VecConfig(user_vector="recency", recency_by="time", half_life=10.0), keys, vecs
    )
    got = tim.user_vectors(hist, times=[np.array([0.0, 20.0])])[0, 0]
    assert_allclose(got, np.array([0.25, 1.0]) / (0.0625 + 1) ** 0.5, rtol=1e-6)
    with pytest.raises(ValueError, match="needs the event times"):
        tim.user_vectors(hist)
    last = _toy_model(Item2VecConfig(user_vector="last_n", last_n=1), keys, vecs)
    assert_allclose(last.user_vectors(hist)[0, 0], [0.0, 1.0], atol=1e-7)


def test_output_scoring_known_answer():
    """Output scoring: query = weighted mean of raw input vectors, score = query . out_j."""
    m = Item2Vec(Item2VecConfig(user_vector="recency", half_life=1.0))
    m.embeddings_ = Embeddings(["x", "y", "z"], np.array([[2, 0], [0, 3], [1, 1]], np.float32))
    m.vocab_ = Vocab(["x", "y", "z"], np.array([1, 1, 1]))
    m.output_weights_ = np.array([[1, 0], [0, 1], [1, -1]], dtype=np.float32)
    # weights (x: 0.5, y: 1) / 1.5 -> q = (2/3, 2); scores: x 2/3, y 2, z 2/3 - 2 = -4/3
    assert_allclose(m.score([["x", "y"]], ["x", "y", "z"]), [[2 / 3, 2, -4 / 3]], rtol=1e-6)
    assert m.recommend(["x"], k=2).keys.tolist() == ["z", "y"]  # q = (2, 0): y 0, z 2


def test_multi_interest_reaches_both_interests_where_the_mean_falls_between():
    # two interests (around e1 and around e2) and a "mid" item on the diagonal
    keys = ["a1", "a2", "a3", "b1", "b2", "b3", "mid"]
    vecs = [[1, 0.05], [1, -0.05], [1, 0.0], [0.05, 1], [-0.05, 1], [0.0, 1], [1, 1]]
    hist = [["a1", "a2", "b1", "b2"]]
    mean = _toy_model(Item2VecConfig(user_vector="mean"), keys, vecs)
    assert mean.recommend_users(hist, k=1).keys[0].tolist() == ["mid"]
    multi = _toy_model(Item2VecConfig(user_vector="multi_interest", n_interests=2), keys, vecs)
    assert set(multi.recommend_users(hist, k=2).keys[0].tolist()) == {"a3", "b3"}


def test_unknown_items_are_reported_and_popularity_answers_empty_histories():
    keys = ["p", "q", "r"]
    m = _toy_model(Item2VecConfig(), keys, [[1, 0], [0, 1], [1, 1]], counts=[1, 50, 7])
    rec = m.recommend(["p", "nope"], k=2)
    assert rec.unknown == ["nope"]
    assert "p" not in rec.keys.tolist()
    cold = m.recommend_users([["zzz"]], k=3)
    assert cold.unknown == [["zzz"]]
    assert cold.keys[0].tolist() == ["q", "r", "p"]  # by training count
    scores = m.score([["p"]], ["q", "missing"])
    assert scores.shape == (1, 2) and scores[0, 1] == -np.inf


def test_batch_equals_single_and_k_larger_than_catalogue():
    users, _ = _clustered_users(n_users=100)
    m = Item2Vec(Item2VecConfig(dim=8, epochs=2, workers=1)).fit(users, progress=False)
    hist = [users[0][:3], users[1][:5]]
    batch = m.recommend_users(hist, k=7)
    for h, row, sc in zip(hist, batch.keys, batch.scores, strict=True):
        one = m.recommend(h, k=7)
        assert one.keys.tolist() == row.tolist()
        assert_allclose(one.scores, sc, rtol=1e-6)
    n = len(m.embeddings_)
    big = m.recommend(users[0][:3], k=n + 10)
    assert len(big.keys) == n - 3  # the whole catalogue minus the history


def test_save_load_round_trip(tmp_path):
    users, _ = _clustered_users(n_users=80)
    cfg = Item2VecConfig(dim=8, epochs=2, workers=1, user_vector="last_n", last_n=2)
    m = Item2Vec(cfg).fit(users, progress=False)
    m.save(tmp_path / "m")
    m2 = Item2Vec.load(tmp_path / "m")
    assert m2.config == cfg
    a, b = m.recommend_users(users[:5], k=5), m2.recommend_users(users[:5], k=5)
    assert a.keys.tolist() == b.keys.tolist()
    assert_allclose(a.scores, b.scores)
    with pytest.raises(ValueError, match="Item2Vec"):
        from embedrec import Word2Vec, Word2VecConfig

        Word2Vec(Word2VecConfig(min_count=1, dim=4, epochs=1, workers=1)).fit(
            [["a", "b"]] * 5, progress=False
        ).save(tmp_path / "w")
        Item2Vec.load(tmp_path / "w")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"mode": "bag"}, "mode='bag' is invalid"),
        ({"user_vector": "max"}, "user_vector='max' is invalid"),
        ({"last_n": 0}, "last_n=0 is invalid"),
        ({"half_life": 0.0}, "half_life=0.0 is invalid"),
        ({"window": 0}, "window=0 is invalid"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Item2VecConfig(**kwargs)


def test_bad_input_is_named():
    m = Item2Vec(Item2VecConfig(dim=4, epochs=1, workers=1))
    with pytest.raises(TypeError, match="not a path"):
        m.fit("interactions.csv", progress=False)
    with pytest.raises(ValueError, match="empty"):
        m.fit(Interactions.from_arrays(np.array([], dtype=np.int64), np.array([], np.int64)))
    m.fit([["a", "b"]] * 5, progress=False)
    with pytest.raises(TypeError, match="wrap a single history in a list"):
        m.recommend_users(["a", "b"], k=1)


def test_from_vectors_recommends_by_cosine_and_checks_shapes() -> None:
    # three items on the unit circle: b is 10 degrees from a, c is 90 degrees from a, so a
    # history [a] ranks b first (cos 10deg = 0.985) and c second (cos 90deg = 0)
    vec = np.array(
        [[1.0, 0.0], [np.cos(np.pi / 18), np.sin(np.pi / 18)], [0.0, 1.0]], dtype=np.float32
    )
    emb = Embeddings(["a", "b", "c"], vec)
    model = Item2Vec.from_vectors(emb, counts=[5, 1, 9])
    rec = model.recommend(["a"], k=2)
    assert rec.keys.tolist() == ["b", "c"]
    np.testing.assert_allclose(rec.scores, [np.cos(np.pi / 18), 0.0], atol=1e-6)
    # a history with no known item falls back to the given counts (c is most popular)
    s = model.score([["zz"]], np.array(["a", "b", "c"], dtype=object))
    np.testing.assert_allclose(s[0], [5 / 9, 1 / 9, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="counts has shape"):
        Item2Vec.from_vectors(emb, counts=[1, 2])
    with pytest.raises(ValueError, match="output_weights has shape"):
        Item2Vec.from_vectors(emb, output_weights=np.zeros((2, 2), dtype=np.float32))


def test_most_similar_min_count_hides_rare_neighbours_by_hand():
    # counts in vocabulary order (descending): a, b, c popular; d seen once but closest to a
    keys = ["a", "b", "c", "d"]
    vecs = [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.99, 0.141]]
    m = _toy_model(Item2VecConfig(), keys, vecs, counts=[50, 20, 5, 1])
    assert m.most_similar("a", k=2).keys.tolist() == ["d", "b"]
    assert m.most_similar("a", k=2, min_count=5).keys.tolist() == ["b", "c"]
    # the query itself may be rare: its neighbours still come from the popular keys
    assert m.most_similar("d", k=1, min_count=20).keys.tolist() == ["a"]
    with pytest.raises(ValueError, match=r"no key was seen min_count=100 times.*50 times"):
        m.most_similar("a", k=3, min_count=100)
    with pytest.raises(ValueError, match="min_count=-1 is invalid"):
        m.most_similar("a", min_count=-1)


def test_n_at_least_refuses_counts_out_of_order():
    from embedrec.data.vocab import n_at_least

    assert [n_at_least(np.array([9, 5, 5, 2]), c) for c in (0, 3, 5, 6, 9)] == [4, 3, 3, 1, 1]
    with pytest.raises(ValueError, match="not in descending order"):
        n_at_least(np.array([1, 3]), 2)

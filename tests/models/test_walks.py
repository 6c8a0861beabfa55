"""DeepWalk and Node2Vec: config validation, walk corpora, planted communities, persistence.

Walk statistics are checked with chi-square tests at p > 1e-4 on fixed seeds (so a correct
sampler fails one of them with probability 1e-4 per seed; the seeds are fixed, so the run is
deterministic). Embedding quality is checked on planted structure with margins calibrated
over several seeds (stated at each test).
"""

import dataclasses
import logging
import math

import numpy as np
import pytest
from scipy import stats

from embedrec.data.graph import Graph
from embedrec.models import walks as walks_mod
from embedrec.models.eges import EGESConfig
from embedrec.models.walks import DeepWalk, DeepWalkConfig, Node2Vec, Node2VecConfig

#: Mr Hi's faction in the 1-based ids of karate.adjlist (Zachary 1977); the rest follow the Officer
MR_HI = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 17, 18, 20, 22}

SMALL = dict(dim=8, walks_per_node=2, walk_length=6, window=2, workers=1)


def _model(kind, **kw):
    """DeepWalk, or Node2Vec with a forced sampler (``kind`` = "deepwalk", "alias", "otf")."""
    if kind == "deepwalk":
        return DeepWalk(DeepWalkConfig(**kw))
    return Node2Vec(Node2VecConfig(sampler=kind, **kw))


KINDS = ["deepwalk", "alias", "otf"]


def _dense(graph):
    a = np.zeros((graph.n_nodes, graph.n_nodes), dtype=bool)
    rows = np.repeat(np.arange(graph.n_nodes), np.diff(graph.indptr))
    a[rows, graph.indices] = True
    return a


def _walk_ids(corpus):
    return np.repeat(np.arange(corpus.n_sentences), np.diff(corpus.offsets))


def _sbm(n_blocks=4, per_block=40, p_in=0.25, p_out=0.01, seed=0):
    """Undirected stochastic block model: edges i<j independently with p_in / p_out."""
    rng = np.random.default_rng(seed)
    n = n_blocks * per_block
    block = np.repeat(np.arange(n_blocks), per_block)
    i, j = np.triu_indices(n, k=1)
    prob = np.where(block[i] == block[j], p_in, p_out)
    keep = rng.random(i.size) < prob
    return Graph.from_edges(i[keep], j[keep], nodes=np.arange(n)), block


# ---------------------------------------------------------------------- configs
@pytest.mark.parametrize(
    "cls,kw,words",
    [
        (DeepWalkConfig, {"walks_per_node": 0}, ["walks_per_node=0", "walks_per_node>=1"]),
        (DeepWalkConfig, {"walk_length": 1}, ["walk_length=1", "walk_length>=2"]),
        (DeepWalkConfig, {"walk_length": 2.5}, ["walk_length=2.5", "integer"]),
        (DeepWalkConfig, {"workers": -1}, ["workers=-1", "0 for all cores"]),
        (DeepWalkConfig, {"seed": -3}, ["seed=-3", "0 <= seed"]),
        (DeepWalkConfig, {"weighted": "yes"}, ["weighted='yes'", "True or False"]),
        (DeepWalkConfig, {"dim": 0}, ["dim=0", "dim>=1"]),  # the engine's own message
        (DeepWalkConfig, {"negative": 0}, ["negative=0", "loss='hs'"]),
        (DeepWalkConfig, {"loss": "softmax"}, ["loss='softmax'", "'hs'"]),
        (Node2VecConfig, {"p": 0.0}, ["p=0.0", "p>0"]),
        (Node2VecConfig, {"q": math.inf}, ["q=inf", "finite q>0"]),
        (Node2VecConfig, {"sampler": "fast"}, ["sampler='fast'", "'otf'"]),
        (Node2VecConfig, {"walks_per_node": -1}, ["walks_per_node=-1"]),
        (DeepWalkConfig, {"window_update": "lazy"}, ["window_update='lazy'", "'sequential'"]),
    ],
)
def test_config_validation_names_field_value_and_fix(cls, kw, words):
    with pytest.raises(ValueError) as exc:
        cls(**kw)
    for w in words:
        assert w in str(exc.value)


def test_word2vec_config_is_skipgram_keeping_every_node():
    cfg = Node2VecConfig(dim=12, window=3, loss="hs", negative=0, alpha=0.05, epochs=4, seed=9)
    w2v = cfg.word2vec_config()
    assert (w2v.arch, w2v.loss, w2v.min_count) == ("skipgram", "hs", 1)
    assert (w2v.dim, w2v.window, w2v.alpha, w2v.epochs, w2v.seed) == (12, 3, 0.05, 4, 9)
    assert w2v.workers is None  # workers=0: all cores
    assert DeepWalkConfig(workers=3).word2vec_config().workers == 3
    assert DeepWalkConfig().word2vec_config().sample == 0.0


def test_config_dict_round_trip_and_unknown_fields():
    cfg = Node2VecConfig(p=0.5, q=2.0, sampler="otf", dim=8)
    assert Node2VecConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown DeepWalkConfig fields \['p'\]"):
        DeepWalkConfig.from_dict({"p": 2.0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.p = 3.0  # type: ignore[misc]


# ---------------------------------------------------------------------- walk corpora
@pytest.mark.parametrize("block", [None, 7])
@pytest.mark.parametrize("kind", KINDS)
def test_walks_follow_arcs_and_every_node_starts_walks_per_node_walks(kind, block, monkeypatch):
    """``block=7``: the 111 walks come in 16 kernel calls whose offsets must be stitched."""
    if block is not None:
        monkeypatch.setattr(walks_mod, "WALK_BLOCK", block)
    graph, _ = _sbm(n_blocks=3, per_block=12, p_in=0.4, p_out=0.05, seed=1)
    graph = Graph.from_edges(
        *np.nonzero(np.triu(_dense(graph))), nodes=np.arange(graph.n_nodes + 1)
    )  # plus one isolated node
    extra = {} if kind == "deepwalk" else {"p": 0.5, "q": 2.0}
    model = _model(kind, walks_per_node=3, walk_length=7, **extra)
    corpus = model.walks(graph)
    n = graph.n_nodes
    adj = _dense(graph)
    wid = _walk_ids(corpus)
    same = wid[:-1] == wid[1:]
    assert adj[corpus.tokens[:-1][same], corpus.tokens[1:][same]].all()
    starts = corpus.tokens[corpus.offsets[:-1]]
    assert corpus.n_sentences == 3 * n
    # each round is a permutation of all nodes
    for r in range(3):
        assert np.array_equal(np.sort(starts[r * n : (r + 1) * n]), np.arange(n))
    lengths = np.diff(corpus.offsets)
    deg = np.diff(graph.indptr)
    assert np.array_equal(lengths, np.where(deg[starts] > 0, 7, 1))  # isolated: length 1
    # the rounds are shuffled differently (the chance that two 37-node permutations agree
    # is 1/37!)
    assert not np.array_equal(starts[:n], starts[n : 2 * n])


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_gives_the_same_walks_for_one_and_two_workers(kind):
    graph, _ = _sbm(n_blocks=2, per_block=30, p_in=0.3, p_out=0.05, seed=2)
    extra = {} if kind == "deepwalk" else {"p": 0.25, "q": 4.0}
    one = _model(kind, walks_per_node=4, walk_length=10, workers=1, seed=5, **extra)
    two = _model(kind, walks_per_node=4, walk_length=10, workers=2, seed=5, **extra)
    other = _model(kind, walks_per_node=4, walk_length=10, workers=1, seed=6, **extra)
    a, b, c = one.walks(graph), two.walks(graph), other.walks(graph)
    assert np.array_equal(a.tokens, b.tokens)
    assert np.array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.tokens, c.tokens)


def _star():
    """Center 0 with leaves 1, 2, 3 at weights 1, 6, 3 (undirected)."""
    return Graph.from_edges([0, 0, 0], [1, 2, 3], np.array([1.0, 6.0, 3.0]))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("weighted", [True, False])
def test_weights_steer_the_steps(kind, weighted):
    """Walks of 3 nodes on the star: every walk leaves the center exactly once (0 x 0 from the
    center, x 0 y from a leaf), so 4 * 500 = 2000 independent steps out of 0. With p = q = 1
    they go to leaves 1, 2, 3 with probability 1/10, 6/10, 3/10 (weights 1, 6, 3), or 1/3 each
    when ``weighted=False``. Chi-square, p > 1e-4."""
    model = _model(kind, walks_per_node=500, walk_length=3, weighted=weighted, seed=3)
    corpus = model.walks(_star())
    wid = _walk_ids(corpus)
    pair = (wid[:-1] == wid[1:]) & (corpus.tokens[:-1] == 0)
    nxt = corpus.tokens[1:][pair]
    assert nxt.size == 2000
    observed = np.bincount(nxt, minlength=4)[1:]
    expected = np.array([0.1, 0.6, 0.3]) if weighted else np.full(3, 1 / 3)
    assert stats.chisquare(observed, expected * 2000).pvalue > 1e-4
    other = np.full(3, 1 / 3) if weighted else np.array([0.1, 0.6, 0.3])
    assert stats.chisquare(observed, other * 2000).pvalue < 1e-20


@pytest.mark.parametrize("sampler", ["alias", "otf"])
def test_node2vec_return_and_in_out_parameters(sampler):
    """Edges 0-1, 1-2, 1-3, 0-2. After the step 0 -> 1 the next node is 0 (return: 1/p),
    2 (adjacent to 0: 1) or 3 (two hops from 0: 1/q). With p = 0.5, q = 4 the weights are
    2 : 1 : 0.25 = 8 : 4 : 1, probabilities 8/13, 4/13, 1/13. Walks of 3 nodes from 0 take
    0 -> 1 half of the time (0 has neighbours 1 and 2): about 3000 of 6000. Chi-square,
    p > 1e-4; swapping p and q (weights 4 : 1 : 2) would fail it."""
    g = Graph.from_edges([0, 1, 1, 0], [1, 2, 3, 2])
    cfg = Node2VecConfig(p=0.5, q=4.0, sampler=sampler, walks_per_node=6000, walk_length=3, seed=4)
    corpus = Node2Vec(cfg).walks(g)
    w = corpus.tokens.reshape(-1, 3)  # no dangling node: every walk has 3 nodes
    via = w[(w[:, 0] == 0) & (w[:, 1] == 1)]
    assert 2700 < len(via) < 3300  # Binomial(6000, 1/2): sd 39, so this is +-7.7 sd
    observed = np.array([(via[:, 2] == x).sum() for x in (0, 2, 3)])
    expected = np.array([8, 4, 1]) / 13 * len(via)
    assert stats.chisquare(observed, expected).pvalue > 1e-4


def test_auto_sampler_picks_alias_when_tables_fit(monkeypatch):
    # triangle: 6 arcs, each node has in- and out-degree 2: 3 * 2 * 2 = 12 (arc, next arc)
    # pairs at 8 bytes, plus 8 * (6 + 1) bytes of offsets = 96 + 56 = 152 bytes
    tri = Graph.from_edges([0, 1, 2], [1, 2, 0])
    assert Node2Vec.alias_bytes(tri) == 152
    model = Node2Vec(Node2VecConfig(**SMALL))
    model.walks(tri)
    assert model.sampler_ == "alias"
    monkeypatch.setattr(walks_mod, "ALIAS_MAX_BYTES", 151)
    model.walks(tri)
    assert model.sampler_ == "otf"


# ---------------------------------------------------------------------- fit
def test_fit_renumbers_by_walk_count_and_keys_by_node_key():
    g = Graph.from_edges(["hub"] * 4 + ["a"], ["a", "b", "c", "d", "b"], nodes=["lonely"])
    model = DeepWalk(DeepWalkConfig(**SMALL)).fit(g, progress=False)
    corpus = model.walks(g)  # same seed: the walks fit trained on
    counts = np.bincount(corpus.tokens, minlength=g.n_nodes)
    keys = model.vocab_.keys
    assert sorted(keys) == sorted(g.keys.tolist())  # every node has a row, the isolated one too
    assert model.embeddings_.keys == keys
    # descending walk count, ties in graph order
    assert keys == g.keys[np.argsort(-counts, kind="stable")].tolist()
    assert model.vocab_.counts.tolist() == sorted(counts.tolist(), reverse=True)
    assert keys[0] == "hub"  # degree 4 of 10 arc ends: the most visited node
    assert counts[g.index_of("lonely")] == 2  # two 1-node walks, still a row
    assert model.walks_stats_ == {"n_walks": 2 * 6, "n_tokens": int(corpus.n_tokens)}
    assert set(model.timings_) == {"walks_s", "train_s"}
    assert model.embeddings_.vectors.shape == (6, 8)
    assert model.embeddings_.metric == "cosine"


def test_progress_logs_the_walk_rate(caplog):
    g = Graph.from_edges([0, 1, 2], [1, 2, 3])
    with caplog.at_level(logging.INFO, logger="embedrec"):
        DeepWalk(DeepWalkConfig(**SMALL)).walks(g, progress=True)
    assert "walks: 8 walks" in caplog.text and "walks/s" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="embedrec"):
        DeepWalk(DeepWalkConfig(**SMALL)).walks(g, progress=False)
    assert "walks/s" not in caplog.text


def test_fit_rejects_what_is_not_a_graph():
    with pytest.raises(TypeError, match=r"Graph\.from_edgelist"):
        DeepWalk(DeepWalkConfig(**SMALL)).fit([[0, 1], [1, 2]], progress=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_directed_graph_with_a_dangling_node(kind):
    """0 -> 1 -> 2 -> 0 and 2 -> 3; node 3 has no out-arc, so walks stop there."""
    g = Graph.from_edges([0, 1, 2, 2], [1, 2, 0, 3], directed=True)
    extra = {} if kind == "deepwalk" else {"p": 2.0, "q": 0.5}
    model = _model(kind, dim=8, walks_per_node=20, walk_length=8, window=2, workers=1, **extra)
    corpus = model.walks(g)
    lengths = np.diff(corpus.offsets)
    last = corpus.tokens[corpus.offsets[1:] - 1]
    assert np.all((lengths == 8) | (last == 3))  # a walk ends early only at the dangling node
    assert np.all(lengths[corpus.tokens[corpus.offsets[:-1]] == 3] == 1)
    wid = _walk_ids(corpus)
    same = wid[:-1] == wid[1:]
    assert _dense(g)[corpus.tokens[:-1][same], corpus.tokens[1:][same]].all()
    model.fit(g, progress=False)
    assert sorted(model.embeddings_.keys) == [0, 1, 2, 3]
    assert np.isfinite(model.embeddings_.vectors).all()


def test_callbacks_see_the_model_every_epoch():
    seen = []
    g = Graph.from_edges([0, 1, 2], [1, 2, 3])
    cfg = DeepWalkConfig(**{**SMALL, "epochs": 3})
    model = DeepWalk(cfg)
    model.fit(g, progress=False, callbacks=[lambda m, e, s: seen.append((m, e, s["loss"]))])
    assert [(m is model, e) for m, e, _ in seen] == [(True, 0), (True, 1), (True, 2)]
    assert len(model.loss_history_) == 3


@pytest.mark.parametrize("kind", ["deepwalk", "alias"])
def test_save_load_gives_identical_neighbours(kind, tmp_path):
    graph, _ = _sbm(n_blocks=2, per_block=15, seed=3)
    extra = {} if kind == "deepwalk" else {"p": 0.5, "q": 2.0}
    model = _model(kind, **SMALL, **extra).fit(graph, progress=False)
    model.save(tmp_path / "m")
    cls = type(model)
    loaded = cls.load(tmp_path / "m")
    assert loaded.config == model.config
    keys = list(range(graph.n_nodes))
    a, b = model.most_similar(keys, k=5), loaded.most_similar(keys, k=5)
    assert np.array_equal(a.keys, b.keys)
    assert np.array_equal(a.scores, b.scores)
    assert loaded.walks_stats_ == model.walks_stats_
    assert loaded.timings_ == model.timings_
    assert np.array_equal(loaded.vocab_.counts, model.vocab_.counts)
    other = DeepWalk if cls is Node2Vec else Node2Vec
    with pytest.raises(ValueError):
        other.load(tmp_path / "m")


# ---------------------------------------------------------------------- planted structure
def _loo_nearest_centroid(vectors, labels):
    """Leave-one-out accuracy of nearest-centroid (cosine) classification."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    hits = 0
    for i in range(len(unit)):
        keep = np.arange(len(unit)) != i
        cents = [unit[keep & (labels == c)].mean(axis=0) for c in (0, 1)]
        pred = int(np.argmax([unit[i] @ c / np.linalg.norm(c) for c in cents]))
        hits += pred == labels[i]
    return hits / len(unit)


@pytest.mark.parametrize("kind", ["deepwalk", "alias", "otf"])
def test_karate_club_factions_are_separated(kind, shared_data):
    """Leave-one-out nearest-centroid accuracy of the faction on the node vectors.

    Calibration (seeds 1-20, dim 16, 20 walks of 20 nodes per node, window 5, 5 epochs,
    node2vec p=1, q=0.5): the accuracy was 0.94-0.97 for DeepWalk and both node2vec samplers
    (never below 32 of 34 nodes); the bar, 0.85, is 29 of 34: a margin of three nodes.
    """
    path = shared_data.require("graphs", "karate", "karate.adjlist")
    g = Graph.from_adjlist(path)
    extra = {} if kind == "deepwalk" else {"p": 1.0, "q": 0.5}
    model = _model(
        kind,
        dim=16,
        walks_per_node=20,
        walk_length=20,
        window=5,
        epochs=5,
        workers=1,
        seed=1,
        **extra,
    ).fit(g, progress=False)
    keys = g.keys.tolist()
    labels = np.array([0 if k in MR_HI else 1 for k in keys])
    vectors = model.embeddings_.get_vectors(keys)
    assert _loo_nearest_centroid(vectors, labels) >= 0.85


@pytest.mark.parametrize("kind", ["deepwalk", "alias", "otf"])
def test_planted_communities_keep_neighbours_in_block(kind):
    """4 blocks of 40 nodes, p_in 0.25, p_out 0.01: about 10 in-block and 1.2 out-of-block
    neighbours per node. The 5 nearest neighbours of every node stay in its block >= 90%
    (calibration over graph and model seeds 1-10: 0.988-1.0 for all three samplers)."""
    graph, block = _sbm()
    extra = {} if kind == "deepwalk" else {"p": 1.0, "q": 0.5}
    model = _model(
        kind, dim=16, walks_per_node=10, walk_length=20, window=5, epochs=3, workers=1, **extra
    ).fit(graph, progress=False)
    keys = graph.keys.tolist()
    near = model.most_similar(keys, k=5).keys
    assert np.mean(block[near] == block[np.array(keys)][:, None]) >= 0.9


def test_old_saved_walk_configs_keep_their_training_mode():
    # saves made before window_update took over shared_negatives
    old = {"shared_negatives": False, "window_update": "sequential"}
    assert DeepWalkConfig.from_dict(old).window_update == "exact"
    old = {"shared_negatives": True, "window_update": "batch", "p": 0.5}
    assert Node2VecConfig.from_dict(old).window_update == "batch"
    assert EGESConfig.from_dict({"shared_negatives": True, "window_update": "batch"}).mode == "eges"
    with pytest.raises(ValueError, match="window_update='exact' is invalid; use 'batch'"):
        EGESConfig(window_update="exact")

"""SessionEmbed and the session model base: counted tables by hand, planted structure,
the key-level API and bad input."""

import numpy as np
import pytest

from embedrec.data.interactions import Interactions
from embedrec.eval.sessions import evaluate_sessions
from embedrec.models.item2vec import Item2Vec, Item2VecConfig
from embedrec.models.session_base import as_sessions, recode
from embedrec.models.session_embed import (
    N_RANKS,
    SessionEmbed,
    SessionEmbedConfig,
    recency_ranks,
    repeat_tables,
)


def small(**kw):
    cfg = SessionEmbedConfig(calibrate=False, **kw)
    return SessionEmbed(cfg, embedder=Item2Vec(Item2VecConfig(dim=16, epochs=20, workers=1)))


def test_repeat_tables_by_hand():
    # one session a b a a: prefixes (a)->b new, (a b)->a repeat, (a b a)->a repeat
    # buckets by prefix length 1, 2, 3; "holds a re-click" is 1 only for (a b a)
    #   (len 1, no rep): 0 of 1 -> (0+1)/(1+2) = 1/3
    #   (len 2, no rep): 1 of 1 -> 2/3
    #   (len 3, rep):    1 of 1 -> 2/3
    # recency ranks of the repeat targets: (a b)->a: a is rank 1 (b is the latest);
    # (a b a)->a: rank 0. Slots: (a b) has 2 distinct items (ranks 0, 1), (a b a) 2 too.
    # rank_hits = 1 + [1, 1, 0...], rank_slots = 1 + [2, 2, 0...]: share 2/3, 2/3, 1, 1, ...
    s = as_sessions([["a", "b", "a", "a"]])
    rep, share = repeat_tables(s)
    assert rep[0, 0] == pytest.approx(1 / 3)
    assert rep[1, 0] == pytest.approx(2 / 3)
    assert rep[2, 1] == pytest.approx(2 / 3)
    assert rep[3, 0] == pytest.approx(1 / 2)  # no prefix of length 4: the prior
    raw = np.array([2 / 3, 2 / 3] + [1.0] * (N_RANKS - 2))
    np.testing.assert_allclose(share, raw / raw.sum(), rtol=1e-6)


def test_recency_ranks_by_hand():
    # prefix 0: a b a c (back 3 2 1 0): distinct by latest occurrence c(0) a(1) b(2)
    # prefix 1: d (back 0): rank 0
    owner = np.array([0, 0, 0, 0, 1])
    items = np.array([0, 1, 0, 2, 3])
    back = np.array([3.0, 2.0, 1.0, 0.0, 0.0])
    p, it, rank = recency_ranks(owner, items, back)
    got = sorted(zip(p.tolist(), it.tolist(), rank.tolist(), strict=True))
    assert got == [(0, 0, 1), (0, 1, 2), (0, 2, 0), (1, 3, 0)]


def test_planted_chains_are_continued_and_scores_are_a_distribution():
    # two disjoint chains; after "a1 a2" the next item should be a3, never from chain b
    rng = np.random.default_rng(0)
    chains = [[f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]]
    sessions = []
    for _ in range(300):
        c = chains[rng.integers(2)]
        start = int(rng.integers(0, 3))
        sessions.append(c[start : start + 3 + int(rng.integers(0, 3))])
    model = small().fit(sessions)
    keys = model.recommend(["a1", "a2"], k=3).keys.tolist()
    assert keys[0] in {"a3", "a2", "a1"} and all(k.startswith("a") for k in keys)
    prefixes = as_sessions([["a1", "a2"], ["b0"]])
    prefixes, _ = recode(prefixes, model.item_keys_)
    scores = model._score_prefixes(prefixes)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-4)
    assert (scores >= 0).all()


def test_repeats_rank_by_recency_with_the_counted_rule():
    # sessions re-click their latest item often: after (x, y) the item y must lead
    sessions = [["x", "y", "y", "z"], ["y", "x", "x"], ["z", "z", "x"], ["x", "z", "z"]] * 30
    model = small().fit(sessions)
    assert model.rank_share_[0] > model.rank_share_[1]
    top = model.recommend(["x", "y"], k=3).keys.tolist()
    assert top.index("y") < top.index("x")


def test_evaluate_sessions_runs_on_the_model_and_unknown_keys_are_listed():
    sessions = [["a", "b", "c"], ["b", "c", "d"], ["a", "c", "d"]] * 20
    model = small().fit(sessions)
    test = Interactions.from_arrays([0, 0, 0], ["a", "b", "zz"], [0, 1, 2])
    r = evaluate_sessions(model, test, ks=(2,))
    assert r.n_predictions == 2 and r.n_unknown_targets == 1
    rec = model.recommend(["a", "nope"], k=2)
    assert rec.unknown == ["nope"] and len(rec.keys) == 2
    # an empty history gets the most popular items: c (60 events), then a (40; ties by code)
    assert model.recommend([], k=2).keys.tolist() == ["c", "a"]


def test_calibration_picks_values_from_its_grid():
    import embedrec.models.session_embed as se

    rng = np.random.default_rng(1)
    times, users, items = [], [], []
    for s in range(1200):
        length = int(rng.integers(2, 5))
        for j in range(length):
            users.append(s)
            items.append(int(rng.integers(0, 30)))
            times.append(s * 10.0 + j)
    log = Interactions.from_arrays(users, items, times)
    cfg = SessionEmbedConfig(calibrate=True)
    model = SessionEmbed(cfg, embedder=Item2Vec(Item2VecConfig(dim=8, epochs=2, workers=1)))
    model.fit(log)
    assert model.scoring_["half_life"] in (0.5, 1.0, 2.0)
    assert model.scoring_["transition_weight"] in (0.0, 0.3, 0.6)
    # a grid temperature, or one doubled (halved) past its edge within the range
    reachable = {0.7, 1.0} | {1.4 * 2.0**i for i in range(6)} | {0.5 / 2.0**i for i in range(3)}
    assert any(np.isclose(model.scoring_["temperature"], t) for t in reachable)
    lo, hi = se.TEMPERATURE_RANGE
    assert lo <= model.scoring_["temperature"] <= hi


def test_bad_config_and_unfitted_use_are_named():
    with pytest.raises(ValueError, match="temperature"):
        SessionEmbedConfig(temperature=0)
    with pytest.raises(ValueError, match="repeat_rule"):
        SessionEmbedConfig(repeat_rule="last")
    with pytest.raises(ValueError, match="max_epochs"):
        SessionEmbedConfig(min_epochs=10, max_epochs=5)
    with pytest.raises(RuntimeError, match="not fitted"):
        SessionEmbed().recommend(["a"])
    with pytest.raises(ValueError, match="no session has an item"):
        small().fit([[], []])
    assert SessionEmbedConfig().epochs_for(70_000) == 143
    assert SessionEmbedConfig().epochs_for(10**9) == 10
    assert SessionEmbedConfig.from_dict(SessionEmbedConfig().to_dict()) == SessionEmbedConfig()


def test_graph_embedder_on_the_session_graph():
    from embedrec.models import DeepWalk, DeepWalkConfig

    sessions = [["a", "b", "c"], ["b", "c", "d"], ["c", "d", "a"]] * 10
    dw = DeepWalk(DeepWalkConfig(dim=8, walks_per_node=4, walk_length=10, workers=1))
    model = SessionEmbed(SessionEmbedConfig(calibrate=False), embedder=dw).fit(sessions)
    assert model.embedder_ is not dw  # a fresh copy of the given configuration is fitted
    assert model.in_.shape == (4, 8)
    assert len(model.recommend(["a", "b"], k=3).keys) == 3


def test_score_prefixes_maps_other_key_tables():
    sessions = [["a", "b", "c"], ["b", "c", "d"]] * 10
    model = small().fit(sessions)
    other = as_sessions([["c", "b"]])  # its own table: b, c
    mine, _ = recode(other, model.item_keys_)
    np.testing.assert_array_equal(model.score_prefixes(other), model.score_prefixes(mine))


def popularity_reranker():
    from embedrec.models.session_rerank import FEATURES, Reranker

    rr = Reranker()
    rr.weights_ = np.zeros(len(FEATURES))
    rr.weights_[FEATURES.index("popularity")] = 1.0
    return rr


def test_a_given_reranker_is_used_as_it_is_and_survives_a_save(tmp_path):
    # training clicks: c 35, b 20, a 10, d 5; a re-ranker that reads popularity alone orders
    # every candidate (4 items < N_CANDIDATES) by it, whatever the mixture says
    sessions = [["a", "b", "c", "c"]] * 10 + [["b", "c"]] * 10 + [["d", "c"]] * 5
    rr = popularity_reranker()
    model = SessionEmbed(
        SessionEmbedConfig(calibrate=True),
        embedder=Item2Vec(Item2VecConfig(dim=8, epochs=5, workers=1)),
        reranker=rr,
    ).fit(sessions)
    assert model.reranker_ is rr
    assert model.recommend(["a"], k=4).keys.tolist() == ["c", "b", "a", "d"]
    model.save(tmp_path / "m")
    back = SessionEmbed.load(tmp_path / "m")
    np.testing.assert_array_equal(back.reranker_.weights_, rr.weights_)
    assert back.recommend(["a"], k=4).keys.tolist() == ["c", "b", "a", "d"]
    assert back.knn_.session_items_.shape == model.knn_.session_items_.shape


def test_reranker_saved_before_the_neighbour_votes_loads_with_zero_weights_for_them():
    from embedrec.models.session_rerank import FEATURES, LEGACY_FEATURES, Reranker

    sessions = [["a", "b", "c"], ["b", "c", "d"], ["a", "c", "d"]] * 20
    model = small().fit(sessions)
    rr = Reranker()
    rr.weights_ = np.linspace(0.5, 1.5, len(FEATURES))
    model.reranker_ = rr
    arrays, facts = model._state()
    facts["reranker"] = facts["reranker"][:LEGACY_FEATURES]  # an old save: 9 weights
    old = SessionEmbed(model.config)
    old.item_keys_, old.item_counts_ = model.item_keys_, model.item_counts_
    old._set_state(arrays, facts)
    want = rr.weights_.copy()
    want[LEGACY_FEATURES:] = 0.0
    np.testing.assert_array_equal(old.reranker_.weights_, want)
    model.reranker_.weights_ = want
    prefixes, _ = recode(as_sessions([["a", "b"], ["d"]]), model.item_keys_)
    np.testing.assert_allclose(
        old._score_prefixes(prefixes), model._score_prefixes(prefixes), rtol=1e-6
    )


def test_calibration_fits_the_reranker_on_probes_that_never_counted_the_held_out_clicks(
    monkeypatch,
):
    # 600 sessions in time order; only the latest 120 click "z". Their 1,200 predictions
    # are too few to choose on, so calibration is cross-fitted: five blocks of 120
    # sessions, each held out from its own probe. No probe has counted a click of the
    # block it predicts; the final model has counted every click.
    import embedrec.models.session_embed as se

    users, items, times = [], [], []
    for j in range(600):
        seq = ["a", "b", "z"] if j >= 480 else ["a", "b", "c"]
        users += [j] * 3
        items += seq
        times += [100.0 * j, 100.0 * j + 1, 100.0 * j + 2]
    seen = []

    def record(folds):
        for probe, late in folds:
            counts = dict(zip(probe.item_keys_.tolist(), probe.item_counts_.tolist(), strict=True))
            keys, n = np.unique(late.item_keys[late.items], return_counts=True)
            held = {k: int(v) for k, v in zip(keys.tolist(), n.tolist(), strict=True)}
            seen.append((counts, held, len(late)))
        return None, float("nan")

    monkeypatch.setattr(se, "fit_reranker_folds", record)
    model = SessionEmbed(embedder=Item2Vec(Item2VecConfig(dim=8, epochs=2, workers=1)))
    model.fit(Interactions.from_arrays(users, items, times))
    assert model.calibration_parts_ == 5
    assert [n for _, _, n in seen] == [120] * 5
    total = {"a": 600, "b": 600, "c": 480, "z": 120}
    for counts, held, _ in seen:
        # the probe's counts + its held-out clicks = all clicks, for the items it knows;
        # the held-out sessions hold no click on an item it does not know
        assert {k: counts[k] + held.get(k, 0) for k in counts} == {k: total[k] for k in counts}
        assert set(held) <= set(counts)
    # the latest block (last) is the sessions with "z": that probe does not know "z" at all
    # (and its held-out sessions lose their "z" clicks, as a test log loses unseen items)
    assert seen[-1][0] == {"a": 480, "b": 480, "c": 480}
    assert dict(zip(model.item_keys_.tolist(), model.item_counts_.tolist(), strict=True)) == {
        "a": 600,
        "b": 600,
        "c": 480,
        "z": 120,
    }

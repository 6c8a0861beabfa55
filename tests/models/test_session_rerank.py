"""The conditional-logit re-ranker: planted signals are learned, the order contract holds."""

import numpy as np
import pytest

from embedrec.models.session_rerank import (
    CONTEXT,
    FEATURES,
    N_CANDIDATES,
    MLPReranker,
    Reranker,
    candidates,
    context,
    reranker_from_state,
    reranker_state,
)


def test_a_planted_feature_gets_the_weight_and_the_prior_is_the_mixture_order():
    rng = np.random.default_rng(0)
    n, c, d = 400, 6, len(FEATURES)
    f = rng.normal(size=(n, c, d))
    # the clicked candidate is the one with the largest feature 2 ("in_session" slot)
    target = f[:, :, 2].argmax(axis=1)
    rr = Reranker(ridge=0.1).fit(f, target)
    assert rr.weights_[2] > 3 * np.abs(np.delete(rr.weights_, 2)).max()
    # with no data the weights stay at the prior: weight 1 on log_mixture, 0 elsewhere
    prior = Reranker().fit(f[:0], target[:0]).weights_
    assert prior[0] == 1.0 and not prior[1:].any()
    # rows whose click is not a candidate (-1) are left out
    same = Reranker(ridge=0.1).fit(np.concatenate([f, f[:5]]), np.r_[target, [-1] * 5])
    np.testing.assert_allclose(same.weights_, rr.weights_, rtol=1e-6)


def _penalised_loss(f, target, w, ridge=1.0):
    prior = np.zeros(f.shape[2])
    prior[0] = 1.0
    s = f @ w
    top = s.max(axis=1, keepdims=True)
    lse = np.log(np.exp(s - top).sum(axis=1)) + top[:, 0]
    return (lse - s[np.arange(target.size), target]).sum() + 0.5 * ridge * ((w - prior) ** 2).sum()


@pytest.mark.parametrize("seed", range(8))
def test_the_linear_fit_reaches_the_penalised_optimum_on_small_separable_data(seed):
    # features of the size of real ones (logs of probabilities reach -20) on a few dozen
    # prefixes whose click is marked by one feature: full Newton steps overshoot here (the
    # softmax saturates, the curvature vanishes) and ended at losses 10^5-10^7 times the
    # optimum; the fit must reach what a reference optimiser (scipy's L-BFGS) reaches
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    n, c, d = int(rng.integers(20, 200)), 10, len(FEATURES)
    f = rng.normal(size=(n, c, d)) * (5.0 if seed % 2 else 20.0)
    f[..., 2] = rng.random((n, c)) < 0.2
    target = rng.integers(0, c, size=n)
    f[np.arange(n), target, 2] = 1.0
    w0 = np.zeros(d)
    w0[0] = 1.0
    ref = minimize(
        lambda w: _penalised_loss(f, target, w),
        w0,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10_000},
    )
    got = Reranker().fit(f, target).weights_
    assert _penalised_loss(f, target, got) <= ref.fun + 1e-6 * abs(ref.fun)
    np.testing.assert_allclose(got, ref.x, atol=1e-3)


def test_candidates_are_the_top_scores_of_each_row():
    mix = np.array([[0.1, 0.5, 0.2, 0.9], [0.4, 0.3, 0.2, 0.1]], dtype=np.float32)
    got = np.sort(candidates(mix, 2), axis=1).tolist()
    assert got == [[1, 3], [0, 1]]
    assert candidates(mix, 10).shape == (2, 4)
    assert N_CANDIDATES >= 20


def test_neighbour_votes_enter_as_logs_split_by_session_membership():
    from types import SimpleNamespace

    from embedrec.models.session_rerank import features

    z = np.zeros((1, 4), dtype=np.float32)
    parts = SimpleNamespace(
        explore=z + 0.25,
        repeat=z,
        beta=np.array([0.5], dtype=np.float32),
        trans=z,
        counts=np.array([[1.0, 0, 0, 0]], dtype=np.float32),  # item 0 is in the session
        last=np.array([0]),
        item_counts=np.array([1, 2, 3, 4]),
        knn=np.array([[4.0, 2.0, 1.0, 0.0]], dtype=np.float32),
    )
    mix = z + 0.25
    cand = np.array([[0, 1, 2]])
    f = features(parts, mix, cand)
    new, mine = FEATURES.index("log_knn_new"), FEATURES.index("log_knn_session")
    # votes over the row's top vote (4): 1, 1/2, 1/4 -> log(v + 0.001)
    np.testing.assert_allclose(f[0, :, new], [0.0, np.log(0.501), np.log(0.251)], rtol=1e-9)
    np.testing.assert_allclose(f[0, :, mine], [np.log(1.001), 0.0, 0.0], rtol=1e-9)
    parts.knn = None  # no votes (a model saved before them): both columns are 0
    assert not features(parts, mix, cand)[..., [new, mine]].any()


def planted_switch(n=1200, c=8, seed=0):
    """Prefixes whose click is a session item when the gate says "re-click" (context column
    0 is 1) and a new item otherwise; among those, the one with the largest feature 1.
    The context alone cancels in the softmax over a prefix's candidates and the sign of
    ``in_session``'s weight can't follow it, so a linear score can't express the switch."""
    rng = np.random.default_rng(seed)
    d = len(FEATURES)
    f = rng.normal(size=(n, c, d)) * 0.1
    inside = np.zeros((n, c))
    inside[:, : c // 2] = 1.0  # half the candidates are session items
    f[..., 2] = inside
    f[..., 1] = rng.normal(size=(n, c))
    ctx = np.zeros((n, len(CONTEXT)))
    ctx[:, 0] = rng.integers(0, 2, size=n)
    want = np.where(ctx[:, :1] == 1.0, inside, 1.0 - inside)
    target = np.where(want > 0, f[..., 1], -np.inf).argmax(axis=1)
    return f, target, ctx


def test_the_mlp_learns_a_switch_on_the_prefix_context_that_the_linear_score_cannot():
    f, target, ctx = planted_switch()
    test_f, test_t, test_c = planted_switch(seed=1)
    lin = Reranker().fit(f, target, ctx)
    mlp = MLPReranker(hidden=16, seed=0).fit(f, target, ctx)

    def hit(rr):
        return float((rr.score(test_f, test_c).argmax(axis=1) == test_t).mean())

    # right half of the candidates at best by feature 1 alone: a chance of about 1/2 of the
    # "right side" winning the argmax; the MLP follows the switch
    assert hit(lin) < 0.7
    assert hit(mlp) > 0.9
    # the same seed gives the same weights
    again = MLPReranker(hidden=16, seed=0).fit(f, target, ctx)
    np.testing.assert_array_equal(again.hidden_weights_, mlp.hidden_weights_)
    with pytest.raises(ValueError, match="needs ctx"):
        MLPReranker().fit(f, target)


def test_the_mlp_with_too_few_prefixes_is_the_linear_score():
    f, target, ctx = planted_switch(n=1)
    mlp = MLPReranker().fit(f, target, ctx)
    np.testing.assert_allclose(mlp.score(f, ctx), f @ Reranker().fit(f, target).weights_)


def test_context_is_the_gate_probability_and_the_length_bucket():
    from types import SimpleNamespace

    # prefix lengths (sums of counts) 1, 3, 7, 12 -> buckets none, "3", "5_9", "10"
    counts = np.zeros((4, 5), dtype=np.float32)
    counts[0, 0] = 1
    counts[1, :3] = 1
    counts[2, :2] = [4, 3]
    counts[3, 4] = 12
    beta = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    c = context(SimpleNamespace(beta=beta, counts=counts))
    np.testing.assert_allclose(c[:, 0], beta, rtol=1e-6)
    hot = c[:, 1:]
    assert hot.sum(axis=1).tolist() == [0, 1, 1, 1]
    names = [CONTEXT[1 + int(i)] for i in hot[1:].argmax(axis=1)]
    assert names == ["length_3", "length_5_9", "length_10"]


def test_reranker_states_round_trip_as_plain_numbers_and_bad_ones_are_refused():
    import json

    f, target, ctx = planted_switch(n=300)
    mlp = MLPReranker(hidden=4, max_epochs=3).fit(f, target, ctx)
    state = json.loads(json.dumps(reranker_state(mlp)))  # what a manifest holds
    back = reranker_from_state(state)
    assert isinstance(back, MLPReranker)
    np.testing.assert_array_equal(back.score(f, ctx), mlp.score(f, ctx))
    lin = Reranker().fit(f, target)
    assert reranker_state(lin) == lin.weights_.tolist()  # the format saved all along
    np.testing.assert_array_equal(reranker_from_state(reranker_state(lin)).weights_, lin.weights_)
    with pytest.raises(ValueError, match="unknown re-ranker kind 'trees'"):
        reranker_from_state({"kind": "trees"})
    broken = dict(state, hidden_bias=[0.0])  # 1 hidden unit, 4 in the other arrays
    with pytest.raises(ValueError, match="re-save the model"):
        reranker_from_state(broken)
    with pytest.raises(ValueError, match="re-save the model"):
        reranker_from_state({k: v for k, v in state.items() if k != "scale"})
    with pytest.raises(ValueError, match="re-save the model"):
        reranker_from_state([1.0, 2.0])


def test_a_session_embed_with_an_mlp_reranker_survives_a_save(tmp_path):
    from embedrec.models import Item2Vec, Item2VecConfig
    from embedrec.models.session_embed import SessionEmbed, SessionEmbedConfig

    sessions = [["a", "b", "c", "c"]] * 10 + [["b", "c"]] * 10 + [["d", "c"]] * 5
    rng = np.random.default_rng(3)
    mlp = MLPReranker(hidden=5)
    mlp.hidden_weights_ = rng.normal(size=mlp.hidden_weights_.shape)
    mlp.hidden_bias_ = rng.normal(size=5)
    mlp.output_weights_ = rng.normal(size=5)
    model = SessionEmbed(
        SessionEmbedConfig(calibrate=False),
        embedder=Item2Vec(Item2VecConfig(dim=8, epochs=5, workers=1)),
        reranker=mlp,
    ).fit(sessions)
    model.save(tmp_path / "m")
    back = SessionEmbed.load(tmp_path / "m")
    assert isinstance(back.reranker_, MLPReranker)
    items = list("abcd")
    for history in (["a"], ["a", "b", "c"], ["d", "d"]):
        np.testing.assert_allclose(
            back.score_next(history, items), model.score_next(history, items), rtol=1e-6
        )


def test_the_previous_clicks_rules_and_the_latest_clicks_cosine_by_hand():
    from types import SimpleNamespace

    from embedrec.models.session_rerank import features

    # items 0..3; unit vectors: 0 = e1, 1 = e2, 2 = (e1 + e2) / sqrt 2, 3 = -e1
    r = 1 / np.sqrt(2)
    unit = np.array([[1, 0], [0, 1], [r, r], [-1, 0]], dtype=np.float32)
    z = np.zeros((2, 4), dtype=np.float32)
    parts = SimpleNamespace(
        explore=z + 0.25,
        repeat=z,
        beta=np.array([0.5, 0.5], dtype=np.float32),
        trans=z,
        counts=np.array([[1.0, 1.0, 0, 0], [0, 1.0, 0, 0]], dtype=np.float32),
        last=np.array([1, 1]),  # prefixes (0, 1) and (1): the latest click is item 1
        item_counts=np.array([1, 2, 3, 4]),
        knn=None,
        # the rules of the click before the latest (item 0 in row 0; none in row 1)
        prev_rules=np.array([[0, 3.0, 1.0, 0], [0, 0, 0, 0]], dtype=np.float32),
        unit=unit,
    )
    cand = np.array([[1, 2, 3], [0, 2, 3]])
    f = features(parts, z + 0.25, cand)
    rules, cos = FEATURES.index("log_rules_prev"), FEATURES.index("last_cosine")
    np.testing.assert_allclose(f[0, :, rules], [np.log(4.0), np.log(2.0), 0.0])
    np.testing.assert_allclose(f[1, :, rules], [0.0, 0.0, 0.0])
    # cosine with item 1 (e2): itself 1, item 2 1/sqrt 2, item 3 and item 0 are orthogonal
    np.testing.assert_allclose(f[0, :, cos], [1.0, r, 0.0], atol=1e-6)
    np.testing.assert_allclose(f[1, :, cos], [0.0, r, 0.0], atol=1e-6)
    # a prefix with no latest click (-1) and parts without the two: both features 0
    bare = SimpleNamespace(**{**vars(parts), "last": np.array([-1, 1]), "unit": None})
    bare.prev_rules = None
    g = features(bare, z + 0.25, cand)
    assert not g[..., [rules, cos]].any()


def test_rerankers_saved_before_the_two_latest_features_score_as_they_did():
    import json

    from embedrec.models.session_rerank import VOTE_FEATURES

    rng = np.random.default_rng(5)
    f, target, ctx = planted_switch(n=200)
    mlp = MLPReranker(hidden=3, max_epochs=2).fit(f, target, ctx)
    later = list(range(VOTE_FEATURES, len(FEATURES)))
    # what an older version saved: no inputs for the later features
    old = json.loads(json.dumps(reranker_state(mlp)))
    old["weights"] = [w for j, w in enumerate(old["weights"]) if j not in later]
    for name in ("mean", "scale"):
        old[name] = [v for j, v in enumerate(old[name]) if j not in later]
    old["hidden_weights"] = [row for j, row in enumerate(old["hidden_weights"]) if j not in later]
    back = reranker_from_state(old)
    # the older model's score: the same numbers without the later features' columns
    keep = [j for j in range(len(FEATURES)) if j not in later]
    x = np.concatenate([f, np.broadcast_to(ctx[:, None, :], (*f.shape[:2], ctx.shape[1]))], 2)
    xs = (x - mlp.mean_) / mlp.scale_
    cols = keep + list(range(len(FEATURES), x.shape[2]))
    hidden = np.maximum(xs[..., cols] @ mlp.hidden_weights_[cols] + mlp.hidden_bias_, 0.0)
    want = f[..., keep] @ mlp.weights_[keep] + hidden @ mlp.output_weights_
    f_any = f.copy()
    f_any[..., later] = rng.normal(size=(*f.shape[:2], len(later)))  # whatever they are now
    np.testing.assert_allclose(back.score(f_any, ctx), want, rtol=1e-9, atol=1e-9)
    lin = reranker_from_state(old["weights"])
    assert lin.weights_[later].tolist() == [0.0] * len(later)

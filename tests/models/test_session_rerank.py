"""The conditional-logit re-ranker: planted signals are learned, the order contract holds."""

import numpy as np

from embedrec.models.session_rerank import FEATURES, N_CANDIDATES, Reranker, candidates


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

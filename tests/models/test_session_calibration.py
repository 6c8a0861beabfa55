"""SessionEmbed's calibration machinery: the held-out sessions it picks, the scoring grid and
the re-ranker check scored without the evaluator, and the ranks they count."""

import itertools

import numpy as np
import pytest

import embedrec.models.session_embed as se
from embedrec.data.interactions import Interactions
from embedrec.data.synthetic import session_log
from embedrec.eval.sessions import evaluate_sessions
from embedrec.models.item2vec import Item2Vec, Item2VecConfig
from embedrec.models.session_base import as_sessions
from embedrec.models.session_embed import (
    SessionEmbed,
    SessionEmbedConfig,
    calibration_hold,
    target_ranks,
)


def test_target_ranks_by_hand():
    # row 0: scores 1 3 3 0, target col 2: nothing scores higher, col 1 scores the same
    #   and comes first (lower column) -> 2
    # row 1: all equal, target col 2: cols 0 and 1 come first -> 3
    # row 2: target unknown -> 0
    scores = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
    ranks = target_ranks(scores.astype(np.float32), np.array([2, 2, -1]))
    assert ranks.tolist() == [2, 3, 0]


def test_target_ranks_match_top_k_order():
    from embedrec.index.topk import top_k

    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(50, 12)).astype(np.float32)  # many ties
    targets = rng.integers(0, 12, size=50)
    order = top_k(scores, 12, drop_inf=False)[0]
    expected = [int(np.flatnonzero(order[i] == targets[i])[0]) + 1 for i in range(50)]
    assert target_ranks(scores, targets).tolist() == expected


def _log(n_sessions, lengths, t0=0.0):
    users, items, times = [], [], []
    for s in range(n_sessions):
        length = lengths(s)
        users += [s] * length
        items += [f"i{(s + j) % 7}" for j in range(length)]
        times += [t0 + 100.0 * s + j for j in range(length)]
    return as_sessions(Interactions.from_arrays(users, items, times))


def test_calibration_hold_takes_the_latest_fifth():
    sessions = _log(1000, lambda s: 3)
    hold = calibration_hold(sessions)
    assert hold is not None and hold.sum() == 200
    assert np.flatnonzero(hold).min() == 800  # sessions come in time order here


def test_calibration_hold_caps_the_predictions(monkeypatch):
    # 1000 sessions of 3 clicks (2 predictions each); a fifth is 200 sessions, 400
    # predictions; a cap of 300 predictions keeps the latest 150 sessions
    monkeypatch.setattr(se, "MAX_CALIBRATION_PREDICTIONS", 300)
    hold = calibration_hold(_log(1000, lambda s: 3))
    assert hold is not None and hold.sum() == 150 and np.flatnonzero(hold).min() == 850
    # a cap below MIN_CALIBRATION_SESSIONS sessions' worth keeps that many
    monkeypatch.setattr(se, "MAX_CALIBRATION_PREDICTIONS", 10)
    hold = calibration_hold(_log(1000, lambda s: 3))
    assert hold is not None and hold.sum() == se.MIN_CALIBRATION_SESSIONS


def test_calibration_hold_none_on_small_logs():
    assert calibration_hold(_log(499, lambda s: 3)) is None  # a fifth is 99 < 100
    assert calibration_hold(_log(500, lambda s: 3)) is not None


@pytest.fixture(scope="module")
def fitted():
    users, items, times = session_log(1500, 120, seed=3)
    log = Interactions.from_arrays(users, items, times)
    sessions = as_sessions(log)
    train = se._pick(sessions, np.arange(len(sessions)) < 1200)
    held = se._pick(sessions, np.arange(len(sessions)) >= 1200)
    cfg = SessionEmbedConfig(calibrate=False, rerank=False)
    model = SessionEmbed(cfg, embedder=Item2Vec(Item2VecConfig(dim=16, epochs=5, workers=1)))
    return model.fit(train), held


def test_grid_metrics_equal_the_evaluator(fitted):
    model, held = fitted
    grid = [
        {"half_life": h, "temperature": t, "transition_weight": g}
        for h, t, g in itertools.product((0.5, 2.0), (0.7, 1.4), (0.0, 0.6))
    ]
    fast = model._grid_metrics(held, grid)
    for i, scoring in enumerate(grid):
        model.scoring_ = scoring
        m = evaluate_sessions(model, held, ks=(20,)).metrics
        for name in ("HR@20", "MRR@20", "NDCG@20"):
            assert fast[name][i] == pytest.approx(m[name], abs=1e-12), (scoring, name)


def test_reranker_check_equals_the_evaluator(fitted):
    model, held = fitted
    model.scoring_ = {"half_life": 1.0, "temperature": 1.0, "transition_weight": 0.3}
    fit_part = se._pick(held, np.arange(len(held)) % 2 == 0)
    check = se.check_half(held)
    data = se.rerank_data(model, fit_part)
    check_data = se.rerank_data(model, check)
    model.reranker_ = None
    plain = evaluate_sessions(model, check, ks=(20,)).metrics["MRR@20"]
    assert se.mrr_at(check_data.plain_rank) == pytest.approx(plain, abs=1e-12)
    for kind in (se.Reranker, se.MLPReranker):
        rr = kind().fit(data.features, data.target, data.context)
        model.reranker_ = rr
        expected = evaluate_sessions(model, check, ks=(20,)).metrics["MRR@20"]
        model.reranker_ = None
        assert se.mrr_at(check_data.reranked(rr)) == pytest.approx(expected, abs=1e-12)
    # fit_reranker_checked reports the figure of the order it chose on that half
    rr, mrr = se.fit_reranker_checked(model, held)
    assert mrr >= plain - 1e-12
    if rr is None:
        assert mrr == pytest.approx(plain, abs=1e-12)

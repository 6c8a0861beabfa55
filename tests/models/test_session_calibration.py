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
    calibration_folds,
    calibration_hold,
    search_scoring,
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


def test_calibration_folds_one_latest_fifth_when_it_holds_enough_predictions():
    # 1000 sessions of 30 clicks: the latest fifth makes 200 * 29 = 5,800 predictions
    sessions = _log(1000, lambda s: 30)
    folds = calibration_folds(sessions)
    assert folds is not None and len(folds) == 1
    assert np.array_equal(folds[0], calibration_hold(sessions))


def test_calibration_folds_cross_fit_a_log_whose_fifth_is_too_small():
    # 1000 sessions of 3 clicks: a fifth makes 400 predictions, under MIN_HELD_PREDICTIONS;
    # 300 sessions: a fifth is 60 sessions, under MIN_CALIBRATION_SESSIONS
    for n in (1000, 300):
        folds = calibration_folds(_log(n, lambda s: 3))
        assert folds is not None and len(folds) == se.CALIBRATION_FOLDS
        # blocks of consecutive sessions (in time order here), the oldest first, that
        # together hold every session once
        assert [np.flatnonzero(f).tolist() for f in folds] == [
            list(range(i * n // 5, (i + 1) * n // 5)) for i in range(5)
        ]


def test_calibration_folds_keep_one_part_on_a_large_log_with_short_latest_sessions():
    # 10,000 sessions: the early 8,000 of 5 clicks (32,000 predictions), the latest 2,000
    # of 2 (a fifth: 2,000 predictions, under MIN_HELD_PREDICTIONS); the log is large, so
    # five probes are not worth their cost: one part
    sessions = _log(10_000, lambda s: 5 if s < 8000 else 2)
    folds = calibration_folds(sessions)
    assert folds is not None and len(folds) == 1
    assert np.array_equal(folds[0], calibration_hold(sessions))


def test_calibration_folds_follow_the_sessions_time_not_their_order():
    # sessions listed newest first: the last fold is still the latest sessions
    sessions = as_sessions(
        Interactions.from_arrays(
            [s for s in range(100) for _ in range(3)],
            [f"i{(s + j) % 7}" for s in range(100) for j in range(3)],
            [1e4 - 100.0 * s + j for s in range(100) for j in range(3)],
        )
    )
    folds = calibration_folds(sessions)
    assert folds is not None
    last_time = sessions.times[sessions.offsets[1:] - 1]
    assert last_time[folds[-1]].min() > last_time[~folds[-1]].max()
    assert last_time[folds[0]].max() < last_time[~folds[0]].min()


def test_calibration_folds_none_under_the_minimum():
    assert calibration_folds(_log(se.MIN_CROSSFIT_SESSIONS - 1, lambda s: 3)) is None
    folds = calibration_folds(_log(se.MIN_CROSSFIT_SESSIONS, lambda s: 3))
    assert folds is not None and len(folds) == se.CALIBRATION_FOLDS


def _scorer(value, asked):
    """A score function of search_scoring: MRR@20 = value(scoring), recorded in asked."""

    def score(points):
        asked.append([p["temperature"] for p in points])
        return {"MRR@20": np.array([value(p) for p in points]), "HR@20": np.zeros(len(points))}

    return score


def test_search_scoring_follows_the_temperature_past_the_grid():
    # the score peaks at temperature 8 (in log2), so doubling from the grid's 1.4 goes
    # 2.8 (better), 5.6 (better), 11.2 (better: |log2 11.2 - 3| = 0.49 < 0.51), 22.4 (worse)
    asked = []
    best, metrics = search_scoring(
        _scorer(lambda p: -((np.log2(p["temperature"]) - 3) ** 2) - p["transition_weight"], asked)
    )
    assert best == {"half_life": 0.5, "temperature": pytest.approx(11.2), "transition_weight": 0.0}
    assert metrics["MRR@20"] == pytest.approx(-((np.log2(11.2) - 3) ** 2))
    assert [a[0] for a in asked[1:]] == pytest.approx([2.8, 5.6, 11.2, 22.4])
    assert all(len(a) == len(se.SCORING_GRID["transition_weight"]) for a in asked[1:])


def test_search_scoring_stops_at_the_temperature_range():
    asked = []
    best, _ = search_scoring(_scorer(lambda p: p["temperature"], asked))  # higher is better
    assert best["temperature"] <= se.TEMPERATURE_RANGE[1]
    assert best["temperature"] * 2 > se.TEMPERATURE_RANGE[1]
    asked = []
    best, _ = search_scoring(_scorer(lambda p: -p["temperature"], asked))  # lower is better
    assert best["temperature"] == pytest.approx(se.TEMPERATURE_RANGE[0])


def test_search_scoring_without_extend_asks_only_the_grid():
    asked = []
    best, _ = search_scoring(_scorer(lambda p: p["temperature"], asked), extend=False)
    assert best["temperature"] == 1.4 and len(asked) == 1


def test_search_scoring_asks_only_the_grid_when_the_best_is_inside():
    asked = []
    best, _ = search_scoring(_scorer(lambda p: -abs(p["temperature"] - 0.7), asked))
    assert best["temperature"] == 0.7 and len(asked) == 1
    assert len(asked[0]) == len(se.scoring_grid())


def test_rerank_data_concat_and_take():
    a = se.RerankData(
        np.arange(2 * 3 * len(se.FEATURES), dtype=float).reshape(2, 3, -1),
        np.array([0, -1]),
        np.ones((2, len(se.CONTEXT))),
        np.array([[1, 2, 3], [4, 5, 6]]),
        np.array([1, 0]),
        np.array([False, True]),
    )
    b = a.take(np.array([1]))
    both = se.RerankData.concat([a, b])
    assert both.target.tolist() == [0, -1, -1]
    assert both.candidates.tolist() == [[1, 2, 3], [4, 5, 6], [4, 5, 6]]
    assert both.empty.tolist() == [False, True, True]
    assert np.array_equal(both.features[2], a.features[1])
    assert se.RerankData.concat([a]) is a


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


def test_reranker_check_over_folds_counts_every_folds_check_half(fitted):
    # two held-out parts predicted by the same model: the check figure of the mixture's
    # own order is the evaluator's MRR@20 over both parts' check halves together
    model, held = fitted
    model.scoring_ = {"half_life": 1.0, "temperature": 1.0, "transition_weight": 0.3}
    model.reranker_ = None
    first = np.arange(len(held)) < len(held) // 2
    parts = [se._pick(held, first), se._pick(held, ~first)]
    checks = [evaluate_sessions(model, se.check_half(p), ks=(20,)) for p in parts]
    n = [c.n_predictions for c in checks]
    plain = sum(c.metrics["MRR@20"] * k for c, k in zip(checks, n, strict=True)) / sum(n)
    data = se.RerankData.concat([se.rerank_data(model, se.check_half(p)) for p in parts])
    assert se.mrr_at(data.plain_rank) == pytest.approx(plain, abs=1e-12)
    rr, mrr = se.fit_reranker_folds([(model, p) for p in parts])
    assert mrr >= plain - 1e-12
    if rr is None:
        assert mrr == pytest.approx(plain, abs=1e-12)


def test_small_log_calibration_recovers_re_clicks():
    # 300 short sessions in which the latest click is clicked again 40% of the time: the
    # skip-gram trains 300 passes on them, so its softmax is peaked and, at the configured
    # temperature, ranks new items above that re-click. Cross-fitted calibration must find
    # a scoring that does better on later sessions than the configured one.
    users, items, times = session_log(360, 200, mean_length=4.0, repeat_prob=0.4, seed=5)
    log = Interactions.from_arrays(users, items, times)
    sessions = as_sessions(log)
    train = se._pick(sessions, np.arange(len(sessions)) < 300)
    test = se._pick(sessions, np.arange(len(sessions)) >= 300)
    emb = Item2VecConfig(dim=16, epochs=300, workers=1)
    fixed = SessionEmbed(SessionEmbedConfig(calibrate=False), embedder=Item2Vec(emb)).fit(train)
    tuned = SessionEmbed(SessionEmbedConfig(rerank=False), embedder=Item2Vec(emb)).fit(train)
    assert tuned.calibration_parts_ == se.CALIBRATION_FOLDS
    before = evaluate_sessions(fixed, test, ks=(20,)).metrics["MRR@20"]
    after = evaluate_sessions(tuned, test, ks=(20,)).metrics["MRR@20"]
    assert after > before + 0.02, (tuned.scoring_, before, after)


def test_known_clicks_by_hand():
    # sessions [a b c], [c d], [d a b d]; the probe knows a, b, d (not c):
    # [a b], [d] (dropped: shorter than 2), [d a b d]
    sessions = as_sessions([["a", "b", "c"], ["c", "d"], ["d", "a", "b", "d"]])
    known = np.isin(sessions.item_keys, ["a", "b", "d"])
    kept = se.known_clicks(sessions, known)
    rows = [kept.item_keys[kept.items[a:b]].tolist() for a, b in itertools.pairwise(kept.offsets)]
    assert rows == [["a", "b"], ["d", "a", "b", "d"]]
    assert kept.user.tolist() == [sessions.user[0], sessions.user[2]]
    assert se.known_clicks(sessions, np.ones(len(sessions.item_keys), bool)) is sessions


def test_a_probe_knows_only_its_own_items():
    # the latest fold's probe never saw "z": it has no row for it, so it can neither score
    # it (a zero vector would give it logit 0, above most real items) nor recommend it
    sessions = as_sessions([["a", "b"]] * 60 + [["a", "z"]] * 20)
    model = SessionEmbed(embedder=Item2Vec(Item2VecConfig(dim=4, epochs=1, workers=1)))
    model.item_keys_ = sessions.item_keys
    model.item_counts_ = np.bincount(sessions.items)
    model._extras = {}
    probe = model._probe(se._pick(sessions, np.arange(80) < 60))
    assert probe.item_keys_.tolist() == ["a", "b"]
    assert probe.item_counts_.tolist() == [60, 60]
    assert probe.in_.shape[0] == 2

"""S-POP, AR and SR (models/session_rules.py): hand-derived answers, a loop-based reference of
session-rec's rules, properties, planted structure and bad configurations.

Sessions here use int keys 0..n-1 that all occur, so item code == key (codes follow the sorted
key table); ``_fit`` checks it. The reference implementations at the bottom follow the
description of session-rec (sessionrec notes 4.1-4.3) event by event with dicts, the way the
framework itself counts.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from embedrec.data.interactions import Sequences
from embedrec.models import session_rules
from embedrec.models.session_rules import (
    AssociationRules,
    AssociationRulesConfig,
    SequentialRules,
    SequentialRulesConfig,
    SessionPop,
    SessionPopConfig,
    lookback_weights,
)

WEIGHTINGS = ["div", "quadratic", "log", "same", "linear"]


def _fit(model, sessions):
    model.fit(sessions)
    n = len({k for s in sessions for k in s})
    assert model.item_keys_.tolist() == list(range(n)), "tests assume code == key"
    return model


def _prefixes(model, prefixes):
    """Sequences of item codes (== keys here) in the model's table."""
    items = np.array([k for p in prefixes for k in p], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in prefixes])]).astype(np.int64)
    return Sequences(
        items=items,
        offsets=offsets,
        user=np.arange(len(prefixes), dtype=np.int32),
        item_keys=model.item_keys_,
        times=np.arange(items.size, dtype=np.float64),
    )


# ---------------------------------------------------------------------------------- S-POP
def test_spop_known_answer():
    # training counts: key 0 -> 1, 1 -> 3, 2 -> 2, 3 -> 1.  top_n=3: 1 (3), 2 (2), then 0 and 3
    # tie at 1 and the lower code (0) takes the last place. Distinct counts among the top 3:
    # {1, 2, 3}, m=3, so g = rank/(m+1): g_1 = 3/4, g_2 = 2/4, g_0 = 1/4, g_3 = 0.
    # Prefix [3, 2, 3]: s_3 = 2, s_2 = 1.  Scores: 3 -> 2 + 0 = 2; 2 -> 1 + 0.5 = 1.5;
    # 1 -> 0.75; 0 -> 0.25.
    model = _fit(SessionPop(SessionPopConfig(top_n=3)), [[0, 1], [1, 2], [1, 2], [3]])
    assert_allclose(model.popularity_boost_, [0.25, 0.75, 0.5, 0.0], rtol=1e-6)
    rec = model.recommend([3, 2, 3], k=4)
    assert rec.keys.tolist() == [3, 2, 1, 0]
    assert_allclose(rec.scores, [2.0, 1.5, 0.75, 0.25], rtol=1e-6)


def test_spop_large_counts_not_tied():
    # session-rec's boost c/(c+1) is 20000/20001 vs 20001/20002 here: 2.5e-9 apart, far below
    # float32's spacing near 1 (6e-8), so a float32 c/(c+1) would tie them and rank key 0
    # first by code (float32 first merges neighbouring counts at c=4140)
    sessions = [[0]] * 20000 + [[1]] * 20001
    rec = _fit(SessionPop(), sessions).recommend([], k=2)
    assert rec.keys.tolist() == [1, 0]
    rec = _fit(SessionPop(), sessions).recommend([0, 1], k=2)  # both seen once
    assert rec.keys.tolist() == [1, 0]


@settings(max_examples=60, deadline=None)
@given(
    sessions=st.lists(st.lists(st.integers(0, 7), min_size=1, max_size=6), min_size=1),
    prefix=st.lists(st.integers(0, 7), min_size=1, max_size=8),
    top_n=st.integers(1, 10),
)
def test_spop_ranks_like_session_rec_formula(sessions, prefix, top_n):
    # the float64 score s_i + c_i/(c_i+1) (top_n items) ranks exactly like the model, ties by code
    model = SessionPop(SessionPopConfig(top_n=top_n)).fit(sessions)
    keys = model.item_keys_.tolist()
    ref = _spop_reference(sessions, prefix, top_n, keys)
    known = [p for p in prefix if p in keys]
    if not known:
        return
    rec = model.recommend(prefix, k=len(keys))
    expected = sorted(range(len(keys)), key=lambda c: (-ref[c], c))
    assert [keys.index(k) for k in rec.keys.tolist()] == expected


def test_spop_batch_equals_single():
    sessions = [[0, 1, 2], [2, 3], [3, 3, 1], [4]]
    model = _fit(SessionPop(SessionPopConfig(top_n=2)), sessions)
    prefixes = [[4], [1, 1, 0], [3, 2], [0, 4, 0, 4, 4]]
    batch = model.recommend_next(_prefixes(model, prefixes), k=5)
    for row, p in zip(batch, prefixes, strict=True):
        assert row.tolist() == model.recommend(p, k=5).keys.tolist()


# ---------------------------------------------------------------------------------- AR
def test_ar_known_answer():
    # session [0, 1, 0, 2]; pairs (u < t) by item: (0,1) (0,0) (1,0) (0,2) (1,2) (0,2).
    # Each pair adds 1 to count[x][y] and count[y][x]:
    #   0-1: pairs (0,1) and (1,0) -> count[0][1] = count[1][0] = 2
    #   0-0: one pair, both increments hit the diagonal -> count[0][0] = 2
    #   0-2: pairs (0,2) twice -> count[0][2] = count[2][0] = 2
    #   1-2: one pair -> count[1][2] = count[2][1] = 1
    # session [2, 3]: count[2][3] = count[3][2] = 1
    model = _fit(AssociationRules(AssociationRulesConfig(pruning=0)), [[0, 1, 0, 2], [2, 3]])
    expected = [
        [2, 2, 2, 0],
        [2, 0, 1, 0],
        [2, 1, 0, 1],
        [0, 0, 1, 0],
    ]
    assert_array_equal(model.rules_.toarray(), expected)
    # after [3, 2] only the last item (2) counts: 0 (2), then 1 and 3 tie at 1 (lower code
    # first), then 2 with score 0 fills the list
    rec = model.recommend([3, 2], k=4)
    assert rec.keys.tolist() == [0, 1, 3, 2]
    assert_allclose(rec.scores, [2.0, 1.0, 1.0, 0.0], rtol=0)


def test_ar_pruning_keeps_lower_code_at_tie():
    # item 0 co-occurs once with each of 1..4 and twice with 5; pruning=2 keeps 5 (2) and,
    # of the four tied at 1, the lowest code (1)
    sessions = [[0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [5, 0]]
    model = _fit(AssociationRules(AssociationRulesConfig(pruning=2)), sessions)
    row = model.rules_[[0]].toarray()[0]
    assert_array_equal(row, [0, 1, 0, 0, 0, 2])


@settings(max_examples=60, deadline=None)
@given(
    sessions=st.lists(st.lists(st.integers(0, 6), min_size=1, max_size=7), min_size=1),
    pruning=st.integers(0, 4),
)
def test_ar_matches_reference(sessions, pruning):
    model = AssociationRules(AssociationRulesConfig(pruning=pruning)).fit(sessions)
    ref = _ar_reference(sessions, pruning, model.item_keys_.tolist())
    assert_array_equal(model.rules_.toarray(), ref)  # integer counts: exact


def test_ar_symmetric_without_pruning():
    rng = np.random.default_rng(3)
    sessions = [rng.integers(0, 20, size=rng.integers(1, 9)).tolist() for _ in range(300)]
    dense = AssociationRules(AssociationRulesConfig(pruning=0)).fit(sessions).rules_.toarray()
    assert_array_equal(dense, dense.T)


# ---------------------------------------------------------------------------------- SR
def test_lookback_weights_known_values():
    d = [1, 2, 3, 11, 101]
    assert_allclose(lookback_weights(d, "div"), [1, 1 / 2, 1 / 3, 1 / 11, 1 / 101], rtol=1e-12)
    assert_allclose(lookback_weights(d, "quadratic"), [1, 1 / 4, 1 / 9, 1 / 121, 1 / 10201])
    # 1/log10(2.7) = 1/0.431364 = 2.318229; 1/log10(3.7) = 1/0.568202 = 1.759938
    assert_allclose(lookback_weights(d[:2], "log"), [2.318229, 1.759938], rtol=1e-6)
    assert_allclose(lookback_weights(d, "same"), [1, 1, 1, 1, 1])
    # 1 - 0.1 d, negative beyond d=10 and 0 beyond d=100 (session-rec's quirk, kept)
    assert_allclose(lookback_weights(d, "linear"), [0.9, 0.8, 0.7, -0.1, 0.0], atol=1e-12)


def test_sr_known_answer():
    # session [0, 1, 2, 0], steps=2, div (w(1)=1, w(2)=1/2):
    #   t=1 (item 1): d=1 from 0 -> R[0][1] += 1
    #   t=2 (item 2): d=1 from 1 -> R[1][2] += 1;  d=2 from 0 -> R[0][2] += 1/2
    #   t=3 (item 0): d=1 from 2 -> R[2][0] += 1;  d=2 from 1 -> R[1][0] += 1/2
    #   (d=3, from the first 0, is beyond steps=2)
    # session [1, 2]: R[1][2] += 1 -> 2
    cfg = SequentialRulesConfig(steps=2, weighting="div", pruning=0)
    model = _fit(SequentialRules(cfg), [[0, 1, 2, 0], [1, 2]])
    expected = [
        [0, 1, 0.5],
        [0.5, 0, 2],
        [1, 0, 0],
    ]
    assert_allclose(model.rules_.toarray(), expected, rtol=1e-7)
    rec = model.recommend([2, 1], k=3)  # last item 1: 2 (2), 0 (0.5), 1 (0)
    assert rec.keys.tolist() == [2, 0, 1]
    assert_allclose(rec.scores, [2.0, 0.5, 0.0], rtol=1e-7)


def test_sr_steps_bound_lookback():
    # one session 0..5; with steps=3 the event at 5 reaches back to 2, not to 1 or 0
    model = _fit(SequentialRules(SequentialRulesConfig(steps=3, pruning=0)), [list(range(6))])
    dense = model.rules_.toarray()
    assert_allclose(dense[2:5, 5], [1 / 3, 1 / 2, 1], rtol=1e-7)
    assert_array_equal(dense[:2, 5], [0, 0])
    assert np.count_nonzero(np.tril(dense)) == 0  # directed: earlier -> later only


@settings(max_examples=80, deadline=None)
@given(
    sessions=st.lists(st.lists(st.integers(0, 6), min_size=1, max_size=9), min_size=1),
    steps=st.integers(1, 5),
    weighting=st.sampled_from(WEIGHTINGS),
)
def test_sr_matches_reference_unpruned(sessions, steps, weighting):
    cfg = SequentialRulesConfig(steps=steps, weighting=weighting, pruning=0)
    model = SequentialRules(cfg).fit(sessions)
    ref = _sr_reference(sessions, steps, weighting, 0, model.item_keys_.tolist())
    assert_allclose(model.rules_.toarray(), ref, rtol=1e-6, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    sessions=st.lists(st.lists(st.integers(0, 6), min_size=1, max_size=9), min_size=1),
    steps=st.integers(1, 5),
    pruning=st.integers(1, 4),
)
def test_sr_matches_reference_pruned(sessions, steps, pruning):
    # "same" weights sum to integers, so the ties at the pruning cut are exact
    cfg = SequentialRulesConfig(steps=steps, weighting="same", pruning=pruning)
    model = SequentialRules(cfg).fit(sessions)
    ref = _sr_reference(sessions, steps, "same", pruning, model.item_keys_.tolist())
    assert_array_equal(model.rules_.toarray(), ref)


@settings(max_examples=40, deadline=None)
@given(
    sessions=st.lists(st.lists(st.integers(0, 9), min_size=2, max_size=9), min_size=1),
    weighting=st.sampled_from(WEIGHTINGS),
    pruning=st.integers(1, 3),
)
def test_sr_pruning_keeps_the_heaviest(sessions, weighting, pruning):
    full = SequentialRules(SequentialRulesConfig(weighting=weighting, pruning=0)).fit(sessions)
    cut = SequentialRules(SequentialRulesConfig(weighting=weighting, pruning=pruning)).fit(sessions)
    a, b = full.rules_.toarray(), cut.rules_.toarray()
    for row_full, row_cut in zip(a, b, strict=True):
        kept = np.flatnonzero(row_cut)
        assert kept.size <= pruning
        assert_array_equal(row_cut[kept], row_full[kept])
        dropped = np.setdiff1d(np.flatnonzero(row_full), kept)
        if kept.size and dropped.size:
            assert row_full[dropped].max() <= row_cut[kept].min() + 1e-6


def test_sr_planted_successor_ranks_first():
    # noise sessions over items 2..39 with the pair (0, 1) planted once in each: item 0 is
    # always followed directly by 1, and 1 never by 0
    rng = np.random.default_rng(11)
    sessions = []
    for _ in range(400):
        noise = rng.integers(2, 40, size=rng.integers(2, 10)).tolist()
        at = int(rng.integers(0, len(noise) + 1))
        sessions.append([*noise[:at], 0, 1, *noise[at:]])
    sr = _fit(SequentialRules(), sessions)
    ar = _fit(AssociationRules(), sessions)
    assert sr.recommend([5, 0], k=1).keys.tolist() == [1]
    assert ar.recommend([5, 0], k=1).keys.tolist() == [1]
    assert sr.rules_[[1]].toarray()[0, 0] == 0  # directed: no rule 1 -> 0
    assert ar.rules_[[1]].toarray()[0, 0] > 0  # co-occurrence is symmetric


# ---------------------------------------------------------------------------------- AR and SR
@pytest.mark.parametrize("model_cls", [AssociationRules, SequentialRules])
def test_rules_score_only_the_last_item(model_cls):
    rng = np.random.default_rng(5)
    sessions = [rng.integers(0, 15, size=rng.integers(2, 8)).tolist() for _ in range(200)]
    model = model_cls().fit(sessions)
    prefixes = [[3], [7, 3], [1, 2, 3], [9, 9], [9]]
    scores = model._score_prefixes(_prefixes(model, prefixes))
    assert scores.dtype == np.float32 and scores.shape == (5, model.n_items)
    assert_array_equal(scores[0], scores[1])
    assert_array_equal(scores[0], scores[2])
    assert_array_equal(scores[3], scores[4])
    assert_array_equal(scores[0], model.rules_[[3]].toarray()[0])


@pytest.mark.parametrize("model_cls", [SessionPop, AssociationRules, SequentialRules])
def test_empty_prefix_gets_popular_items(model_cls):
    # counts: 2 -> 3, 1 -> 2, 0 -> 1; the base class answers an empty prefix by popularity
    model = _fit(model_cls(), [[0, 1], [1, 2], [2, 2]])
    out = model.recommend_next(_prefixes(model, [[], [0], []]), k=3)
    assert out[0].tolist() == [2, 1, 0]
    assert out[2].tolist() == [2, 1, 0]


@pytest.mark.parametrize("model_cls", [AssociationRules, SequentialRules])
def test_item_without_rules_fills_by_code(model_cls):
    # item 3 only occurs alone: it has no rule, every score is 0, and the list is filled in
    # code order (session-rec ranks all training items; equal scores here: lower code first)
    model = _fit(model_cls(), [[0, 1], [1, 2], [3]])
    rec = model.recommend([1, 3], k=4)
    assert rec.keys.tolist() == [0, 1, 2, 3]
    assert_array_equal(rec.scores, [0, 0, 0, 0])


@pytest.mark.parametrize("model_cls", [AssociationRules, SequentialRules])
def test_long_session_counted_across_pair_blocks(model_cls, monkeypatch):
    # a long session whose look-back pairs span many blocks gives the same rules as one block
    rng = np.random.default_rng(2)
    sessions = [rng.integers(0, 12, size=80).tolist(), [0, 1, 2], [3]]
    sessions += [rng.integers(0, 12, size=5).tolist() for _ in range(20)]
    cfg = {AssociationRules: AssociationRulesConfig(pruning=0), SequentialRules: None}
    whole = model_cls(cfg[model_cls]).fit(sessions).rules_.toarray()
    monkeypatch.setattr(session_rules, "PAIR_BLOCK", 7)
    blocked = model_cls(cfg[model_cls]).fit(sessions).rules_.toarray()
    assert_allclose(blocked, whole, rtol=1e-6)
    assert whole.sum() > 0


@pytest.mark.parametrize("model_cls", [SessionPop, AssociationRules, SequentialRules])
def test_batch_equals_single(model_cls):
    rng = np.random.default_rng(8)
    sessions = [rng.integers(0, 25, size=rng.integers(1, 8)).tolist() for _ in range(300)]
    model = model_cls().fit(sessions)
    keys = model.item_keys_.tolist()
    prefixes = [rng.choice(keys, size=rng.integers(1, 5)).tolist() for _ in range(30)]
    coded = [[keys.index(k) for k in p] for p in prefixes]
    batch = model.recommend_next(_prefixes(model, coded), k=10)
    for row, p in zip(batch, prefixes, strict=True):
        assert model.item_keys_[row].tolist() == model.recommend(p, k=10).keys.tolist()


# ---------------------------------------------------------------------------------- configs
@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (SessionPopConfig, {"top_n": 0}, r"top_n=0 is invalid; use an integer top_n>=1"),
        (SessionPopConfig, {"top_n": 2.5}, r"top_n=2.5 is invalid"),
        (AssociationRulesConfig, {"pruning": -1}, r"pruning=-1 is invalid; use an integer"),
        (AssociationRulesConfig, {"pruning": 0.2}, r"pruning=0.2 is invalid.*0 keeps them all"),
        (SequentialRulesConfig, {"steps": 0}, r"steps=0 is invalid; use an integer steps>=1"),
        (SequentialRulesConfig, {"steps": True}, r"steps=True is invalid"),
        (SequentialRulesConfig, {"pruning": -3}, r"pruning=-3 is invalid"),
        (
            SequentialRulesConfig,
            {"weighting": "exp"},
            r"weighting='exp' is invalid; use 'div', 'quadratic', 'log', 'same' or 'linear'",
        ),
    ],
)
def test_bad_config_names_field_and_fix(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_configs_defaults_frozen_and_round_trip():
    assert SessionPopConfig().top_n == 100
    assert AssociationRulesConfig().pruning == 20
    sr = SequentialRulesConfig()
    assert (sr.steps, sr.weighting, sr.pruning) == (10, "div", 20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sr.steps = 3  # type: ignore[misc]
    cfg = SequentialRulesConfig(steps=8, weighting="log", pruning=0)
    assert SequentialRulesConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown SequentialRulesConfig fields"):
        SequentialRulesConfig.from_dict({"steps": 8, "idf_weight": 1})


def test_lookback_weights_bad_input():
    with pytest.raises(ValueError, match="weighting='exp' is invalid"):
        lookback_weights([1], "exp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be >= 1"):
        lookback_weights([0, 1], "div")


@pytest.mark.parametrize("model_cls", [SessionPop, AssociationRules, SequentialRules])
def test_not_fitted_and_empty_training(model_cls):
    with pytest.raises(RuntimeError, match="not fitted"):
        model_cls().recommend([1], k=2)
    with pytest.raises(ValueError, match="nothing to learn from"):
        model_cls().fit([[], []])


# ---------------------------------------------------------------------------------- references
def _spop_reference(sessions, prefix, top_n, keys):
    """float64 s_i + c_i/(c_i+1) per code, top_n by count (ties: lower code), as session-rec."""
    counts = [sum(s.count(k) for s in sessions) for k in keys]
    top = sorted(range(len(keys)), key=lambda c: (-counts[c], c))[:top_n]
    score = [0.0] * len(keys)
    for c in top:
        score[c] = counts[c] / (counts[c] + 1)
    for k in prefix:
        if k in keys:
            score[keys.index(k)] += 1
    return score


def _prune_reference(rules, pruning, n):
    dense = np.zeros((n, n))
    for a, row in rules.items():
        entries = sorted(row.items(), key=lambda e: (-e[1], e[0]))
        for b, w in entries[:pruning] if pruning else entries:
            dense[a, b] = w
    return dense


def _ar_reference(sessions, pruning, keys):
    code = {k: i for i, k in enumerate(keys)}
    rules: dict[int, dict[int, float]] = {}
    for s in sessions:
        seen: list[int] = []
        for k in s:
            x = code[k]
            for y in seen:
                rules.setdefault(x, {}).setdefault(y, 0)
                rules.setdefault(y, {}).setdefault(x, 0)
                rules[x][y] += 1
                rules[y][x] += 1
            seen.append(x)
    return _prune_reference(rules, pruning, len(keys))


def _sr_weight(d, weighting):
    return {
        "div": 1 / d,
        "quadratic": 1 / (d * d),
        "log": 1 / math.log10(d + 1.7),
        "same": 1.0,
        "linear": 1 - 0.1 * d if d <= 100 else 0.0,
    }[weighting]


def _sr_reference(sessions, steps, weighting, pruning, keys):
    code = {k: i for i, k in enumerate(keys)}
    rules: dict[int, dict[int, float]] = {}
    for s in sessions:
        seen: list[int] = []
        for k in s:
            x = code[k]
            for d in range(1, min(steps, len(seen)) + 1):
                row = rules.setdefault(seen[-d], {})
                row[x] = row.get(x, 0.0) + _sr_weight(d, weighting)
            seen.append(x)
    return _prune_reference(rules, pruning, len(keys))

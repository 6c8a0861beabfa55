import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from embedrec.kernels.rng import rng_below, seed_state
from embedrec.kernels.sampling import (
    alias_sample,
    alias_thresholds,
    build_alias,
    build_segment_alias,
    keep_probabilities,
)
from embedrec.kernels.sgns import fill_session_targets
from tests.reference.word2vec_ref import keep_probability_ref


def test_keep_probabilities_by_hand():
    # total = 1110, t = sample * total = 11.1
    # 1000: (sqrt(1000 / 11.1) + 1) * 11.1 / 1000 = (9.49158 + 1) * 0.0111 = 0.116457
    # 100:  (sqrt(100 / 11.1) + 1) * 0.111 = (3.00150 + 1) * 0.111 = 0.444167
    # 10:   (sqrt(0.9009) + 1) * 1.11 = 2.1636 -> capped at 1
    p = keep_probabilities(np.array([1000, 100, 10]), 0.01)
    np.testing.assert_allclose(p, [0.116457, 0.444167, 1.0], rtol=1e-5)
    for c, pc in zip([1000, 100, 10], p, strict=True):
        assert pc == pytest.approx(keep_probability_ref(c, 1110, 0.01))


def test_sample_zero_keeps_everything():
    assert np.all(keep_probabilities(np.array([10**6, 1]), 0.0) == 1.0)


def _alias_probs(prob, alias):
    n = prob.size
    p = prob / n
    np.add.at(p, alias, (1.0 - prob) / n)
    return p


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=40),
    st.floats(min_value=-1.5, max_value=1.5, allow_nan=False),
)
def test_alias_table_is_exact_for_count_power(counts, exponent):
    w = np.array(counts, dtype=np.float64) ** exponent
    prob, alias = build_alias(w)
    np.testing.assert_allclose(_alias_probs(prob, alias), w / w.sum(), atol=1e-12)


@pytest.mark.parametrize("exponent", [0.75, 0.0, -0.5])
def test_noise_draws_follow_count_power(exponent):
    counts = np.array([400, 200, 100, 50, 25, 12, 6, 3, 1], dtype=np.float64)
    w = counts**exponent
    prob, alias = build_alias(w)
    draws = alias_sample(alias_thresholds(prob), alias, seed_state(3, 1), 200_000)
    observed = np.bincount(draws, minlength=counts.size)
    expected = w / w.sum() * draws.size
    # chi-square goodness of fit; p < 1e-6 would flag a wrong distribution
    assert stats.chisquare(observed, expected).pvalue > 1e-6


def test_rng_below_is_uniform_and_seeded():
    s = seed_state(7)
    draws = np.array([rng_below(s, 5) for _ in range(20_000)])
    assert draws.min() == 0 and draws.max() == 4
    assert stats.chisquare(np.bincount(draws, minlength=5)).pvalue > 1e-6
    a, b = seed_state(1, 2), seed_state(1, 2)
    assert [rng_below(a, 1000) for _ in range(5)] == [rng_below(b, 1000) for _ in range(5)]
    assert seed_state(1, 2)[0] != seed_state(2, 1)[0]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 300), min_size=0, max_size=12), min_size=1, max_size=8))
def test_segment_alias_is_each_segments_own_table(segments):
    # one alias table per segment, side by side; an all-zero segment gets the uniform table
    weights = np.array([w for seg in segments for w in seg], dtype=np.float64)
    offsets = np.zeros(len(segments) + 1, dtype=np.int64)
    np.cumsum([len(seg) for seg in segments], out=offsets[1:])
    prob, alias = build_segment_alias(weights, offsets)
    for g, seg in enumerate(segments):
        lo, hi = offsets[g], offsets[g + 1]
        if hi == lo:
            continue
        w = np.array(seg, dtype=np.float64)
        want = w / w.sum() if w.sum() > 0 else np.full(w.size, 1.0 / w.size)
        assert alias[lo:hi].min() >= 0 and alias[lo:hi].max() < hi - lo  # local columns
        np.testing.assert_allclose(_alias_probs(prob[lo:hi], alias[lo:hi]), want, atol=1e-12)


def test_group_negatives_stay_in_the_centers_group_and_follow_its_counts():
    # keys 0..5; groups {0, 2, 4} (weights 1, 3, 6) and {1, 3}; key 5 has no group
    key_group = np.array([0, 1, 0, 1, 0, -1], np.int32)
    items = np.array([0, 2, 4, 1, 3], np.int32)
    offsets = np.array([0, 3, 5], np.int64)
    weights = np.array([1.0, 3.0, 6.0, 1.0, 1.0])
    prob, alias = build_segment_alias(weights, offsets)
    prob_u32 = alias_thresholds(prob)
    state = seed_state(5, 0)
    out = np.empty(8, np.int32)
    labels = np.empty(8, np.float32)
    drawn = []
    for _ in range(20_000):
        n = fill_session_targets(
            4, -1, 3, key_group, offsets, items, prob_u32, alias, state, out, labels
        )
        drawn.extend(out[:n].tolist())
        assert np.all(labels[:n] == 0.0)
    counts = np.bincount(drawn, minlength=6)
    # never the center (4), never another group; the rest in the ratio 1 : 3 of weights
    assert counts[4] == 0 and counts[[1, 3, 5]].sum() == 0
    expected = np.array([1.0, 3.0]) / 4.0 * (counts[0] + counts[2])
    assert stats.chisquare(counts[[0, 2]], expected).pvalue > 1e-6
    # a center without a group gets only its global context item (label 1)
    n = fill_session_targets(
        5, 2, 3, key_group, offsets, items, prob_u32, alias, state, out, labels
    )
    assert n == 1 and out[0] == 2 and labels[0] == 1.0
    # the global context item is never drawn as a negative of the same center
    for _ in range(2_000):
        n = fill_session_targets(
            4, 2, 3, key_group, offsets, items, prob_u32, alias, state, out, labels
        )
        assert out[0] == 2 and labels[0] == 1.0 and 2 not in out[1:n].tolist()

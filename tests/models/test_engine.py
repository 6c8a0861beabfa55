"""The SGNS training engine (``embedrec.models._engine``): its tables, schedule, init and
epoch bookkeeping, checked alone."""

import numpy as np
import pytest

from embedrec.models._engine import (
    build_tables,
    epoch_recorder,
    init_weights,
    keep_thresholds,
    linear_schedule,
    noise_alias,
)


def test_linear_schedule_by_hand():
    # 100 tokens per epoch, 2 epochs, 0.025 -> 0.005: a drop of 0.02 over 200 tokens
    alpha_at = linear_schedule(0.025, 0.005, 100.0, 2)
    assert alpha_at(0, 0) == pytest.approx(0.025)
    assert alpha_at(0, 50) == pytest.approx(0.025 - 0.02 * 50 / 200)  # 0.020
    assert alpha_at(1, 0) == pytest.approx(0.015)
    assert alpha_at(1, 100) == pytest.approx(0.005)


def test_noise_alias_never_draws_an_unseen_key():
    # counts (8, 0, 1) with exponent 0.5 -> weights (2.828, 0, 1); with exponent -1 a zero
    # count would weigh infinity: it must weigh 0 whatever the exponent
    from embedrec.kernels.rng import seed_state
    from embedrec.kernels.sampling import alias_sample

    counts = np.array([8, 0, 1], np.int64)
    for exponent in (0.5, 0.0, -1.0):
        prob, alias = noise_alias(counts, exponent)
        draws = alias_sample(prob, alias, seed_state(3), 20_000)
        assert not np.any(draws == 1)
    prob, alias = noise_alias(counts, 0.5)
    freq = np.bincount(alias_sample(prob, alias, seed_state(4), 40_000), minlength=3) / 40_000
    np.testing.assert_allclose(freq, [8**0.5 / (8**0.5 + 1), 0.0, 1 / (8**0.5 + 1)], atol=0.01)


def test_keep_thresholds_keep_rare_words_always():
    # sample=0 keeps everything: threshold 2**32 (past any 32 random bits)
    assert np.all(keep_thresholds(np.array([5, 1], np.int64), 0.0) == 2**32)
    # a word at 90% of a corpus with sample 1e-3 is mostly dropped; a rare one always kept
    keep = keep_thresholds(np.array([900, 100], np.int64), 1e-3)
    assert keep[0] < 0.2 * 2**32 and keep[1] < 2**32


def test_build_tables_shapes_per_loss():
    counts = np.array([5, 3, 2, 1], np.int64)
    neg = build_tables(counts, loss="neg", sample=0.0, ns_exponent=0.75)
    assert neg.codes.shape == (4, 0) and neg.neg_alias.shape == (4,)
    hs = build_tables(counts, loss="hs", sample=0.0, ns_exponent=0.75)
    # Huffman code lengths for counts (5, 3, 2, 1): 1, 2, 3, 3
    assert hs.code_lens.tolist() == [1, 2, 3, 3]
    assert len(neg.as_tuple()) == 8


def test_init_weights_follow_word2vec_c():
    w_in, w_out = init_weights(50, 49, 8, seed=3)
    assert w_in.dtype == np.float32 and w_out.shape == (49, 8) and not w_out.any()
    assert np.abs(w_in).max() <= 0.5 / 8
    wide, _ = init_weights(50, 49, 8, seed=3, width=2.0)
    np.testing.assert_allclose(wide, 2 * w_in, rtol=1e-6)  # gensim 4's [-1, 1) / dim


def test_epoch_recorder_resets_and_calls_back():
    class Model:
        def __init__(self):
            self.loss_history_ = [9.0]
            self.epoch_stats_ = [{}]

    model, seen = Model(), []
    hook = epoch_recorder(model, [lambda m, e, s: seen.append((m, e, s["loss"]))])
    assert model.loss_history_ == [] and model.epoch_stats_ == []
    hook(0, {"loss": 1.5})
    hook(1, {"loss": 1.25})
    assert model.loss_history_ == [1.5, 1.25]
    assert seen == [(model, 0, 1.5), (model, 1, 1.25)]

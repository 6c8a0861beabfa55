"""EGES / GES kernels: hand-derived steps, the NumPy twin, finite differences, shard driver."""

import numpy as np
import pytest

from embedrec.kernels.eges import eges_hidden, eges_params, eges_train_shard, eges_update
from embedrec.kernels.rng import seed_state
from embedrec.kernels.sampling import alias_thresholds, build_alias
from embedrec.kernels.sgns import sigmoid_tables
from tests.reference.eges_ref import (
    eges_hidden_ref,
    eges_logit_grad_ref,
    eges_loss_ref,
    eges_step_ref,
)

SIG, LOGSIG = sigmoid_tables()


def _step(side_rows, w_side, attn, update_attention, v, w_out, out_rows, labels, lr):
    n_out = len(out_rows)
    return eges_update(
        np.asarray(side_rows, np.int32),
        w_side,
        attn,
        update_attention,
        v,
        w_out,
        np.array(out_rows, np.int32),
        np.array(labels, np.float32),
        n_out,
        np.float32(lr),
        SIG,
        LOGSIG,
        np.zeros(side_rows.shape[1], np.float32),
        np.zeros((1, w_side.shape[1]), np.float32),
        np.zeros((1, n_out), np.float32),
        np.zeros((1, w_side.shape[1]), np.float32),
    )


def _toy():
    # one node (v = 0): its ID row 0 = [1, 0] and its category row 1 = [0, 1];
    # output rows: context Z_0 = [0, 0] (label 1) and noise Z_1 = [0.4, 0] (label 0)
    side_rows = np.array([[0, 1]], np.int32)
    w_side = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    w_out = np.array([[0.0, 0.0], [0.4, 0.0]], np.float32)
    return side_rows, w_side, w_out


def test_one_eges_step_on_2d_vectors_by_hand():
    # logits a = [0, ln 3] -> softmax p = [1/4, 3/4]; H = 0.25 [1, 0] + 0.75 [0, 1] = [0.25, 0.75]
    # context: score H.Z_0 = 0 -> sigmoid 0.5 -> g = 0.1 (1 - 0.5) = 0.05
    # noise:   score H.Z_1 = 0.1 -> sigmoid 0.524979 -> g = -0.0524979
    # grad = 0.05 [0, 0] - 0.0524979 [0.4, 0] = [-0.0209992, 0]
    # Z_0 += 0.05 H = [0.0125, 0.0375]; Z_1 += -0.0524979 H = [0.386876, -0.0393734]
    # ID row  += 0.25 grad = [0.994750, 0];  category row += 0.75 grad = [-0.0157494, 1]
    # a_id  += 0.25 (W_id - H).grad  = 0.25 ([0.75, -0.75].[-0.0209992, 0]) = -0.00393734
    # a_cat += 0.75 (W_cat - H).grad = 0.75 ([-0.25, 0.25].[-0.0209992, 0]) = +0.00393734
    # loss = -log 0.5 - log(1 - 0.524979) = 0.693147 + 0.744397 = 1.437544
    side_rows, w_side, w_out = _toy()
    attn = np.array([[0.0, np.log(3.0)]], np.float32)
    loss = _step(side_rows, w_side, attn, True, 0, w_out, [0, 1], [1.0, 0.0], 0.1)
    # word2vec's sigmoid table has buckets 12/1024 wide: |error| < 1.5e-3 on sigmoid, so
    # |error| < 1.5e-4 on g, and on every updated value here (all entries of H, Z are <= 1)
    np.testing.assert_allclose(w_out, [[0.0125, 0.0375], [0.386876, -0.0393734]], atol=2e-4)
    np.testing.assert_allclose(w_side, [[0.994750, 0.0], [-0.0157494, 1.0]], atol=2e-4)
    np.testing.assert_allclose(attn[0], [-0.00393734, np.log(3.0) + 0.00393734], atol=1e-5)
    assert loss == pytest.approx(1.437544, abs=5e-3)


def test_one_ges_step_on_2d_vectors_by_hand():
    # GES: p = [1/2, 1/2] always; H = [0.5, 0.5]
    # context: score 0 -> g = 0.05; noise: score 0.2 -> sigmoid 0.549834 -> g = -0.0549834
    # grad = -0.0549834 [0.4, 0] = [-0.0219934, 0]
    # Z_0 += 0.05 H = [0.025, 0.025]; Z_1 += -0.0549834 H = [0.372508, -0.0274917]
    # ID row += 0.5 grad = [0.989003, 0]; category row += 0.5 grad = [-0.0109967, 1]
    # the logits stay 0; loss = 0.693147 - log(0.450166) = 0.693147 + 0.798139 = 1.491286
    side_rows, w_side, w_out = _toy()
    attn = np.zeros((1, 2), np.float32)
    loss = _step(side_rows, w_side, attn, False, 0, w_out, [0, 1], [1.0, 0.0], 0.1)
    np.testing.assert_allclose(w_out, [[0.025, 0.025], [0.372508, -0.0274917]], atol=2e-4)
    np.testing.assert_allclose(w_side, [[0.989003, 0.0], [-0.0109967, 1.0]], atol=2e-4)
    assert np.array_equal(attn, np.zeros((1, 2), np.float32))
    assert loss == pytest.approx(1.491286, abs=5e-3)


def test_unknown_field_is_left_out_of_the_average():
    # node 0 knows only its ID (row 0 = [1, 0]): H = [1, 0] whatever its category logit says
    side_rows = np.array([[0, -1, 2]], np.int32)
    w_side = np.array([[1.0, 0.0], [5.0, 5.0], [0.0, 2.0]], np.float32)
    attn = np.array([[0.0, 3.0, 1.0]], np.float32)
    weights = np.zeros(3, np.float32)
    hidden = np.zeros((1, 2), np.float32)
    assert eges_hidden(side_rows, w_side, attn, 0, weights, hidden) == 2
    # p over the known fields {0, 2}: e^0 / (e^0 + e^1) = 0.268941, e^1 / (...) = 0.731059
    np.testing.assert_allclose(weights, [0.268941, 0.0, 0.731059], atol=1e-6)
    np.testing.assert_allclose(hidden[0], [0.268941, 1.462117], atol=1e-6)
    before = w_side.copy()
    w_out = np.array([[0.3, -0.2]], np.float32)
    _step(side_rows, w_side, attn, True, 0, w_out, [0], [1.0], 0.1)
    assert np.array_equal(w_side[1], before[1])  # the unknown field's row never moves
    assert attn[0, 1] == 3.0


@pytest.mark.parametrize("update_attention", [True, False])
def test_step_matches_numpy_twin(update_attention):
    rng = np.random.default_rng(11 if update_attention else 12)
    dim, n_rows, n_z = 7, 9, 12
    w_side = rng.normal(0, 0.4, (n_rows, dim)).astype(np.float32)
    w_out = rng.normal(0, 0.4, (n_z, dim)).astype(np.float32)
    side_rows = np.array([[2, -1, 5, 8]], np.int32)
    known = side_rows[0][side_rows[0] >= 0]
    attn = np.array([[0.3, 9.0, -0.7, 1.1]], np.float32)
    out_rows = rng.choice(n_z, 6, replace=False)
    labels = np.array([1, 0, 0, 1, 0, 0], np.float64)
    rows_ref, logits_ref, z_ref, loss_ref = eges_step_ref(
        w_side[known], attn[0, [0, 2, 3]], w_out[out_rows], labels, 0.05, update_attention
    )
    w_side2, w_out2, attn2 = w_side.copy(), w_out.copy(), attn.copy()
    loss = _step(side_rows, w_side2, attn2, update_attention, 0, w_out2, out_rows, labels, 0.05)
    np.testing.assert_allclose(w_side2[known], rows_ref, atol=2e-4)
    np.testing.assert_allclose(attn2[0, [0, 2, 3]], logits_ref, atol=2e-4)
    np.testing.assert_allclose(w_out2[out_rows], z_ref, atol=2e-4)
    assert loss == pytest.approx(loss_ref, rel=1e-2)
    untouched = np.setdiff1d(np.arange(n_z), out_rows)
    assert np.array_equal(w_out2[untouched], w_out[untouched])
    others = np.setdiff1d(np.arange(n_rows), known)
    assert np.array_equal(w_side2[others], w_side[others])
    assert attn2[0, 1] == 9.0


def test_attention_update_follows_the_loss_gradient():
    """The kernel's logit change is ``-lr dL/da``; check dL/da by central differences."""
    rng = np.random.default_rng(5)
    dim, n_fields = 6, 4
    rows = rng.normal(0, 0.5, (n_fields, dim))
    logits = rng.normal(0, 0.8, n_fields)
    z = rng.normal(0, 0.5, (5, dim))
    labels = np.array([1.0, 0.0, 0.0, 1.0, 0.0])
    h = 1e-6
    numeric = np.empty(n_fields)
    for j in range(n_fields):
        up, down = logits.copy(), logits.copy()
        up[j] += h
        down[j] -= h
        numeric[j] = (eges_loss_ref(rows, up, z, labels) - eges_loss_ref(rows, down, z, labels)) / (
            2 * h
        )
    # the twin's analytic gradient is exact up to the difference quotient's O(h^2) error
    np.testing.assert_allclose(eges_logit_grad_ref(rows, logits, z, labels), numeric, atol=1e-8)
    # the kernel's float32 step with the tabulated sigmoid: |error| <= 1.5e-3 per sigmoid
    lr = 0.01
    side_rows = np.arange(n_fields, dtype=np.int32)[None, :]
    w_side = rows.astype(np.float32)
    attn = logits.astype(np.float32)[None, :]
    w_out = z.astype(np.float32)
    _step(side_rows, w_side, attn, True, 0, w_out, np.arange(5), labels, lr)
    step = (attn[0].astype(np.float64) - logits.astype(np.float32)) / -lr
    np.testing.assert_allclose(step, numeric, atol=3e-3)
    assert np.abs(numeric).max() > 0.05  # the check is not vacuous


def test_eges_hidden_matches_twin_for_large_logits():
    # logits of 80 and 90 overflow exp() in float32 without the max shift
    side_rows = np.array([[0, 1]], np.int32)
    w_side = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    attn = np.array([[80.0, 90.0]], np.float32)
    weights = np.zeros(2, np.float32)
    hidden = np.zeros((1, 2), np.float32)
    eges_hidden(side_rows, w_side, attn, 0, weights, hidden)
    p, h = eges_hidden_ref(w_side.astype(np.float64), attn[0].astype(np.float64))
    np.testing.assert_allclose(weights, p, rtol=1e-6)
    np.testing.assert_allclose(hidden[0], h, rtol=1e-6)


def _shard_inputs(n_nodes=6, dim=4, seed=0):
    rng = np.random.default_rng(seed)
    # two walks of 5 and one of 3 nodes; node 5 never appears
    tokens = np.array([0, 1, 2, 1, 0, 3, 4, 3, 4, 3, 2, 0, 1], np.int32)
    offsets = np.array([0, 5, 10, 13], np.int64)
    side_rows = np.column_stack(
        [np.arange(n_nodes), n_nodes + np.array([0, 0, 0, 1, 1, 1])]
    ).astype(np.int32)
    w_side = ((rng.random((n_nodes + 2, dim)) - 0.5) / dim).astype(np.float32)
    w_out = np.zeros((n_nodes, dim), np.float32)
    attn = np.zeros((n_nodes, 2), np.float32)
    prob, alias = build_alias(np.ones(n_nodes))
    keep = np.full(n_nodes, 1 << 32, np.uint64)
    return tokens, offsets, side_rows, w_side, attn, w_out, keep, alias_thresholds(prob), alias


def _run_shard(inputs, window, seed, shrink=True, update_attention=True):
    tokens, offsets, side_rows, w_side, attn, w_out, keep, prob, alias = inputs
    n = keep.shape[0]
    no_codes, no_points = np.zeros((n, 0), np.uint8), np.zeros((n, 0), np.int32)
    no_lens = np.zeros(n, np.int32)
    return eges_train_shard(
        (tokens, offsets),
        (w_side, attn, w_out),
        side_rows,
        (keep, prob, alias, no_codes, no_points, no_lens, SIG, LOGSIG),
        eges_params(
            s_begin=0,
            s_end=offsets.size - 1,
            window=window,
            shrink_windows=shrink,
            negative=2,
            update_attention=update_attention,
        ),
        np.array([0.05, 0.01], np.float64),
        seed_state(seed, 0, 0),
    )


def test_shard_counts_pairs_and_words():
    # window 1 (never shrunk below 1): a walk of L nodes has 2 (L - 1) (center, context) pairs;
    # 2 * 4 + 2 * 4 + 2 * 2 = 20
    inputs = _shard_inputs()
    loss, examples, effective, raw = _run_shard(inputs, window=1, seed=3)
    assert (examples, effective, raw) == (20, 13, 13)
    # each pair costs -log sigmoid(0) = ln 2 for the context plus ln 2 per kept noise draw at
    # the start (w_out = 0); the mean stays within [ln 2, 3 ln 2]
    assert np.log(2) <= loss / examples <= 3 * np.log(2) + 1e-6
    # node 5 is never a center: its ID row and its logits stay as they were
    fresh = _shard_inputs()
    assert np.array_equal(inputs[3][5], fresh[3][5])
    assert np.all(inputs[4][5] == 0.0)


def test_one_shard_is_bit_reproducible_for_a_seed():
    a, b = _shard_inputs(), _shard_inputs()
    ra = _run_shard(a, window=3, seed=9)
    rb = _run_shard(b, window=3, seed=9)
    assert ra == rb
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    c = _shard_inputs()
    _run_shard(c, window=3, seed=10)
    assert not np.array_equal(a[3], c[3])  # another seed draws other noise and windows


def test_ges_shard_never_moves_attention_and_eges_does():
    ges, eges = _shard_inputs(), _shard_inputs()
    _run_shard(ges, window=2, seed=1, update_attention=False)
    _run_shard(eges, window=2, seed=1, update_attention=True)
    assert np.all(ges[4] == 0.0)
    assert np.any(eges[4][:5] != 0.0)
    # sum_j p_j (W_j - H) = 0, so each step moves a node's logits by changes summing to 0
    np.testing.assert_allclose(eges[4].sum(axis=1), 0.0, atol=1e-6)

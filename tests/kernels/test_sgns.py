import numpy as np
import pytest

from embedrec.kernels.sgns import apply_rows, batch_update, pair_update, sigmoid_tables
from tests.reference.word2vec_ref import logistic_step_ref

SIG, LOGSIG = sigmoid_tables()


def _run(w_in, w_out, in_rows, out_rows, labels, lr):
    n_in, n_out = len(in_rows), len(out_rows)
    g_buf = np.zeros((max(n_in, 1), max(n_out, 1)), np.float32)
    grad = np.zeros((max(n_in, 1), w_in.shape[1]), np.float32)
    loss = batch_update(
        w_in,
        w_out,
        np.array(in_rows, np.int32),
        n_in,
        np.array(out_rows, np.int32),
        np.array(labels, np.float32),
        n_out,
        np.float32(lr),
        SIG,
        LOGSIG,
        g_buf,
        grad,
    )
    apply_rows(w_in, np.array(in_rows, np.int32), n_in, grad)
    return loss


def test_one_sgns_update_on_2d_vectors_by_hand():
    # input [0.5, -0.25]; positive row [0.2, 0.4]; one negative row [-0.3, 0.1]; lr = 0.1
    # positive: score 0.1 - 0.1 = 0 -> sigmoid 0.5 -> g = 0.1 * (1 - 0.5) = 0.05
    # negative: score -0.15 - 0.025 = -0.175 -> sigmoid 0.456361 -> g = -0.0456361
    # input grad = 0.05 * [0.2, 0.4] - 0.0456361 * [-0.3, 0.1] = [0.0236908, 0.0154364]
    # positive row += 0.05 * [0.5, -0.25] = [0.225, 0.3875]
    # negative row += -0.0456361 * [0.5, -0.25] = [-0.322818, 0.111409]
    # loss = -log(0.5) - log(1 - 0.456361) = 0.693147 + 0.609492 = 1.302639
    w_in = np.array([[0.5, -0.25]], np.float32)
    w_out = np.array([[0.2, 0.4], [-0.3, 0.1]], np.float32)
    loss = _run(w_in, w_out, [0], [0, 1], [1.0, 0.0], 0.1)
    # the sigmoid table has buckets of width 12/1024: |error| < 1.5e-3 on sigmoid
    np.testing.assert_allclose(w_in[0], [0.5 + 0.0236908, -0.25 + 0.0154364], atol=3e-4)
    np.testing.assert_allclose(w_out, [[0.225, 0.3875], [-0.322818, 0.111409]], atol=3e-4)
    assert loss == pytest.approx(1.302639, abs=5e-3)


@pytest.mark.parametrize("n_in,n_out", [(1, 1), (3, 6), (10, 21), (5, 4)])
def test_batch_update_matches_numpy_reference(n_in, n_out):
    rng = np.random.default_rng(n_in * 100 + n_out)
    dim = 13
    w_in = rng.normal(0, 0.3, (12, dim)).astype(np.float32)
    w_out = rng.normal(0, 0.3, (30, dim)).astype(np.float32)
    in_rows = rng.choice(12, n_in, replace=False)
    out_rows = rng.choice(30, n_out, replace=False)
    labels = (np.arange(n_out) == 0).astype(np.float32)
    grad_ref, out_ref, loss_ref = logistic_step_ref(
        w_in[in_rows].astype(np.float64), w_out[out_rows].astype(np.float64), labels, 0.05
    )
    w_in2, w_out2 = w_in.copy(), w_out.copy()
    loss = _run(w_in2, w_out2, in_rows, out_rows, labels, 0.05)
    np.testing.assert_allclose(w_in2[in_rows], w_in[in_rows] + grad_ref, atol=1e-3)
    np.testing.assert_allclose(w_out2[out_rows], out_ref, atol=1e-3)
    assert loss == pytest.approx(loss_ref, rel=2e-2)
    untouched = np.setdiff1d(np.arange(30), out_rows)
    assert np.array_equal(w_out2[untouched], w_out[untouched])


def test_saturated_scores_clip_gradient_and_loss():
    # score 10 >> MAX_EXP = 6: a positive is already right (g = 0, loss ~ 0); a negative
    # gets the full gradient -lr and loss ~ score (the asymptote of -log sigmoid(-x))
    w_in = np.array([[10.0]], np.float32)
    w_out = np.array([[1.0], [1.0]], np.float32)
    loss = _run(w_in, w_out, [0], [0], [1.0], 0.1)
    assert w_in[0, 0] == 10.0 and loss == 0.0
    loss = _run(w_in, w_out, [0], [1], [0.0], 0.1)
    assert w_out[1, 0] == pytest.approx(1.0 - 0.1 * 10.0, abs=1e-6)
    assert loss == pytest.approx(10.0)


def _pair(w_in, w_out, r, out_rows, labels, lr):
    dim = w_in.shape[1]
    return pair_update(
        w_in,
        w_out,
        r,
        np.array(out_rows, np.int32),
        np.array(labels, np.float32),
        len(out_rows),
        np.float32(lr),
        SIG,
        LOGSIG,
        np.zeros(max(len(out_rows), 4), np.float32),
        np.zeros(dim, np.float32),
    )


def test_pair_update_by_hand():
    # the 2-d example above through the fused per-pair kernel: the same numbers
    w_in = np.array([[0.5, -0.25]], np.float32)
    w_out = np.array([[0.2, 0.4], [-0.3, 0.1]], np.float32)
    loss = _pair(w_in, w_out, 0, [0, 1], [1.0, 0.0], 0.1)
    np.testing.assert_allclose(w_in[0], [0.5 + 0.0236908, -0.25 + 0.0154364], atol=3e-4)
    np.testing.assert_allclose(w_out, [[0.225, 0.3875], [-0.322818, 0.111409]], atol=3e-4)
    assert loss == pytest.approx(1.302639, abs=5e-3)


@pytest.mark.parametrize("n_out", [1, 3, 4, 6, 9])
def test_pair_update_is_batch_update_with_one_input(n_out):
    # distinct output rows: the fused kernel is batch_update (n_in=1) + apply_rows
    rng = np.random.default_rng(n_out)
    w_in = rng.normal(0, 0.5, (5, 24)).astype(np.float32)
    w_out = rng.normal(0, 0.5, (20, 24)).astype(np.float32)
    out_rows = rng.choice(20, n_out, replace=False)
    labels = (np.arange(n_out) == 0).astype(np.float32)
    a_in, a_out = w_in.copy(), w_out.copy()
    b_in, b_out = w_in.copy(), w_out.copy()
    la = _run(a_in, a_out, [2], out_rows, labels, 0.05)
    lb = _pair(b_in, b_out, 2, out_rows, labels, 0.05)
    np.testing.assert_allclose(b_in, a_in, atol=1e-6)
    np.testing.assert_allclose(b_out, a_out, atol=1e-6)
    assert lb == pytest.approx(la, rel=1e-5)


def test_pair_update_with_repeated_noise_rows():
    # rows [3, 5, 3, 7 | 3, 2]: the first block of four is scored and updated together (row 3
    # gets both its gradients, computed from its old value); the rows after it are updated
    # one after another, row 3 seen as the block left it (word2vec.c's order)
    rng = np.random.default_rng(7)
    w_in = rng.normal(0, 0.5, (2, 8)).astype(np.float32)
    w_out = rng.normal(0, 0.5, (10, 8)).astype(np.float32)
    rows, labels, lr = [3, 5, 3, 7, 3, 2], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0.05
    v = w_in[1].astype(np.float64)
    o = w_out.astype(np.float64)
    grad = np.zeros(8)
    block = o[rows[:4]].copy()
    g = lr * (np.array(labels[:4]) - 1.0 / (1.0 + np.exp(-(block @ v))))
    grad += g @ block
    for k in range(4):
        o[rows[k]] += g[k] * v
    for k in range(4, 6):
        gk = lr * (labels[k] - 1.0 / (1.0 + np.exp(-(o[rows[k]] @ v))))
        grad += gk * o[rows[k]]
        o[rows[k]] += gk * v
    _pair(w_in, w_out, 1, rows, labels, lr)
    np.testing.assert_allclose(w_in[1], v + grad, atol=1e-3)
    np.testing.assert_allclose(w_out, o, atol=1e-3)

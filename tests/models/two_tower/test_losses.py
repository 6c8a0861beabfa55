"""Retrieval losses and frequency estimators: hand-derived answers, properties, planted streams."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from embedrec.models.two_tower.losses import (
    CountFrequency,
    RetrievalLoss,
    StreamingFrequencyEstimator,
    sampled_softmax_loss,
)

E = math.exp
L = math.log

# one 3x3 score matrix for the hand-made softmax cases; row i's positive is column i
S = torch.tensor(
    [
        [1.0, 0.5, 0.0],
        [0.2, 0.4, 1.0],
        [0.0, 0.0, 0.3],
    ],
    dtype=torch.float64,
)
IDS = torch.tensor([10, 11, 12])


def _nll(logits: list[float], target: int) -> float:
    """-log softmax(logits)[target], by hand."""
    return L(sum(E(x) for x in logits)) - logits[target]


# --------------------------------------------------------------------------- functional softmax


def test_softmax_temperature_known_answer() -> None:
    # temperature 0.5 doubles the scores:
    # row 0: logits (2, 1, 0),     target 0: -log softmax = log(e^2 + e^1 + e^0) - 2
    #                                        = log(1 + e^-1 + e^-2) = 0.407606
    # row 1: logits (0.4, 0.8, 2), target 1: log(e^0.4 + e^0.8 + e^2) - 0.8
    #                                        = log(1.491825 + 2.225541 + 7.389056) - 0.8
    #                                        = log(11.106422) - 0.8 = 1.607523
    # row 2: logits (0, 0, 0.6),   target 2: log(2 + e^0.6) - 0.6 = log(3.822119) - 0.6
    #                                        = 0.740805
    rows = [
        L(1 + E(-1) + E(-2)),
        L(E(0.4) + E(0.8) + E(2.0)) - 0.8,
        L(2 + E(0.6)) - 0.6,
    ]
    assert_allclose(rows, [0.407606, 1.607523, 0.740805], rtol=1e-5)
    got = sampled_softmax_loss(S, IDS, IDS, temperature=0.5, reduction="none")
    assert_allclose(got.numpy(), rows, rtol=1e-6)
    mean = sampled_softmax_loss(S, IDS, IDS, temperature=0.5)
    assert_allclose(float(mean), sum(rows) / 3, rtol=1e-6)
    total = sampled_softmax_loss(S, IDS, IDS, temperature=0.5, reduction="sum")
    assert_allclose(float(total), sum(rows), rtol=1e-6)


def test_logq_subtracts_per_column() -> None:
    # q = (1/2, 1/4, 1/8) -> -log q = (ln 2, ln 4, ln 8) is added to every row, temperature 1:
    # row 0: (1 + ln2, 0.5 + ln4, ln8),   target 0
    # row 1: (0.2 + ln2, 0.4 + ln4, 1 + ln8), target 1
    # row 2: (ln2, ln4, 0.3 + ln8),       target 2
    log_q = torch.tensor([L(0.5), L(0.25), L(0.125)], dtype=torch.float64)
    rows = [
        _nll([1 + L(2), 0.5 + L(4), L(8)], 0),
        _nll([0.2 + L(2), 0.4 + L(4), 1 + L(8)], 1),
        _nll([L(2), L(4), 0.3 + L(8)], 2),
    ]
    got = sampled_softmax_loss(S, IDS, IDS, temperature=1.0, log_q=log_q, reduction="none")
    assert_allclose(got.numpy(), rows, rtol=1e-6)
    # the correction is a column shift of the logits: the same as scores - T * log q, with
    # temperature 0.5 -> logits = 2 * S - log q = 2 * (S - 0.5 * log q)
    shifted = S - 0.5 * log_q.unsqueeze(0)
    a = sampled_softmax_loss(S, IDS, IDS, temperature=0.5, log_q=log_q, reduction="none")
    b = sampled_softmax_loss(shifted, IDS, IDS, temperature=0.5, reduction="none")
    assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    # and it lowers the loss of a row whose positive is rare relative to its negatives
    plain = sampled_softmax_loss(S, IDS, IDS, temperature=1.0, reduction="none")
    assert float(got[2]) < float(plain[2])


def test_accidental_hit_is_masked() -> None:
    # items (7, 8, 7): column 2 holds row 0's positive and column 0 holds row 2's positive.
    ids = torch.tensor([7, 8, 7])
    # row 0 keeps columns {0, 1}: logits (1, 0.5) -> log(1 + e^-0.5)
    # row 1 keeps all 3:  (0.2, 0.4, 1) target 1
    # row 2 keeps columns {1, 2}: (0, 0.3) target 2 -> log(e^0 + e^0.3) - 0.3
    rows = [L(1 + E(-0.5)), _nll([0.2, 0.4, 1.0], 1), L(1 + E(0.3)) - 0.3]
    got = sampled_softmax_loss(S, ids, ids, temperature=1.0, reduction="none")
    assert_allclose(got.numpy(), rows, rtol=1e-6)
    # without masking row 0 is the full 3-column softmax
    raw = sampled_softmax_loss(
        S, ids, ids, temperature=1.0, remove_accidental_hits=False, reduction="none"
    )
    assert_allclose(float(raw[0]), _nll([1.0, 0.5, 0.0], 0), rtol=1e-6)
    # the masked logit gets exactly zero gradient, and nothing is NaN
    s = S.clone().requires_grad_(True)
    sampled_softmax_loss(s, ids, ids, temperature=0.05).backward()
    assert s.grad is not None
    assert torch.isfinite(s.grad).all()
    assert float(s.grad[0, 2]) == 0.0
    assert float(s.grad[2, 0]) == 0.0
    assert float(s.grad[1, 0]) != 0.0


def test_extra_negative_columns() -> None:
    # 2 rows, 3 columns: column 2 is an extra negative (item 99)
    # row 0: (1, 0.5, 0) target 0; row 1: (0.2, 0.4, 1) target 1
    scores = S[:2]
    got = sampled_softmax_loss(
        scores, torch.tensor([1, 2]), torch.tensor([1, 2, 99]), temperature=1.0, reduction="none"
    )
    assert_allclose(got.numpy(), [_nll([1, 0.5, 0], 0), _nll([0.2, 0.4, 1], 1)], rtol=1e-6)
    # an extra negative equal to a row's positive is masked for that row only:
    # row 1 (positive 2) drops column 2 -> (0.2, 0.4) target 1; row 0 unchanged
    got = sampled_softmax_loss(
        scores, torch.tensor([1, 2]), torch.tensor([1, 2, 2]), temperature=1.0, reduction="none"
    )
    assert_allclose(got.numpy(), [_nll([1, 0.5, 0], 0), _nll([0.2, 0.4], 1)], rtol=1e-6)


_SCORE = st.floats(-5.0, 5.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(1, 4),
    extra=st.integers(0, 3),
    temperature=st.floats(0.05, 2.0),
    remove=st.booleans(),
    data=st.data(),
)
def test_softmax_invariant_to_row_constant(
    b: int, extra: int, temperature: float, remove: bool, data: st.DataObject
) -> None:
    c = b + extra
    scores = torch.tensor(
        data.draw(st.lists(_SCORE, min_size=b * c, max_size=b * c)), dtype=torch.float64
    ).reshape(b, c)
    # a small id range so accidental hits happen
    col_ids = torch.tensor(data.draw(st.lists(st.integers(0, 3), min_size=c, max_size=c)))
    shift = torch.tensor(
        data.draw(st.lists(st.floats(-50.0, 50.0), min_size=b, max_size=b)), dtype=torch.float64
    )
    kw = {"temperature": temperature, "remove_accidental_hits": remove, "reduction": "none"}
    base = sampled_softmax_loss(scores, col_ids[:b], col_ids, **kw)  # type: ignore[arg-type]
    moved = sampled_softmax_loss(
        scores + shift.unsqueeze(1),
        col_ids[:b],
        col_ids,
        **kw,  # type: ignore[arg-type]
    )
    assert torch.isfinite(base).all()
    assert (base >= -1e-12).all()
    assert_allclose(moved.numpy(), base.numpy(), rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- RetrievalLoss


def test_softmax_module_matches_functional() -> None:
    g = torch.Generator().manual_seed(0)
    q, p, n = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g), torch.randn(3, 4)
    pos_ids, neg_ids = torch.tensor([0, 1, 2, 1, 4]), torch.tensor([7, 2, 8])
    lq_pos, lq_neg = torch.randn(5, generator=g), torch.randn(3, generator=g)
    loss = RetrievalLoss("softmax", temperature=0.2)
    got = loss(q, p, pos_ids, neg=n, neg_ids=neg_ids, log_q_pos=lq_pos, log_q_neg=lq_neg)
    want = sampled_softmax_loss(
        q @ torch.cat([p, n]).T,
        pos_ids,
        torch.cat([pos_ids, neg_ids]),
        temperature=0.2,
        log_q=torch.cat([lq_pos, lq_neg]),
    )
    assert_allclose(float(got), float(want), rtol=1e-6)


def test_mixed_known_answer() -> None:
    # B = 2 in-batch columns + M = 1 uniform column, temperature 1
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    n = torch.tensor([[0.0, 3.0]])
    # scores: row 0 = (q0.p0, q0.p1, q0.n) = (2, 1, 0); row 1 = (0, 1, 3)
    # log q: in-batch (ln 0.5, ln 0.25), uniform ln 0.1 -> logits = scores + (ln2, ln4, ln10)
    lq_pos = torch.tensor([L(0.5), L(0.25)])
    lq_neg = torch.tensor([L(0.1)])
    rows = [_nll([2 + L(2), 1 + L(4), L(10)], 0), _nll([L(2), 1 + L(4), 3 + L(10)], 1)]
    loss = RetrievalLoss("mixed", temperature=1.0, num_negatives=1)
    got = loss(
        q,
        p,
        torch.tensor([0, 1]),
        neg=n,
        neg_ids=torch.tensor([5]),
        log_q_pos=lq_pos,
        log_q_neg=lq_neg,
    )
    assert_allclose(float(got), sum(rows) / 2, rtol=1e-6)
    # the uniform column adds a term: in-batch only is the 2-column softmax
    in_batch = RetrievalLoss("softmax", temperature=1.0)(
        q, p, torch.tensor([0, 1]), log_q_pos=lq_pos
    )
    two_col = [_nll([2 + L(2), 1 + L(4)], 0), _nll([L(2), 1 + L(4)], 1)]
    assert_allclose(float(in_batch), sum(two_col) / 2, rtol=1e-6)
    assert float(got) > float(in_batch)
    # a uniform draw of row 1's own positive (item 1) is an accidental hit for row 1 only
    hit = loss(
        q,
        p,
        torch.tensor([0, 1]),
        neg=n,
        neg_ids=torch.tensor([1]),
        log_q_pos=lq_pos,
        log_q_neg=lq_neg,
    )
    assert_allclose(float(hit), (rows[0] + two_col[1]) / 2, rtol=1e-6)


def test_mixed_needs_negatives_and_log_q() -> None:
    q = p = torch.eye(2)
    ids = torch.tensor([0, 1])
    loss = RetrievalLoss("mixed", temperature=1.0)
    with pytest.raises(ValueError, match="needs neg"):
        loss(q, p, ids, log_q_pos=torch.zeros(2))
    with pytest.raises(ValueError, match="log_q_neg"):
        loss(
            q,
            p,
            ids,
            neg=torch.ones(3, 2),
            neg_ids=torch.tensor([4, 5, 6]),
            log_q_pos=torch.zeros(2),
        )
    with pytest.raises(ValueError, match="log_q_pos"):
        loss(
            q,
            p,
            ids,
            neg=torch.ones(3, 2),
            neg_ids=torch.tensor([4, 5, 6]),
            log_q_neg=torch.zeros(3),
        )
    with pytest.raises(ValueError, match="neg_ids"):
        loss(q, p, ids, neg=torch.ones(3, 2), log_q_pos=torch.zeros(2), log_q_neg=torch.zeros(3))
    # logq=False needs neither
    off = RetrievalLoss("mixed", temperature=1.0, logq=False, remove_accidental_hits=False)
    assert torch.isfinite(off(q, p, ids, neg=torch.ones(3, 2)))


def test_dssm_known_answer() -> None:
    # gamma = 2, cosine similarities (vector lengths do not matter):
    # row 0: q=(1,0); pos (2,0) cos 1; negs (0,3) cos 0, (-1,0) cos -1
    #   P = e^2 / (e^2 + e^0 + e^-2) -> loss = log(1 + e^-2 + e^-4)
    # row 1: q=(1,1); pos (1,0) cos 1/sqrt2; negs (0,5) cos 1/sqrt2, (3,3) cos 1
    #   logits (sqrt2, sqrt2, 2) -> loss = log(2 e^sqrt2 + e^2) - sqrt2
    q = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    p = torch.tensor([[2.0, 0.0], [1.0, 0.0]])
    n = torch.tensor([[[0.0, 3.0], [-1.0, 0.0]], [[0.0, 5.0], [3.0, 3.0]]])
    r2 = math.sqrt(2)
    rows = [L(1 + E(-2) + E(-4)), L(2 * E(r2) + E(2)) - r2]
    loss = RetrievalLoss("dssm", dssm_gamma=2.0, num_negatives=2, remove_accidental_hits=False)
    got = loss(q, p, torch.tensor([0, 1]), neg=n)
    assert_allclose(float(got), sum(rows) / 2, rtol=1e-6)
    # cosine: rescaling any vector by a positive factor changes nothing
    assert_allclose(
        float(loss(3 * q, 0.5 * p, torch.tensor([0, 1]), neg=7 * n)), float(got), rtol=1e-6
    )
    # temperature is not part of dssm
    other_t = RetrievalLoss("dssm", dssm_gamma=2.0, temperature=9.0, remove_accidental_hits=False)
    assert_allclose(float(other_t(q, p, torch.tensor([0, 1]), neg=n)), float(got), rtol=1e-6)
    # accidental hit: row 0's first negative is its own positive (id 0) -> dropped:
    # row 0 softmax over {pos cos 1, neg cos -1}: log(1 + e^-4); ids may come flat (B*N,)
    masked = RetrievalLoss("dssm", dssm_gamma=2.0)(
        q, p, torch.tensor([0, 1]), neg=n, neg_ids=torch.tensor([0, 5, 6, 7])
    )
    assert_allclose(float(masked), (L(1 + E(-4)) + rows[1]) / 2, rtol=1e-6)


def test_bce_known_answer() -> None:
    # temperature 0.5, logits = 2 * dot:
    # row 0: q=(1,0): pos (1,0) -> logit 2, label 1: -log sigmoid(2) = log(1 + e^-2)
    #                 neg (0.5,0) -> logit 1, label 0: -log(1 - sigmoid(1)) = log(1 + e^1)
    # row 1: q=(0,1): pos (0,-0.5) -> logit -1, label 1: log(1 + e^1)
    #                 neg (0,0) -> logit 0, label 0: log 2
    # mean over the B * (N + 1) = 4 terms
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 0.0], [0.0, -0.5]])
    n = torch.tensor([[[0.5, 0.0]], [[0.0, 0.0]]])
    terms = [L(1 + E(-2)), L(1 + E(1)), L(1 + E(1)), L(2)]
    loss = RetrievalLoss("bce", temperature=0.5, remove_accidental_hits=False)
    assert_allclose(float(loss(q, p, torch.tensor([0, 1]), neg=n)), sum(terms) / 4, rtol=1e-6)
    # row 1's negative is its own positive (id 1): that term is dropped, mean over 3
    masked = RetrievalLoss("bce", temperature=0.5)(
        q, p, torch.tensor([0, 1]), neg=n, neg_ids=torch.tensor([[4], [1]])
    )
    assert_allclose(float(masked), sum(terms[:3]) / 3, rtol=1e-6)


@pytest.mark.parametrize("kind", ["softmax", "mixed", "dssm", "bce"])
def test_gradients_flow_and_are_finite(kind: str) -> None:
    g = torch.Generator().manual_seed(1)
    b, n_neg, d = 6, 3, 8
    # large vectors and a small temperature: logits in the hundreds must not overflow
    q = (30 * torch.randn(b, d, generator=g)).requires_grad_(True)
    p = (30 * torch.randn(b, d, generator=g)).requires_grad_(True)
    pos_ids = torch.tensor([0, 1, 1, 2, 3, 3])  # duplicates -> accidental hits
    if kind in ("softmax", "mixed"):
        neg = (30 * torch.randn(n_neg, d, generator=g)).requires_grad_(True)
        neg_ids = torch.tensor([1, 9, 3])
    else:
        neg = (30 * torch.randn(b, n_neg, d, generator=g)).requires_grad_(True)
        neg_ids = torch.randint(0, 5, (b, n_neg), generator=g)
    loss = RetrievalLoss(kind, temperature=0.05)  # type: ignore[arg-type]
    out = loss(
        q,
        p,
        pos_ids,
        neg=neg,
        neg_ids=neg_ids,
        log_q_pos=torch.log(torch.full((b,), 0.1)),
        log_q_neg=torch.log(torch.full((n_neg,), 0.01)),
    )
    assert out.dim() == 0
    assert torch.isfinite(out)
    out.backward()
    for t in (q, p, neg):
        assert t.grad is not None
        assert torch.isfinite(t.grad).all()
        assert float(t.grad.abs().sum()) > 0


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"kind": "hinge"}, r"kind='hinge'.*softmax"),
        ({"temperature": 0.0}, r"temperature=0\.0.*> 0"),
        ({"temperature": -1.0}, r"temperature=-1\.0"),
        ({"temperature": float("nan")}, r"temperature=nan"),
        ({"num_negatives": -1}, r"num_negatives=-1.*>= 0"),
        ({"dssm_gamma": 0.0}, r"dssm_gamma=0\.0.*> 0"),
    ],
)
def test_constructor_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RetrievalLoss(**kwargs)  # type: ignore[arg-type]


def test_shape_errors_name_both_shapes() -> None:
    loss = RetrievalLoss("softmax", logq=False)
    q = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"pos has shape \(3, 5\).*query has shape \(3, 4\)"):
        loss(q, torch.zeros(3, 5), torch.arange(3))
    with pytest.raises(ValueError, match=r"pos_ids has shape \(2,\).*\(3,\)"):
        loss(q, q, torch.arange(2))
    with pytest.raises(TypeError, match="integer"):
        loss(q, q, torch.zeros(3))
    with pytest.raises(ValueError, match=r"neg has shape \(2, 3\).*query has shape \(3, 4\)"):
        loss(q, q, torch.arange(3), neg=torch.zeros(2, 3), neg_ids=torch.arange(2))
    with pytest.raises(ValueError, match=r"neg_ids has shape \(3,\).*\(2,\)"):
        loss(q, q, torch.arange(3), neg=torch.zeros(2, 4), neg_ids=torch.arange(3))
    with pytest.raises(ValueError, match=r"log_q_pos has shape \(2,\).*\(3,\)"):
        RetrievalLoss()(q, q, torch.arange(3), log_q_pos=torch.zeros(2))
    with pytest.raises(ValueError, match="needs log_q_pos"):
        RetrievalLoss()(q, q, torch.arange(3))
    with pytest.raises(ValueError, match="num_negatives=2"):
        RetrievalLoss("mixed", logq=False, num_negatives=2)(
            q, q, torch.arange(3), neg=torch.zeros(3, 4), neg_ids=torch.arange(3)
        )
    dssm = RetrievalLoss("dssm")
    with pytest.raises(ValueError, match=r"neg has shape \(2, 2, 4\).*query has shape \(3, 4\)"):
        dssm(q, q, torch.arange(3), neg=torch.ones(2, 2, 4), neg_ids=torch.zeros(2, 2).long())
    with pytest.raises(ValueError, match=r"needs neg"):
        RetrievalLoss("bce")(q, q, torch.arange(3))
    with pytest.raises(ValueError, match=r"neg_ids has shape \(5,\).*\(3, 2, 4\)"):
        dssm(q, q, torch.arange(3), neg=torch.ones(3, 2, 4), neg_ids=torch.arange(5))


def test_functional_validation() -> None:
    with pytest.raises(ValueError, match=r"log_q has shape \(2,\).*\(3, 3\)"):
        sampled_softmax_loss(S, IDS, IDS, log_q=torch.zeros(2))
    with pytest.raises(ValueError, match=r"col_ids has shape \(2,\).*\(3, 3\)"):
        sampled_softmax_loss(S, IDS, IDS[:2])
    with pytest.raises(ValueError, match=r"scores has shape \(3, 2\)"):
        sampled_softmax_loss(S[:, :2], IDS, IDS[:2])
    with pytest.raises(ValueError, match="temperature=0"):
        sampled_softmax_loss(S, IDS, IDS, temperature=0)
    with pytest.raises(ValueError, match="reduction='max'"):
        sampled_softmax_loss(S, IDS, IDS, reduction="max")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- CountFrequency


def test_count_frequency_values() -> None:
    # counts (6, 3, 1, 0), total 10: q = (0.6, 0.3, 0.1) and the floor 0.5 / 10 = 0.05
    f = CountFrequency(np.array([6, 3, 1, 0]))
    ids = torch.tensor([[0, 3], [2, 1]])
    got = f.log_q(ids)
    assert got.shape == (2, 2)
    assert got.dtype == torch.float32
    assert_allclose(got.numpy(), np.log([[0.6, 0.05], [0.1, 0.3]]), rtol=1e-6)
    assert f.num_items == 4
    assert f.to("cpu") is f
    # tensor counts give the same table
    assert_allclose(CountFrequency(torch.tensor([6.0, 3.0, 1.0, 0.0])).log_q(ids), got)


@pytest.mark.parametrize(
    "counts,match",
    [
        ([3, -1], ">= 0"),
        ([0, 0], "all counts are 0"),
        ([[1, 2]], r"shape \(1, 2\)"),
        ([], r"shape \(0,\)"),
        ([1.0, float("inf")], "finite"),
    ],
)
def test_count_frequency_rejects(counts: list[object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CountFrequency(counts)  # type: ignore[arg-type]


def test_count_frequency_out_of_range_ids() -> None:
    with pytest.raises(IndexError, match=r"span \[0, 4\].*\[0, 2\]"):
        CountFrequency([1, 2, 3]).log_q(torch.tensor([0, 4]))


# --------------------------------------------------------------------------- streaming estimator


def test_streaming_known_answer() -> None:
    # alpha 0.5, stream starts at step 0.
    # item 5 at steps 0, 1, 3: first sighting B = 0 - 0 + 1 = 1;
    #   step 1: B = 0.5 * 1 + 0.5 * (1 - 0) = 1; step 3: B = 0.5 * 1 + 0.5 * (3 - 1) = 1.5
    # item 6 first at step 3: B = 3 - 0 + 1 = 4
    # item 7 never seen: B = elapsed steps = 3 - 0 + 1 = 4
    est = StreamingFrequencyEstimator(num_buckets=1024, alpha=0.5)
    est.update(torch.tensor([5, 5, 5]), 0)  # duplicates in a batch count once
    est.update(torch.tensor([5]), 1)
    est.update(torch.tensor([5, 6]), 3)
    est.update(torch.tensor([5]), 3)  # same step again: skipped
    got = est.log_q(torch.tensor([5, 6, 7]))
    assert got.dtype == torch.float32
    assert_allclose(got.numpy(), [-L(1.5), -L(4), -L(4)], rtol=1e-6)
    with pytest.raises(ValueError, match="steps must not decrease"):
        est.update(torch.tensor([5]), 2)


def test_streaming_needs_update_and_valid_args() -> None:
    with pytest.raises(RuntimeError, match="before any update"):
        StreamingFrequencyEstimator(num_buckets=8).log_q(torch.tensor([1]))
    with pytest.raises(ValueError, match=r"alpha=0\.0.*0 < alpha <= 1"):
        StreamingFrequencyEstimator(8, alpha=0.0)
    with pytest.raises(ValueError, match=r"alpha=1\.5"):
        StreamingFrequencyEstimator(8, alpha=1.5)
    with pytest.raises(ValueError, match="num_buckets=0"):
        StreamingFrequencyEstimator(0)
    with pytest.raises(ValueError, match="step=-1"):
        StreamingFrequencyEstimator(8).update(torch.tensor([1]), -1)


def test_streaming_hash_is_deterministic_and_spreads_small_ids() -> None:
    est = StreamingFrequencyEstimator(num_buckets=2**20)
    ids = torch.arange(5000)
    h = est.bucket(ids)
    assert torch.equal(h, StreamingFrequencyEstimator(num_buckets=2**20).bucket(ids))
    assert int(h.min()) >= 0
    assert int(h.max()) < 2**20
    assert len(torch.unique(h)) == 5000  # no collisions in a small catalogue
    big = est.bucket(torch.tensor([2**40 + 3, -7]))
    assert ((big >= 0) & (big < 2**20)).all()


def test_streaming_recovers_planted_frequencies() -> None:
    # each step, item k appears independently with probability p_k, so the gap between its
    # sightings is geometric with mean 1 / p_k and q = 1 / B should approach p_k.
    # alpha 0.004: the relative noise of B is about sqrt(alpha / 2) * sqrt(1 - p) ~ 4 %
    # (measured max error over 40 seeds ~10 %), so 15 % is a wide bound.
    p = np.array([0.5, 0.2, 0.1, 0.05] + [0.002] * 50)
    steps = 30_000
    rng = np.random.default_rng(0)
    seen = rng.random((steps, len(p))) < p
    est = StreamingFrequencyEstimator(num_buckets=2**12, alpha=0.004)
    for t in range(steps):
        est.update(torch.from_numpy(np.flatnonzero(seen[t])), t)
    q = est.log_q(torch.arange(len(p))).exp().numpy()
    assert_allclose(q[:4], p[:4], rtol=0.15)
    # rare items are estimated far below the frequent ones
    assert q[4:].max() < 0.25 * q[:4].min()
    assert 0.0005 < float(np.median(q[4:])) < 0.008

"""mixture_ranks against its NumPy twin (SessionEmbed's _blend, _mix and target_ranks)."""

import numpy as np
import pytest

from embedrec.kernels.session_rank import mixture_ranks
from embedrec.models.session_embed import _blend, _mix, _Prefixes, target_ranks


def _base(rng, n, n_items):
    repeat = np.zeros((n, n_items), dtype=np.float32)
    for i in range(n):  # a few session items per row, some rows with none
        cols = rng.choice(n_items, size=int(rng.integers(0, 4)), replace=False)
        repeat[i, cols] = rng.integers(1, 3, size=cols.size)
    repeat /= np.maximum(repeat.sum(axis=1, keepdims=True), 1e-30)
    trans = rng.integers(0, 3, size=(n, n_items)).astype(np.float32)  # ties on purpose
    trans[rng.random(n) < 0.3] = 0.0  # prefixes whose latest click has no rule
    total = trans.sum(axis=1, keepdims=True)
    use = np.flatnonzero(total[:, 0] > 0)
    empty = np.zeros(0, dtype=np.int64)
    return _Prefixes(
        owner=empty,
        back=np.zeros(0),
        items=empty,
        last=np.zeros(n, dtype=np.int64),
        trans=trans,
        use=use,
        rule_weights=trans[use],
        rule_totals=total[use],
        repeat=repeat,
        counts=np.zeros_like(repeat),
        beta=rng.choice([0.0, 0.25, 0.5], size=n).astype(np.float32),
    )


@pytest.mark.parametrize("gamma", [0.0, 0.3, 0.6])
def test_mixture_ranks_match_numpy(gamma):
    rng = np.random.default_rng(int(gamma * 10))
    n, n_items = 40, 15
    base = _base(rng, n, n_items)
    # a coarse softmax, so that many mixture values tie
    soft = rng.integers(0, 4, size=(n, n_items)).astype(np.float32)
    soft /= soft.sum(axis=1, keepdims=True)
    targets = rng.integers(-1, n_items, size=n)
    expected = target_ranks(_mix(base.beta, base.repeat, _blend(base, soft.copy(), gamma)), targets)
    rule_row = np.full(n, -1, dtype=np.int64)
    if gamma > 0:
        rule_row[base.use] = np.arange(base.use.size)
    out = np.empty(n, dtype=np.int64)
    mixture_ranks(
        soft,
        base.beta,
        base.repeat,
        rule_row,
        base.rule_weights,
        base.rule_totals.reshape(-1),
        np.float32(1.0 - gamma),
        np.float32(gamma),
        targets,
        out,
    )
    assert out.tolist() == expected.tolist()
    assert (out[targets < 0] == 0).all() and (out[targets >= 0] >= 1).all()

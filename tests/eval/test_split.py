"""Splits: leave-last-out takes each user's chronologically last events; no leaks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedrec.data.interactions import Interactions
from embedrec.eval import leave_last_out, random_holdout, temporal_split


def _log():
    # user 1: items a(t=5) b(t=1) c(t=3) d(t=3) -> time order b, c, d (tie: input order), a
    # user 2: x(t=1) y(t=2); user 3: z only
    return Interactions.from_arrays(
        [1, 1, 1, 1, 2, 2, 3],
        ["a", "b", "c", "d", "x", "y", "z"],
        [5, 1, 3, 3, 1, 2, 9],
    )


def _keys(inter):
    return inter.item_keys[inter.item].tolist()


def test_leave_last_out_known_answer():
    s = leave_last_out(_log())
    assert _keys(s.test) == ["a"]  # user 2 has 2 events < 1 + 1 + 1: all train
    assert _keys(s.valid) == ["d"]
    assert _keys(s.train) == ["b", "c", "x", "y", "z"]
    assert _keys(s.train_full) == ["b", "c", "d", "x", "y", "z"]
    s0 = leave_last_out(_log(), n_valid=0)
    assert _keys(s0.test) == ["a", "y"]
    assert len(s0.valid) == 0


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 9), st.integers(0, 4)),
        min_size=1,
        max_size=60,
    )
)
def test_leave_last_out_properties(events):
    users, items, times = zip(*events, strict=True)
    log = Interactions.from_arrays(list(users), list(items), list(times))
    s = leave_last_out(log)
    assert len(s.train) + len(s.valid) + len(s.test) == len(log)
    off = log.user_offsets()
    for u in range(log.n_users):
        t = s.test.time[s.test.user == u]
        tr = s.train_full.time[s.train_full.user == u]
        if t.size:
            # the test event is the user's last row in the sorted log
            assert s.test.item[s.test.user == u][0] == log.item[off[u + 1] - 1]
            assert tr.size == 0 or tr.max() <= t.min()


def test_temporal_and_random_splits():
    rng = np.random.default_rng(0)
    log = Interactions.from_arrays(
        rng.integers(0, 50, 2000), rng.integers(0, 100, 2000), rng.random(2000)
    )
    t = temporal_split(log, test_fraction=0.2, valid_fraction=0.1)
    assert t.train.time.max() <= t.valid.time.min() <= t.valid.time.max() <= t.test.time.min()
    assert abs(len(t.test) / 2000 - 0.2) < 0.01
    r1 = random_holdout(log, test_fraction=0.25, seed=3)
    r2 = random_holdout(log, test_fraction=0.25, seed=3)
    assert np.array_equal(r1.test.item, r2.test.item)
    assert abs(len(r1.test) / 2000 - 0.25) < 0.04
    assert len(r1.train) + len(r1.test) == 2000
    with pytest.raises(ValueError, match=r"test_fraction=1\.5 is invalid"):
        temporal_split(log, test_fraction=1.5)
    with pytest.raises(ValueError, match="n_test=0 is invalid"):
        leave_last_out(log, n_test=0)

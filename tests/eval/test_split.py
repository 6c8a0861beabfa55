"""Splits: each part shares the key tables; no test event leaks; the parts partition the log."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedrec.data.interactions import Interactions
from embedrec.eval import Split, leave_last_out, random_holdout, temporal_split


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


def _events(inter):
    return sorted(zip(inter.user.tolist(), inter.item.tolist(), inter.time.tolist(), strict=True))


def _random_log(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return Interactions.from_arrays(
        rng.integers(0, 50, n), rng.integers(0, 100, n), rng.integers(0, 500, n)
    )


def test_leave_last_out_known_answer():
    s = leave_last_out(_log())
    # user 1 (4 events >= 1 train + 1 valid + 1 test): test a, valid d (after c by row)
    # user 2 (2 events < 3) and user 3 keep everything in train
    assert _keys(s.test) == ["a"]
    assert _keys(s.valid) == ["d"]
    assert _keys(s.train) == ["b", "c", "x", "y", "z"]
    assert _keys(s.train_full) == ["b", "c", "d", "x", "y", "z"]
    assert s.protocol == "leave-last-out"
    s0 = leave_last_out(_log(), n_valid=0)
    assert _keys(s0.test) == ["a", "y"]  # now user 2 (2 events >= 2) is held out too
    assert len(s0.valid) == 0
    s2 = leave_last_out(_log(), n_valid=0, n_test=2, min_train=2)
    assert _keys(s2.test) == ["d", "a"]  # only user 1 has 2 + 2 events
    for part in (s.train, s.valid, s.test, s.train_full):
        assert part.item_keys is _log().item_keys or np.array_equal(
            part.item_keys, _log().item_keys
        )


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 9), st.integers(0, 4)),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 2),
    st.integers(1, 2),
    st.integers(1, 3),
)
def test_leave_last_out_properties(events, n_valid, n_test, min_train):
    users, items, times = zip(*events, strict=True)
    log = Interactions.from_arrays(list(users), list(items), list(times))
    s = leave_last_out(log, n_valid=n_valid, n_test=n_test, min_train=min_train)
    # the parts partition the log, and train_full is train + valid
    assert sorted(_events(s.train) + _events(s.valid) + _events(s.test)) == _events(log)
    assert sorted(_events(s.train) + _events(s.valid)) == _events(s.train_full)
    off = log.user_offsets()
    for u in range(log.n_users):
        rows = np.arange(off[u], off[u + 1])
        n_u = rows.size
        test_u = s.test.user == u
        if n_u < min_train + n_valid + n_test:
            assert not test_u.any() and not (s.valid.user == u).any()
            continue
        # the test events are the user's last rows of the sorted log, in order
        assert s.test.item[test_u].tolist() == log.item[rows[-n_test:]].tolist()
        assert (s.valid.user == u).sum() == n_valid
        assert (s.train.user == u).sum() >= min_train
        # nothing held out is earlier than anything the model trains on
        train_t = s.train.time[s.train.user == u]
        valid_t = s.valid.time[s.valid.user == u]
        assert train_t.max() <= s.test.time[test_u].min()
        if valid_t.size:
            assert train_t.max() <= valid_t.min() <= valid_t.max() <= s.test.time[test_u].min()


def test_train_full_keeps_input_order_on_time_ties():
    # all at one time: input order decides; random_holdout interleaves train and valid rows
    log = Interactions.from_arrays([0] * 50, list(range(50)), [7.0] * 50)
    s = random_holdout(log, test_fraction=0.2, valid_fraction=0.3, seed=1)
    keep = ~np.isin(np.arange(50), s.test.item)
    assert s.train_full.item.tolist() == log.item[keep].tolist()
    # a hand-made Split merges its parts (train first on ties)
    hand = Split(s.train, s.valid, s.test)
    assert sorted(hand.train_full.item.tolist()) == sorted(log.item[keep].tolist())
    assert hand.protocol == "custom"


def test_temporal_split():
    log = _random_log()
    t = temporal_split(log, test_fraction=0.2, valid_fraction=0.1)
    assert t.train.time.max() <= t.valid.time.min() <= t.valid.time.max() <= t.test.time.min()
    assert t.train.time.max() < t.test.time.min()
    # 500 distinct times over 2000 events: ties at a cut move at most ~1% of the events
    assert abs(len(t.test) / len(log) - 0.2) < 0.015
    assert abs(len(t.valid) / len(log) - 0.1) < 0.015
    assert sorted(_events(t.train) + _events(t.valid) + _events(t.test)) == _events(log)
    t0 = temporal_split(log, test_fraction=0.3, valid_fraction=0.0)
    assert len(t0.valid) == 0 and t0.protocol == "temporal"


def test_temporal_cut_known_answer():
    log = Interactions.from_arrays([1, 2, 1, 2, 1], list("abcde"), [1, 2, 3, 4, 5])
    s = temporal_split(log, test_fraction=0.4, valid_fraction=0.2)
    # times 1..5: 0.6-quantile 3.4 -> test {4, 5}; 0.4-quantile 2.6 -> valid {3}
    assert (_keys(s.train), _keys(s.valid), _keys(s.test)) == (["a", "b"], ["c"], ["e", "d"])


def test_random_holdout_is_seeded_and_partitions():
    log = _random_log()
    r1 = random_holdout(log, test_fraction=0.25, valid_fraction=0.1, seed=3)
    r2 = random_holdout(log, test_fraction=0.25, valid_fraction=0.1, seed=3)
    r3 = random_holdout(log, test_fraction=0.25, valid_fraction=0.1, seed=4)
    for a, b in ((r1.train, r2.train), (r1.valid, r2.valid), (r1.test, r2.test)):
        assert _events(a) == _events(b)
    assert _events(r1.test) != _events(r3.test)
    assert sorted(_events(r1.train) + _events(r1.valid) + _events(r1.test)) == _events(log)
    # binomial(2000, 0.25): sd 0.0097 -> 4 sd
    assert abs(len(r1.test) / 2000 - 0.25) < 0.04
    assert abs(len(r1.valid) / 2000 - 0.1) < 0.03
    assert len(random_holdout(log).valid) == 0


def test_bad_arguments_are_named():
    log = _random_log(100)
    with pytest.raises(ValueError, match=r"test_fraction=1\.5 is invalid"):
        temporal_split(log, test_fraction=1.5)
    with pytest.raises(ValueError, match=r"valid_fraction=0\.9 is invalid"):
        random_holdout(log, test_fraction=0.2, valid_fraction=0.9)
    with pytest.raises(ValueError, match="n_test=0 is invalid"):
        leave_last_out(log, n_test=0)
    with pytest.raises(ValueError, match="n_valid=-1 is invalid"):
        leave_last_out(log, n_valid=-1)
    with pytest.raises(ValueError, match="min_train=0 is invalid"):
        leave_last_out(log, min_train=0)
    with pytest.raises(ValueError, match="empty"):
        temporal_split(log.subset(np.zeros(len(log), bool)))

"""The seeded synthetic session log: reproducible, planted successors, bad arguments."""

import numpy as np
import pytest

from embedrec.data.synthetic import session_log


def test_same_seed_same_log_and_sessions_are_time_ordered():
    a = session_log(200, 50, seed=3)
    b = session_log(200, 50, seed=3)
    assert a == b and session_log(200, 50, seed=4) != a
    users, items, times = (np.asarray(x) for x in a)
    assert users.size == items.size == times.size
    assert np.all(np.bincount(users) >= 2)  # every session has two clicks or more
    same = users[1:] == users[:-1]
    assert np.all(np.diff(times)[same] == 30.0)


def test_without_repeats_and_jumps_every_click_follows_a_planted_successor():
    users, items, _ = (
        np.asarray(x) for x in session_log(300, 40, repeat_prob=0.0, jump_prob=0.0, seed=1)
    )
    same = users[1:] == users[:-1]
    pairs = set(zip(items[:-1][same].tolist(), items[1:][same].tolist(), strict=True))
    # each item has at most 5 successors
    succ = {}
    for a, b in pairs:
        succ.setdefault(a, set()).add(b)
    assert max(len(v) for v in succ.values()) <= 5


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="repeat_prob"):
        session_log(10, 10, repeat_prob=0.7, jump_prob=0.5)
    with pytest.raises(ValueError, match="n_items >= 2"):
        session_log(10, 1)

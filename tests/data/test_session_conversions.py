"""session_conversions: which session each conversion event belongs to (Airbnb's global
context), by hand on a tiny log."""

import numpy as np

from embedrec.data.interactions import Interactions
from embedrec.data.sessions import session_conversions, sessionize

# user u: sessions [a b] (t 0-60), [c d] (t 5000-5100), [e] (t 20000, alone);
# user v: one session [f g] (t 0-10)
CLICKS = Interactions.from_arrays(
    ["u", "u", "u", "u", "u", "v", "v"],
    ["a", "b", "c", "d", "e", "f", "g"],
    [0, 60, 5000, 5100, 20000, 0, 10],
)


def test_conversions_by_hand():
    buys = Interactions.from_arrays(
        ["u", "u", "u", "u", "v", "w"],
        ["x", "y", "z", "late", "q", "r"],
        # x during session 0; y within the gap after session 0's end (60 + 1800): later
        # than x, so it wins; z during session 1; "late" 1801 s after session 2's end: none;
        # v's q before its first session: none; w is not in the log: none
        [30, 1000, 5050, 21801, -5, 10],
    )
    sessions = sessionize(CLICKS, gap=1800)
    assert sessions.sequences().to_lists() == [["a", "b"], ["c", "d"], ["e"], ["f", "g"]]
    assert session_conversions(CLICKS, buys, gap=1800) == {0: "y", 1: "z"}


def test_conversions_follow_the_sessions_that_sessionize_keeps():
    # with min_length=2 the lone [e] is dropped: keys renumber as in sessionize
    buys = Interactions.from_arrays(["u", "v"], ["s", "t"], [20001, 11])
    sessions = sessionize(CLICKS, gap=1800, min_length=2)
    assert sessions.sequences().to_lists() == [["a", "b"], ["c", "d"], ["f", "g"]]
    # the buy 1 s after [e] has no kept session left within the gap; v's buy is session 2's
    assert session_conversions(CLICKS, buys, gap=1800, min_length=2) == {2: "t"}
    np.testing.assert_array_equal(sessions.user_keys, [0, 1, 2])


def test_no_conversions():
    empty = Interactions.from_arrays(
        np.array([], dtype=object), np.array([], dtype=object), np.array([], dtype=float)
    )
    assert session_conversions(CLICKS, empty) == {}

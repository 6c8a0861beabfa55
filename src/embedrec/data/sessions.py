"""Click sessions: cutting logs into sessions, session-rec's filters and time split.

A session log is an :class:`~embedrec.data.interactions.Interactions` whose "users" are
sessions: read a file with the session id as the user column, or cut a user log into
sessions with :func:`sessionize`. The protocol of the session-based recommendation
literature (the session-rec framework of Ludewig, Latifi and Jannach, RecSys 2019 and UMUAI
2021) is then :func:`session_split`:

1. drop sessions shorter than ``min_session_length`` (2), then items with fewer than
   ``min_item_support`` (5) events, then short sessions again (one pass, as session-rec;
   not iterated to a fixpoint);
2. the sessions whose last event falls in the last ``test_days`` days are the test set;
3. test events of items unseen in training are removed, then test sessions shorter than
   ``min_session_length``.

:func:`embedrec.eval.sessions.evaluate_sessions` then predicts the next item at every position
of each test session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .interactions import Interactions

logger = logging.getLogger(__name__)

DAY = 86400.0


@dataclass(frozen=True)
class SessionSplit:
    """Training and test sessions on one item key table (codes agree).

    Attributes
    ----------
    train, test : Interactions
        Session logs: each user key is one session.
    """

    train: Interactions
    test: Interactions

    def __repr__(self) -> str:
        return (
            f"SessionSplit(train={_n_sessions(self.train)} sessions / {len(self.train)} "
            f"events, test={_n_sessions(self.test)} sessions / {len(self.test)} events, "
            f"{int((self.train.item_counts() > 0).sum())} training items)"
        )

    @classmethod
    def from_parts(cls, train: Interactions, test: Interactions) -> SessionSplit:
        """Put separately read train and test logs on one item key table.

        Test items unseen in training stay (they can never be predicted, and count as
        misses); :func:`session_split` removes them as the protocol says.
        """
        return cls(*align_items(train, test))


def align_items(a: Interactions, b: Interactions) -> tuple[Interactions, Interactions]:
    """``a`` and ``b`` re-coded on the union of their item key tables (sorted)."""
    if len(a.item_keys) == len(b.item_keys) and bool(np.all(a.item_keys == b.item_keys)):
        return a, b
    if a.item_keys.dtype.kind != b.item_keys.dtype.kind:
        raise TypeError(
            f"the two logs have {_kind(a)} and {_kind(b)} item keys; read both with the same "
            "key type (keys_as_str=True for both)"
        )
    table = np.unique(np.concatenate([a.item_keys, b.item_keys]))

    def recode(x: Interactions) -> Interactions:
        codes = np.searchsorted(table, x.item_keys).astype(np.int32)
        return Interactions(x.user_keys, table, x.user, codes[x.item], x.time, x.weight)

    return recode(a), recode(b)


def _kind(x: Interactions) -> str:
    return "int" if x.item_keys.dtype.kind in "iu" else "str"


def session_filter(
    log: Interactions, *, min_session_length: int = 2, min_item_support: int = 5
) -> Interactions:
    """session-rec's filter: short sessions, then rare items, then short sessions again.

    One pass each, in that order (session-rec's ``filter_data``), not the iterated k-core of
    :func:`~embedrec.data.interactions.k_core`: a session may fall below
    ``min_session_length`` only through the item filter, and the last step drops it. Counts
    are events, so re-clicks count. Key tables are kept (codes stay valid).
    """
    _check_min("min_session_length", min_session_length)
    _check_min("min_item_support", min_item_support)
    keep = np.ones(len(log), dtype=bool)
    keep &= _session_lengths(log, keep)[log.user] >= min_session_length
    support = np.bincount(log.item[keep], minlength=log.n_items)
    keep &= support[log.item] >= min_item_support
    keep &= _session_lengths(log, keep)[log.user] >= min_session_length
    return log if keep.all() else log.subset(keep)


def _session_lengths(log: Interactions, keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    return np.bincount(log.user[keep], minlength=log.n_users)


def _n_sessions(log: Interactions) -> int:
    return int((log.user_counts() > 0).sum())


def _check_min(name: str, v: int) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name}={v!r} is invalid; use an int >= 1 (1 keeps everything)")


def session_split(
    log: Interactions,
    *,
    test_days: float | None = 1.0,
    test_fraction: float | None = None,
    min_session_length: int = 2,
    min_item_support: int = 5,
) -> SessionSplit:
    """session-rec's time split of a session log (see the module docstring).

    Parameters
    ----------
    log : Interactions
        A session log (each user key is a session; see :func:`sessionize`), times in seconds.
    test_days : float, optional
        Sessions whose last event is within ``test_days`` days of the log's last event are
        the test set (session-rec: 1 day for YOOCHOOSE, 7 for DIGINETICA).
    test_fraction : float, optional
        Instead of days: the latest ``test_fraction`` of the sessions (by last event) are the
        test set. Give exactly one of the two.
    min_session_length, min_item_support : int
        The filters (:func:`session_filter`); test sessions shorter than
        ``min_session_length`` after removing unseen items are dropped too.

    Returns
    -------
    SessionSplit
        Both parts on the log's key tables. To carve a validation split out of the training
        sessions (for tuning), split ``split.train`` again with the same arguments.

    Raises
    ------
    ValueError
        Bad arguments, or a split that leaves no training or no test session.
    """
    if (test_days is None) == (test_fraction is None):
        raise ValueError(
            "give exactly one of test_days (e.g. 1.0) and test_fraction (e.g. 0.1); "
            "pass test_days=None with test_fraction"
        )
    log = session_filter(
        log, min_session_length=min_session_length, min_item_support=min_item_support
    )
    if len(log) == 0:
        raise ValueError(
            f"the filters (min_session_length={min_session_length}, "
            f"min_item_support={min_item_support}) removed every event; lower them"
        )
    last = np.full(log.n_users, -np.inf)
    np.maximum.at(last, log.user, log.time)
    has = np.bincount(log.user, minlength=log.n_users) > 0
    if test_days is not None:
        if not (isinstance(test_days, (int, float)) and 0 < test_days < np.inf):
            raise ValueError(f"test_days={test_days!r} is invalid; use a number of days > 0")
        cut = float(log.time.max()) - float(test_days) * DAY
        is_test = has & (last >= cut)
    else:
        assert test_fraction is not None
        if not (isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1):
            raise ValueError(f"test_fraction={test_fraction!r} is invalid; use 0 < f < 1")
        sessions = np.flatnonzero(has)
        order = sessions[np.argsort(last[sessions], kind="stable")]
        n_test = max(1, round(test_fraction * sessions.size))
        is_test = np.zeros(log.n_users, dtype=bool)
        is_test[order[sessions.size - n_test :]] = True
    ev_test = is_test[log.user]
    train = log.subset(~ev_test)
    test = log.subset(ev_test)
    seen = np.bincount(train.item, minlength=log.n_items) > 0
    test = test.subset(seen[test.item])
    test = test.subset(test.user_counts()[test.user] >= min_session_length)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(
            f"the split left {_n_sessions(train)} training and {_n_sessions(test)} test "
            "sessions; choose test_days / test_fraction so that both sides hold sessions"
        )
    logger.info(
        "session split: %d training sessions (%d events), %d test sessions (%d events)",
        _n_sessions(train),
        len(train),
        _n_sessions(test),
        len(test),
    )
    return SessionSplit(train, test)


def sessionize(
    log: Interactions,
    *,
    gap: float = 1800.0,
    min_length: int = 1,
    min_dwell: float | None = None,
) -> Interactions:
    """Cut each user's events into sessions at inactivity gaps: a session log.

    Parameters
    ----------
    log : Interactions
        A user log with times in seconds (read the event-type filter with
        :func:`~embedrec.data.interactions.read_interactions`'s ``event_types``).
    gap : float
        A new session starts when a user is inactive for more than ``gap`` seconds (30 minutes
        by default, the web-analytics convention).
    min_length : int
        Drop sessions with fewer events (2 for training and for the session protocol).
    min_dwell : float, optional
        Drop events followed, within their session, by the next event in less than
        ``min_dwell`` seconds (accidental clicks, bounces); a session's last event, whose
        dwell time is unknown, is kept. Applied before ``min_length``.

    Returns
    -------
    Interactions
        Users are sessions with int keys ``0..n_sessions-1`` in (user, time) order; the item
        key table is the log's.
    """
    if len(log) == 0:
        _cut_sessions(log, gap, min_length, min_dwell)  # checks the arguments
        return log
    keep, new = _cut_sessions(log, gap, min_length, min_dwell)
    return Interactions(
        user_keys=np.arange(int(new[-1]) + 1, dtype=np.int64),
        item_keys=log.item_keys,
        user=new,
        item=log.item[keep],
        time=log.time[keep],
        weight=None if log.weight is None else log.weight[keep],
    )


def _cut_sessions(
    log: Interactions, gap: float, min_length: int, min_dwell: float | None
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int32]]:
    """:func:`sessionize`'s cut: which events are kept, and the session code (``0..``, in
    (user, time) order) of each kept one."""
    if not (isinstance(gap, (int, float)) and gap >= 0):
        raise ValueError(f"gap={gap!r} is invalid; use a number of seconds >= 0")
    _check_min("min_length", min_length)
    n = len(log)
    if n == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int32)
    start = np.empty(n, dtype=bool)
    start[0] = True
    start[1:] = (log.user[1:] != log.user[:-1]) | (np.diff(log.time) > gap)
    session = np.cumsum(start) - 1
    keep = np.ones(n, dtype=bool)
    if min_dwell is not None:
        if not (isinstance(min_dwell, (int, float)) and min_dwell >= 0):
            raise ValueError(f"min_dwell={min_dwell!r} is invalid; use seconds >= 0")
        dwell = np.full(n, np.inf)
        same = session[1:] == session[:-1]
        dwell[:-1][same] = np.diff(log.time)[same]
        keep &= dwell >= min_dwell
    lengths = np.bincount(session[keep], minlength=int(session[-1]) + 1)
    keep &= lengths[session] >= min_length
    if not keep.any():
        raise ValueError(
            f"no session is left with gap={gap}, min_length={min_length}, "
            f"min_dwell={min_dwell}; loosen them"
        )
    kept_sessions = np.unique(session[keep])
    return keep, np.searchsorted(kept_sessions, session[keep]).astype(np.int32)


def session_conversions(
    log: Interactions,
    conversions: Interactions,
    *,
    gap: float = 1800.0,
    min_length: int = 1,
    min_dwell: float | None = None,
) -> dict[int, Any]:
    """The item each session of :func:`sessionize` converted on: Airbnb's global context.

    Call it with the arguments given to :func:`sessionize`; the result maps its session keys
    to items, ready for ``Item2Vec.fit(sessions, global_context=...)``.

    A conversion event (a purchase, a booking: read them from the same log with another
    ``event_types``) of user ``u`` at time ``t`` belongs to ``u``'s latest session that began
    at or before ``t``, if ``t`` is at most ``gap`` seconds after that session's last event
    (it happened during the session or right after it); otherwise it belongs to none. A
    session with several conversions keeps the latest (Airbnb's booking ends the session).

    Parameters
    ----------
    log : Interactions
        The user log that :func:`sessionize` cut (e.g. its clicks).
    conversions : Interactions
        The conversion events, with the same user keys (their item keys need not be in
        ``log``).
    gap, min_length, min_dwell
        As given to :func:`sessionize`.

    Returns
    -------
    dict
        Session key -> item key, for the sessions with a conversion.

    Examples
    --------
    >>> clicks = Interactions.from_arrays(["u"] * 4, [1, 2, 3, 4], [0, 60, 9000, 9060])
    >>> buys = Interactions.from_arrays(["u", "u"], [2, 9], [100, 99999])
    >>> sessionize(clicks, gap=1800).sequences().to_lists()
    [[1, 2], [3, 4]]
    >>> session_conversions(clicks, buys, gap=1800)
    {0: 2}
    """
    keep, code = _cut_sessions(log, gap, min_length, min_dwell)
    if code.size == 0 or len(conversions) == 0:
        return {}
    first = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    last = np.r_[first[1:], code.size] - 1
    s_user = log.user[keep][first]
    s_start = log.time[keep][first]
    s_end = log.time[keep][last]
    # sessions are in (user, start) order: each user's sessions are one contiguous run
    u_lo = np.searchsorted(s_user, np.arange(len(log.user_keys)), side="left")
    u_hi = np.searchsorted(s_user, np.arange(len(log.user_keys)), side="right")
    user_code = {k: i for i, k in enumerate(log.user_keys.tolist())}
    c_user = [user_code.get(k, -1) for k in conversions.user_keys[conversions.user].tolist()]
    c_item = conversions.item_keys[conversions.item].tolist()
    out: dict[int, tuple[float, Any]] = {}
    for u, t, item in zip(c_user, conversions.time.tolist(), c_item, strict=True):
        if u < 0:
            continue
        lo, hi = int(u_lo[u]), int(u_hi[u])
        j = lo + int(np.searchsorted(s_start[lo:hi], t, side="right")) - 1
        if j < lo or t > s_end[j] + gap:
            continue
        if j not in out or t >= out[j][0]:
            out[j] = (t, item)
    return {j: item for j, (_, item) in sorted(out.items())}

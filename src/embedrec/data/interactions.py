"""Interaction logs in columnar form: (user, item, time[, weight]) -> per-user sequences.

An :class:`Interactions` holds one row per event as int32 codes into two key tables (the
users' and the items' own IDs, ``int`` or ``str``), sorted by user, then time, then input
order (a stable tie-break). Every subset keeps the key tables, so codes of a training split
and of its test split mean the same items.

:func:`read_interactions` reads a log from CSV/TSV, Parquet or a DataFrame through pyarrow,
filters it (missing IDs, ``min_weight``, ``event_types``, duplicates, iterated k-core) in
columnar form and encodes it. :meth:`Interactions.sequences` cuts the sorted log into
per-user histories or time-gap sessions (:class:`Sequences`), the input of Item2Vec.

pyarrow is imported lazily, by the readers only, so ``import embedrec`` stays fast.
"""

from __future__ import annotations

import itertools
import logging
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..keys import key_column
from .readers import (
    SECONDS_PER,
    ColumnRef,
    TimeUnit,
    as_bool,
    load_columns,
    not_utf8_error,
    numbers,
    plain_column,
    seconds,
)

logger = logging.getLogger("embedrec")

DedupeSubset = Literal["user_item_time", "user_item"]


@dataclass(frozen=True, eq=False)
class Interactions:
    """An interaction log sorted by (user, time, input order).

    Parameters
    ----------
    user_keys : (n_users,) int64 or object (str) ndarray
        External user (or session) keys; code ``u`` stands for ``user_keys[u]``.
    item_keys : (n_items,) int64 or object (str) ndarray
        External item keys; code ``i`` stands for ``item_keys[i]``.
    user : (n_events,) int32
        User code of each event, non-decreasing.
    item : (n_events,) int32
        Item code of each event.
    time : (n_events,) float64
        Event time (unix seconds, or the input row number when the log has no time), non-
        decreasing within each user.
    weight : (n_events,) float32 or None
        Optional rating / weight of each event.

    Notes
    -----
    Use :meth:`from_arrays` to build one from unsorted columns, or :func:`read_interactions`
    to read a file or DataFrame; the constructor only checks.

    Examples
    --------
    >>> inter = Interactions.from_arrays(["u2", "u1", "u1"], [10, 11, 10], times=[5, 9, 3])
    >>> inter.user_keys.tolist(), inter.item_keys[inter.item].tolist()
    (['u1', 'u2'], [10, 11, 10])
    >>> inter.sequences().to_lists()
    [[10, 11], [10]]
    """

    user_keys: npt.NDArray[Any]
    item_keys: npt.NDArray[Any]
    user: npt.NDArray[np.int32]
    item: npt.NDArray[np.int32]
    time: npt.NDArray[np.float64]
    weight: npt.NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        n = self.user.shape[0]
        for name in ("item", "time"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise ValueError(f"{name} has shape {arr.shape} but user has shape {(n,)}")
        if self.weight is not None and self.weight.shape != (n,):
            raise ValueError(f"weight has shape {self.weight.shape} but user has shape {(n,)}")
        if n and (self.user.min() < 0 or self.user.max() >= len(self.user_keys)):
            raise ValueError("user codes must index user_keys")
        if n and (self.item.min() < 0 or self.item.max() >= len(self.item_keys)):
            raise ValueError("item codes must index item_keys")
        if n > 1 and np.any(np.diff(self.user) < 0):
            raise ValueError("events must be sorted by user; build with Interactions.from_arrays")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        users: npt.ArrayLike,
        items: npt.ArrayLike,
        times: npt.ArrayLike | None = None,
        weights: npt.ArrayLike | None = None,
    ) -> Interactions:
        """Encode raw key columns and sort them by (user, time, input order).

        ``users`` / ``items`` hold int or str keys; ``times`` defaults to the row number
        (numbers are seconds; ``datetime64`` arrays are converted to unix seconds).
        Key tables are sorted (``np.unique`` order), so codes do not depend on row order.

        Raises
        ------
        ValueError
            If the columns differ in length, a key is missing (None/NaN) or a time is NaN or
            infinite.
        """
        u_raw = np.asarray(users)
        i_raw = np.asarray(items)
        if u_raw.ndim != 1 or i_raw.shape != u_raw.shape:
            raise ValueError(
                f"users and items must be 1-D of one length, got {u_raw.shape} and {i_raw.shape}"
            )
        user_keys, u = _encode_keys(key_column(u_raw, "users", coerce=True))
        item_keys, i = _encode_keys(key_column(i_raw, "items", coerce=True))
        t = None if times is None else _numpy_seconds(np.asarray(times))
        return cls.from_codes(user_keys, item_keys, u, i, t, weights)

    @classmethod
    def from_codes(
        cls,
        user_keys: npt.NDArray[Any],
        item_keys: npt.NDArray[Any],
        user: npt.ArrayLike,
        item: npt.ArrayLike,
        times: npt.ArrayLike | None = None,
        weights: npt.ArrayLike | None = None,
    ) -> Interactions:
        """Sort already-encoded events by (user, time, input order).

        Parameters
        ----------
        user_keys, item_keys : (n_users,), (n_items,) int64 or object (str) ndarray
            Key tables; they are kept as given.
        user, item : (n_events,) int
            Codes into the key tables, in input order.
        times : (n_events,) float, optional
            Event times in seconds; default the row number.
        weights : (n_events,) float, optional

        Raises
        ------
        ValueError
            On a length mismatch, a code outside its key table or a NaN or infinite time.
        """
        u = np.asarray(user)
        i = np.asarray(item)
        n = u.shape[0]
        if u.ndim != 1 or i.shape != u.shape:
            raise ValueError(f"user and item must be 1-D of one length, got {u.shape}, {i.shape}")
        t = np.arange(n, dtype=np.float64) if times is None else np.asarray(times, dtype=np.float64)
        if t.shape != (n,):
            raise ValueError(f"times has shape {t.shape}, expected {(n,)}")
        n_nan = int(np.isnan(t).sum())
        if n_nan:
            raise ValueError(f"times has {n_nan} missing (NaN) values; drop those rows first")
        n_inf = int(np.isinf(t).sum())
        if n_inf:
            raise ValueError(
                f"times has {n_inf} infinite values (e.g. {t[np.isinf(t)][0]}); an event "
                "needs a real time: fix or drop those rows first"
            )
        w = None if weights is None else np.asarray(weights, dtype=np.float32)
        if w is not None and w.shape != (n,):
            raise ValueError(f"weights has shape {w.shape}, expected {(n,)}")
        # lexsort is stable, so equal (user, time) keep their input order
        order = np.lexsort((t, u))
        return cls(
            user_keys=user_keys,
            item_keys=item_keys,
            user=u[order].astype(np.int32),
            item=i[order].astype(np.int32),
            time=t[order],
            weight=None if w is None else w[order],
        )

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return int(self.user.shape[0])

    def __repr__(self) -> str:
        return (
            f"Interactions({len(self)} events, {self.n_users} users, {self.n_items} items"
            f"{', weighted' if self.weight is not None else ''})"
        )

    @property
    def n_users(self) -> int:
        """Size of the user key table (users with no events included)."""
        return len(self.user_keys)

    @property
    def n_items(self) -> int:
        """Size of the item key table (items with no events included)."""
        return len(self.item_keys)

    def user_offsets(self) -> npt.NDArray[np.int64]:
        """(n_users + 1,) int64: events of user ``u`` are rows ``off[u]:off[u + 1]``."""
        counts = np.bincount(self.user, minlength=self.n_users)
        off = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(counts, out=off[1:])
        return off

    def user_counts(self) -> npt.NDArray[np.int64]:
        """(n_users,) int64 events per user code."""
        return np.bincount(self.user, minlength=self.n_users).astype(np.int64)

    def item_counts(self) -> npt.NDArray[np.int64]:
        """(n_items,) int64 events per item code."""
        return np.bincount(self.item, minlength=self.n_items).astype(np.int64)

    def subset(self, mask: npt.NDArray[np.bool_]) -> Interactions:
        """The events where ``mask`` is True, with the same key tables (codes stay valid)."""
        m = np.asarray(mask, dtype=bool)
        if m.shape != (len(self),):
            raise ValueError(f"mask has shape {m.shape}, expected {(len(self),)}")
        return Interactions(
            user_keys=self.user_keys,
            item_keys=self.item_keys,
            user=self.user[m],
            item=self.item[m],
            time=self.time[m],
            weight=None if self.weight is None else self.weight[m],
        )

    # ------------------------------------------------------------------ cleaning
    def compact(self) -> Interactions:
        """Drop users and items without events from the key tables and renumber the codes.

        The kept keys stay in table order, so the events stay sorted. Codes change: do not
        mix codes of a compacted log with codes of the original (use keys instead).

        Returns
        -------
        Interactions
            ``self`` when every key has an event, else a new log with smaller key tables.
        """
        used_u = np.bincount(self.user, minlength=self.n_users) > 0
        used_i = np.bincount(self.item, minlength=self.n_items) > 0
        if used_u.all() and used_i.all():
            return self
        new_u = (np.cumsum(used_u) - 1).astype(np.int32)
        new_i = (np.cumsum(used_i) - 1).astype(np.int32)
        return Interactions(
            user_keys=self.user_keys[used_u],
            item_keys=self.item_keys[used_i],
            user=new_u[self.user],
            item=new_i[self.item],
            time=self.time,
            weight=self.weight,
        )

    def dedupe(self, *, subset: DedupeSubset = "user_item_time") -> Interactions:
        """Drop repeated events, keeping the first (in sorted order) of each group.

        Parameters
        ----------
        subset : "user_item_time" or "user_item"
            Events are duplicates when they agree on (user, item, time), or on (user, item)
            whatever the time (keeps each user's first interaction with an item).

        Returns
        -------
        Interactions
            Same key tables (call :meth:`compact` to drop keys left without events).
        """
        if subset not in ("user_item_time", "user_item"):
            raise ValueError(f"subset={subset!r} is invalid; use 'user_item_time' or 'user_item'")
        n = len(self)
        if n < 2:
            return self
        # events are sorted by (user, time, row): number the (user[, time]) groups in that
        # order, then one stable sort by (group, item) puts duplicates next to each other,
        # first row first
        change = self.user[1:] != self.user[:-1]
        if subset == "user_item_time":
            change |= self.time[1:] != self.time[:-1]
        group = np.zeros(n, dtype=np.int64)
        np.cumsum(change, out=group[1:])
        n_items = max(self.n_items, 1)
        if int(group[-1]) < np.iinfo(np.int64).max // n_items - 1:
            key = group * n_items + self.item
            order = np.argsort(key, kind="stable")
            sorted_key = key[order]
            same = sorted_key[1:] == sorted_key[:-1]
        else:  # too many (groups x items) for one int64 key
            order = np.lexsort((self.item, group))
            g, i = group[order], self.item[order]
            same = (g[1:] == g[:-1]) & (i[1:] == i[:-1])
        keep = np.ones(n, dtype=bool)
        keep[order[1:][same]] = False  # every group member after its first row
        return self if keep.all() else self.subset(keep)

    def first_occurrences(self) -> Interactions:
        """Each user's first event with each item (``dedupe(subset="user_item")``).

        Useful for logs where one interaction is recorded several times (e.g. an artist
        tagged with several tags); key tables are kept.
        """
        return self.dedupe(subset="user_item")

    def filter(
        self,
        *,
        min_weight: float | None = None,
        min_user_interactions: int = 1,
        min_item_interactions: int = 1,
        dedupe: bool = False,
        compact: bool = True,
    ) -> Interactions:
        """Apply the standard filters, in this order, and compact the key tables.

        Parameters
        ----------
        min_weight : float, optional
            Keep events with ``weight >= min_weight`` (e.g. ratings of 4 and more).
        min_user_interactions, min_item_interactions : int
            Iterated k-core (see :func:`k_core`): every kept user has at least
            ``min_user_interactions`` events and every kept item ``min_item_interactions``.
        dedupe : bool
            Drop repeated (user, item, time) events first (see :meth:`dedupe`). By default
            repeated events are kept as repeated interactions.
        compact : bool
            Drop keys left without events (:meth:`compact`); pass False to keep the key
            tables, and so the codes, unchanged.

        Raises
        ------
        ValueError
            If a filter removes every event (the message names it), or on bad arguments.
        """
        out = self
        if min_weight is not None:
            out = _filter_min_weight(out, min_weight)
        if dedupe:
            out = out.dedupe()
        out = k_core(
            out,
            min_user=min_user_interactions,
            min_item=min_item_interactions,
            compact=False,
        )
        return out.compact() if compact else out

    # ------------------------------------------------------------------ sequences
    def sequences(self, *, session_gap: float | None = None, min_length: int = 1) -> Sequences:
        """Cut the log into time-ordered sequences: one per user, or per session.

        Parameters
        ----------
        session_gap : float, optional
            Start a new sequence when two consecutive events of a user are more than
            ``session_gap`` seconds apart (same unit as ``time``; row numbers when the log has
            no time column). None keeps each user's whole history as one sequence.
        min_length : int
            Drop sequences with fewer events (use 2 for Item2Vec: a single item has no
            context).

        Returns
        -------
        Sequences
            In user order, then time order; sharing this log's item key table.

        Examples
        --------
        >>> inter = Interactions.from_arrays([1, 1, 1, 2], ["a", "b", "c", "a"], [0, 10, 500, 7])
        >>> inter.sequences(session_gap=60).to_lists()
        [['a', 'b'], ['c'], ['a']]
        >>> inter.sequences(session_gap=60, min_length=2).to_lists()
        [['a', 'b']]
        """
        if session_gap is not None and not session_gap >= 0:
            raise ValueError(
                f"session_gap={session_gap!r} is invalid; use a number of seconds >= 0 or None"
            )
        if isinstance(min_length, bool) or not isinstance(min_length, (int, np.integer)):
            raise ValueError(f"min_length={min_length!r} is invalid; use an int >= 1")
        if min_length < 1:
            raise ValueError(f"min_length={min_length} is invalid; use min_length>=1")
        n = len(self)
        if n == 0:
            return Sequences(
                items=np.zeros(0, dtype=np.int32),
                offsets=np.zeros(1, dtype=np.int64),
                user=np.zeros(0, dtype=np.int32),
                item_keys=self.item_keys,
                times=np.zeros(0, dtype=np.float64),
                user_keys=self.user_keys,
            )
        start = np.empty(n, dtype=bool)
        start[0] = True
        start[1:] = self.user[1:] != self.user[:-1]
        if session_gap is not None:
            start[1:] |= np.diff(self.time) > session_gap
        starts = np.flatnonzero(start)
        lengths = np.diff(np.append(starts, n))
        keep_seq = lengths >= min_length
        keep_event = np.repeat(keep_seq, lengths)
        offsets = np.zeros(int(keep_seq.sum()) + 1, dtype=np.int64)
        np.cumsum(lengths[keep_seq], out=offsets[1:])
        return Sequences(
            items=self.item[keep_event],
            offsets=offsets,
            user=self.user[starts[keep_seq]],
            item_keys=self.item_keys,
            times=self.time[keep_event],
            user_keys=self.user_keys,
        )


@dataclass(frozen=True, eq=False)
class Sequences:
    """Item sequences in CSR layout: sequence ``j`` is ``items[offsets[j]:offsets[j + 1]]``.

    Parameters
    ----------
    items : (n_events,) int32
        Item codes into ``item_keys``.
    offsets : (n_sequences + 1,) int64
        Non-decreasing, ``offsets[0] == 0`` and ``offsets[-1] == n_events``.
    user : (n_sequences,) int32
        User code of each sequence (several sessions may share a user).
    item_keys : (n_items,) int64 or object (str) ndarray
        The item key table, shared with the :class:`Interactions` the sequences came from.
    times : (n_events,) float64
        Time of each event, aligned with ``items``.
    user_keys : (n_users,) ndarray or None
        The user key table, when known.
    """

    items: npt.NDArray[np.int32]
    offsets: npt.NDArray[np.int64]
    user: npt.NDArray[np.int32]
    item_keys: npt.NDArray[Any]
    times: npt.NDArray[np.float64]
    user_keys: npt.NDArray[Any] | None = None

    def __post_init__(self) -> None:
        n = self.items.shape[0]
        off = self.offsets
        if off.ndim != 1 or off.size < 1 or off[0] != 0 or off[-1] != n:
            raise ValueError(
                f"offsets must start at 0 and end at n_events={n}; got shape {off.shape}"
            )
        if np.any(np.diff(off) < 0):
            raise ValueError("offsets must be non-decreasing")
        if self.user.shape != (off.size - 1,):
            raise ValueError(
                f"user has shape {self.user.shape} but offsets has shape {off.shape}; "
                "expected one user per sequence"
            )
        if self.times.shape != (n,):
            raise ValueError(f"times has shape {self.times.shape} but items has shape {(n,)}")

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def __getitem__(self, j: int) -> npt.NDArray[Any]:
        """Item keys of sequence ``j`` (negative ``j`` counts from the end)."""
        n = len(self)
        if not -n <= j < n:
            raise IndexError(f"sequence {j} is out of range for {n} sequences")
        j %= n
        return self.item_keys[self.items[self.offsets[j] : self.offsets[j + 1]]]

    def __repr__(self) -> str:
        return f"Sequences({len(self)} sequences, {self.items.shape[0]} events)"

    def rows(self, a: int, b: int) -> Sequences:
        """Sequences ``a`` to ``b - 1`` (sharing the key tables), e.g. a block of prefixes to
        score at once."""
        lo, hi = int(self.offsets[a]), int(self.offsets[b])
        return Sequences(
            items=self.items[lo:hi],
            offsets=self.offsets[a : b + 1] - lo,
            user=self.user[a:b],
            item_keys=self.item_keys,
            times=self.times[lo:hi],
            user_keys=self.user_keys,
        )

    def lengths(self) -> npt.NDArray[np.int64]:
        """(n_sequences,) int64 events per sequence."""
        return np.diff(self.offsets)

    def to_lists(self, *, as_str: bool = False) -> list[list[Any]]:
        """The sequences as lists of builtin keys (e.g. sentences for gensim).

        Parameters
        ----------
        as_str : bool
            Convert every key to ``str`` (gensim's vocabulary is keyed by strings).
        """
        flat = self.item_keys[self.items]
        if as_str:
            flat = flat.astype(str)
        keys = flat.tolist()
        bounds = self.offsets.tolist()
        return [keys[a:b] for a, b in itertools.pairwise(bounds)]


# ---------------------------------------------------------------------- filters
def k_core(
    interactions: Interactions,
    min_user: int = 1,
    min_item: int = 1,
    *,
    compact: bool = True,
) -> Interactions:
    """The largest sub-log where every user has >= ``min_user`` and every item >= ``min_item``
    events, found by removing violating events until nothing changes.

    One pass is not enough in general: dropping a rare item can push a user below
    ``min_user``, whose removal can push another item below ``min_item``, and so on. Counts
    are events, so repeated interactions count repeatedly (see :meth:`Interactions.dedupe`).

    Parameters
    ----------
    interactions : Interactions
    min_user, min_item : int
        Thresholds, >= 1 (1 disables that side).
    compact : bool
        Drop keys left without events from the key tables.

    Returns
    -------
    Interactions

    Raises
    ------
    ValueError
        If a threshold is < 1, or if the k-core of a non-empty log is empty.

    Examples
    --------
    >>> inter = Interactions.from_arrays([1, 1, 2, 2, 3], ["a", "b", "a", "b", "c"])
    >>> k_core(inter, min_user=2, min_item=2).item_keys.tolist()
    ['a', 'b']
    """
    for name, v in (("min_user", min_user), ("min_item", min_item)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r} is invalid; use an int >= 1 (1 keeps everything)")
    inter = interactions
    n = len(inter)
    keep = np.ones(n, dtype=bool)
    if n and (min_user > 1 or min_item > 1):
        n_kept = n
        passes = 0
        while True:
            passes += 1
            u_cnt = np.bincount(inter.user[keep], minlength=inter.n_users)
            i_cnt = np.bincount(inter.item[keep], minlength=inter.n_items)
            keep &= (u_cnt[inter.user] >= min_user) & (i_cnt[inter.item] >= min_item)
            now = int(keep.sum())
            if now == n_kept:
                break
            n_kept = now
        logger.info(
            "k-core (users >= %d, items >= %d): %d of %d events kept after %d passes",
            min_user,
            min_item,
            n_kept,
            n,
            passes,
        )
        if n_kept == 0:
            raise ValueError(
                f"the k-core with min_user_interactions={min_user}, "
                f"min_item_interactions={min_item} removed all {n} events (the most active "
                f"user has {int(inter.user_counts().max())} events, the most popular item "
                f"{int(inter.item_counts().max())}); lower the thresholds"
            )
    out = inter if keep.all() else inter.subset(keep)
    return out.compact() if compact else out


def _filter_min_weight(inter: Interactions, min_weight: float) -> Interactions:
    if inter.weight is None:
        raise ValueError(
            f"min_weight={min_weight} needs weights; read the log with weight_col=... "
            "(the rating column)"
        )
    keep = inter.weight >= min_weight
    if len(inter) and not keep.any():
        raise ValueError(
            f"min_weight={min_weight} removed all {len(inter)} events (the largest weight is "
            f"{float(inter.weight.max()):g}); lower it"
        )
    return inter if keep.all() else inter.subset(keep)


# ---------------------------------------------------------------------- key encoding
def _encode_keys(keys: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.int32]]:
    """(sorted unique key table, int32 codes) of an int64 or object-str key column."""
    if keys.dtype == object and keys.size:
        import pyarrow as pa

        return _encode_arrow_strings(pa.chunked_array([pa.array(keys, type=pa.large_string())]))
    table, codes = np.unique(keys, return_inverse=True)
    _check_code_range(table.size)
    return table, codes.reshape(-1).astype(np.int32)


def _encode_arrow_strings(col: Any) -> tuple[npt.NDArray[Any], npt.NDArray[np.int32]]:
    """Sorted unique strings (code point order, as ``np.unique``) and int32 codes, in C."""
    import pyarrow.compute as pc

    uniq = pc.unique(col)
    uniq = uniq.take(pc.array_sort_indices(uniq))
    _check_code_range(len(uniq))
    codes = pc.index_in(col, value_set=uniq)
    table = np.asarray(uniq.to_numpy(zero_copy_only=False), dtype=object)
    return table, np.asarray(codes.to_numpy(), dtype=np.int32)


def _check_code_range(n_keys: int) -> None:
    if n_keys > np.iinfo(np.int32).max:
        raise ValueError(f"{n_keys} distinct keys do not fit int32 codes")


def _numpy_seconds(t: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """float64 seconds from numbers or ``datetime64`` (NaT -> NaN)."""
    if t.dtype.kind == "M":
        ns = t.astype("datetime64[ns]")
        out = ns.astype(np.int64).astype(np.float64) * 1e-9
        out[np.isnat(ns)] = np.nan
        return out
    return np.asarray(t, dtype=np.float64)


# ---------------------------------------------------------------------- reading
def read_interactions(
    source: str | os.PathLike[str] | Any,
    *,
    user_col: ColumnRef,
    item_col: ColumnRef,
    time_col: ColumnRef | None = None,
    weight_col: ColumnRef | None = None,
    event_col: ColumnRef | None = None,
    sep: str | None = None,
    has_header: bool = True,
    column_names: Sequence[str] | None = None,
    time_format: str | None = None,
    time_unit: TimeUnit = "s",
    min_weight: float | None = None,
    event_types: Iterable[Any] | None = None,
    min_item_interactions: int = 1,
    min_user_interactions: int = 1,
    dedupe: bool = False,
    drop_missing: bool = False,
    keys_as_str: bool = False,
    encoding: str = "utf8",
) -> Interactions:
    """Read an interaction log (CSV/TSV, Parquet or a DataFrame), filter and encode it.

    Everything runs column-wise in pyarrow and NumPy; no Python loop touches single events.

    Parameters
    ----------
    source : path, pandas.DataFrame, polars.DataFrame / LazyFrame, pyarrow.Table or dict
        A file path: Parquet (recognised by its ``PAR1`` magic bytes, or a folder of
        ``.parquet`` files) or delimited text (optionally ``.gz`` / ``.bz2`` / ``.zst``
        compressed). A dict maps column names to arrays.
    user_col, item_col : str or int
        Columns of the user (or session) and item IDs, by name or 0-based position. Integer
        IDs give int keys, anything else str keys.
    time_col : str or int, optional
        Event times: numbers (unix seconds, fractions allowed; see ``time_unit``), timestamps
        or dates (timezone-naive ones are taken as UTC), or text parsed with ``time_format``.
        Without it events keep their input order (``time`` is the row number).
    weight_col : str or int, optional
        Ratings / weights (numeric), kept as float32.
    event_col : str or int, optional
        Event types, used by ``event_types`` (not stored).
    sep : str, optional
        Field separator of a text file. Default: tab for ``.tsv`` / ``.tab`` / ``.dat`` (or
        ``::`` in a ``.dat`` file that uses it, as MovieLens-1M), else sniffed among
        ``, \\t ; |``. Separators of several characters are supported.
    has_header : bool
        Whether the first line of a text file names the columns. Without a header, columns
        are ``f0, f1, ...`` unless ``column_names`` names them.
    column_names : sequence of str, optional
        Names for the columns of a text file (replacing its header, if any).
    time_format : str, optional
        ``strptime`` format of a text time column, e.g. ``"%Y-%m-%d %H:%M:%S"``.
    time_unit : "s", "ms", "us" or "ns"
        Unit of a numeric time column; times are always stored in seconds.
    min_weight : float, optional
        Keep events with ``weight >= min_weight`` (needs ``weight_col``).
    event_types : iterable, optional
        Keep events whose type is one of these (needs ``event_col``).
    min_item_interactions, min_user_interactions : int
        Iterated k-core (:func:`k_core`): repeat dropping items and users with fewer events
        until every remaining one has enough.
    dedupe : bool
        Drop repeated events: same (user, item, time), or same (user, item) when there is no
        ``time_col``; the first is kept. By default duplicate events are kept as repeated
        interactions (they weigh more in co-occurrence counts).
    drop_missing : bool
        Drop rows with a missing (null / NaN / empty) user, item, time or weight instead of
        raising.
    keys_as_str : bool
        Read user and item IDs as text even when they look numeric (keeps leading zeros,
        e.g. ``"007"``).
    encoding : str
        Text encoding of a delimited file (e.g. ``"latin-1"``).

    Returns
    -------
    Interactions
        Sorted by (user, time, input row); key tables hold only keys that kept events.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        On a missing column (the message lists the available ones), missing IDs or times
        (counted; use ``drop_missing=True``), a text time column without ``time_format``,
        unparseable data, or when a filter removes every event (the message names it).
    TypeError
        If ``source`` is of no supported type.

    Examples
    --------
    >>> import pyarrow as pa
    >>> log = pa.table({"user": ["u1", "u1", "u2"], "item": [3, 1, 3], "ts": [20, 10, 5]})
    >>> inter = read_interactions(log, user_col="user", item_col="item", time_col="ts")
    >>> inter.sequences().to_lists()
    [[1, 3], [3]]
    """
    roles: dict[str, ColumnRef] = {"user": user_col, "item": item_col}
    for role, ref in (("time", time_col), ("weight", weight_col), ("event", event_col)):
        if ref is not None:
            roles[role] = ref
    _check_filter_args(
        min_weight=min_weight,
        weight_col=weight_col,
        event_types=event_types,
        event_col=event_col,
        min_item_interactions=min_item_interactions,
        min_user_interactions=min_user_interactions,
    )
    cols, label, names = load_columns(
        source,
        roles,
        sep=sep,
        has_header=has_header,
        column_names=column_names,
        time_format=time_format,
        keys_as_str=keys_as_str,
        encoding=encoding,
    )
    return build_interactions(
        cols,
        label=label,
        names=names,
        time_format=time_format,
        time_unit=time_unit,
        min_weight=min_weight,
        event_types=event_types,
        min_item_interactions=min_item_interactions,
        min_user_interactions=min_user_interactions,
        dedupe=dedupe,
        drop_missing=drop_missing,
        keys_as_str=keys_as_str,
    )


def _check_filter_args(
    *,
    min_weight: float | None,
    weight_col: ColumnRef | None,
    event_types: Iterable[Any] | None,
    event_col: ColumnRef | None,
    min_item_interactions: int,
    min_user_interactions: int,
) -> None:
    if min_weight is not None and weight_col is None:
        raise ValueError(
            f"min_weight={min_weight} needs weight_col=... (the rating / weight column)"
        )
    if event_types is not None and event_col is None:
        raise ValueError("event_types needs event_col=... (the column of event types)")
    for name, v in (
        ("min_item_interactions", min_item_interactions),
        ("min_user_interactions", min_user_interactions),
    ):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name}={v!r} is invalid; use an int >= 1 (1 keeps everything)")


def build_interactions(
    cols: Mapping[str, Any],
    *,
    label: str,
    names: Mapping[str, str],
    time_format: str | None = None,
    time_unit: TimeUnit = "s",
    min_weight: float | None = None,
    event_types: Iterable[Any] | None = None,
    min_item_interactions: int = 1,
    min_user_interactions: int = 1,
    dedupe: bool = False,
    drop_missing: bool = False,
    keys_as_str: bool = False,
) -> Interactions:
    """Filter and encode pyarrow columns keyed by role into :class:`Interactions`.

    The second half of :func:`read_interactions` (after
    :func:`~embedrec.data.readers.load_columns`), also used by the data sets of
    :mod:`embedrec.data.datasets`. ``cols`` maps roles
    (``"user"``, ``"item"`` and optionally ``"time"``, ``"weight"``, ``"event"``) to pyarrow
    columns; ``label`` names the source and ``names`` each role's column in messages. The other
    parameters are those of :func:`read_interactions`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = {role: plain_column(col) for role, col in cols.items()}
    n_rows = len(cols["user"])
    if n_rows == 0:
        raise ValueError(f"{label} has no rows; nothing to read")
    if time_unit not in SECONDS_PER:
        raise ValueError(f"time_unit={time_unit!r} is invalid; use one of {list(SECONDS_PER)}")

    # --- missing values: counted per column, raised together
    missing: dict[str, npt.NDArray[np.bool_]] = {}
    for role in ("user", "item"):
        missing[role] = as_bool(pc.is_null(cols[role], nan_is_null=True))
        if cols[role].type in (pa.string(), pa.large_string()):
            missing[role] |= as_bool(pc.equal(cols[role], ""))
    times = None
    if "time" in cols:
        times = seconds(cols["time"], names["time"], time_format, time_unit)
        # inf is refused like NaN: sorting by time would put those events at one end
        missing["time"] = ~np.isfinite(times)
    weights = None
    if "weight" in cols:
        weights = numbers(cols["weight"], f"weight column {names['weight']!r}")
        missing["weight"] = np.isnan(weights)
    counts = {role: int(m.sum()) for role, m in missing.items()}
    keep = np.ones(n_rows, dtype=bool)
    if any(counts.values()):
        desc = ", ".join(f"{c} in {role} column {names[role]!r}" for role, c in counts.items() if c)
        n_inf = 0 if times is None else int(np.isinf(times).sum())
        what = "missing or infinite values" if n_inf else "missing values"
        if not drop_missing:
            raise ValueError(
                f"{label} has {what} ({desc}); drop those rows, or pass "
                "drop_missing=True to skip them"
            )
        for m in missing.values():
            keep &= ~m
        logger.info("dropped %d rows with missing values (%s)", int((~keep).sum()), desc)
        if not keep.any():
            raise ValueError(f"drop_missing=True removed every row of {label} ({desc})")

    # --- row filters that need columns the Interactions does not keep
    if min_weight is not None:
        assert weights is not None
        ok = weights >= min_weight
        if not (keep & ok).any():
            wmax = np.nanmax(weights[keep])
            raise ValueError(
                f"min_weight={min_weight} removed all {int(keep.sum())} events (the largest "
                f"value of {names['weight']!r} is {wmax:g}); lower it"
            )
        keep &= ok
    if event_types is not None:
        keep &= _event_mask(cols["event"], event_types, names["event"], keep)

    # --- encode
    if not keep.all():
        mask = pa.array(keep)
        cols = {role: col.filter(mask) for role, col in cols.items()}
        times = None if times is None else times[keep]
        weights = None if weights is None else weights[keep]
    user_keys, u = _encode_column(cols["user"], names["user"], keys_as_str)
    item_keys, i = _encode_column(cols["item"], names["item"], keys_as_str)
    inter = Interactions.from_codes(user_keys, item_keys, u, i, times, weights)
    if dedupe:
        before = len(inter)
        inter = inter.dedupe(subset="user_item_time" if times is not None else "user_item")
        logger.info("dedupe dropped %d repeated events", before - len(inter))
    inter = k_core(
        inter, min_user=min_user_interactions, min_item=min_item_interactions, compact=False
    )
    return inter.compact()


def _event_mask(
    col: Any, event_types: Iterable[Any], name: str, keep: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(event_types, (str, bytes)):
        event_types = [event_types]
    wanted = list(event_types)
    if not wanted:
        raise ValueError("event_types is empty; pass None to keep every event type")
    try:
        value_set = pa.array(wanted).cast(col.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise ValueError(
            f"event_types={wanted!r} do not match the type of event column {name!r} "
            f"({col.type}): {exc}"
        ) from exc
    ok = as_bool(pc.is_in(col, value_set=value_set))
    present = pc.unique(col.filter(pa.array(keep))).drop_null()
    if len(present) <= 1000:
        seen = set(present.to_pylist())
        absent = [w for w, v in zip(wanted, value_set.to_pylist(), strict=True) if v not in seen]
        shown = sorted(seen, key=str)[:20]
        if absent and len(absent) < len(wanted):
            warnings.warn(
                f"event_types {absent!r} do not occur in column {name!r} (it holds {shown}); "
                "check their spelling",
                UserWarning,
                stacklevel=4,
            )
    else:
        shown = present.slice(0, 20).to_pylist()
    if not (keep & ok).any():
        raise ValueError(
            f"event_types={wanted!r} removed all {int(keep.sum())} events; column {name!r} "
            f"holds {shown}"
        )
    return ok


def _encode_column(
    col: Any, name: str, keys_as_str: bool
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int32]]:
    import pyarrow as pa

    t = col.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        # pyarrow reads a text column that is not valid UTF-8 as binary
        try:
            col = col.cast(pa.large_string())
        except pa.ArrowInvalid:
            raise not_utf8_error(col, name) from None
        t = col.type
    if keys_as_str and not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        col = col.cast(pa.large_string())
        t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        values = np.asarray(col.to_numpy())
        return _encode_keys(key_column(values, f"column {name!r}", coerce=True))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _encode_arrow_strings(col)
    try:
        as_str = col.cast(pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(
            f"column {name!r} has type {t}, which cannot be used as keys; use int or str IDs"
        ) from exc
    return _encode_arrow_strings(as_str)

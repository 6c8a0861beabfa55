"""Interaction logs in columnar form: (user, item, time[, weight]) -> per-user sequences.

An :class:`Interactions` holds one row per event as int32 codes into two key tables (the
users' and the items' own IDs, ``int`` or ``str``), sorted by user, then time, then input
order (a stable tie-break). Every subset keeps the key tables, so codes of a training split
and of its test split mean the same items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


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

    Use :meth:`from_arrays` to build one from unsorted columns; the constructor only checks.
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

        ``users`` / ``items`` hold int or str keys; ``times`` defaults to the row number.
        Key tables are sorted (``np.unique``), so codes do not depend on row order.
        """
        u_raw = np.asarray(users)
        i_raw = np.asarray(items)
        if u_raw.ndim != 1 or i_raw.shape != u_raw.shape:
            raise ValueError(
                f"users and items must be 1-D of one length, got {u_raw.shape} and {i_raw.shape}"
            )
        n = u_raw.shape[0]
        t = np.arange(n, dtype=np.float64) if times is None else np.asarray(times, dtype=np.float64)
        if t.shape != (n,):
            raise ValueError(f"times has shape {t.shape}, expected {(n,)}")
        w = None if weights is None else np.asarray(weights, dtype=np.float32)
        if w is not None and w.shape != (n,):
            raise ValueError(f"weights has shape {w.shape}, expected {(n,)}")
        user_keys, u = np.unique(_key_column(u_raw, "users"), return_inverse=True)
        item_keys, i = np.unique(_key_column(i_raw, "items"), return_inverse=True)
        order = np.lexsort((np.arange(n), t, u))  # last key is primary: user, time, row
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


def _key_column(col: npt.NDArray[Any], name: str) -> npt.NDArray[Any]:
    """int64 for integer keys, object (str) for everything else; missing keys are an error."""
    if col.dtype.kind in "iu":
        return col.astype(np.int64)
    if col.dtype.kind == "f":
        if np.isnan(col).any():
            raise ValueError(
                f"{name} has {int(np.isnan(col).sum())} missing (NaN) keys; drop those rows first"
            )
        if np.all(col == np.round(col)):
            return col.astype(np.int64)
        raise ValueError(f"{name} are non-integer floats; keys must be int or str")
    out = np.asarray(col, dtype=object)
    bad = np.array([k is None or (isinstance(k, float) and k != k) for k in out.tolist()])
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} missing (None/NaN) keys; drop those rows")
    return np.array([k if isinstance(k, str) else str(k) for k in out.tolist()], dtype=object)

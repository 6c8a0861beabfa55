"""Seeded train / validation / test splits of an :class:`Interactions` log.

Every part keeps the key tables of the input, so item and user codes mean the same thing in
all of them, and the parts partition the input's events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..data.interactions import Interactions


@dataclass(frozen=True)
class Split:
    """Train, validation and test events of one log (disjoint; together the whole log).

    ``train_full`` (train + validation) is what a final model is fitted on before it is
    scored on ``test``; ``train`` alone is for tuning against ``valid``.
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: str

    @property
    def train_full(self) -> Interactions:
        """Train and validation events together (sorted as in the input)."""
        return _union(self.train, self.valid)


def _union(a: Interactions, b: Interactions) -> Interactions:
    user = np.concatenate([a.user, b.user])
    time = np.concatenate([a.time, b.time])
    seq = np.arange(user.size)
    order = np.lexsort((seq, time, user))
    weight = None
    if a.weight is not None and b.weight is not None:
        weight = np.concatenate([a.weight, b.weight])[order]
    return Interactions(
        user_keys=a.user_keys,
        item_keys=a.item_keys,
        user=user[order],
        item=np.concatenate([a.item, b.item])[order],
        time=time[order],
        weight=weight,
    )


def _parts(inter: Interactions, part: npt.NDArray[np.int8], protocol: str) -> Split:
    """``part``: 0 train, 1 validation, 2 test, per event."""
    return Split(
        train=inter.subset(part == 0),
        valid=inter.subset(part == 1),
        test=inter.subset(part == 2),
        protocol=protocol,
    )


def leave_last_out(
    inter: Interactions, *, n_valid: int = 1, n_test: int = 1, min_train: int = 1
) -> Split:
    """Per user, chronologically: the last ``n_test`` events are test, the ``n_valid`` before
    them validation, the rest train.

    Parameters
    ----------
    inter
        The log; its rows are sorted by (user, time, input order), so "last" breaks time ties
        by input order.
    n_valid, n_test
        Events held out per user (``n_valid=0``: no validation).
    min_train
        A user with fewer than ``n_valid + n_test + min_train`` events keeps all of them in
        train (they still count as catalogue and history, and are not evaluated).

    Examples
    --------
    >>> log = Interactions.from_arrays(["u"] * 4, ["a", "b", "c", "d"], [1, 2, 3, 4])
    >>> s = leave_last_out(log)
    >>> [s.train.item_keys[s.train.item].tolist(), s.valid.item_keys[s.valid.item].tolist(),
    ...  s.test.item_keys[s.test.item].tolist()]
    [['a', 'b'], ['c'], ['d']]
    """
    for name, v, lo in (
        ("n_valid", n_valid, 0),
        ("n_test", n_test, 1),
        ("min_train", min_train, 1),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name}={v!r} is invalid; use an integer {name}>={lo}")
    off = inter.user_offsets()
    counts = np.diff(off)
    n = len(inter)
    # position of every event counted from its user's end: 0 = the last event
    from_end = np.repeat(off[1:], counts) - 1 - np.arange(n)
    eligible = np.repeat(counts >= n_valid + n_test + min_train, counts)
    part = np.zeros(n, dtype=np.int8)
    part[eligible & (from_end < n_test + n_valid)] = 1
    part[eligible & (from_end < n_test)] = 2
    return _parts(inter, part, "leave-last-out")


def temporal_split(
    inter: Interactions, *, test_fraction: float = 0.2, valid_fraction: float = 0.1
) -> Split:
    """A global time cut: the latest ``test_fraction`` of events (by time quantile) are test,
    the ``valid_fraction`` before them validation.

    Events exactly at a cut time go to the earlier part. Test users without any training
    event are skipped (and counted) by :func:`~embedrec.eval.evaluate.evaluate`.
    """
    _check_fractions(test_fraction, valid_fraction)
    if len(inter) == 0:
        raise ValueError("the interactions are empty; nothing to split")
    t_test = np.quantile(inter.time, 1.0 - test_fraction)
    t_valid = np.quantile(inter.time, 1.0 - test_fraction - valid_fraction)
    part = np.zeros(len(inter), dtype=np.int8)
    part[inter.time > t_valid] = 1
    part[inter.time > t_test] = 2
    return _parts(inter, part, "temporal")


def random_holdout(
    inter: Interactions,
    *,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.0,
    seed: int = 0,
) -> Split:
    """Each event independently goes to test / validation / train with the given
    probabilities (seeded, so the same seed gives the same split)."""
    _check_fractions(test_fraction, valid_fraction)
    u = np.random.default_rng(seed).random(len(inter))
    part = np.zeros(len(inter), dtype=np.int8)
    part[u < test_fraction + valid_fraction] = 1
    part[u < test_fraction] = 2
    return _parts(inter, part, "random")


def _check_fractions(test_fraction: float, valid_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction={test_fraction!r} is invalid; use 0 < test_fraction < 1")
    if not 0 <= valid_fraction < 1 - test_fraction:
        raise ValueError(
            f"valid_fraction={valid_fraction!r} is invalid; use 0 <= valid_fraction < "
            f"1 - test_fraction = {1 - test_fraction:g}"
        )

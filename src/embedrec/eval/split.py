"""Seeded train / validation / test splits of an :class:`Interactions` log.

Every part keeps the key tables of the input, so user and item codes mean the same thing in
all of them, and the three parts partition the input's events (each event is in exactly one).

Three protocols:

* :func:`leave_last_out`: per user, the chronologically last events are test (next-item
  prediction; the usual protocol for sequential recommenders).
* :func:`temporal_split`: one global time cut; everything after it is test (no information
  from the future reaches training).
* :func:`random_holdout`: each event is held out at random (seeded).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..data.interactions import Interactions

_TRAIN, _VALID, _TEST = 0, 1, 2


@dataclass(frozen=True, eq=False)
class Split:
    """Train, validation and test events of one log (disjoint; together the whole log).

    Parameters
    ----------
    train, valid, test : Interactions
        The parts, sharing the input's key tables. ``valid`` may be empty.
    protocol : str
        How the parts were chosen (``"leave-last-out"``, ``"temporal"``, ``"random"``), for
        reports.

    Notes
    -----
    Tune on ``train`` against ``valid``; fit the final model on :attr:`train_full` (train
    and validation) and score it on ``test``.
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: str = "custom"
    # the splitters pass the input's own train+valid subset, which keeps time ties in input
    # order exactly; a hand-made Split falls back to merging the two parts
    _train_full: Interactions | None = field(default=None, repr=False)

    @property
    def train_full(self) -> Interactions:
        """Train and validation events together, sorted by (user, time, input order)."""
        if self._train_full is not None:
            return self._train_full
        return _union(self.train, self.valid)


def _union(a: Interactions, b: Interactions) -> Interactions:
    """Events of ``a`` and ``b`` (same key tables), sorted by (user, time); ties: ``a`` first."""
    if a.item_keys is not b.item_keys and not np.array_equal(a.item_keys, b.item_keys):
        raise ValueError("train and valid have different item key tables; split one log")
    user = np.concatenate([a.user, b.user])
    time = np.concatenate([a.time, b.time])
    order = np.lexsort((np.arange(user.size), time, user))
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
    """``part`` per event: 0 train, 1 validation, 2 test."""
    return Split(
        train=inter.subset(part == _TRAIN),
        valid=inter.subset(part == _VALID),
        test=inter.subset(part == _TEST),
        protocol=protocol,
        _train_full=inter.subset(part != _TEST),
    )


def _check_count(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}={value!r} is invalid; use an integer {name}>={low}")


def leave_last_out(
    inter: Interactions, *, n_valid: int = 1, n_test: int = 1, min_train: int = 1
) -> Split:
    """Per user, chronologically: the last ``n_test`` events are test, the ``n_valid`` before
    them validation, the rest train.

    Parameters
    ----------
    inter : Interactions
        The log. Its rows are sorted by (user, time, input order), so "last" breaks time ties
        by input order: of two events at the same time, the later row is held out first.
    n_valid : int, default 1
        Validation events per user (``0``: ``valid`` is empty).
    n_test : int, default 1
        Test events per user (``>= 1``).
    min_train : int, default 1
        Training events a user must keep. A user with fewer than
        ``min_train + n_valid + n_test`` events keeps *all* of them in train: they add to the
        catalogue and to the other users' co-occurrences, but are not evaluated.

    Returns
    -------
    Split
        ``protocol="leave-last-out"``.

    Raises
    ------
    ValueError
        A negative ``n_valid``, or ``n_test`` / ``min_train`` below 1.

    Examples
    --------
    >>> log = Interactions.from_arrays(["u"] * 4, ["a", "b", "c", "d"], [1, 2, 3, 4])
    >>> s = leave_last_out(log)
    >>> [p.item_keys[p.item].tolist() for p in (s.train, s.valid, s.test)]
    [['a', 'b'], ['c'], ['d']]
    """
    _check_count("n_valid", n_valid, 0)
    _check_count("n_test", n_test, 1)
    _check_count("min_train", min_train, 1)
    off = inter.user_offsets()
    counts = np.diff(off)
    n = len(inter)
    # each event's position counted from its user's end: 0 = the user's last event
    from_end = np.repeat(off[1:], counts) - 1 - np.arange(n, dtype=np.int64)
    eligible = np.repeat(counts >= min_train + n_valid + n_test, counts)
    part = np.full(n, _TRAIN, dtype=np.int8)
    part[eligible & (from_end < n_test + n_valid)] = _VALID
    part[eligible & (from_end < n_test)] = _TEST
    return _parts(inter, part, "leave-last-out")


def temporal_split(
    inter: Interactions, *, test_fraction: float = 0.2, valid_fraction: float = 0.1
) -> Split:
    """A global time cut: the latest ``test_fraction`` of events are test, the
    ``valid_fraction`` before them validation, the rest train.

    The cut points are quantiles of all event times (``1 - test_fraction`` and
    ``1 - test_fraction - valid_fraction``). Events exactly at a cut time go to the earlier
    part, so with many tied times the later parts can be smaller than asked. Users whose
    events all fall after the cut have no training history: :func:`~embedrec.eval.evaluate`
    skips them and reports how many (``EvalResult.n_skipped_users``).

    Parameters
    ----------
    inter : Interactions
        The log (``time`` is the clock; with no times it is the input row number).
    test_fraction : float, default 0.2
        In ``(0, 1)``.
    valid_fraction : float, default 0.1
        In ``[0, 1 - test_fraction)``; ``0`` leaves ``valid`` empty.

    Returns
    -------
    Split
        ``protocol="temporal"``; every training time <= every validation time <= every test
        time.

    Raises
    ------
    ValueError
        Fractions out of range, or an empty log.

    Examples
    --------
    >>> log = Interactions.from_arrays([1, 2, 1, 2, 1], list("abcde"), [1, 2, 3, 4, 5])
    >>> s = temporal_split(log, test_fraction=0.2, valid_fraction=0.0)
    >>> s.test.item_keys[s.test.item].tolist()
    ['e']
    """
    _check_fractions(test_fraction, valid_fraction)
    if len(inter) == 0:
        raise ValueError("the interactions are empty; there is nothing to split")
    t_test = np.quantile(inter.time, 1.0 - test_fraction)
    t_valid = np.quantile(inter.time, 1.0 - test_fraction - valid_fraction)
    part = np.full(len(inter), _TRAIN, dtype=np.int8)
    part[inter.time > t_valid] = _VALID
    part[inter.time > t_test] = _TEST
    return _parts(inter, part, "temporal")


def random_holdout(
    inter: Interactions,
    *,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.0,
    seed: int = 0,
) -> Split:
    """Each event independently goes to test, validation or train with probabilities
    ``test_fraction``, ``valid_fraction`` and the rest.

    Ignores time, so a model can see a user's later events while predicting earlier ones;
    prefer :func:`leave_last_out` or :func:`temporal_split` for sequential models.

    Parameters
    ----------
    inter : Interactions
        The log.
    test_fraction : float, default 0.2
        In ``(0, 1)``.
    valid_fraction : float, default 0.0
        In ``[0, 1 - test_fraction)``.
    seed : int, default 0
        The same seed and log give the same split.

    Returns
    -------
    Split
        ``protocol="random"``.

    Examples
    --------
    >>> log = Interactions.from_arrays(list(range(100)), list(range(100)))
    >>> a, b = random_holdout(log, seed=1), random_holdout(log, seed=1)
    >>> bool((a.test.item == b.test.item).all())
    True
    """
    _check_fractions(test_fraction, valid_fraction)
    draw = np.random.default_rng(seed).random(len(inter))
    part = np.full(len(inter), _TRAIN, dtype=np.int8)
    part[draw < test_fraction + valid_fraction] = _VALID
    part[draw < test_fraction] = _TEST
    return _parts(inter, part, "random")


def _check_fractions(test_fraction: float, valid_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction={test_fraction!r} is invalid; use 0 < test_fraction < 1")
    if not 0 <= valid_fraction < 1 - test_fraction:
        raise ValueError(
            f"valid_fraction={valid_fraction!r} is invalid; use 0 <= valid_fraction < "
            f"1 - test_fraction = {1 - test_fraction:g}"
        )

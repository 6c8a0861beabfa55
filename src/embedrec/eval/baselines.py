"""Baselines scored by the same code as every model: popularity and random.

Both implement the :class:`~embedrec.eval.evaluate.Scorer` protocol, so
:func:`~embedrec.eval.evaluate` treats them exactly like a trained model. Any model worth
keeping beats :class:`Popularity`; :class:`RandomScorer` gives the chance level of each
metric (``HR@K`` close to ``K / n_candidates`` with one test item per user).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..data.interactions import Interactions
from ..vectors import Key

__all__ = ["Popularity", "RandomScorer"]


class Popularity:
    """Scores each candidate by its number of training events, the same for every user.

    Candidates it never saw score 0. Equal counts tie, and :func:`~embedrec.eval.evaluate`
    breaks ties by candidate order.

    Attributes
    ----------
    counts_ : dict[key, int] or None
        Training events per item key, set by :meth:`fit`.

    Examples
    --------
    >>> log = Interactions.from_arrays([1, 1, 2], ["a", "b", "b"])
    >>> Popularity().fit(log).score([["a"]], np.array(["a", "b", "c"], dtype=object)).tolist()
    [[1.0, 2.0, 0.0]]
    """

    def __init__(self) -> None:
        self.counts_: dict[Any, int] | None = None
        # evaluate() passes the same candidate array for every batch: score it once
        self._cache: tuple[npt.NDArray[Any], npt.NDArray[np.float32]] | None = None

    def fit(self, train: Interactions) -> Popularity:
        """Count the events of every item in ``train``; returns ``self``."""
        counts = train.item_counts()
        used = np.flatnonzero(counts > 0)
        self.counts_ = dict(zip(train.item_keys[used].tolist(), counts[used].tolist(), strict=True))
        self._cache = None
        return self

    def score(
        self,
        histories: Sequence[Sequence[Key]],
        candidates: npt.NDArray[Any],
        *,
        times: Sequence[npt.NDArray[np.float64]] | None = None,
        users: Sequence[Key] | None = None,
    ) -> npt.NDArray[np.float32]:
        """(n_histories, n_candidates) float32 training counts; histories, times and users
        are ignored.

        Raises
        ------
        RuntimeError
            Not fitted.
        """
        if self.counts_ is None:
            raise RuntimeError("Popularity is not fitted yet; call .fit(train) first")
        if self._cache is not None and self._cache[0] is candidates:
            row = self._cache[1]
        else:
            get = self.counts_.get
            keys = np.asarray(candidates).tolist()
            row = np.fromiter((get(c, 0) for c in keys), dtype=np.float32, count=len(keys))
            if isinstance(candidates, np.ndarray):
                self._cache = (candidates, row)
        return np.broadcast_to(row, (len(histories), row.size)).copy()


class RandomScorer:
    """Independent uniform scores in ``[0, 1)``: the chance level of every metric.

    Every call draws from one generator seeded with ``seed``, so a new ``RandomScorer(seed)``
    reproduces the same scores for the same sequence of calls (the same users and
    ``batch_size`` in :func:`~embedrec.eval.evaluate`); reusing one object continues the
    stream.

    Parameters
    ----------
    seed : int, default 0

    Examples
    --------
    >>> a = RandomScorer(3).score([["x"], ["y"]], np.array(["x", "y", "z"]))
    >>> b = RandomScorer(3).score([["x"], ["y"]], np.array(["x", "y", "z"]))
    >>> a.shape, bool((a == b).all())
    ((2, 3), True)
    """

    def __init__(self, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed={seed!r} is invalid; use an integer seed >= 0")
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)

    def score(
        self,
        histories: Sequence[Sequence[Key]],
        candidates: npt.NDArray[Any],
        *,
        times: Sequence[npt.NDArray[np.float64]] | None = None,
        users: Sequence[Key] | None = None,
    ) -> npt.NDArray[np.float32]:
        """(n_histories, n_candidates) float32 uniform scores in ``[0, 1)``; times and users
        are ignored."""
        return self._rng.random((len(histories), len(candidates)), dtype=np.float32)

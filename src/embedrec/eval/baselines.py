"""Baselines scored by the same code as every model: popularity and random."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..data.interactions import Interactions


class Popularity:
    """Scores each candidate by its number of training events (the same for every user).

    Examples
    --------
    >>> log = Interactions.from_arrays([1, 1, 2], ["a", "b", "b"])
    >>> Popularity().fit(log).score([["a"]], np.array(["a", "b", "c"], dtype=object)).tolist()
    [[1.0, 2.0, 0.0]]
    """

    def __init__(self) -> None:
        self.counts_: dict[Any, int] | None = None

    def fit(self, train: Interactions) -> Popularity:
        counts = train.item_counts()
        used = np.flatnonzero(counts > 0)
        self.counts_ = dict(zip(train.item_keys[used].tolist(), counts[used].tolist(), strict=True))
        return self

    def score(
        self,
        histories: Sequence[Sequence[Any]],
        candidates: npt.NDArray[Any],
        *,
        times: Sequence[npt.NDArray[np.float64]] | None = None,
    ) -> npt.NDArray[np.float32]:
        """(n_histories, n_candidates) training counts (0 for unseen candidates)."""
        if self.counts_ is None:
            raise RuntimeError("Popularity is not fitted yet; call .fit(train) first")
        get = self.counts_.get
        row = np.array([get(c, 0) for c in np.asarray(candidates).tolist()], dtype=np.float32)
        return np.broadcast_to(row, (len(histories), row.size)).copy()


class RandomScorer:
    """Uniform random scores: the chance level of every metric.

    A new ``RandomScorer(seed)`` reproduces the same scores for the same calls.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def score(
        self,
        histories: Sequence[Sequence[Any]],
        candidates: npt.NDArray[Any],
        *,
        times: Sequence[npt.NDArray[np.float64]] | None = None,
    ) -> npt.NDArray[np.float32]:
        """(n_histories, n_candidates) uniform scores in [0, 1)."""
        return self._rng.random((len(histories), len(candidates)), dtype=np.float32)

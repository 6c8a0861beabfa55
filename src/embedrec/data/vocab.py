"""Vocabulary: external keys <-> row indices, with counts."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Vocab:
    """Keys ordered by descending count (ties keep first-seen order).

    Parameters
    ----------
    keys : list of str or int
        External ids; ``keys[i]`` owns row ``i`` of every matrix trained on this vocabulary.
    counts : (n_keys,) int64
        Occurrences of each key in the corpus the vocabulary was built from.
    """

    keys: list[Hashable]
    counts: npt.NDArray[np.int64]
    key_to_index: dict[Hashable, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = np.ascontiguousarray(self.counts, dtype=np.int64)
        if counts.shape != (len(self.keys),):
            raise ValueError(
                f"counts has shape {counts.shape} but there are {len(self.keys)} keys; "
                "give one count per key"
            )
        object.__setattr__(self, "counts", counts)
        index = {k: i for i, k in enumerate(self.keys)}
        if len(index) != len(self.keys):
            raise ValueError("vocabulary keys must be unique")
        object.__setattr__(self, "key_to_index", index)

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return key in self.key_to_index

    @property
    def total(self) -> int:
        """Number of corpus tokens covered by the vocabulary."""
        return int(self.counts.sum())

    def n_at_least(self, min_count: int) -> int:
        """How many keys occur at least ``min_count`` times: with keys in descending count
        order, they are the first ones (``restrict_vocab`` of the queries)."""
        return n_at_least(self.counts, min_count)

    def encode(self, tokens: Sequence[Hashable]) -> npt.NDArray[np.int32]:
        """Indices of the in-vocabulary ``tokens`` (unknown ones dropped), as int32."""
        get = self.key_to_index.get
        return np.fromiter((i for i in map(get, tokens) if i is not None), dtype=np.int32, count=-1)


def n_at_least(counts: npt.NDArray[np.integer], min_count: int) -> int:
    """The length of the prefix of ``counts`` (descending) whose counts are ``>= min_count``
    (at least 1: a floor that leaves no key is an error, not an empty answer).

    Raises
    ------
    ValueError
        If ``min_count`` is negative, no key reaches it, or ``counts`` is not in descending
        order (such keys are not a vocabulary built here).
    """
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 0:
        raise ValueError(f"min_count={min_count!r} is invalid; use an integer >= 0")
    c = np.asarray(counts)
    if c.size > 1 and bool((np.diff(c) > 0).any()):
        raise ValueError(
            "the counts are not in descending order, so a count floor cannot restrict the "
            "queries; re-save the model with this version"
        )
    n = int(np.count_nonzero(c >= min_count))
    if n == 0 and c.size:
        raise ValueError(
            f"no key was seen min_count={min_count} times in training (the most frequent one "
            f"{int(c.max())} times); lower min_count"
        )
    return n

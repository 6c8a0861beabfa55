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

    def encode(self, tokens: Sequence[Hashable]) -> npt.NDArray[np.int32]:
        """Indices of the in-vocabulary ``tokens`` (unknown ones dropped), as int32."""
        get = self.key_to_index.get
        return np.fromiter((i for i in map(get, tokens) if i is not None), dtype=np.int32, count=-1)

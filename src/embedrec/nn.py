"""PyTorch layers initialised from an :class:`~embedrec.vectors.Embeddings` (needs the
``torch`` extra: ``pip install "embedrec[torch]"``).

Use 1 and 2 of embeddings in a recommender: an embedding layer for a sparse ID feature, and
pretrained vectors fed into another model. Row 0 is reserved for unknown keys, so IDs that
appear after training (new items) map to a defined vector instead of crashing or aliasing
another item.

Examples
--------
>>> from embedrec import Embeddings
>>> emb = Embeddings(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
>>> layer, index = to_torch_embedding(emb, unknown="zeros")
>>> layer(index(["b", "new"])).tolist()
[[0.0, 1.0], [0.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .vectors import Embeddings

if TYPE_CHECKING:
    import torch

Unknown = Literal["mean", "zeros", "random"]


def _torch() -> Any:
    try:
        import torch
    except ModuleNotFoundError as exc:
        raise ImportError(
            'embedrec.nn needs PyTorch: pip install "embedrec[torch]" (torch==2.13.0)'
        ) from exc
    return torch


class KeyIndex:
    """Maps keys to rows of a layer built by :func:`to_torch_embedding`: key ``emb.keys[i]``
    is row ``i + 1``; unknown keys are row 0 (:attr:`UNKNOWN`).
    """

    UNKNOWN = 0

    def __init__(self, keys: Sequence[Hashable]) -> None:
        self.keys = list(keys)
        self._rows = {k: i + 1 for i, k in enumerate(self.keys)}

    def __len__(self) -> int:
        """Rows of the layer, the unknown row included."""
        return len(self.keys) + 1

    def rows(self, keys: Sequence[Hashable]) -> np.ndarray:
        """int64 rows of ``keys`` (0 for unknown keys)."""
        get = self._rows.get
        return np.fromiter((get(k, 0) for k in keys), dtype=np.int64, count=len(keys))

    def __call__(self, keys: Sequence[Hashable]) -> torch.Tensor:
        """A LongTensor of rows for an ``nn.Embedding``."""
        out: torch.Tensor = _torch().from_numpy(self.rows(keys))
        return out

    def bag(self, bags: Sequence[Sequence[Hashable]]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input, offsets)`` LongTensors for an ``nn.EmbeddingBag`` from lists of keys
        (e.g. users' histories)."""
        torch = _torch()
        lengths = np.fromiter((len(b) for b in bags), dtype=np.int64, count=len(bags))
        offsets = np.zeros(len(bags), dtype=np.int64)
        offsets[1:] = np.cumsum(lengths[:-1])
        flat = [k for b in bags for k in b]
        return torch.from_numpy(self.rows(flat)), torch.from_numpy(offsets)


def to_torch_embedding(
    emb: Embeddings,
    *,
    freeze: bool = True,
    unknown: Unknown = "mean",
    bag: bool = False,
    mode: Literal["mean", "sum", "max"] = "mean",
    normalize: bool = False,
    seed: int = 0,
) -> tuple[Any, KeyIndex]:
    """An ``nn.Embedding`` (or ``nn.EmbeddingBag``) holding ``emb``'s vectors, and its
    :class:`KeyIndex`.

    Parameters
    ----------
    emb
        The pretrained vectors.
    freeze
        Keep the weights fixed (pretrained features) or let them fine-tune.
    unknown
        Row 0 (unknown keys): the mean vector, zeros, or small random values.
    bag
        Build an ``nn.EmbeddingBag`` pooling each bag with ``mode`` (e.g. a history).
    normalize
        Use unit-length vectors (what cosine similarity compares).
    seed
        Seeds ``unknown="random"``.

    Returns
    -------
    (module, KeyIndex)
        ``module`` has ``len(emb) + 1`` rows of ``emb.dim`` float32.
    """
    torch = _torch()
    vec = emb.unit_vectors if normalize else emb.vectors
    weight = np.empty((len(emb) + 1, emb.dim), dtype=np.float32)
    weight[1:] = vec
    if unknown == "mean":
        weight[0] = vec.mean(axis=0) if len(emb) else 0.0
    elif unknown == "zeros":
        weight[0] = 0.0
    elif unknown == "random":
        scale = float(vec.std()) if len(emb) else 1.0
        weight[0] = np.random.default_rng(seed).normal(0.0, scale, emb.dim)
    else:
        raise ValueError(f"unknown={unknown!r} is invalid; use 'mean', 'zeros' or 'random'")
    w = torch.from_numpy(weight)
    if bag:
        module = torch.nn.EmbeddingBag.from_pretrained(w, freeze=freeze, mode=mode)
    else:
        module = torch.nn.Embedding.from_pretrained(w, freeze=freeze)
    return module, KeyIndex(emb.keys)

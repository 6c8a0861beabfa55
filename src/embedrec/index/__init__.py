"""Nearest-neighbour indexes over :class:`~embedrec.vectors.Embeddings`.

* :class:`ExactIndex` (NumPy, exact; the default up to ~1e5 items),
* :class:`~embedrec.index.faiss.FaissHNSWIndex` and :class:`~embedrec.index.faiss.FaissIVFIndex`
  (IVF-Flat, IVF-PQ), which need ``pip install "embedrec[faiss]"`` and import faiss only when
  built or loaded.

All share the :class:`Index` contract (see :mod:`embedrec.index.base`): scores are similarities
in the embeddings' metric, queries are batch-first, ``exclude``/``allow``/``deny`` filters are
honoured with exactly ``k`` results whenever ``k`` candidates remain, and artifacts are
directories with a ``manifest.json`` (never pickle).

>>> from embedrec import Embeddings
>>> from embedrec.index import build_index, load_index
>>> emb = Embeddings(["a", "b", "c"], [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
>>> build_index(emb).search_keys("a", k=1).keys.tolist()
['b']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import (
    INDEX_KINDS,
    Index,
    IndexKind,
    build_index,
    format_sweep,
    load_index,
    sweep,
)
from .exact import ExactIndex

if TYPE_CHECKING:
    from .faiss import FaissHNSWIndex, FaissIVFIndex

__all__ = [
    "INDEX_KINDS",
    "ExactIndex",
    "FaissHNSWIndex",
    "FaissIVFIndex",
    "Index",
    "IndexKind",
    "build_index",
    "format_sweep",
    "load_index",
    "sweep",
]


def __getattr__(name: str) -> Any:
    # the faiss classes are importable from here without importing faiss up front
    if name in ("FaissHNSWIndex", "FaissIVFIndex"):
        from . import faiss as _faiss

        return getattr(_faiss, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Nearest-neighbour indexes over :class:`~embedrec.vectors.Embeddings`.

* :class:`ExactIndex` (NumPy, exact; the default up to ~1e5 items),
* :class:`~embedrec.index.faiss.FaissHNSWIndex` and :class:`~embedrec.index.faiss.FaissIVFIndex`
  (IVF-Flat, IVF-PQ), which need ``pip install "embedrec[faiss]"`` and import faiss only when
  built or loaded.

All share the :class:`Index` contract (see :mod:`embedrec.index.base`): scores are similarities
in the embeddings' metric, queries are batch-first, ``exclude``/``allow``/``deny`` filters are
honoured with exactly ``k`` results whenever ``k`` candidates remain, and artifacts are
directories with a ``manifest.json`` (never pickle).

The package's modules: ``base`` (the :class:`Index` contract), ``topk`` (the one ranking path:
``top_k``, ``check_k``, blocked scoring), ``exact``, ``faiss``, ``registry`` (kind -> class:
:func:`build_index`, :func:`load_index`) and ``recall`` (recall@k and queries/s sweeps). Names are
resolved on first access, so importing the package (or :mod:`embedrec.index.topk` alone) imports
no index module.

>>> from embedrec import Embeddings
>>> from embedrec.index import build_index, load_index
>>> emb = Embeddings(["a", "b", "c"], [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
>>> build_index(emb).search_keys("a", k=1).keys.tolist()
['b']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Index
    from .exact import ExactIndex
    from .faiss import FaissHNSWIndex, FaissIVFIndex
    from .recall import format_sweep, sweep
    from .registry import INDEX_KINDS, IndexKind, build_index, load_index

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

#: public name -> the submodule that defines it
_HOMES = {
    "INDEX_KINDS": "registry",
    "IndexKind": "registry",
    "build_index": "registry",
    "load_index": "registry",
    "Index": "base",
    "ExactIndex": "exact",
    "FaissHNSWIndex": "faiss",
    "FaissIVFIndex": "faiss",
    "format_sweep": "recall",
    "sweep": "recall",
}


def __getattr__(name: str) -> Any:
    # resolved lazily: embedrec.vectors imports embedrec.index.topk, and the index modules
    # import embedrec.vectors; the faiss classes must not import faiss up front either
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

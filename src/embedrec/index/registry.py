"""The index registry: kind name -> implementation class, and building or loading any kind.

``INDEX_KINDS`` lists the kinds; an implementation module is imported only when its kind is
used (the faiss kinds need ``pip install "embedrec[faiss]"``).
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Literal, cast

from .._io import read_manifest
from ..vectors import Embeddings, Metric
from .base import Index

__all__ = ["INDEX_KINDS", "IndexKind", "build_index", "index_class", "load_index"]

IndexKind = Literal["exact", "hnsw", "ivf-flat", "ivf-pq"]
INDEX_KINDS: tuple[str, ...] = ("exact", "hnsw", "ivf-flat", "ivf-pq")

#: kind -> (module, class) of the implementation, imported only when used
_KIND_CLASSES: dict[str, tuple[str, str]] = {
    "exact": ("embedrec.index.exact", "ExactIndex"),
    "hnsw": ("embedrec.index.faiss", "FaissHNSWIndex"),
    "ivf-flat": ("embedrec.index.faiss", "FaissIVFIndex"),
    "ivf-pq": ("embedrec.index.faiss", "FaissIVFIndex"),
}


def index_class(kind: str) -> type[Index]:
    """The :class:`Index` subclass of ``kind`` (imported on first use).

    Raises
    ------
    ValueError
        An unknown kind; the known ones are listed.
    """
    if kind not in _KIND_CLASSES:
        raise ValueError(f"kind={kind!r} is invalid; use one of {', '.join(INDEX_KINDS)}")
    module, name = _KIND_CLASSES[kind]
    return cast(type[Index], getattr(importlib.import_module(module), name))


def build_index(
    embeddings: Embeddings,
    kind: IndexKind | str = "exact",
    *,
    metric: Metric | None = None,
    **params: Any,
) -> Index:
    """Build an index of ``kind`` over ``embeddings``.

    Parameters
    ----------
    embeddings : Embeddings
        Keys, vectors and the metric the index inherits.
    kind : {"exact", "hnsw", "ivf-flat", "ivf-pq"}, default "exact"
        ``"exact"``: :class:`~embedrec.index.exact.ExactIndex` (NumPy, fine up to ~1e5
        items). ``"hnsw"``: :class:`~embedrec.index.faiss.FaissHNSWIndex`. ``"ivf-flat"`` and
        ``"ivf-pq"``: :class:`~embedrec.index.faiss.FaissIVFIndex` (``"ivf-pq"`` sets
        ``pq_m`` to a default when not given). The faiss kinds need ``pip install
        "embedrec[faiss]"``.
    metric : {"cosine", "dot"}, optional
        A check only: a value other than ``embeddings.metric`` raises.
    **params
        Constructor parameters of the class, e.g. ``M=32, ef_search=128`` or ``nlist=1024``.

    Returns
    -------
    Index

    Raises
    ------
    ValueError
        Unknown kind, a metric mismatch (both metrics are named) or bad parameters.
    ImportError
        faiss is missing; the message names the extra to install.

    Examples
    --------
    >>> from embedrec import Embeddings
    >>> emb = Embeddings([1, 2, 3], [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    >>> build_index(emb, kind="exact").search_keys(1, k=1).keys.tolist()
    [2]
    """
    cls = index_class(kind)
    if kind == "ivf-pq":
        params.setdefault("pq_m", "auto")
    elif kind == "ivf-flat" and params.get("pq_m") is not None:
        raise ValueError(
            f"kind='ivf-flat' with pq_m={params['pq_m']!r}: use kind='ivf-pq' for product "
            "quantisation, or drop pq_m"
        )
    return cls(**params).build(embeddings, metric=metric)


def load_index(path: str | os.PathLike[str], *, mmap: bool = False) -> Index:
    """Load any index saved with :meth:`Index.save`, dispatching on its manifest.

    Raises
    ------
    ValueError
        The directory does not hold an embedrec index.
    """
    manifest = read_manifest(path)
    kind = manifest.get("kind")
    if not isinstance(kind, str) or kind not in _KIND_CLASSES:
        raise ValueError(
            f"{path} holds a {manifest.get('class')!r}, not an embedrec index (kind={kind!r}); "
            "build one with `embedrec index build` or embedrec.index.build_index"
        )
    return index_class(kind).load(path, mmap=mmap)

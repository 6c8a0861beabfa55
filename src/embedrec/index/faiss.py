"""Approximate nearest-neighbour indexes backed by faiss (``pip install "embedrec[faiss]"``).

* :class:`FaissHNSWIndex`: a HNSW graph (``faiss.IndexHNSWFlat``), the default ANN index.
* :class:`FaissIVFIndex`: an inverted file over k-means cells, with flat vectors (IVF-Flat) or
  product-quantised codes (IVF-PQ, when ``pq_m`` is set).

Both use faiss's inner-product metric: with ``metric="cosine"`` vectors and queries are
unit-normalised first, so the inner product is the cosine. faiss is imported only when an index
is built or loaded.

The embedrec side keeps the float32 vectors next to the faiss structure. IVF-PQ candidates are
re-scored exactly from them and re-ranked by their true similarity (HNSW and IVF-Flat scores
are exact already), and a query whose filters leave too few ANN candidates falls back to exact
scoring. IVF-PQ here therefore buys speed, not memory.

Filters (``allow``, ``deny`` and removed rows) are passed to faiss as an ``IDSelectorBitmap``,
so the graph or the inverted lists only return usable rows; per-query ``exclude`` lists are
handled by over-fetching. faiss's HNSW cannot delete nodes: ``remove`` leaves a tombstone.

Defaults
--------
Chosen from sweeps on a 1M x 64 clustered catalogue (``benchmarks/bench_index.py``, results in
``benchmarks/results/index.md``), measured on one thread of a 2-core AMD EPYC:

* ``FaissHNSWIndex()``: M=32, ef_construction=100, ef_search=128 reaches recall@10 ~0.96 at
  ~2,500 queries/s (ef_search 96: 0.95; ef_construction 200 gains ~0.01 at equal speed but
  doubles the 5-minute build).
* ``FaissIVFIndex()``: nlist=4*sqrt(n) (4096 for 1M), nprobe=64 reaches recall@10 ~0.97 at
  ~3,000 queries/s and builds in ~20 s.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from .base import Index

__all__ = ["FaissHNSWIndex", "FaissIVFIndex", "import_faiss"]

INDEX_FILE = "index.faiss"

#: faiss wants at least this many training points per k-means centroid (it warns below)
_MIN_POINTS_PER_CENTROID = 39
#: k-means for the IVF cells trains on at most this many points per cell (faiss's own cap is
#: 256; 64 keeps a 1M-item build well under a minute on two cores at no visible recall cost)
_TRAIN_POINTS_PER_CENTROID = 64


def import_faiss() -> ModuleType:
    """Import faiss, or raise an ImportError that names the extra to install."""
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - exercised only without faiss
        raise ImportError(
            'the faiss indexes need faiss, which is not installed: pip install "embedrec[faiss]" '
            "(or use kind='exact')"
        ) from exc
    return faiss


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}={value!r} is invalid; use an int >= {low}")
    return int(value)


class _FaissIndex(Index):
    """Shared faiss plumbing: the index object, selectors and the index file."""

    _saves_vectors: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self._faiss_index: Any = None

    def _selector_params(self, params: Any, mask: npt.NDArray[np.bool_] | None) -> Any:
        if mask is not None:
            faiss = import_faiss()
            bitmap = np.packbits(mask, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(mask.size, faiss.swig_ptr(bitmap))
            params._embedrec_bitmap = bitmap  # keep the buffer alive as long as the selector
        return params

    def _add_backend(self, data: npt.NDArray[np.float32]) -> None:
        self._faiss_index.add(data)

    def _save_backend(self, dirpath: Path) -> None:
        import_faiss().write_index(self._faiss_index, str(dirpath / INDEX_FILE))

    def _read_faiss(self, dirpath: Path) -> Any:
        faiss = import_faiss()
        path = dirpath / INDEX_FILE
        if not path.is_file():
            raise ValueError(f"{dirpath} has no {INDEX_FILE}; the artifact is incomplete, re-save")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise ValueError(f"{path} is not a readable faiss index ({exc}); re-save it") from exc
        if index.d != self._dim or index.ntotal != len(self._row_keys):
            raise ValueError(
                f"{path} holds {index.ntotal} vectors of dim {index.d} but the manifest says "
                f"{len(self._row_keys)} of dim {self._dim}; the artifact is corrupt, re-save it"
            )
        return index


class FaissHNSWIndex(_FaissIndex):
    """HNSW graph search with faiss (``IndexHNSWFlat``, inner product).

    Parameters
    ----------
    M : int, default 32
        Graph degree (links per node and layer; layer 0 has ``2 * M``). Higher: better recall
        at a given ``ef_search``, slower build, more memory (about ``8 * M`` bytes per item).
    ef_construction : int, default 100
        Candidate list size while building; higher builds a better graph, more slowly (200
        gains about 0.01 recall@10 at equal queries/s on the 1M benchmark but doubles the
        build).
    ef_search : int, default 128
        Candidate list size while searching (at least ``k`` is used); the speed/recall knob.
        Change it after building with ``set_params(ef_search=...)``; pick it with
        :func:`~embedrec.index.sweep`.

    Notes
    -----
    ``remove`` leaves tombstones (faiss's HNSW cannot delete nodes): removed items are never
    returned but still take part in graph navigation and memory. Rebuild after many removals:
    ``build_index(index.to_embeddings(), kind="hnsw")``. The stored vectors live inside the faiss
    file, so an artifact holds them once.

    Examples
    --------
    >>> import numpy as np
    >>> from embedrec import Embeddings
    >>> emb = Embeddings(list(range(100)), np.random.default_rng(0).normal(size=(100, 8)))
    >>> index = FaissHNSWIndex(M=16).build(emb)
    >>> index.search_keys(0, k=3).keys.shape
    (3,)
    """

    _saves_vectors: ClassVar[bool] = False

    def __init__(self, M: int = 32, ef_construction: int = 100, ef_search: int = 128) -> None:
        super().__init__()
        self.M = _check_int("M", M, 2)
        self.ef_construction = _check_int("ef_construction", ef_construction, 1)
        self.ef_search = _check_int("ef_search", ef_search, 1)

    @property
    def kind(self) -> str:
        return "hnsw"

    @property
    def params(self) -> dict[str, Any]:
        return {"M": self.M, "ef_construction": self.ef_construction, "ef_search": self.ef_search}

    def set_params(self, **params: Any) -> None:
        """Change ``ef_search`` (the only search-time parameter).

        Raises
        ------
        ValueError
            For ``M`` or ``ef_construction`` (they shape the graph: rebuild instead) or an
            unknown name.
        """
        for name, value in params.items():
            if name == "ef_search":
                self.ef_search = _check_int("ef_search", value, 1)
                if self._faiss_index is not None:
                    self._faiss_index.hnsw.efSearch = self.ef_search
            elif name in ("M", "ef_construction"):
                raise ValueError(
                    f"{name} shapes the graph and cannot change after building; rebuild with "
                    f"build_index(index.to_embeddings(), kind='hnsw', {name}={value!r})"
                )
            else:
                raise ValueError(f"FaissHNSWIndex has no parameter {name!r}; use ef_search")

    def _build_backend(self, data: npt.NDArray[np.float32]) -> None:
        faiss = import_faiss()
        index = faiss.IndexHNSWFlat(self._dim, self.M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        index.hnsw.efSearch = self.ef_search
        if data.shape[0]:
            index.add(data)
        self._faiss_index = index

    def _search_backend(
        self,
        queries: npt.NDArray[np.float32],
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        attempt: int = 0,
        depth: float = 1.0,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32] | None]:
        # ef >= k as faiss does; when over-fetching past exclusions, the results deep in the
        # list matter too, and ef = 2 * fetch keeps their recall close to the top's (measured
        # on trained vectors with each query's top 100 excluded: 0.91 at ef = fetch, 0.998)
        ef = max(self.ef_search, 2 * k if depth > 1.0 else k)
        if mask is None and ef == self._faiss_index.hnsw.efSearch:
            # the index's own setting (kept equal to ef_search): skips building search params
            scores, labels = self._faiss_index.search(queries, k)
        else:
            params = import_faiss().SearchParametersHNSW()
            params.efSearch = ef
            params = self._selector_params(params, mask)
            scores, labels = self._faiss_index.search(queries, k, params=params)
        # flat storage: faiss's inner products are exact, sorted best first
        return labels, scores

    def _vectors_from_backend(self, dirpath: Path) -> npt.NDArray[np.float32]:
        self._faiss_index = self._read_faiss(dirpath)
        self._faiss_index.hnsw.efSearch = self.ef_search
        n = int(self._faiss_index.ntotal)
        if n == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.ascontiguousarray(self._faiss_index.reconstruct_n(0, n), dtype=np.float32)

    def _load_backend(self, dirpath: Path, manifest: Any) -> None:
        pass  # read by _vectors_from_backend


class FaissIVFIndex(_FaissIndex):
    """Inverted-file search with faiss: IVF-Flat, or IVF-PQ when ``pq_m`` is given.

    Parameters
    ----------
    nlist : int or "auto", default "auto"
        Number of k-means cells. ``"auto"``: ``4 * sqrt(n_items)`` rounded to a power of two
        (1M items -> 4096), capped so every cell has at least 39 training points.
    nprobe : int, default 64
        Cells searched per query: the speed/recall knob (``set_params(nprobe=...)``). When
        filters leave too few candidates, retries widen it.
    pq_m : int, "auto" or None, default None
        None: IVF-Flat (exact vectors in the cells). An int: IVF-PQ with ``pq_m`` sub-quantisers
        (must divide ``dim``); ``"auto"``: ``dim // 2`` (or the largest divisor of ``dim`` below
        it). Candidates are re-ranked with the exact vectors.
    pq_nbits : int, default 8
        Bits per sub-quantiser code (IVF-PQ only).
    refine_factor : int, optional
        IVF-PQ fetches ``refine_factor * k`` candidates by their approximate (PQ) scores and
        keeps the ``k`` best by exact score. Default: 4 for IVF-PQ, 1 for IVF-Flat (whose scores
        are already exact).

    Examples
    --------
    >>> import numpy as np
    >>> from embedrec import Embeddings
    >>> emb = Embeddings(list(range(500)), np.random.default_rng(0).normal(size=(500, 8)))
    >>> index = FaissIVFIndex(nlist=8, nprobe=8).build(emb)
    >>> index.search_keys(0, k=3).keys.shape
    (3,)
    """

    def __init__(
        self,
        nlist: int | Literal["auto"] = "auto",
        nprobe: int = 64,
        pq_m: int | Literal["auto"] | None = None,
        pq_nbits: int = 8,
        refine_factor: int | None = None,
    ) -> None:
        super().__init__()
        if nlist != "auto":
            _check_int("nlist", nlist, 1)
        if pq_m is not None and pq_m != "auto":
            _check_int("pq_m", pq_m, 1)
        self.nlist: int | Literal["auto"] = nlist if nlist == "auto" else int(nlist)
        self.nprobe = _check_int("nprobe", nprobe, 1)
        self.pq_m: int | Literal["auto"] | None = pq_m if pq_m in (None, "auto") else int(pq_m)
        self.pq_nbits = _check_int("pq_nbits", pq_nbits, 1)
        self.refine_factor = (
            None if refine_factor is None else _check_int("refine_factor", refine_factor, 1)
        )
        if self.pq_nbits > 16:
            raise ValueError(f"pq_nbits={pq_nbits} is invalid; use 1..16 (8 is usual)")

    @property
    def kind(self) -> str:
        return "ivf-flat" if self.pq_m is None else "ivf-pq"

    @property
    def params(self) -> dict[str, Any]:
        return {
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "pq_m": self.pq_m,
            "pq_nbits": self.pq_nbits,
            "refine_factor": self.refine_factor,
        }

    @property
    def _fetch_factor(self) -> int:
        if self.refine_factor is not None:
            return self.refine_factor
        return 1 if self.pq_m is None else 4

    @property
    def nlist_(self) -> int:
        """The number of cells actually used (after ``"auto"`` and the cap)."""
        self._require_built()
        return int(self._faiss_index.nlist)

    def set_params(self, **params: Any) -> None:
        """Change the search-time parameters ``nprobe`` and ``refine_factor``.

        Raises
        ------
        ValueError
            For ``nlist``, ``pq_m`` or ``pq_nbits`` (rebuild instead) or an unknown name.
        """
        for name, value in params.items():
            if name == "nprobe":
                self.nprobe = _check_int("nprobe", value, 1)
                if self._faiss_index is not None:
                    self._faiss_index.nprobe = self.nprobe
            elif name == "refine_factor":
                self.refine_factor = None if value is None else _check_int(name, value, 1)
            elif name in ("nlist", "pq_m", "pq_nbits"):
                raise ValueError(
                    f"{name} is fixed when the index is trained; rebuild with "
                    f"build_index(index.to_embeddings(), kind={self.kind!r}, {name}={value!r})"
                )
            else:
                raise ValueError(
                    f"FaissIVFIndex has no parameter {name!r}; use nprobe or refine_factor"
                )

    def _resolve_nlist(self, n: int) -> int:
        cap = max(1, n // _MIN_POINTS_PER_CENTROID)
        if self.nlist == "auto":
            want = int(2 ** round(math.log2(max(1.0, 4 * math.sqrt(max(n, 1))))))
            return max(1, min(want, cap))
        if self.nlist > cap:
            raise ValueError(
                f"nlist={self.nlist} needs at least {self.nlist * _MIN_POINTS_PER_CENTROID} "
                f"vectors to train ({_MIN_POINTS_PER_CENTROID} per cell) but there are {n}; use "
                f"nlist<={cap} or nlist='auto'"
            )
        return self.nlist

    def _resolve_pq_m(self) -> int | None:
        if self.pq_m is None:
            return None
        if self.pq_m == "auto":
            return max(m for m in range(1, max(1, self._dim // 2) + 1) if self._dim % m == 0)
        if self._dim % self.pq_m:
            raise ValueError(
                f"pq_m={self.pq_m} must divide dim={self._dim}; use a divisor such as "
                f"{[m for m in range(1, self._dim + 1) if self._dim % m == 0][-4:]} or 'auto'"
            )
        return self.pq_m

    def _build_backend(self, data: npt.NDArray[np.float32]) -> None:
        faiss = import_faiss()
        n = data.shape[0]
        if n == 0:
            raise ValueError(
                "an IVF index must be trained on vectors but the embeddings are empty; build it "
                "from a non-empty Embeddings, or use kind='hnsw' or 'exact'"
            )
        nlist = self._resolve_nlist(n)
        pq_m = self._resolve_pq_m()
        quantizer = faiss.IndexFlatIP(self._dim)
        if pq_m is None:
            index = faiss.IndexIVFFlat(quantizer, self._dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            if n < 2**self.pq_nbits:
                raise ValueError(
                    f"IVF-PQ with pq_nbits={self.pq_nbits} needs at least {2**self.pq_nbits} "
                    f"vectors to train its codebooks, got {n}; lower pq_nbits or use 'ivf-flat'"
                )
            index = faiss.IndexIVFPQ(
                quantizer, self._dim, nlist, pq_m, self.pq_nbits, faiss.METRIC_INNER_PRODUCT
            )
        index.own_fields = True
        quantizer.this.disown()  # the IVF index owns (and frees) its quantizer
        index.cp.max_points_per_centroid = _TRAIN_POINTS_PER_CENTROID
        index.cp.seed = 1234
        train = data
        n_train = nlist * _TRAIN_POINTS_PER_CENTROID
        if pq_m is not None:
            n_train = max(n_train, 2**self.pq_nbits * _TRAIN_POINTS_PER_CENTROID)
        if n > n_train:  # seeded subsample: k-means time grows with the points it sees
            rows = np.sort(np.random.default_rng(1234).choice(n, n_train, replace=False))
            train = data[rows]
        index.train(train)
        index.add(data)
        index.nprobe = self.nprobe
        self._faiss_index = index

    def _search_backend(
        self,
        queries: npt.NDArray[np.float32],
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        attempt: int = 0,
        depth: float = 1.0,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32] | None]:
        # a retry (too few candidates passed the filters) widens the cells searched, and so
        # does over-fetching past exclusions (the results deep in the list lie in more cells)
        widen = 4**attempt
        if depth > 1.0:
            widen *= math.ceil(math.sqrt(depth))
        nprobe = min(int(self._faiss_index.nlist), self.nprobe * widen)
        if mask is None and nprobe == self._faiss_index.nprobe:
            # the index's own setting (kept equal to nprobe): skips building search params
            scores, labels = self._faiss_index.search(queries, k)
        else:
            params = import_faiss().SearchParametersIVF()
            params.nprobe = nprobe
            params = self._selector_params(params, mask)
            scores, labels = self._faiss_index.search(queries, k, params=params)
        # IVF-Flat scores are exact; IVF-PQ's are approximate, so the caller re-scores them
        return labels, (scores if self.pq_m is None else None)

    def _load_backend(self, dirpath: Path, manifest: Any) -> None:
        self._faiss_index = self._read_faiss(dirpath)
        self._faiss_index.nprobe = self.nprobe

"""The :class:`Index` contract shared by every nearest-neighbour index, and its helpers.

An index holds keys and their vectors and answers top-``k`` similarity queries:

>>> from embedrec import Embeddings
>>> from embedrec.index import build_index
>>> emb = Embeddings(["a", "b", "c"], [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
>>> index = build_index(emb, kind="exact")
>>> index.search_keys("a", k=2).keys.tolist()
['b', 'c']

Conventions every index follows
-------------------------------
* **Metric.** An index inherits the metric of its :class:`~embedrec.vectors.Embeddings`
  (``"cosine"`` or ``"dot"``) and refuses a mismatch. Scores are similarities (higher is better):
  the cosine of the normalised query and item vectors, or the raw inner product, computed from
  the float32 vectors (IVF-PQ's approximate scores are replaced by exact ones), so all kinds
  report the same score for the same (query, item) pair up to float rounding; only *which*
  items they find differs.
* **Batch-first.** ``queries`` of shape ``(n_queries, dim)`` give ``(n_queries, k)`` results; a
  single ``(dim,)`` query gives 1-D results of length ``k``.
* **Filters.** ``exclude`` (per query, e.g. each user's seen items), ``allow`` and ``deny`` (for
  all queries) take keys; unknown keys are ignored. An ANN index over-fetches, retries with a
  larger ``k``, and finally scores the remaining allowed candidates exactly, so a query gets
  exactly ``k`` results whenever at least ``k`` candidates survive the filters.
* **Padding.** When fewer than ``k`` candidates survive, the row is padded at the end with
  score ``-inf`` and key ``-1`` (int keys, int64 array) or ``None`` (str keys, object array).
  Test ``np.isfinite(result.scores)`` to find the real results.
* **Ties** are broken by insertion order (the earlier-added item wins) in the exact paths.
* **Removal** marks rows as deleted (a tombstone) that every search honours; graph indexes
  keep the row inside the graph. :class:`~embedrec.index.exact.ExactIndex` drops it for good.
* **Artifacts** are directories: ``manifest.json`` (class, kind, metric, dim, params),
  ``keys.json`` and the index data as ``.npy`` arrays or a faiss index file. Never pickle.
"""

from __future__ import annotations

import abc
import logging
import os
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, cast

import numpy as np
import numpy.typing as npt

from .._io import (
    MANIFEST,
    make_manifest,
    read_manifest,
    read_npy,
    write_json,
    write_npy,
)
from ..artifacts import (
    check_finite,
    has_file,
    load_consistent,
    publish_artifact,
    read_json,
    verify_artifact,
    write_files_table,
)
from ..keys import (
    Key,
    KeyType,
    as_key,
    is_key,
    keys_array,
    normalise_keys,
    pad_key,
    unknown_keys_error,
)
from ..vectors import Embeddings, Metric, Neighbors
from .topk import blocked_top_k, check_k

__all__ = ["Index"]

logger = logging.getLogger("embedrec")

KEYS_FILE = "keys.json"
ALIVE_FILE = "alive.npy"
VECTORS_FILE = "vectors.npy"

# When at most this many items pass allow/deny, scoring them all exactly is cheaper (and exact)
# than asking the ANN structure and filtering afterwards.
_EXACT_SUBSET = 4096
# The over-fetch loop multiplies k by this factor per retry ...
_GROWTH = 4
# ... and gives up (falling back to exact scoring of the allowed candidates) beyond this fetch.
_MAX_FETCH = 4096

Filter = Iterable[Any] | None
Exclude = Iterable[Any] | None

_I = TypeVar("_I", bound="Index")


class Index(abc.ABC):
    """Nearest-neighbour index over keyed vectors (abstract base class).

    Build one with :func:`build_index` or ``SomeIndex(**params).build(embeddings)``; the
    constructor only records parameters and does no work. See the module docstring for the
    conventions on metrics, filters, padding and ties.

    Attributes
    ----------
    metric : {"cosine", "dot"}
        Inherited from the embeddings the index was built from.
    dim : int
        Vector dimension.
    keys : list of str or int
        The live keys, in insertion order.
    kind : str
        ``"exact"``, ``"hnsw"``, ``"ivf-flat"`` or ``"ivf-pq"``.
    """

    #: whether ``remove`` only hides rows (they stay in the ANN structure) rather than dropping them
    uses_tombstones: ClassVar[bool] = True

    def __init__(self) -> None:
        self._built = False
        self._metric: Metric = "cosine"
        self._dim = 0
        self._key_type: KeyType = "str"
        self._row_keys: list[Key] = []
        self._row_keys_arr: npt.NDArray[Any] = np.empty(0, dtype=object)
        self._key_to_row: dict[Key, int] = {}
        self._alive: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._n_dead = 0
        # (n_rows, dim) float32: the stored vectors, unit-normalised for cosine
        self._data: npt.NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)

    # ------------------------------------------------------------------ subclass hooks
    @property
    @abc.abstractmethod
    def kind(self) -> str:
        """The kind name used by :func:`build_index` and the CLI."""

    @property
    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """The (JSON-able) parameters, as passed to the constructor."""

    def set_params(self, **params: Any) -> None:
        """Change search-time parameters (e.g. ``ef_search``, ``nprobe``) in place.

        Raises
        ------
        ValueError
            For a parameter that cannot change after building.
        """
        if params:
            raise ValueError(
                f"{type(self).__name__} has no search-time parameters; got {sorted(params)}"
            )

    @abc.abstractmethod
    def _build_backend(self, data: npt.NDArray[np.float32]) -> None:
        """Create the search structure over the first rows ``data`` (n_rows, dim)."""

    @abc.abstractmethod
    def _add_backend(self, data: npt.NDArray[np.float32]) -> None:
        """Append rows ``data`` (n_new, dim) to the search structure (row ids continue)."""

    def _search_backend(
        self,
        queries: npt.NDArray[np.float32],
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        attempt: int = 0,
        depth: float = 1.0,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32] | None]:
        """Approximate top-``k`` rows per query, ``-1`` where none; ``mask`` marks usable rows.

        Returns the rows and, when the backend computes them from the exact float32 vectors,
        their scores sorted best first; ``None`` asks the caller to re-score (e.g. after PQ).

        ``k`` is the fetch size. ``depth`` is ``(k_asked + most excluded) / k_asked``: above 1
        the caller over-fetches past per-query exclusions, so the results deep in the list
        matter and an index may search wider. ``attempt`` counts the retries after too few
        candidates survived the filters.
        Exact indexes override :meth:`_search_rows` instead and never call this.
        """
        raise NotImplementedError

    def _save_backend(self, dirpath: Path) -> None:
        """Write the search structure into ``dirpath`` (vectors are written by the base)."""
        return None

    def _load_backend(self, dirpath: Path, manifest: Mapping[str, Any]) -> None:
        """Restore the search structure written by :meth:`_save_backend`."""
        self._build_backend(self._data)

    @property
    def _fetch_factor(self) -> int:
        """Candidates asked of the ANN structure per wanted result (>1 to re-rank coarse
        scores such as PQ's)."""
        return 1

    #: whether ``save`` writes ``vectors.npy`` (False when the backend file holds them exactly)
    _saves_vectors: ClassVar[bool] = True

    def _vectors_from_backend(self, dirpath: Path) -> npt.NDArray[np.float32]:
        raise NotImplementedError

    # ------------------------------------------------------------------ building
    def build(self: _I, embeddings: Embeddings, *, metric: Metric | None = None) -> _I:
        """Index every key and vector of ``embeddings``; returns ``self``.

        Parameters
        ----------
        embeddings : Embeddings
            Keys, ``(n_keys, dim)`` float32 vectors and the metric the index inherits.
        metric : {"cosine", "dot"}, optional
            Only a check: it must equal ``embeddings.metric``.

        Raises
        ------
        ValueError
            ``metric`` differs from ``embeddings.metric``, or the parameters do not suit the
            data (e.g. too few vectors to train IVF centroids).
        """
        if not isinstance(embeddings, Embeddings):
            raise TypeError(
                f"build takes an Embeddings, got {type(embeddings).__name__}; wrap raw arrays "
                "with Embeddings(keys, vectors, metric=...)"
            )
        if metric is not None and metric != embeddings.metric:
            raise ValueError(
                f"metric={metric!r} does not match the embeddings' metric={embeddings.metric!r}; "
                f"indexes inherit the metric: drop metric= or rebuild the embeddings with "
                f"Embeddings(keys, vectors, metric={metric!r})"
            )
        self._metric = embeddings.metric
        self._dim = embeddings.dim
        self._key_type = embeddings.key_type
        self._row_keys = list(embeddings.keys)
        self._row_keys_arr = keys_array(self._row_keys, self._key_type)
        self._key_to_row = dict(embeddings.key_to_index)
        self._alive = np.ones(len(self._row_keys), dtype=bool)
        self._n_dead = 0
        src = embeddings.unit_vectors if self._metric == "cosine" else embeddings.vectors
        # shares the embeddings' read-only matrix (never written: add() concatenates)
        self._data = np.ascontiguousarray(src, dtype=np.float32)
        t0 = time.perf_counter()
        self._build_backend(self._data)
        self._built = True
        logger.info(
            "built %s index over %d x %d vectors (%s) in %.2fs",
            self.kind,
            len(self),
            self._dim,
            self._metric,
            time.perf_counter() - t0,
        )
        return self

    def _require_built(self) -> None:
        if not self._built:
            raise ValueError(
                f"this {type(self).__name__} is not built yet; call .build(embeddings) or use "
                "embedrec.index.build_index(embeddings, kind=...)"
            )

    # ------------------------------------------------------------------ basic properties
    @property
    def metric(self) -> Metric:
        """``"cosine"`` or ``"dot"``, inherited from the embeddings."""
        return self._metric

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def key_type(self) -> KeyType:
        """``"str"`` or ``"int"``."""
        return self._key_type

    @property
    def keys(self) -> list[Key]:
        """The live keys in insertion order (a new list)."""
        if self._n_dead == 0:
            return list(self._row_keys)
        return [k for k, a in zip(self._row_keys, self._alive.tolist(), strict=True) if a]

    @property
    def n_removed(self) -> int:
        """Rows removed but still held as tombstones (rebuild to reclaim them)."""
        return self._n_dead

    def __len__(self) -> int:
        return len(self._row_keys) - self._n_dead

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._key_to_row
        except TypeError:  # unhashable
            return False

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        if not self._built:
            return f"{type(self).__name__}({params}) [not built]"
        return (
            f"{type(self).__name__}({params}) [n_keys={len(self)}, dim={self._dim}, "
            f"metric={self._metric!r}]"
        )

    def get_vectors(self, keys: Sequence[Key]) -> npt.NDArray[np.float32]:
        """``(n, dim)`` float32 copy of the stored vectors of ``keys``.

        For ``metric="cosine"`` these are the unit-normalised vectors (what the index scores).

        Raises
        ------
        KeyError
            Listing unknown keys.
        """
        rows = self._rows_of(list(keys), missing="raise")[0]
        return self._data[rows]

    def to_embeddings(self) -> Embeddings:
        """The live keys and stored vectors as :class:`Embeddings` (to rebuild after removals).

        For ``metric="cosine"`` the vectors are the unit-normalised ones.
        """
        self._require_built()
        rows = np.flatnonzero(self._alive)
        return Embeddings([self._row_keys[i] for i in rows], self._data[rows], metric=self._metric)

    # ------------------------------------------------------------------ key handling
    def _rows_of(
        self, keys: Sequence[Any], missing: Literal["raise", "skip"]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        get = self._key_to_row.get
        rows = np.fromiter((_safe_get(get, k) for k in keys), dtype=np.int64, count=len(keys))
        known = rows >= 0
        if missing not in ("raise", "skip"):
            raise ValueError(f"missing={missing!r} is invalid; use 'raise' or 'skip'")
        if missing == "raise" and not known.all():
            raise unknown_keys_error([keys[int(i)] for i in np.flatnonzero(~known)])
        return rows[known], known

    def _known_rows(self, keys: Iterable[Any]) -> npt.NDArray[np.int64]:
        """Rows of the live keys among ``keys``; unknown keys are ignored."""
        if isinstance(keys, (str, bytes)) or is_key(keys):
            keys = [keys]
        get = self._key_to_row.get
        rows = [r for r in (_safe_get(get, k) for k in keys) if r >= 0]
        return np.asarray(rows, dtype=np.int64)

    def _filter_mask(self, allow: Filter, deny: Filter) -> npt.NDArray[np.bool_] | None:
        """(n_rows,) mask of the rows usable by every query, or None when all rows are."""
        mask: npt.NDArray[np.bool_] | None = None
        if self._n_dead:
            mask = self._alive.copy()
        if allow is not None:
            allowed = np.zeros(len(self._row_keys), dtype=bool)
            allowed[self._known_rows(allow)] = True
            mask = allowed if mask is None else mask & allowed
        if deny is not None:
            denied = self._known_rows(deny)
            if denied.size:
                mask = self._alive.copy() if mask is None else mask
                mask[denied] = False
        return mask

    def _exclude_rows(self, exclude: Exclude, n_queries: int) -> list[Any] | None:
        """Per-query arrays of excluded rows (None when nothing is excluded)."""
        if exclude is None:
            return None
        if isinstance(exclude, (str, bytes)) or is_key(exclude):
            raise TypeError(
                f"exclude={exclude!r} must be a collection of keys (or one per query), e.g. "
                f"exclude=[{exclude!r}]"
            )
        items = list(exclude.tolist() if isinstance(exclude, np.ndarray) else exclude)
        per_query = bool(items) and all(_is_collection(x) for x in items)
        if per_query:
            if len(items) != n_queries:
                raise ValueError(
                    f"exclude has {len(items)} collections but there are {n_queries} queries; "
                    "pass one collection of keys per query, or one flat collection for all"
                )
            out = [self._known_rows(x) for x in items]
            return out if any(r.size for r in out) else None
        if any(_is_collection(x) for x in items):
            raise TypeError(
                "exclude mixes keys and collections; pass one collection of keys per query "
                "(e.g. [['a'], ['b', 'c']]) or one flat collection for all queries"
            )
        rows = self._known_rows(items)
        return [rows] * n_queries if rows.size else None

    def _keys_out(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        """Keys of ``rows``; row -1 (padding) becomes key -1 (int keys) or None (str keys)."""
        pad = rows < 0
        if len(self._row_keys_arr):
            keys = self._row_keys_arr[np.where(pad, 0, rows)]
        else:
            keys = np.empty(rows.shape, dtype=self._row_keys_arr.dtype)
            pad = np.ones(rows.shape, dtype=bool)
        if pad.any():
            keys[pad] = pad_key(self._key_type)
        return keys

    # ------------------------------------------------------------------ queries
    def _check_queries(self, queries: npt.ArrayLike) -> tuple[npt.NDArray[np.float32], bool]:
        self._require_built()
        q = np.asarray(queries)
        if q.ndim not in (1, 2) or q.shape[-1] != self._dim:
            raise ValueError(
                f"queries have shape {q.shape} but the index has dim={self._dim}; expected "
                f"({self._dim},) for one query or (n_queries, {self._dim}) for a batch"
            )
        if q.dtype.kind not in "fiu":
            raise TypeError(f"queries must be real numbers, got dtype {q.dtype}")
        single = q.ndim == 1
        q2 = np.array(q.reshape(1, -1) if single else q, dtype=np.float32, order="C")
        if not np.isfinite(q2).all():
            raise ValueError("queries hold NaN or inf; check the query vectors")
        if self._metric == "cosine":
            norms = np.linalg.norm(q2, axis=1)
            q2 /= np.where(norms > 0, norms, 1.0).astype(np.float32)[:, None]
        return q2, single

    def search(
        self,
        queries: npt.ArrayLike,
        k: int = 10,
        *,
        exclude: Exclude = None,
        allow: Filter = None,
        deny: Filter = None,
    ) -> Neighbors:
        """The ``k`` most similar stored items of each query vector, best first.

        Parameters
        ----------
        queries : (n_queries, dim) or (dim,) array_like
            Query vectors (converted to float32; normalised for ``metric="cosine"``). A 1-D
            query gives 1-D results.
        k : int, default 10
            Results per query; rows are padded (score ``-inf``, key ``-1`` or ``None``) when
            fewer than ``k`` candidates survive the filters.
        exclude : collection of keys, or a sequence of n_queries collections, optional
            Keys a query must not return, e.g. each user's seen items. One flat collection
            applies to every query; a sequence of collections (lists, sets, arrays) gives one
            per query.
        allow : collection of keys, optional
            Only these keys may be returned (for every query).
        deny : collection of keys, optional
            These keys are never returned (for every query).

        Notes
        -----
        Unknown keys in ``exclude``, ``allow`` and ``deny`` are ignored.

        Returns
        -------
        Neighbors
            ``keys`` ((n_queries, k); int64 for int keys, object for str keys) and ``scores``
            ((n_queries, k) float32 similarities, decreasing); 1-D for a 1-D query.

        Raises
        ------
        ValueError
            The query shape does not match the index dim (both are named), bad ``k``, or an
            ``exclude`` whose length is not the number of queries.

        Examples
        --------
        >>> from embedrec import Embeddings
        >>> from embedrec.index import build_index
        >>> emb = Embeddings(["a", "b", "c"], [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
        >>> build_index(emb).search([1.0, 0.1], k=2, exclude=["a"]).keys.tolist()
        ['b', 'c']
        """
        q, single = self._check_queries(queries)
        k = check_k(k)
        mask = self._filter_mask(allow, deny)
        excl = self._exclude_rows(exclude, q.shape[0])
        rows, scores = self._search_rows(q, k, mask, excl)
        return self._result(rows, scores, single)

    def search_keys(
        self,
        keys: Any,
        k: int = 10,
        *,
        exclude_self: bool = True,
        exclude: Exclude = None,
        allow: Filter = None,
        deny: Filter = None,
        missing: Literal["raise", "skip"] = "raise",
    ) -> Neighbors:
        """Neighbours of stored items, by key.

        Parameters
        ----------
        keys : key or sequence of keys
            A single key gives 1-D results; a list gives ``(n_queries, k)``.
        k : int, default 10
        exclude_self : bool, default True
            Never return the query item itself.
        exclude, allow, deny
            As in :meth:`search`.
        missing : {"raise", "skip"}, default "raise"
            Unknown query keys raise ``KeyError`` listing them; ``"skip"`` drops those queries
            (the result then has fewer rows; a dropped single key gives empty 1-D arrays).

        Returns
        -------
        Neighbors

        Raises
        ------
        KeyError
            Unknown keys with ``missing="raise"``.
        """
        self._require_built()
        k = check_k(k)
        single = is_key(keys)
        key_list: list[Any] = [keys] if single else _as_key_list(keys)
        rows, known = self._rows_of(key_list, missing)
        q = self._data[rows]
        n = rows.size
        excl = self._exclude_rows(exclude, len(key_list))
        if excl is not None:
            excl = [e for e, ok in zip(excl, known.tolist(), strict=True) if ok]
        if exclude_self:
            selfs = [rows[i : i + 1] for i in range(n)]
            excl = (
                selfs
                if excl is None
                else [np.concatenate(p) for p in zip(excl, selfs, strict=True)]
            )
        mask = self._filter_mask(allow, deny)
        if n == 0:
            empty = self._keys_out(np.empty((0, k), dtype=np.int64))
            if single:
                return Neighbors(empty.reshape(-1)[:0], np.empty(0, dtype=np.float32))
            return Neighbors(empty, np.empty((0, k), dtype=np.float32))
        top_rows, scores = self._search_rows(q, k, mask, excl)
        return self._result(top_rows, scores, single)

    def _result(
        self, rows: npt.NDArray[np.int64], scores: npt.NDArray[np.float32], single: bool
    ) -> Neighbors:
        keys = self._keys_out(rows)
        if single:
            return Neighbors(keys[0], scores[0])
        return Neighbors(keys, scores)

    # ------------------------------------------------------------------ search machinery
    def _search_rows(
        self,
        q: npt.NDArray[np.float32],
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        excl: list[Any] | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Top-``k`` rows and exact scores per query: ANN with over-fetch, then exact fallback.

        ``q`` (n, dim) is prepared (normalised for cosine); ``mask`` (n_rows,) marks the rows any
        query may return (None: all); ``excl[i]`` holds rows query ``i`` must not return.
        """
        n = q.shape[0]
        out_rows = np.full((n, k), -1, dtype=np.int64)
        out_scores = np.full((n, k), -np.inf, dtype=np.float32)
        n_rows = self._data.shape[0]
        if n == 0 or n_rows == 0:
            return out_rows, out_scores
        n_ok = n_rows if mask is None else int(np.count_nonzero(mask))
        if n_ok <= k or (mask is not None and n_ok <= _EXACT_SUBSET):
            return self._exact_rows(q, k, mask, excl)
        first: tuple[npt.NDArray[np.int64], npt.NDArray[np.float32] | None] | None = None
        if mask is None and excl is None and not self._n_dead:
            # no filter at all (the common case): one backend call, no bookkeeping
            first = self._search_backend(q, min(n_rows, self._fetch_factor * k), None)
            cand, cand_scores = first
            if cand_scores is not None and cand.shape[1] == k and bool((cand >= 0).all()):
                return cand, cand_scores
        pending = np.arange(n)
        max_excl = 0
        if excl is not None:
            sizes = np.array([e.size for e in excl], dtype=np.int64)
            # queries with more exclusions than the largest fetch go straight to exact scoring,
            # so one heavy history does not make the whole batch fetch thousands of candidates
            heavy = self._fetch_factor * k + sizes > _MAX_FETCH
            if heavy.any():
                rows = np.flatnonzero(heavy)
                sub = [excl[i] for i in rows]
                out_rows[rows], out_scores[rows] = self._exact_rows(q[rows], k, mask, sub)
            pending = np.flatnonzero(~heavy)
            max_excl = int(sizes[pending].max()) if pending.size else 0
        fetch = min(n_rows, self._fetch_factor * k + max_excl)
        depth = (k + max_excl) / k
        attempt = 0
        while pending.size:
            if first is not None:  # the unfiltered call above is this loop's first round
                cand, cand_scores = first
                first = None
            else:
                cand, cand_scores = self._search_backend(q[pending], fetch, mask, attempt, depth)
            done = self._collect(q, pending, cand, cand_scores, k, mask, excl, out_rows, out_scores)
            pending = pending[~done]
            if not pending.size:
                break
            if fetch >= min(n_rows, _MAX_FETCH):
                logger.debug(
                    "%d of %d queries found fewer than k=%d after filtering at fetch=%d; "
                    "scoring their remaining candidates exactly",
                    pending.size,
                    n,
                    k,
                    fetch,
                )
                rest = [excl[i] for i in pending] if excl is not None else None
                r, s = self._exact_rows(q[pending], k, mask, rest)
                out_rows[pending], out_scores[pending] = r, s
                break
            fetch = min(n_rows, _MAX_FETCH, fetch * _GROWTH)
            attempt += 1
        return out_rows, out_scores

    def _collect(
        self,
        q: npt.NDArray[np.float32],
        pending: npt.NDArray[np.int64],
        cand: npt.NDArray[np.int64],
        cand_scores: npt.NDArray[np.float32] | None,
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        excl: list[Any] | None,
        out_rows: npt.NDArray[np.int64],
        out_scores: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.bool_]:
        """Filter the ANN candidates (re-scoring them if needed); write rows that reach ``k``.

        ``cand`` and ``cand_scores`` are (len(pending), fetch). Returns the (len(pending),)
        mask of the queries that are done.
        """
        valid = cand >= 0
        usable = mask if mask is not None else (self._alive if self._n_dead else None)
        if usable is not None:
            valid &= usable[np.where(valid, cand, 0)]
        if excl is not None:
            for j, i in enumerate(pending.tolist()):
                e = excl[i]
                if e.size:
                    valid[j] &= ~np.isin(cand[j], e)
        if cand_scores is None:
            # coarse backend scores (PQ): re-score from the float32 vectors and re-rank
            vecs = self._data[np.where(valid, cand, 0)]
            scores = np.matmul(vecs, q[pending][:, :, None])[:, :, 0]
            scores[~valid] = -np.inf
            # best score first; equal scores: the lower row (earlier-added item) first
            order = np.lexsort((cand, -scores), axis=1)[:, :k]
        else:
            # exact and sorted already: keep the order, move the filtered-out ones last
            scores = cand_scores
            if valid.all():
                order = np.broadcast_to(np.arange(k), (cand.shape[0], k))
            else:
                order = np.argsort(~valid, axis=1, kind="stable")[:, :k]
        done: npt.NDArray[np.bool_] = np.count_nonzero(valid, axis=1) >= k
        if done.all():
            out_rows[pending] = np.take_along_axis(cand, order, axis=1)
            out_scores[pending] = np.take_along_axis(scores, order, axis=1)
        elif done.any():
            d = np.flatnonzero(done)
            out_rows[pending[d]] = np.take_along_axis(cand[d], order[d], axis=1)
            out_scores[pending[d]] = np.take_along_axis(scores[d], order[d], axis=1)
        return done

    def _exact_rows(
        self,
        q: npt.NDArray[np.float32],
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        excl: list[Any] | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Exact top-``k`` by blocked matmul over the usable rows; padded with -1 / -inf."""
        n = q.shape[0]
        out_rows = np.full((n, k), -1, dtype=np.int64)
        out_scores = np.full((n, k), -np.inf, dtype=np.float32)
        if mask is None and self._n_dead:
            mask = self._alive
        if mask is None:
            cand_rows: npt.NDArray[np.int64] | None = None
            data = self._data
        else:
            cand_rows = np.flatnonzero(mask).astype(np.int64)
            data = self._data[cand_rows]
        n_cand = data.shape[0]
        if n == 0 or n_cand == 0:
            return out_rows, out_scores
        if excl is not None and cand_rows is not None:
            # excluded rows -> positions among the candidates (rows outside the mask drop out)
            excl = [_positions(cand_rows, e) for e in excl]

        def score_block(rows: slice) -> npt.NDArray[np.float32]:
            return q[rows] @ data.T

        def mask_block(rows: slice, scores: npt.NDArray[np.float32]) -> None:
            assert excl is not None
            for j, e in enumerate(excl[rows]):
                if e.size:
                    scores[j, e] = -np.inf

        # the one ranking path: equal scores (also at the cut-off), the lower row first
        idx, top = blocked_top_k(
            n, n_cand, k, score_block, mask_block=None if excl is None else mask_block
        )
        width = idx.shape[1]
        if cand_rows is not None:
            pad = idx < 0
            idx = cand_rows[np.maximum(idx, 0)]
            idx[pad] = -1
        out_rows[:, :width] = idx
        out_scores[:, :width] = top
        return out_rows, out_scores

    # ------------------------------------------------------------------ updates
    def add(self, keys: Sequence[Hashable] | npt.NDArray[Any], vectors: npt.ArrayLike) -> None:
        """Add new keys and their vectors.

        Parameters
        ----------
        keys : sequence of str or int, length n_new
            New, unique keys of the index's key type.
        vectors : (n_new, dim) array_like
            Raw vectors; normalised here for ``metric="cosine"``.

        Raises
        ------
        ValueError
            A key is already present (``remove`` it first to replace it), duplicates, a shape
            mismatch (both shapes are named) or non-finite values.
        TypeError
            Keys of the other type than the index's (str vs int).
        """
        self._require_built()
        new_keys, key_type = normalise_keys(keys)
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.ndim != 2 or arr.shape != (len(new_keys), self._dim):
            raise ValueError(
                f"vectors have shape {arr.shape} but {len(new_keys)} keys were given and the "
                f"index has dim={self._dim}; expected ({len(new_keys)}, {self._dim})"
            )
        if not new_keys:
            return
        if len(self) and key_type != self._key_type:
            raise TypeError(
                f"the index holds {self._key_type} keys but {key_type} keys were given; convert "
                "them to one type"
            )
        if not len(self._row_keys):
            self._key_type = key_type
        present = [k for k in new_keys if k in self._key_to_row]
        if present:
            raise ValueError(
                f"{len(present)} key(s) are already in the index, e.g. {present[:10]!r}; call "
                "remove(keys) first to replace their vectors"
            )
        if len(set(new_keys)) != len(new_keys):
            raise ValueError("keys passed to add must be unique; duplicates were given")
        if not np.isfinite(arr).all():
            raise ValueError("vectors hold NaN or inf; check the input")
        data = np.array(arr, dtype=np.float32, order="C")
        if self._metric == "cosine":
            norms = np.linalg.norm(data, axis=1)
            data /= np.where(norms > 0, norms, 1.0).astype(np.float32)[:, None]
        start = len(self._row_keys)
        self._add_backend(data)
        self._data = np.concatenate([self._data, data]) if start else data
        self._row_keys.extend(new_keys)
        self._row_keys_arr = keys_array(self._row_keys, self._key_type)
        self._key_to_row.update({k: start + i for i, k in enumerate(new_keys)})
        self._alive = np.concatenate([self._alive, np.ones(len(new_keys), dtype=bool)])

    def remove(self, keys: Iterable[Any], *, missing: Literal["raise", "skip"] = "raise") -> int:
        """Remove keys; returns how many were removed.

        ANN indexes mark the rows as deleted (tombstones): searches never return them, but they
        stay inside the search structure (a graph cannot drop a node) and in memory until the
        index is rebuilt, e.g. ``build_index(index.to_embeddings(), kind=index.kind)``.

        Raises
        ------
        KeyError
            Unknown keys, with ``missing="raise"``.
        """
        self._require_built()
        key_list = [keys] if is_key(keys) else _as_key_list(keys)
        rows, _ = self._rows_of(key_list, missing)
        rows = np.unique(rows)
        if not rows.size:
            return 0
        self._alive[rows] = False
        self._n_dead += int(rows.size)
        for r in rows.tolist():
            del self._key_to_row[self._row_keys[r]]
        self._after_remove(rows)
        return int(rows.size)

    def _after_remove(self, rows: npt.NDArray[np.int64]) -> None:
        """Hook: an index that can really delete rows compacts itself here."""
        return None

    # ------------------------------------------------------------------ evaluation
    def exact_search(self, queries: npt.ArrayLike, k: int = 10) -> Neighbors:
        """:meth:`search` done exactly: every live stored vector is scored (no filters).

        The reference that :meth:`recall_at_k` and :func:`~embedrec.index.recall.sweep`
        measure an approximate index against; for :class:`~embedrec.index.exact.ExactIndex`
        it equals :meth:`search`.
        """
        q, single = self._check_queries(queries)
        rows, scores = self._exact_rows(q, check_k(k), None, None)
        return self._result(rows, scores, single)

    def recall_at_k(
        self,
        queries: npt.ArrayLike,
        k: int = 10,
        reference: Index | Neighbors | None = None,
    ) -> float:
        """Mean recall@k of :meth:`search` against exact search over the same vectors.

        Parameters
        ----------
        queries : (n_queries, dim) array_like
        k : int, default 10
        reference : Index or Neighbors, optional
            An exact index over the same keys, or its precomputed ``search(queries, k)``
            result. By default :meth:`exact_search` of this index.

        Returns
        -------
        float
            ``mean_q |found_q ∩ exact_q| / |exact_q|`` (padding ignored), in ``[0, 1]``.
        """
        from .recall import recall_at_k

        return recall_at_k(self, queries, k, reference=reference)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index as a directory artifact (atomically; never pickled).

        Each save publishes a new generation of ``path`` (see :mod:`embedrec.artifacts`)
        holding ``manifest.json`` (class, kind, metric, dim, params, counts, files),
        ``keys.json`` (one key per row), ``alive.npy`` (only after removals) and the index data:
        ``vectors.npy`` and/or the faiss index file.
        """
        self._require_built()
        with publish_artifact(path) as tmp:
            self._write_files(tmp)

    def write_dir(self, directory: str | os.PathLike[str]) -> None:
        """Write the index's files, with a checksummed manifest, into a new flat directory.

        For an index nested inside another artifact's generation (``embedrec index build``
        writes ``index/`` into a new generation of the model directory through
        :func:`embedrec.artifacts.extend_artifact`); a standalone index uses :meth:`save`.

        Raises
        ------
        FileExistsError
            ``directory`` exists.
        """
        self._require_built()
        directory = Path(directory)
        directory.mkdir(mode=0o777)
        self._write_files(directory)
        write_files_table(directory)

    def _write_files(self, tmp: Path) -> None:
        write_json(tmp / KEYS_FILE, self._row_keys)
        if self._n_dead:
            write_npy(tmp / ALIVE_FILE, self._alive)
        if self._saves_vectors:
            write_npy(tmp / VECTORS_FILE, self._data)
        self._save_backend(tmp)
        write_json(
            tmp / MANIFEST,
            make_manifest(
                type(self).__name__,
                kind=self.kind,
                metric=self._metric,
                dim=self._dim,
                params=self.params,
                n_rows=len(self._row_keys),
                n_keys=len(self),
                key_type=self._key_type,
            ),
        )

    @classmethod
    def load(cls: type[_I], path: str | os.PathLike[str], *, mmap: bool = False) -> _I:
        """Load an index written by :meth:`save` (use :func:`load_index` for any kind).

        Parameters
        ----------
        path : path
        mmap : bool, default False
            Memory-map ``vectors.npy`` read-only instead of loading it.

        Raises
        ------
        ValueError
            Not an index directory of this class, or an incomplete or corrupt one.
        """
        return load_consistent(path, lambda d: cls._load_generation(d, mmap=mmap))

    @classmethod
    def _load_generation(cls: type[_I], path: Path, *, mmap: bool) -> _I:
        manifest = read_manifest(path, cls.__name__)
        required = (KEYS_FILE, VECTORS_FILE) if cls._saves_vectors else (KEYS_FILE,)
        verify_artifact(path, manifest, required)
        params = manifest.get("params")
        if not isinstance(params, dict):
            raise ValueError(
                f"{path}/{MANIFEST} has no params; the artifact is corrupt, re-save it"
            )
        index = cls(**params)
        index._restore(path, manifest, mmap=mmap)
        return index

    def _restore(self, path: Path, manifest: Mapping[str, Any], *, mmap: bool) -> None:
        metric = manifest.get("metric")
        if metric not in ("cosine", "dot"):
            raise ValueError(f"{path}/{MANIFEST} has metric={metric!r}; expected 'cosine' or 'dot'")
        dim = manifest.get("dim")
        n_rows = manifest.get("n_rows")
        if not isinstance(dim, int) or not isinstance(n_rows, int):
            raise ValueError(f"{path}/{MANIFEST} lacks dim or n_rows; the artifact is corrupt")
        try:
            raw = read_json(path / KEYS_FILE)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}/{KEYS_FILE} is missing or corrupt ({exc}); re-save") from exc
        if not isinstance(raw, list) or len(raw) != n_rows:
            raise ValueError(
                f"{path}/{KEYS_FILE} should list {n_rows} keys; the artifact is corrupt, re-save it"
            )
        row_keys, key_type = normalise_keys(raw) if raw else ([], "str")
        if raw:
            key_type = cast(KeyType, manifest.get("key_type", key_type))
        alive = np.ones(n_rows, dtype=bool)
        if has_file(path, dict(manifest), ALIVE_FILE):
            alive = np.asarray(read_npy(path / ALIVE_FILE), dtype=bool)
            if alive.shape != (n_rows,):
                raise ValueError(f"{path}/{ALIVE_FILE} has shape {alive.shape}, not ({n_rows},)")
        self._metric = cast(Metric, metric)
        self._dim = dim
        self._key_type = key_type
        self._row_keys = row_keys
        self._row_keys_arr = keys_array(row_keys, key_type)
        self._alive = alive
        self._n_dead = int(n_rows - np.count_nonzero(alive))
        self._key_to_row = {k: i for i, k in enumerate(row_keys) if alive[i]}
        if self._saves_vectors:
            data = read_npy(path / VECTORS_FILE, mmap=mmap)
        else:
            data = self._vectors_from_backend(path)
        if data.shape != (n_rows, dim) or data.dtype != np.float32:
            raise ValueError(
                f"{path}: the stored vectors are {data.dtype} of shape {data.shape}; expected "
                f"float32 of shape ({n_rows}, {dim}): the artifact is corrupt, re-save it"
            )
        check_finite(data, path / VECTORS_FILE)
        self._data = data
        self._load_backend(path, manifest)
        self._built = True


# ---------------------------------------------------------------------------------- helpers
def _safe_get(get: Any, key: Any) -> int:
    try:
        row = get(as_key(key) if is_key(key) else key, -1)
    except TypeError:  # unhashable
        return -1
    return int(row)


def _is_collection(obj: object) -> bool:
    return not isinstance(obj, (str, bytes)) and not is_key(obj) and hasattr(obj, "__iter__")


def _as_key_list(keys: Any) -> list[Any]:
    if isinstance(keys, np.ndarray):
        if keys.ndim != 1:
            raise ValueError(f"keys must be 1-D, got an array of shape {keys.shape}")
        return cast(list[Any], keys.tolist())
    if not hasattr(keys, "__iter__"):
        raise TypeError(f"keys must be a key or a sequence of keys, got {type(keys).__name__}")
    return list(keys)


def _positions(sorted_rows: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> Any:
    """Positions of ``rows`` within the sorted ``sorted_rows``; rows not present are dropped."""
    if not rows.size:
        return rows
    pos = np.searchsorted(sorted_rows, rows)
    pos = np.minimum(pos, sorted_rows.size - 1)
    return pos[sorted_rows[pos] == rows]

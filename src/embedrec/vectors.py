"""Embeddings: external keys, a float32 matrix and a metric.

:class:`Embeddings` is what every embedrec model produces. It answers similarity queries
(:meth:`~Embeddings.most_similar`, :meth:`~Embeddings.similarity`, :meth:`~Embeddings.analogy`)
through the one ranking path (:mod:`embedrec.index.topk`) and reads and writes embedrec's own
directory artifact. Its word2vec-format methods wrap :mod:`embedrec.formats`, its word
benchmarks (:meth:`~Embeddings.evaluate_analogies`, :meth:`~Embeddings.evaluate_pairs`) wrap
:mod:`embedrec.eval.word`, and keys follow the one key policy of :mod:`embedrec.keys`.

A *key* is an external id (``str`` or ``int``); an *index* is a matrix row. The order of the keys
is meaningful: models put the most frequent keys first, so ``restrict_vocab=N`` everywhere means
"only the first ``N`` keys".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast, overload

import numpy as np
import numpy.typing as npt

from embedrec._io import (
    MANIFEST,
    make_manifest,
    read_manifest,
    read_npy,
    write_json,
    write_npy,
)
from embedrec.artifacts import (
    check_finite,
    check_savable,
    load_consistent,
    publish_artifact,
    read_json,
    verify_artifact,
)
from embedrec.formats import UnicodeErrors, read_word2vec_format, write_word2vec_format
from embedrec.index.topk import blocked_top_k, check_k, n_candidates
from embedrec.keys import (
    Key,
    KeyType,
    as_key,
    format_keys,
    is_key,
    keys_array,
    normalise_keys,
    unknown_keys_error,
)

__all__ = [
    "AnalogyMethod",
    "Embeddings",
    "Key",
    "KeyType",
    "Metric",
    "Missing",
    "Neighbors",
    "UnicodeErrors",
    "read_keys_vectors",
    "write_keys_vectors",
]

logger = logging.getLogger("embedrec")

Metric = Literal["cosine", "dot"]
Missing = Literal["raise", "skip"]
AnalogyMethod = Literal["3cosadd", "3cosmul"]
KeyLike = str | int | np.integer[Any]
KeyList = list[str] | list[int] | list[Key] | tuple[Key, ...] | npt.NDArray[Any]

KEYS_FILE = "keys.json"
VECTORS_FILE = "vectors.npy"

# 3CosMul's epsilon (Levy & Goldberg 2014, section 6), guarding the division by cos'(x, a).
_COSMUL_EPS = 1e-3


class Neighbors(NamedTuple):
    """Result of a nearest-neighbour query.

    Attributes
    ----------
    keys : (k,) or (n_queries, k) ndarray
        The neighbour keys, best first; ``object`` dtype for ``str`` keys, ``int64`` for ``int``.
    scores : (k,) or (n_queries, k) float32 ndarray
        Their similarities to the query (higher is better), in decreasing order.
    """

    keys: npt.NDArray[Any]
    scores: npt.NDArray[np.float32]


def _check_matrix(vectors: Any, n_keys: int) -> npt.NDArray[np.float32]:
    arr = np.asarray(vectors)
    if arr.ndim != 2 or arr.shape[0] != n_keys:
        raise ValueError(
            f"vectors have shape {arr.shape} but keys have shape ({n_keys},); "
            f"expected vectors of shape ({n_keys}, dim)"
        )
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"vectors must be real numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


# ---------------------------------------------------------------------------------- artifacts
def write_keys_vectors(
    dirpath: str | os.PathLike[str],
    keys: Sequence[Hashable] | npt.NDArray[Any],
    vectors: npt.ArrayLike,
) -> None:
    """Write ``keys.json`` and ``vectors.npy`` into an (existing) artifact directory.

    Model ``save`` methods call this inside :func:`embedrec.artifacts.publish_artifact` and
    write their own ``manifest.json`` next to it.

    Parameters
    ----------
    dirpath : path
        Directory to write into (normally the staging directory ``publish_artifact`` yields).
    keys : sequence of str or int, length n_keys
        The keys, all ``str`` or all ``int``; stored as a JSON list.
    vectors : (n_keys, dim) array_like
        Stored as ``float32`` with ``np.save(..., allow_pickle=False)``.

    Raises
    ------
    ValueError
        If the shape of ``vectors`` does not match the number of keys.
    TypeError
        If the keys are not all ``str`` or all ``int``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_keys_vectors(d, ["a", "b"], np.eye(2))
    >>> read_keys_vectors(d)[0]
    ['a', 'b']
    """
    dirpath = Path(dirpath)
    key_list, _ = normalise_keys(keys)
    matrix = _check_matrix(vectors, len(key_list))
    check_savable(matrix, "vectors")
    write_npy(dirpath / VECTORS_FILE, matrix)
    write_json(dirpath / KEYS_FILE, key_list)


def read_keys_vectors(
    dirpath: str | os.PathLike[str], *, mmap: bool = False, verify: bool = True
) -> tuple[list[Key], npt.NDArray[np.float32]]:
    """Read ``keys.json`` and ``vectors.npy`` written by :func:`write_keys_vectors`.

    Both files come from one generation of a model directory (see :mod:`embedrec.artifacts`).

    Parameters
    ----------
    dirpath : path
        An artifact directory (a generation store or a flat directory), or any directory
        holding the two files.
    mmap : bool, default False
        Memory-map ``vectors.npy`` read-only instead of loading it (only if it is float32).
    verify : bool, default True
        When the directory has a ``manifest.json``, check it and the two files against it
        first (:func:`embedrec.artifacts.verify_artifact`); loaders that verified the whole
        directory already pass ``False``.

    Returns
    -------
    keys : list of str or list of int, length n_keys
    vectors : (n_keys, dim) float32 ndarray

    Raises
    ------
    ValueError
        If a file is missing or corrupt, the number of keys and rows disagree, or a vector
        holds NaN or infinity.
    """
    return load_consistent(dirpath, lambda d: _read_keys_vectors_dir(d, mmap=mmap, verify=verify))


def _read_keys_vectors_dir(
    dirpath: Path, *, mmap: bool, verify: bool
) -> tuple[list[Key], npt.NDArray[np.float32]]:
    kpath, vpath = dirpath / KEYS_FILE, dirpath / VECTORS_FILE
    for p in (kpath, vpath):
        if not p.is_file():
            raise ValueError(
                f"{dirpath} has no {p.name}: it is not a complete embedrec artifact; re-save it"
            )
    if verify and (dirpath / MANIFEST).is_file():
        manifest = read_manifest(dirpath)
        both = (KEYS_FILE, VECTORS_FILE)
        verify_artifact(dirpath, manifest, both, only=both)
    raw = read_json(kpath)
    if not isinstance(raw, list):
        raise ValueError(f"{kpath} must hold a JSON list of keys, got {type(raw).__name__}")
    try:
        keys, _ = normalise_keys(raw)
    except TypeError as exc:
        raise ValueError(f"{kpath} is corrupt: {exc}") from exc
    vectors = read_npy(vpath, mmap=mmap)
    if vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise ValueError(
            f"{vpath} holds a {vectors.dtype} array of shape {vectors.shape}; expected a 2-D "
            "float matrix (n_keys, dim): the artifact is corrupt, re-save it"
        )
    if vectors.shape[0] != len(keys):
        raise ValueError(
            f"{dirpath}: {VECTORS_FILE} has shape {vectors.shape} but {KEYS_FILE} has "
            f"{len(keys)} keys; the artifact is corrupt, re-save it"
        )
    check_finite(vectors, vpath)
    if vectors.dtype != np.float32:
        vectors = vectors.astype(np.float32)
    return keys, vectors


# ---------------------------------------------------------------------------------- Embeddings
class Embeddings:
    """Keys, their ``(n_keys, dim)`` float32 vectors and the similarity metric.

    Parameters
    ----------
    keys : sequence of str or int, length n_keys
        Unique external ids, all ``str`` or all ``int``. ``keys[i]`` owns row ``i``. Order matters:
        ``restrict_vocab=N`` means the first ``N`` keys (models put the most frequent first).
    vectors : (n_keys, dim) array_like
        Converted to C-contiguous float32; not copied when it already is. The object keeps a
        read-only view, so do not modify the array you passed in afterwards (the cached unit
        vectors would go stale).
    metric : {"cosine", "dot"}, default "cosine"
        Similarity of :meth:`most_similar` and :meth:`similarity`: cosine similarity, or the raw
        dot product. Scores are always similarities: higher is better.

    Raises
    ------
    ValueError
        Duplicate keys (they are listed), a shape mismatch (both shapes are named), non-finite
        vectors, or an unknown metric.
    TypeError
        Keys that are not all ``str`` or all ``int``.

    Examples
    --------
    >>> emb = Embeddings(["a", "b", "c"], [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    >>> emb.most_similar("a", k=2).keys.tolist()
    ['b', 'c']
    >>> emb.most_similar(["a", "c"], k=1).keys.tolist()
    [['b'], ['b']]
    >>> round(emb.similarity("a", "b"), 6)
    0.8
    """

    def __init__(
        self,
        keys: Sequence[Hashable] | npt.NDArray[Any],
        vectors: npt.ArrayLike,
        metric: Metric = "cosine",
    ) -> None:
        if metric not in ("cosine", "dot"):
            raise ValueError(f"metric={metric!r} is invalid; use 'cosine' or 'dot'")
        key_list, key_type = normalise_keys(keys)
        matrix = _check_matrix(vectors, len(key_list))
        key_to_index = {k: i for i, k in enumerate(key_list)}
        if len(key_to_index) != len(key_list):
            seen: set[Key] = set()
            dups: list[Key] = []
            for k in key_list:
                if k in seen and k not in dups:
                    dups.append(k)
                seen.add(k)
            raise ValueError(f"keys must be unique; duplicated: {format_keys(dups)}")
        finite = np.isfinite(matrix).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise ValueError(
                f"vectors hold NaN or inf in {bad.size} row(s), e.g. of keys "
                f"{format_keys([key_list[i] for i in bad[:10]])}; training diverged "
                "(lower the learning rate) or the input is corrupt"
            )
        view = matrix.view()
        view.flags.writeable = False
        self._keys = key_list
        self._key_type: KeyType = key_type
        self._keys_arr = keys_array(key_list, key_type)
        self._key_to_index = key_to_index
        self._vectors = view
        self._metric: Metric = metric
        self._unit: npt.NDArray[np.float32] | None = None
        self._upper_canon: npt.NDArray[np.int64] | None = None

    # ------------------------------------------------------------------ basic properties
    @property
    def keys(self) -> list[Key]:
        """The keys in row order (the internal list: do not modify it)."""
        return self._keys

    @property
    def vectors(self) -> npt.NDArray[np.float32]:
        """The ``(n_keys, dim)`` float32 matrix (a read-only view)."""
        return self._vectors

    @property
    def metric(self) -> Metric:
        """``"cosine"`` or ``"dot"``."""
        return self._metric

    @property
    def dim(self) -> int:
        """Number of columns of :attr:`vectors`."""
        return int(self._vectors.shape[1])

    @property
    def key_type(self) -> KeyType:
        """``"str"`` or ``"int"``: the type of every key."""
        return self._key_type

    @property
    def key_to_index(self) -> dict[Key, int]:
        """Mapping key -> row index (the internal dict: do not modify it)."""
        return self._key_to_index

    @property
    def unit_vectors(self) -> npt.NDArray[np.float32]:
        """Rows of :attr:`vectors` scaled to unit L2 norm (cached; zero rows stay zero, no NaN)."""
        if self._unit is None:
            norms = np.linalg.norm(self._vectors, axis=1)
            unit = self._vectors / np.where(norms > 0, norms, 1.0).astype(np.float32)[:, None]
            unit = np.ascontiguousarray(unit, dtype=np.float32)
            unit.flags.writeable = False
            self._unit = unit
        return self._unit

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._key_to_index
        except TypeError:  # unhashable
            return False

    def __repr__(self) -> str:
        return (
            f"Embeddings(n_keys={len(self)}, dim={self.dim}, metric={self._metric!r}, "
            f"key_type={self._key_type!r})"
        )

    # ------------------------------------------------------------------ key -> index
    def _lookup(
        self, keys: Sequence[Any], missing: Missing
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Indices of ``keys`` (-1 where unknown) and a mask of the known ones."""
        get = self._key_to_index.get
        idx = np.fromiter((get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        known = idx >= 0
        if missing == "raise" and not known.all():
            raise unknown_keys_error([keys[int(i)] for i in np.flatnonzero(~known)])
        if missing not in ("raise", "skip"):
            raise ValueError(f"missing={missing!r} is invalid; use 'raise' or 'skip'")
        return idx, known

    @overload
    def index_of(self, key_or_keys: KeyLike, missing: Missing = ...) -> int: ...

    @overload
    def index_of(self, key_or_keys: KeyList, missing: Missing = ...) -> npt.NDArray[np.int64]: ...

    def index_of(
        self, key_or_keys: KeyLike | KeyList, missing: Missing = "raise"
    ) -> int | npt.NDArray[np.int64]:
        """Row index of one key, or an int64 array of indices of a list of keys.

        Parameters
        ----------
        key_or_keys : key or sequence of keys
        missing : {"raise", "skip"}, default "raise"
            For a list: ``"skip"`` leaves unknown keys out of the result (so it can be shorter
            than the input). A single unknown key always raises.

        Raises
        ------
        KeyError
            Listing the unknown keys.
        """
        if is_key(key_or_keys):
            idx = self._key_to_index.get(cast(Key, key_or_keys))
            if idx is None:
                raise unknown_keys_error([key_or_keys])
            return idx
        keys = list(cast(Sequence[Key], key_or_keys))
        idx_arr, known = self._lookup(keys, missing)
        return idx_arr[known]

    def __getitem__(self, key: KeyLike | KeyList) -> npt.NDArray[np.float32]:
        """The ``(dim,)`` vector of ``key`` (a read-only view); a list gives ``(n, dim)``."""
        if not is_key(key):
            return self.get_vectors(cast(KeyList, key))
        row: npt.NDArray[np.float32] = self._vectors[self.index_of(cast(Key, key))]
        return row

    def get_vectors(self, keys: KeyList, missing: Missing = "raise") -> npt.NDArray[np.float32]:
        """``(n, dim)`` float32 copy of the vectors of ``keys`` (unknown ones dropped by skip)."""
        rows: npt.NDArray[np.float32] = self._vectors[self.index_of(keys, missing=missing)]
        return rows

    # ------------------------------------------------------------------ scoring core
    def _n_candidates(self, restrict_vocab: int | None) -> int:
        return n_candidates(restrict_vocab, len(self))

    def _rank(
        self,
        n_cand: int,
        k: int,
        exclude: npt.NDArray[np.int64],
        score_block: Callable[[slice], npt.NDArray[np.float32]],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Top-``k`` candidate indices and scores per query, best first.

        ``score_block(rows)`` returns the ``(len(rows), n_cand)`` scores of a block of queries;
        row ``q`` of ``exclude`` (n_queries, m) lists indices query ``q`` must not return, padded
        with -1. All rows get the same width: ``min(k, fewest candidates left to any query)``.
        """
        n_queries = exclude.shape[0]
        valid = (exclude >= 0) & (exclude < n_cand)
        excl = np.sort(np.where(valid, exclude, -1), axis=1)
        distinct = excl >= 0
        distinct[:, 1:] &= excl[:, 1:] != excl[:, :-1]
        min_left = n_cand - int(distinct.sum(axis=1).max()) if n_queries else n_cand
        width = max(0, min(k, min_left))

        def mask_block(rows: slice, scores: npt.NDArray[np.float32]) -> None:
            r, c = np.nonzero(valid[rows])
            scores[r, exclude[rows][r, c]] = -np.inf

        # width <= the candidates left to every query, so no -inf is ever returned
        return blocked_top_k(
            n_queries, n_cand, width, score_block, mask_block=mask_block, drop_inf=False
        )

    def _query_matrix(
        self, pos: npt.NDArray[np.int64], neg: npt.NDArray[np.int64], unit: bool
    ) -> npt.NDArray[np.float32]:
        """Sum of positive minus negative vectors per query (unit vectors if ``unit``).

        ``pos`` (n_queries, m_pos) and ``neg`` (n_queries, m_neg) hold indices padded with -1.
        """
        base = self.unit_vectors if unit else self._vectors
        q = np.zeros((pos.shape[0], self.dim), dtype=np.float32)
        for parts, sign in ((pos, 1.0), (neg, -1.0)):
            for col in parts.T:  # a handful of columns; each is one vectorised gather
                used = col >= 0
                q[used] += np.float32(sign) * base[col[used]]
        if unit:
            norms = np.linalg.norm(q, axis=1)
            q /= np.where(norms > 0, norms, 1.0).astype(np.float32)[:, None]
        return q

    # ------------------------------------------------------------------ queries
    def most_similar(
        self,
        positive: Any,
        negative: Any = None,
        k: int = 10,
        *,
        restrict_vocab: int | None = None,
        exclude_query: bool = True,
        missing: Missing = "raise",
    ) -> Neighbors:
        """Nearest keys by :attr:`metric`, batch-first.

        Parameters
        ----------
        positive : key, tuple of keys, or list
            * a single key: one query; the result holds 1-D arrays of length ``k``.
            * a tuple of keys: one combined query (see below); 1-D result.
            * a list (or 1-D array): a batch; each element is its own query, either a key or a
              tuple/list of keys forming one combined query, e.g. ``[("king", "woman"), "paris"]``.
              The result holds ``(n_queries, k)`` arrays.

            A combined query is the sum of its positive vectors minus the sum of its negative
            vectors; with ``metric="cosine"`` each vector is unit-normalised first (as gensim
            does), and scores are cosines to that direction. With ``"dot"`` raw vectors are
            summed and scores are raw dot products.
        negative : None, key, tuple/list of keys, or list aligned with a batch
            Mirrors ``positive``: for a single query, a key or a tuple/list of keys subtracted from
            it; for a batch, ``None`` or a list of the same length whose elements are ``None``, a
            key, or a tuple/list of keys.
        k : int, default 10
            Number of neighbours. If fewer candidates exist, all are returned, so the result has
            fewer than ``k`` columns. In a batch all rows have the same width:
            ``min(k, fewest candidates of any query)`` (candidates are the first
            ``restrict_vocab`` keys minus the excluded query keys).
        restrict_vocab : int, optional
            Only the first ``restrict_vocab`` keys are candidates. Query keys may lie beyond.
        exclude_query : bool, default True
            Never return a query's own keys (positives and negatives).
        missing : {"raise", "skip"}, default "raise"
            ``"raise"``: unknown keys raise ``KeyError`` listing them. ``"skip"``: every query
            that has any unknown key (positive or negative) is dropped; a batch result then has
            one row per remaining query, in the original order (filter with ``key in emb`` to
            align rows with inputs), and a dropped single query gives empty 1-D arrays.

        Returns
        -------
        Neighbors
            ``keys`` (object array for str keys, int64 for int keys) and float32 ``scores``, best
            first. Ties are broken by lower index.

        Raises
        ------
        KeyError
            Unknown keys, with ``missing="raise"``.
        ValueError
            ``negative`` does not match the structure of ``positive``, or bad ``k``.

        Examples
        --------
        >>> emb = Embeddings(["a", "b", "c"], [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
        >>> emb.most_similar([("a", "c")], k=1).keys.tolist()
        [['b']]
        """
        k = check_k(k)
        single, pos_groups, neg_groups = _parse_queries(positive, negative)
        all_keys = [key for g in pos_groups + neg_groups for key in g]
        idx, known = self._lookup(all_keys, missing)
        pos, neg = _split_groups(idx, known, pos_groups, neg_groups)
        if pos.shape[0] < len(pos_groups):
            logger.info(
                "most_similar: dropped %d of %d queries with unknown keys (missing='skip')",
                len(pos_groups) - pos.shape[0],
                len(pos_groups),
            )
        n_cand = self._n_candidates(restrict_vocab)
        cosine = self._metric == "cosine"
        q = self._query_matrix(pos, neg, unit=cosine)
        cand = self.unit_vectors[:n_cand] if cosine else self._vectors[:n_cand]

        def score_block(rows: slice) -> npt.NDArray[np.float32]:
            return q[rows] @ cand.T

        exclude = np.concatenate([pos, neg], axis=1) if exclude_query else pos[:, :0]
        top_idx, top_scores = self._rank(n_cand, k, exclude, score_block)
        return self._neighbors(top_idx, top_scores, single)

    def _neighbors(
        self, idx: npt.NDArray[np.int64], scores: npt.NDArray[np.float32], single: bool
    ) -> Neighbors:
        keys = self._keys_arr[idx]
        if single:
            if idx.shape[0] == 0:
                return Neighbors(self._keys_arr[:0], np.empty(0, dtype=np.float32))
            return Neighbors(keys[0], scores[0])
        return Neighbors(keys, scores)

    @overload
    def similarity(self, a: KeyLike, b: KeyLike) -> float: ...

    @overload
    def similarity(self, a: KeyList, b: KeyList) -> npt.NDArray[np.float32]: ...

    def similarity(
        self, a: KeyLike | KeyList, b: KeyLike | KeyList
    ) -> float | npt.NDArray[np.float32]:
        """Similarity by :attr:`metric` of a pair of keys, or pairwise of two equal-length lists.

        Parameters
        ----------
        a, b : key, or sequences of keys of equal length

        Returns
        -------
        float, or (n_pairs,) float32 ndarray
            Cosine similarity (0 if either vector is zero) or dot product.

        Raises
        ------
        KeyError
            Listing unknown keys.
        ValueError
            Lists of different lengths, or a key mixed with a list.

        Examples
        --------
        >>> emb = Embeddings(["a", "b"], [[3.0, 0.0], [1.0, 1.0]], metric="dot")
        >>> emb.similarity("a", "b")
        3.0
        """
        if is_key(a) and is_key(b):
            ia, ib = self.index_of(cast(Key, a)), self.index_of(cast(Key, b))
            base = self.unit_vectors if self._metric == "cosine" else self._vectors
            return float(np.dot(base[ia].astype(np.float64), base[ib].astype(np.float64)))
        if is_key(a) or is_key(b):
            raise ValueError("give two keys or two lists of keys, not a key and a list")
        la, lb = list(cast(Sequence[Key], a)), list(cast(Sequence[Key], b))
        if len(la) != len(lb):
            raise ValueError(f"a and b must have the same length, got {len(la)} and {len(lb)}")
        idx, _ = self._lookup(la + lb, "raise")
        base = self.unit_vectors if self._metric == "cosine" else self._vectors
        va = base[idx[: len(la)]].astype(np.float64)
        vb = base[idx[len(la) :]].astype(np.float64)
        return cast(npt.NDArray[np.float32], np.einsum("ij,ij->i", va, vb).astype(np.float32))

    def analogy(
        self,
        a: Any,
        b: Any,
        c: Any,
        k: int = 1,
        *,
        method: AnalogyMethod = "3cosadd",
        restrict_vocab: int | None = None,
        missing: Missing = "raise",
    ) -> Neighbors:
        """Answer "``a`` is to ``b`` as ``c`` is to ?", e.g. ``analogy("man", "king", "woman")``.

        Analogies are defined on cosine similarity, so unit-normalised vectors are used whatever
        :attr:`metric` is. ``a``, ``b`` and ``c`` are never answers.

        Parameters
        ----------
        a, b, c : key, or lists of keys of equal length
            Three keys give one question (1-D result); three lists give a batch
            (``(n_questions, k)`` result).
        k : int, default 1
            Answers per question; fewer if there are fewer candidates (see :meth:`most_similar`).
        method : {"3cosadd", "3cosmul"}, default "3cosadd"
            ``3cosadd``: ``argmax_x cos(x, b - a + c)`` on unit vectors; the score is that cosine.
            ``3cosmul`` (Levy & Goldberg 2014, eq. 4): ``argmax_x cos'(x,b) cos'(x,c) /
            (cos'(x,a) + 1e-3)`` with ``cos' = (cos + 1) / 2`` shifting cosines to [0, 1]; the
            score is that ratio.
        restrict_vocab : int, optional
            Only the first ``restrict_vocab`` keys are candidate answers.
        missing : {"raise", "skip"}, default "raise"
            As in :meth:`most_similar`: ``"skip"`` drops questions with an unknown key.

        Returns
        -------
        Neighbors

        Examples
        --------
        >>> emb = Embeddings(["man", "king", "woman", "queen"],
        ...                  [[1.0, 0.0, 0.1], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
        >>> emb.analogy("man", "king", "woman").keys.tolist()
        ['queen']
        """
        k = check_k(k)
        if method not in ("3cosadd", "3cosmul"):
            raise ValueError(f"method={method!r} is invalid; use '3cosadd' or '3cosmul'")
        if all(is_key(x) for x in (a, b, c)):
            single, abc = True, [[a], [b], [c]]
        elif any(is_key(x) for x in (a, b, c)):
            raise ValueError("give a, b and c as three keys or as three lists of equal length")
        else:
            single, abc = False, [list(x) for x in (a, b, c)]
            if len({len(x) for x in abc}) != 1:
                raise ValueError(f"a, b and c must have equal lengths, got {[len(x) for x in abc]}")
        nq = len(abc[0])
        idx, known = self._lookup(abc[0] + abc[1] + abc[2], missing)
        ia, ib, ic = idx[:nq], idx[nq : 2 * nq], idx[2 * nq :]
        keep = known[:nq] & known[nq : 2 * nq] & known[2 * nq :]
        if not keep.all():
            logger.info("analogy: dropped %d questions with unknown keys", int((~keep).sum()))
            ia, ib, ic = ia[keep], ib[keep], ic[keep]
        n_cand = self._n_candidates(restrict_vocab)
        score_block = self._analogy_scorer(ia, ib, ic, n_cand, method)
        exclude = np.stack([ia, ib, ic], axis=1)
        top_idx, top_scores = self._rank(n_cand, k, exclude, score_block)
        return self._neighbors(top_idx, top_scores, single)

    def _analogy_scorer(
        self,
        ia: npt.NDArray[np.int64],
        ib: npt.NDArray[np.int64],
        ic: npt.NDArray[np.int64],
        n_cand: int,
        method: AnalogyMethod,
    ) -> Callable[[slice], npt.NDArray[np.float32]]:
        unit = self.unit_vectors
        cand = unit[:n_cand]
        if method == "3cosadd":
            q = self._query_matrix(np.stack([ib, ic], axis=1), ia[:, None], unit=True)

            def add_block(rows: slice) -> npt.NDArray[np.float32]:
                return q[rows] @ cand.T

            return add_block

        def mul_block(rows: slice) -> npt.NDArray[np.float32]:
            # one product for all three cosines, then the shift to [0, 1]
            n = ia[rows].size
            cos = unit[np.concatenate([ia[rows], ib[rows], ic[rows]])] @ cand.T
            cos += 1.0
            cos *= 0.5
            ca, cb, cc = cos[:n], cos[n : 2 * n], cos[2 * n :]
            return cast(npt.NDArray[np.float32], cb * cc / (ca + np.float32(_COSMUL_EPS)))

        return mul_block

    # ------------------------------------------------------------------ evaluation
    def evaluate_analogies(
        self,
        path: str | os.PathLike[str],
        *,
        restrict_vocab: int = 300_000,
        method: AnalogyMethod = "3cosadd",
        case_insensitive: bool = True,
    ) -> dict[str, Any]:
        """See :func:`embedrec.eval.word.evaluate_analogies`, called on these vectors."""
        from .eval.word import evaluate_analogies

        return evaluate_analogies(
            self,
            path,
            restrict_vocab=restrict_vocab,
            method=method,
            case_insensitive=case_insensitive,
        )

    def evaluate_pairs(
        self,
        path: str | os.PathLike[str],
        *,
        delimiter: str = "\t",
        restrict_vocab: int = 300_000,
        case_insensitive: bool = True,
        score_column: int | None = None,
    ) -> dict[str, float | int]:
        """See :func:`embedrec.eval.word.evaluate_pairs`, called on these vectors."""
        from .eval.word import evaluate_pairs

        return evaluate_pairs(
            self,
            path,
            delimiter=delimiter,
            restrict_vocab=restrict_vocab,
            case_insensitive=case_insensitive,
            score_column=score_column,
        )

    # ------------------------------------------------------------------ word2vec format
    def save_word2vec_format(self, path: str | os.PathLike[str], *, binary: bool = False) -> None:
        """Write the word2vec text or binary format (atomically; ``.gz`` paths are gzipped).

        Header ``"n_keys dim\\n"``; text rows ``"key v1 v2 ...\\n"`` with the shortest float32
        repr of each value (exact round trip); binary rows: the UTF-8 key, a space, ``dim``
        little-endian float32 values, then ``"\\n"`` as word2vec.c writes (gensim omits the
        newline; both readers accept either). Int keys are written with ``str()`` and so read
        back as strings. The metric is not stored.

        Raises
        ------
        ValueError
            A key that is empty, contains whitespace (the format separates fields with spaces
            and rows with newlines) or cannot be encoded as UTF-8 (a lone surrogate). Nothing
            is written then.

        Examples
        --------
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "v.txt"
        >>> Embeddings(["a"], [[0.5, -1.0]]).save_word2vec_format(p)
        >>> p.read_text()
        '1 2\\na 0.5 -1.0\\n'
        """
        write_word2vec_format(path, self._keys, self._vectors, binary=binary)

    @classmethod
    def load_word2vec_format(
        cls,
        path: str | os.PathLike[str],
        *,
        binary: bool | None = None,
        limit: int | None = None,
        metric: Metric = "cosine",
        unicode_errors: UnicodeErrors = "strict",
        no_header: bool = False,
    ) -> Embeddings:
        """Read a word2vec text or binary file, as written by word2vec.c, gensim or this class.

        Parameters
        ----------
        path : path
            The file; gzip-compressed files (any name) are decompressed on the fly.
        binary : bool, optional
            ``None`` detects the format from the first row.
        limit : int, optional
            Read only the first ``limit`` rows (the most frequent keys in word2vec files).
        metric : {"cosine", "dot"}, default "cosine"
        unicode_errors : {"strict", "replace", "ignore"}, default "strict"
            What to do with key bytes that are not valid UTF-8, as gensim's argument of that
            name: refuse the file, decode them as U+FFFD, or drop them. word2vec.c cuts long
            words at a byte limit, which can split a multi-byte character; use "replace" or
            "ignore" for such files. Keys that become equal after decoding keep their first
            row (as gensim does), with a warning.
        no_header : bool, default False
            The text file has no ``"n_keys dim"`` header line (GloVe files): the rows are
            counted and ``dim`` is taken from the first row. Text files only.

        Returns
        -------
        Embeddings
            Keys are always ``str``.

        Raises
        ------
        ValueError
            A corrupt file: bad header, fewer or more rows than the header says, a row with the
            wrong number of values, a non-numeric or non-finite value, undecodable UTF-8 (with
            ``unicode_errors="strict"``), or duplicate keys. The message names the file and
            the line (text) or row (binary).

        Examples
        --------
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "glove.txt"
        >>> _ = p.write_text("the 0.5 -1.0\\nof 0.25 2.0\\n")
        >>> Embeddings.load_word2vec_format(p, no_header=True).keys
        ['the', 'of']
        """
        words, vectors = read_word2vec_format(
            path, binary=binary, limit=limit, unicode_errors=unicode_errors, no_header=no_header
        )
        try:
            emb = cls(words, vectors, metric=metric)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        logger.info("loaded %d x %d vectors from %s", len(emb), vectors.shape[1], path)
        return emb

    # ------------------------------------------------------------------ directory artifact
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a directory artifact: ``manifest.json``, ``vectors.npy``, ``keys.json``.

        ``path`` is a generation store (see :mod:`embedrec.artifacts`): the files are written
        into a new generation that is published only when complete, so an interrupted save
        leaves the previous save intact and a concurrent :meth:`load` reads one whole
        generation.

        Examples
        --------
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()) / "emb"
        >>> Embeddings([1, 2], [[1.0, 0.0], [0.0, 1.0]]).save(d)
        >>> Embeddings.load(d).keys
        [1, 2]
        """
        with publish_artifact(path) as tmp:
            write_keys_vectors(tmp, self._keys, self._vectors)
            write_json(
                tmp / MANIFEST,
                make_manifest(
                    "Embeddings",
                    metric=self._metric,
                    dim=self.dim,
                    n_keys=len(self),
                    key_type=self._key_type,
                ),
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, mmap: bool = False) -> Embeddings:
        """Load a directory written by :meth:`save`.

        Parameters
        ----------
        path : path
        mmap : bool, default False
            Memory-map ``vectors.npy`` read-only.

        Raises
        ------
        FileNotFoundError, NotADirectoryError
            ``path`` is missing or a file.
        ValueError
            Not an embedrec ``Embeddings`` directory, or incomplete or corrupt (manifest, keys
            and vectors disagree, a checksum differs, NaN in the vectors).
        """
        return load_consistent(path, lambda d: cls._load_generation(d, mmap=mmap))

    @classmethod
    def _load_generation(cls, path: Path, *, mmap: bool) -> Embeddings:
        manifest = read_manifest(path, "Embeddings")
        verify_artifact(path, manifest, (KEYS_FILE, VECTORS_FILE))
        keys, vectors = read_keys_vectors(path, mmap=mmap, verify=False)
        metric = manifest.get("metric")
        if metric not in ("cosine", "dot"):
            raise ValueError(f"{path}/{MANIFEST} has metric={metric!r}; expected 'cosine' or 'dot'")
        expected = {"n_keys": len(keys), "dim": int(vectors.shape[1])}
        for field, actual in expected.items():
            if manifest.get(field) != actual:
                raise ValueError(
                    f"{path}/{MANIFEST} says {field}={manifest.get(field)!r} but the data has "
                    f"{actual}; the artifact is corrupt, re-save it"
                )
        key_type = ("int" if isinstance(keys[0], int) else "str") if keys else "str"
        if keys and manifest.get("key_type", key_type) != key_type:
            raise ValueError(
                f"{path}/{MANIFEST} says key_type={manifest.get('key_type')!r} but {KEYS_FILE} "
                f"holds {key_type} keys; the artifact is corrupt, re-save it"
            )
        return cls(keys, vectors, metric=cast(Metric, metric))


# ---------------------------------------------------------------------------------- helpers
def _split_groups(
    idx: npt.NDArray[np.int64],
    known: npt.NDArray[np.bool_],
    pos_groups: list[tuple[Key, ...]],
    neg_groups: list[tuple[Key, ...]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Cut the flat index array into padded (n_queries, m) positive and negative index matrices,
    dropping every query that has an unknown key (index -1)."""
    nq = len(pos_groups)
    sizes = np.array([len(g) for g in pos_groups + neg_groups], dtype=np.int64)
    group_of = np.repeat(np.arange(sizes.size), sizes)
    slot = np.arange(idx.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    padded = np.full((sizes.size, int(sizes.max(initial=0))), -1, dtype=np.int64)
    padded[group_of, slot] = idx
    bad = np.bincount(group_of, weights=~known, minlength=sizes.size) > 0
    keep = ~(bad[:nq] | bad[nq:])
    m_pos = int(sizes[:nq].max(initial=0))
    m_neg = int(sizes[nq:].max(initial=0))
    return padded[:nq][keep, :m_pos], padded[nq:][keep, :m_neg]


def _group(obj: Any, what: str) -> tuple[Key, ...]:
    """A key or a tuple/list/array of keys -> tuple of keys."""
    if is_key(obj):
        return (as_key(obj),)
    if isinstance(obj, (tuple, list, np.ndarray)):
        bad = [x for x in obj if not is_key(x)]
        if bad:
            raise TypeError(f"{what} holds {bad[0]!r}, which is not a str or int key")
        return tuple(as_key(x) for x in obj)
    raise TypeError(f"{what} must be a key or a tuple of keys, got {type(obj).__name__}")


def _parse_queries(
    positive: Any, negative: Any
) -> tuple[bool, list[tuple[Key, ...]], list[tuple[Key, ...]]]:
    """Normalise most_similar's arguments to per-query (positive, negative) key tuples."""
    if is_key(positive) or isinstance(positive, tuple):
        pos = _group(positive, "positive")
        if not pos:
            raise ValueError("positive is an empty tuple; give at least one key")
        neg = () if negative is None else _group(negative, "negative")
        return True, [pos], [neg]
    if not isinstance(positive, (list, np.ndarray)):
        raise TypeError(
            f"positive must be a key, a tuple of keys or a list of queries, got "
            f"{type(positive).__name__}"
        )
    pos_groups = [_group(p, f"positive[{i}]") for i, p in enumerate(positive)]
    for i, g in enumerate(pos_groups):
        if not g:
            raise ValueError(f"positive[{i}] is empty; give at least one key per query")
    if negative is None:
        return False, pos_groups, [()] * len(pos_groups)
    if not isinstance(negative, (list, np.ndarray)) or len(negative) != len(pos_groups):
        raise ValueError(
            f"with a batch of {len(pos_groups)} queries, negative must be None or a list of the "
            "same length (one key, tuple of keys or None per query); got "
            f"{type(negative).__name__}"
            + (f" of length {len(negative)}" if isinstance(negative, (list, np.ndarray)) else "")
        )
    neg_groups = [() if m is None else _group(m, f"negative[{i}]") for i, m in enumerate(negative)]
    return False, pos_groups, neg_groups

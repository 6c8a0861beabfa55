"""Graphs as CSR adjacency arrays with external node keys (file readers: :mod:`.graph_io`).

A :class:`Graph` stores **arcs** in compressed sparse row form: the out-neighbours of node
``u`` are ``indices[indptr[u]:indptr[u + 1]]``, sorted ascending with no repeats, so an arc
test is a binary search and the walk kernels take the arrays as they are. An undirected
edge ``{u, v}`` with ``u != v`` is stored as the two arcs ``u -> v`` and ``v -> u``; an
undirected self-loop ``{u, u}`` is stored once.

Readers build the arrays in bulk: files are tokenised with numpy on the raw bytes and
parsed by pyarrow (imported lazily), so no Python code runs per edge. The rules every
constructor shares:

* **Key order.** Node ``i`` is ``keys[i]``. Keys are numbered in order of first appearance
  (``src[0], dst[0], src[1], ...``; token order in files); ``nodes=`` puts given keys first.
* **Duplicates** (the same arc twice; for an undirected graph ``(u, v)`` and ``(v, u)`` are
  the same edge) merge by ``duplicates``: ``"sum"``, ``"max"`` or ``"first"`` (input
  order). An unweighted graph stays unweighted: its duplicates simply collapse.
* **Self-loops** are kept (once per node for an undirected graph) or dropped with
  ``self_loops="drop"``.
* **Isolated nodes** (no arc at all) and **dangling nodes** (directed graph, out-degree 0)
  are kept as nodes with empty rows; walks stop there.
* **Keys** are ``int64`` or ``str`` (an object array), never both in one graph.
* **Weights** are finite and > 0; anything else raises ``ValueError`` naming the row or
  line. Weights are stored as ``float32`` (merged in float64 first).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import numpy.typing as npt

from .._io import atomic_open
from ..keys import encode_first, key_column
from .graph_io import (
    NodeType,
    PathLike,
    check_choice,
    load_mat_variable,
    read_adjlist,
    read_edgelist,
    read_labels,
    read_mat_labels,
)

if TYPE_CHECKING:
    import scipy.sparse as sps

    from .corpus import Corpus
    from .interactions import Sequences

# read_labels and read_mat_labels live in graph_io; re-exported here where they used to be
__all__ = ["GRAPH_FORMAT_VERSION", "Graph", "read_labels", "read_mat_labels"]

logger = logging.getLogger("embedrec")

Duplicates = Literal["sum", "max", "first"]
SelfLoops = Literal["keep", "drop"]

#: version of the ``.npz`` layout written by :meth:`Graph.save`
GRAPH_FORMAT_VERSION = 1
_INT32_MAX = int(np.iinfo(np.int32).max)


@dataclass(frozen=True, eq=False, repr=False)
class Graph:
    """A directed or undirected graph in CSR form, with external node keys.

    Parameters
    ----------
    indptr : (n_nodes + 1,) int64
        Row pointers: ``indptr[0] == 0``, non-decreasing, ``indptr[-1] == n_arcs``.
    indices : (n_arcs,) int32
        Target node of each arc; strictly ascending within each row (no duplicate arcs).
    weights : (n_arcs,) float32 or None
        Arc weights, finite and > 0; ``None`` means unweighted (every weight 1).
    keys : (n_nodes,) int64 or object (str) ndarray
        Unique external node ids; node index ``i`` is ``keys[i]``.
    directed : bool
        For ``False`` the arcs must be symmetric (with equal weights both ways).

    Notes
    -----
    The constructor checks every invariant (in O(n_arcs log n_arcs)); the ``from_*``
    classmethods build valid arrays and skip the checks.

    Examples
    --------
    >>> g = Graph.from_edges(["a", "b", "a"], ["b", "c", "c"])
    >>> g.n_nodes, g.n_edges, g.n_arcs
    (3, 3, 6)
    >>> g.keys.tolist(), g.neighbors(0).tolist()
    (['a', 'b', 'c'], [1, 2])
    >>> g.index_of(["c", "a"]).tolist()
    [2, 0]
    """

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32] | None
    keys: npt.NDArray[Any]
    directed: bool

    def __post_init__(self) -> None:
        indptr = np.ascontiguousarray(self.indptr)
        indices = np.ascontiguousarray(self.indices)
        if indptr.ndim != 1 or indptr.size < 1 or indptr.dtype.kind not in "iu":
            raise ValueError(
                f"indptr must be a 1-D integer array of n_nodes + 1 row pointers, got "
                f"dtype {indptr.dtype} and shape {indptr.shape}"
            )
        if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
            raise ValueError(
                f"indices must be a 1-D integer array, got dtype {indices.dtype} "
                f"and shape {indices.shape}"
            )
        indptr = indptr.astype(np.int64, copy=False)
        n = indptr.size - 1
        if n > _INT32_MAX:
            raise ValueError(f"{n} nodes do not fit int32 indices; split the graph")
        if indptr[0] != 0 or indptr[-1] != indices.size or np.any(np.diff(indptr) < 0):
            raise ValueError(
                f"indptr must start at 0, be non-decreasing and end at n_arcs="
                f"{indices.size}; got {indptr[0]}..{indptr[-1]}"
            )
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            raise ValueError(
                f"indices must lie in [0, n_nodes={n}); got {indices.min()}..{indices.max()}"
            )
        indices = indices.astype(np.int32, copy=False)
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        if indices.size > 1:
            same_row = rows[1:] == rows[:-1]
            if np.any(same_row & (indices[1:] <= indices[:-1])):
                raise ValueError(
                    "indices must be strictly ascending within each row (sorted, no "
                    "duplicate arcs); build the graph with Graph.from_edges"
                )
        weights = self.weights
        if weights is not None:
            weights = np.ascontiguousarray(weights, dtype=np.float32)
            if weights.shape != indices.shape:
                raise ValueError(
                    f"weights has shape {weights.shape} but indices has shape "
                    f"{indices.shape}; give one weight per arc or weights=None"
                )
            bad = ~(np.isfinite(weights) & (weights > 0))
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(
                    f"weights[{i}] = {weights[i]} is invalid; arc weights must be finite and > 0"
                )
        keys = key_column(self.keys, "keys")
        if keys.shape != (n,):
            raise ValueError(
                f"keys has shape {keys.shape} but indptr describes {n} nodes; give one key per node"
            )
        _check_unique(keys, "keys")
        if not self.directed:
            r_sorted = np.lexsort((rows, indices))
            symmetric = np.array_equal(indices[r_sorted], rows) and np.array_equal(
                rows[r_sorted], indices
            )
            if symmetric and weights is not None:
                symmetric = np.array_equal(weights[r_sorted], weights)
            if not symmetric:
                raise ValueError(
                    "directed=False but the arcs are not symmetric (every arc u->v needs "
                    "v->u with the same weight); pass directed=True or build the graph "
                    "with Graph.from_edges(..., directed=False)"
                )
        object.__setattr__(self, "indptr", indptr)
        object.__setattr__(self, "indices", indices)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "directed", bool(self.directed))

    @classmethod
    def _trusted(
        cls,
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int32],
        weights: npt.NDArray[np.float32] | None,
        keys: npt.NDArray[Any],
        directed: bool,
    ) -> Graph:
        """Wrap arrays that a constructor of this module built (invariants hold)."""
        g = object.__new__(cls)
        for name, value in (
            ("indptr", indptr),
            ("indices", indices),
            ("weights", weights),
            ("keys", keys),
            ("directed", bool(directed)),
        ):
            object.__setattr__(g, name, value)
        return g

    # ------------------------------------------------------------------ properties
    def __repr__(self) -> str:
        kind = "directed" if self.directed else "undirected"
        w = ", weighted" if self.weights is not None else ""
        return f"Graph({self.n_nodes} nodes, {self.n_edges} edges, {kind}{w})"

    @property
    def n_nodes(self) -> int:
        """Number of nodes (isolated ones included)."""
        return int(self.indptr.size - 1)

    @property
    def n_arcs(self) -> int:
        """Number of stored arcs (an undirected edge ``u != v`` counts twice)."""
        return int(self.indices.size)

    @cached_property
    def n_self_loops(self) -> int:
        """Number of arcs ``u -> u``."""
        rows = np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self.indptr))
        return int(np.count_nonzero(rows == self.indices))

    @property
    def n_edges(self) -> int:
        """Edges: ``n_arcs`` if directed, else ``(n_arcs + n_self_loops) / 2``."""
        if self.directed:
            return self.n_arcs
        return (self.n_arcs + self.n_self_loops) // 2

    @property
    def is_weighted(self) -> bool:
        """Whether the graph carries arc weights (``weights is not None``)."""
        return self.weights is not None

    def out_degree(self) -> npt.NDArray[np.int64]:
        """(n_nodes,) int64 number of out-arcs of each node (a self-loop counts once)."""
        return np.diff(self.indptr)

    def neighbors(self, idx: int) -> npt.NDArray[np.int32]:
        """Out-neighbours of node index ``idx``: a sorted int32 view into ``indices``.

        Raises
        ------
        IndexError
            If ``idx`` is not in ``[-n_nodes, n_nodes)``.
        """
        n = self.n_nodes
        i = int(idx)
        if not -n <= i < n:
            raise IndexError(
                f"node index {idx} is out of range for {n} nodes; map keys with index_of"
            )
        i %= n
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    @cached_property
    def key_to_index(self) -> dict[Hashable, int]:
        """``{key: node index}`` (built on first use, then cached)."""
        return {k: i for i, k in enumerate(self.keys.tolist())}

    @cached_property
    def _key_sorter(self) -> npt.NDArray[np.intp]:
        return np.argsort(self.keys, kind="stable")

    @overload
    def index_of(self, keys: str | int | np.integer[Any]) -> int: ...

    @overload
    def index_of(
        self, keys: list[Any] | tuple[Any, ...] | npt.NDArray[Any]
    ) -> npt.NDArray[np.int32]: ...

    def index_of(
        self,
        keys: str | int | np.integer[Any] | list[Any] | tuple[Any, ...] | npt.NDArray[Any],
    ) -> int | npt.NDArray[np.int32]:
        """Node indices of external keys.

        Parameters
        ----------
        keys
            One key (returns an ``int``) or a sequence / array of keys (returns a
            ``(n_keys,)`` int32 array).

        Raises
        ------
        KeyError
            Listing the keys that are not nodes of the graph.
        """
        if isinstance(keys, (str, int, np.integer)):
            return int(self.index_of([keys])[0])
        n = self.n_nodes
        q = np.asarray(keys)
        if q.ndim != 1:
            q = q.reshape(-1)
        if self.keys.dtype.kind == "i" and q.dtype.kind in "iu":
            sorter = self._key_sorter
            pos = np.searchsorted(self.keys, q, sorter=sorter)
            pos_c = np.minimum(pos, max(n - 1, 0))
            out = sorter[pos_c] if n else np.zeros(q.size, dtype=np.intp)
            found = (pos < n) & (self.keys[out] == q) if n else np.zeros(q.size, dtype=bool)
            if not found.all():
                _raise_unknown(q[~found].tolist())
            return out.astype(np.int32)
        lookup = self.key_to_index
        idx = [lookup.get(k, -1) for k in q.tolist()]
        arr = np.asarray(idx, dtype=np.int32)
        if np.any(arr < 0):
            _raise_unknown([k for k, i in zip(q.tolist(), idx, strict=True) if i < 0])
        return arr

    def to_scipy(self) -> sps.csr_matrix:
        """The ``(n_nodes, n_nodes)`` float32 CSR adjacency matrix (1.0 where unweighted)."""
        import scipy.sparse as sps

        data = np.ones(self.n_arcs, dtype=np.float32) if self.weights is None else self.weights
        n = self.n_nodes
        return sps.csr_matrix((data, self.indices, self.indptr), shape=(n, n), copy=True)

    # ------------------------------------------------------------------ persistence
    def save(self, path: PathLike) -> None:
        """Write the graph to one ``.npz`` file (atomically; no pickles).

        The file is written at ``path`` exactly (no extension is added). String keys are
        stored as a fixed-width unicode array.

        Raises
        ------
        ValueError
            If a string key ends with a NUL character (unicode arrays cannot hold it).
        """
        keys = self.keys
        if keys.dtype == object:
            if any(k.endswith("\x00") for k in keys.tolist()):
                raise ValueError(
                    "a str key ends with '\\x00', which a .npz unicode array cannot keep; "
                    "rename the key before saving"
                )
            keys = np.array(keys.tolist(), dtype=str) if keys.size else np.zeros(0, "U1")
        arrays: dict[str, npt.NDArray[Any]] = {
            "format_version": np.array(GRAPH_FORMAT_VERSION, dtype=np.int64),
            "indptr": self.indptr,
            "indices": self.indices,
            "keys": keys,
            "directed": np.array(self.directed),
        }
        if self.weights is not None:
            arrays["weights"] = self.weights
        with atomic_open(path, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: PathLike) -> Graph:
        """Read a graph written by :meth:`save`; every invariant is checked again.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the file is not a graph ``.npz`` (or needs a newer embedrec).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"graph file {path} does not exist; check the path")
        try:
            with np.load(path, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
        except (ValueError, OSError) as exc:
            raise ValueError(
                f"{path} is not a graph .npz file ({exc}); write one with Graph.save"
            ) from exc
        missing = {"format_version", "indptr", "indices", "keys", "directed"} - set(data)
        if missing:
            raise ValueError(
                f"{path} lacks the arrays {sorted(missing)}: it is not a graph written by "
                "Graph.save"
            )
        version = int(data["format_version"])
        if version > GRAPH_FORMAT_VERSION:
            raise ValueError(
                f"{path} has format_version={version}; this embedrec reads versions <= "
                f"{GRAPH_FORMAT_VERSION}: upgrade embedrec"
            )
        keys = data["keys"]
        if keys.dtype.kind == "U":
            keys = keys.astype(object)
        return cls(
            indptr=data["indptr"],
            indices=data["indices"],
            weights=data.get("weights"),
            keys=keys,
            directed=bool(data["directed"]),
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_edges(
        cls,
        src: npt.ArrayLike,
        dst: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
        *,
        directed: bool = False,
        nodes: npt.ArrayLike | None = None,
        self_loops: SelfLoops = "keep",
        duplicates: Duplicates = "sum",
    ) -> Graph:
        """Build a graph from parallel arrays of edge endpoints (keys).

        Parameters
        ----------
        src, dst : (n_edges,) int or str keys
            Edge ``i`` joins ``src[i]`` and ``dst[i]`` (an arc ``src[i] -> dst[i]`` when
            ``directed``).
        weights : (n_edges,) float, optional
            Finite and > 0. Without weights the graph is unweighted.
        directed : bool
            Undirected edges are stored as two arcs (a self-loop as one).
        nodes : (n_nodes,) keys, optional
            Unique keys that come first, in this order; keys of ``nodes`` without an edge
            become isolated nodes. Other keys follow in order of first appearance
            (``src[0], dst[0], src[1], ...``).
        self_loops : {"keep", "drop"}
        duplicates : {"sum", "max", "first"}
            How repeated arcs (undirected: ``(u, v)`` and ``(v, u)`` too) merge their
            weights; ``"first"`` keeps the weight of the earliest row. Ignored when
            unweighted: duplicates collapse and the graph stays unweighted.

        Returns
        -------
        Graph

        Raises
        ------
        ValueError
            Mismatched lengths, a weight that is not finite and > 0 (the first bad row is
            named), duplicate ``nodes``, or keys that mix ints and strings.
        TypeError
            Keys that are neither int nor str.

        Examples
        --------
        >>> g = Graph.from_edges([1, 1, 2], [2, 2, 2], [1.0, 2.5, 4.0], directed=True)
        >>> g.keys.tolist(), g.indptr.tolist(), g.indices.tolist(), g.weights.tolist()
        ([1, 2], [0, 1, 2], [1, 1], [3.5, 4.0])
        """
        check_choice("self_loops", self_loops, ("keep", "drop"))
        check_choice("duplicates", duplicates, ("sum", "max", "first"))
        s = key_column(src, "src")
        d = key_column(dst, "dst")
        if s.shape != d.shape:
            raise ValueError(
                f"src has shape {s.shape} but dst has shape {d.shape}; give one dst per src"
            )
        w: npt.NDArray[np.float64] | None = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64).reshape(-1)
            if w.shape != s.shape:
                raise ValueError(
                    f"weights has shape {w.shape} but src has shape {s.shape}; give one "
                    "weight per edge or weights=None"
                )
            bad = ~(np.isfinite(w) & (w > 0))
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(
                    f"weights[{i}] = {w[i]} (edge {s[i]!r} -> {d[i]!r}) is invalid; "
                    "weights must be finite and > 0: drop the edge or give it a positive "
                    "weight"
                )
        parts = []
        n_given = 0
        if nodes is not None:
            given = key_column(nodes, "nodes")
            _check_unique(given, "nodes")
            n_given = given.size
            if n_given:
                parts.append(given)
        inter = np.empty(2 * s.size, dtype=_common_key_dtype(s, d, "src", "dst"))
        inter[0::2] = s
        inter[1::2] = d
        parts.append(inter)
        if n_given:
            _common_key_dtype(parts[0], inter, "nodes", "src/dst")
        allkeys = np.concatenate(parts) if len(parts) > 1 else parts[0]
        keys, codes = encode_first(allkeys)
        edge_codes = codes[n_given:]
        return _assemble(
            keys,
            edge_codes[0::2],
            edge_codes[1::2],
            w,
            directed=directed,
            self_loops=self_loops,
            duplicates=duplicates,
        )

    @classmethod
    def from_edgelist(
        cls,
        path: PathLike,
        *,
        directed: bool = False,
        weighted: bool | None = None,
        delimiter: str | None = None,
        comment: str | None = "#",
        node_type: NodeType = "auto",
        self_loops: SelfLoops = "keep",
        duplicates: Duplicates = "sum",
    ) -> Graph:
        """Read an edge list: one ``src dst [weight]`` per line.

        Parameters
        ----------
        path
            Text file (UTF-8; ``.gz`` is decompressed). Blank lines are skipped.
        directed : bool
        weighted : bool or None
            ``None``: weighted iff every line has a third column (a file where only some
            lines do is read unweighted, with a warning). ``False``: a third column is
            ignored. ``True``: every line must have one.
        delimiter : str or None
            ``None`` detects it: comma-separated when the first data line holds a comma,
            else runs of spaces and tabs. A given one-character delimiter (e.g. ``"\\t"``)
            is strict: an empty field is an error. Fields never contain whitespace and
            there is no quoting.
        comment : str or None
            One character that starts a comment (anywhere on a line); ``None`` for none.
        node_type : {"auto", "int", "str"}
            ``"auto"``: int64 keys if every id parses as an integer, else str keys.
        self_loops, duplicates
            As in :meth:`from_edges`.

        Raises
        ------
        ValueError
            A malformed line (wrong number of columns, bad weight, non-integer id with
            ``node_type="int"``, empty field), naming the file and line; an empty file.
        FileNotFoundError
            If ``path`` does not exist.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.csv"
        >>> _ = p.write_text("# src,dst,weight\\n1,2,0.5\\n2,3,2\\n")
        >>> g = Graph.from_edgelist(p)
        >>> g.keys.tolist(), g.n_edges, g.weights.tolist()
        ([1, 2, 3], 2, [0.5, 0.5, 2.0, 2.0])
        """
        check_choice("node_type", node_type, ("auto", "int", "str"))
        check_choice("self_loops", self_loops, ("keep", "drop"))
        check_choice("duplicates", duplicates, ("sum", "max", "first"))
        keys, src, dst, w = read_edgelist(
            path, weighted=weighted, delimiter=delimiter, comment=comment, node_type=node_type
        )
        return _assemble(
            keys, src, dst, w, directed=directed, self_loops=self_loops, duplicates=duplicates
        )

    @classmethod
    def from_adjlist(
        cls,
        path: PathLike,
        *,
        directed: bool = False,
        node_type: NodeType = "auto",
        self_loops: SelfLoops = "keep",
    ) -> Graph:
        """Read an adjacency list: one ``node nbr nbr ...`` per line (whitespace).

        Each line adds the edges ``node -- nbr`` (arcs ``node -> nbr`` when ``directed``);
        a line with only a node adds an isolated node. Files that list every undirected
        edge at both ends (DeepWalk's format) give each edge once. ``#`` starts a comment.
        The graph is unweighted; keys are numbered in order of first appearance in the file.

        Raises
        ------
        ValueError
            An empty file, or a non-integer id with ``node_type="int"``, naming the line.
        FileNotFoundError
            If ``path`` does not exist.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.adjlist"
        >>> _ = p.write_text("1 2 3\\n2 1\\n3 1\\n4\\n")
        >>> g = Graph.from_adjlist(p)
        >>> g.keys.tolist(), g.n_edges, g.out_degree().tolist()
        ([1, 2, 3, 4], 2, [2, 1, 1, 0])
        """
        check_choice("node_type", node_type, ("auto", "int", "str"))
        check_choice("self_loops", self_loops, ("keep", "drop"))
        keys, src, dst = read_adjlist(path, node_type=node_type)
        return _assemble(
            keys, src, dst, None, directed=directed, self_loops=self_loops, duplicates="sum"
        )

    @classmethod
    def from_scipy(
        cls,
        matrix: Any,
        *,
        keys: npt.ArrayLike | None = None,
        directed: bool | None = None,
    ) -> Graph:
        """Build a graph from a square adjacency matrix (scipy sparse or dense).

        Parameters
        ----------
        matrix : (n, n) sparse matrix / array or ndarray
            Every non-zero entry ``(i, j)`` is an arc ``i -> j`` weighted by its value
            (duplicate sparse entries are summed first). All values 1 -> unweighted.
        keys : (n,) int or str keys, optional
            Default ``0 .. n-1`` (int64).
        directed : bool or None
            ``None``: undirected iff the matrix is symmetric. ``False`` on an asymmetric
            matrix symmetrises it with ``max(A, A.T)`` (e.g. an upper-triangular matrix
            becomes its undirected graph).

        Raises
        ------
        ValueError
            A non-square matrix, negative or non-finite values, or a wrong number of keys.

        Examples
        --------
        >>> import numpy as np
        >>> g = Graph.from_scipy(np.array([[0, 1, 0], [1, 0, 2], [0, 2, 0]]))
        >>> g.directed, g.n_edges, g.weights.tolist()
        (False, 2, [1.0, 1.0, 2.0, 2.0])
        """
        m = _as_csr(matrix)
        n = m.shape[0]
        data = m.data
        bad = ~(np.isfinite(data) & (data >= 0))
        if bad.any():
            row = int(np.searchsorted(m.indptr, int(np.argmax(bad)), side="right")) - 1
            col = int(m.indices[int(np.argmax(bad))])
            raise ValueError(
                f"matrix[{row}, {col}] = {data[int(np.argmax(bad))]} is invalid; adjacency "
                "values must be finite and >= 0 (zero = no arc)"
            )
        m.eliminate_zeros()
        if directed is None:
            directed = (m != m.T).nnz != 0
        if not directed:
            m = m.maximum(m.T).tocsr()
        m.sum_duplicates()
        m.sort_indices()
        if keys is None:
            key_arr: npt.NDArray[Any] = np.arange(n, dtype=np.int64)
        else:
            key_arr = key_column(keys, "keys")
            if key_arr.shape != (n,):
                raise ValueError(
                    f"keys has shape {key_arr.shape} but the matrix has shape {m.shape}; "
                    "give one key per row"
                )
            _check_unique(key_arr, "keys")
        w = m.data.astype(np.float32)
        weights = None if bool(np.all(m.data == 1)) else w
        return cls._trusted(
            np.asarray(m.indptr, dtype=np.int64),
            np.asarray(m.indices, dtype=np.int32),
            weights,
            key_arr,
            bool(directed),
        )

    @classmethod
    def from_mat(
        cls, path: PathLike, *, variable: str = "network", directed: bool | None = None
    ) -> Graph:
        """Read the adjacency matrix ``variable`` of a MATLAB ``.mat`` file.

        Node ``i`` is matrix row ``i`` (keys ``0 .. n-1``), the layout of the DeepWalk data
        sets (BlogCatalog, Flickr, PPI, POS): see :meth:`from_scipy` for ``directed``.
        Labels of those files come from :func:`read_mat_labels`.

        Raises
        ------
        KeyError
            If the file has no ``variable`` (the message lists the variables it has).
        """
        m = load_mat_variable(path, variable)
        return cls.from_scipy(m, directed=directed)

    @classmethod
    def from_sessions(
        cls,
        sequences: Sequences | tuple[Corpus, Any] | Iterable[Sequence[Hashable]],
        *,
        directed: bool = True,
        min_weight: int = 1,
    ) -> Graph:
        """The item-transition graph of sessions (Wang et al., KDD 2018, EGES).

        Consecutive items ``(a, b)`` with ``a != b`` in a session add 1 to the weight of
        arc ``a -> b``; an item repeated in a row adds nothing. Weights are transition
        counts (undirected: ``count(a->b) + count(b->a)``); arcs with a count below
        ``min_weight`` are dropped. Every item of the sessions is a node, also one seen
        only in length-1 sessions (isolated) or only on dropped arcs.

        Parameters
        ----------
        sequences
            An :class:`~embedrec.data.interactions.Sequences` (node keys: the items of
            ``item_keys`` that occur, in key-table order), a ``(Corpus, keys)`` pair
            (token ``t`` is ``keys[t]``; same ordering), or an iterable of key lists
            (keys numbered in order of first appearance).
        directed : bool
        min_weight : int
            Keep arcs (edges, when undirected) with at least this many transitions.

        Raises
        ------
        ValueError
            If ``min_weight < 1`` or there are no items.

        Examples
        --------
        >>> g = Graph.from_sessions([["a", "b", "b", "c"], ["b", "c"], ["d"]])
        >>> g.keys.tolist(), g.indices.tolist(), g.weights.tolist()
        (['a', 'b', 'c', 'd'], [1, 2], [1.0, 2.0])
        """
        if isinstance(min_weight, bool) or not isinstance(min_weight, (int, np.integer)):
            raise TypeError(f"min_weight={min_weight!r} must be an int >= 1")
        if min_weight < 1:
            raise ValueError(f"min_weight={min_weight} is invalid; use min_weight >= 1")
        codes, offsets, table = _session_codes(sequences)
        if codes.size == 0:
            raise ValueError("the sessions hold no items; give at least one non-empty session")
        used = np.zeros(len(table), dtype=bool)
        used[codes] = True
        present = np.flatnonzero(used)
        remap = np.full(len(table), -1, dtype=np.int64)
        remap[present] = np.arange(present.size)
        node = remap[codes]
        seq_of = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        step = (seq_of[1:] == seq_of[:-1]) & (node[1:] != node[:-1])
        a = node[:-1][step]
        b = node[1:][step]
        keys = table[present]
        g = _assemble(
            keys,
            a,
            b,
            np.ones(a.size, dtype=np.float64),
            directed=directed,
            self_loops="keep",
            duplicates="sum",
        )
        if min_weight > 1:
            g = _drop_light_arcs(g, float(min_weight))
        return g


# ---------------------------------------------------------------------- assembly
def _assemble(
    keys: npt.NDArray[Any],
    src: npt.NDArray[np.integer[Any]],
    dst: npt.NDArray[np.integer[Any]],
    w: npt.NDArray[np.float64] | None,
    *,
    directed: bool,
    self_loops: SelfLoops,
    duplicates: Duplicates,
) -> Graph:
    """CSR arrays from coded edges: symmetrise, sort, merge duplicate arcs."""
    n = len(keys)
    if n > _INT32_MAX:
        raise ValueError(f"{n} nodes do not fit int32 indices; split the graph")
    u = np.asarray(src, dtype=np.int64)
    v = np.asarray(dst, dtype=np.int64)
    if self_loops == "drop":
        keep = u != v
        u, v = u[keep], v[keep]
        w = None if w is None else w[keep]
    if not directed:
        # arcs of edge i stay adjacent (forward, then reverse) so that a stable sort keeps
        # input order, which duplicates="first" relies on; a self-loop has no reverse arc
        rev = u != v
        u2 = np.stack([u, v], axis=1).reshape(-1)
        v2 = np.stack([v, u], axis=1).reshape(-1)
        keep2 = np.stack([np.ones(u.size, dtype=bool), rev], axis=1).reshape(-1)
        u, v = u2[keep2], v2[keep2]
        if w is not None:
            w = np.repeat(w, 2)[keep2]
    arc = u * n + v
    weights: npt.NDArray[np.float32] | None = None
    if w is None:
        # sort + mask, not np.unique: numpy 2's hash-based unique is far slower here
        arc = np.sort(arc)
        if arc.size > 1:
            first = np.empty(arc.size, dtype=bool)
            first[0] = True
            np.not_equal(arc[1:], arc[:-1], out=first[1:])
            arc = arc[first]
    else:
        order = np.argsort(arc, kind="stable")
        arc_sorted = arc[order]
        w_sorted = w[order]
        if arc_sorted.size:
            new = np.empty(arc_sorted.size, dtype=bool)
            new[0] = True
            np.not_equal(arc_sorted[1:], arc_sorted[:-1], out=new[1:])
            starts = np.flatnonzero(new)
        else:
            starts = np.zeros(0, dtype=np.intp)
        arc = arc_sorted[starts]
        if starts.size == 0:
            merged = np.zeros(0, dtype=np.float64)
        elif duplicates == "sum":
            merged = np.add.reduceat(w_sorted, starts)
        elif duplicates == "max":
            merged = np.maximum.reduceat(w_sorted, starts)
        else:
            merged = w_sorted[starts]
        weights = merged.astype(np.float32)
        if not np.all(np.isfinite(weights)):
            raise ValueError(
                "merged weights overflow float32; scale the weights down or use duplicates='max'"
            )
    rows = arc // n if n else arc
    cols = arc - rows * n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return Graph._trusted(indptr, cols.astype(np.int32), weights, keys, bool(directed))


def _drop_light_arcs(g: Graph, min_weight: float) -> Graph:
    assert g.weights is not None
    keep = g.weights >= min_weight
    rows = np.repeat(np.arange(g.n_nodes, dtype=np.int64), np.diff(g.indptr))
    indptr = np.zeros(g.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=g.n_nodes), out=indptr[1:])
    return Graph._trusted(indptr, g.indices[keep], g.weights[keep], g.keys, g.directed)


# ---------------------------------------------------------------------- keys
def _raise_unknown(unknown: list[Any]) -> None:
    shown = unknown[:10]
    more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
    raise KeyError(f"{len(unknown)} keys are not nodes of the graph: {shown}{more}")


def _common_key_dtype(
    a: npt.NDArray[Any], b: npt.NDArray[Any], name_a: str, name_b: str
) -> np.dtype[Any]:
    if a.size and b.size and a.dtype != b.dtype:
        kinds = {np.dtype(np.int64): "int", np.dtype(object): "str"}
        raise TypeError(
            f"{name_a} has {kinds[a.dtype]} keys but {name_b} has {kinds[b.dtype]} keys; "
            "use one key type (e.g. convert ints with str())"
        )
    if a.size:
        return a.dtype
    return b.dtype if b.size else np.dtype(np.int64)


def _check_unique(keys: npt.NDArray[Any], name: str) -> None:
    if keys.size < 2:
        return
    if keys.dtype == object:
        n_unique = len(set(keys.tolist()))
        if n_unique == keys.size:
            return
    else:
        srt = np.sort(keys)
        if not np.any(srt[1:] == srt[:-1]):
            return
    _, idx, counts = np.unique(keys, return_index=True, return_counts=True)
    dup = keys[np.sort(idx[counts > 1])][:10].tolist()
    raise ValueError(f"{name} must be unique; repeated: {dup}")


def _session_codes(
    sequences: Any,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[Any]]:
    """(flat item codes, offsets, key table) of any accepted session input."""
    from .corpus import Corpus
    from .interactions import Sequences

    if isinstance(sequences, Sequences):
        table = key_column(sequences.item_keys, "item_keys")
        return (
            np.asarray(sequences.items, dtype=np.int64),
            np.asarray(sequences.offsets, dtype=np.int64),
            table,
        )
    if isinstance(sequences, tuple) and len(sequences) == 2 and isinstance(sequences[0], Corpus):
        corpus, keys = sequences
        table = key_column(list(keys) if not isinstance(keys, np.ndarray) else keys, "keys")
        codes = np.asarray(corpus.tokens, dtype=np.int64)
        if codes.size and int(codes.max()) >= table.size:
            raise ValueError(
                f"the corpus has token {int(codes.max())} but keys has only {table.size} "
                "entries; pass the vocabulary's keys (vocab.keys)"
            )
        _check_unique(table, "keys")
        return codes, np.asarray(corpus.offsets, dtype=np.int64), table
    if isinstance(sequences, (str, bytes)) or isinstance(sequences, Corpus):
        raise TypeError(
            f"sequences is a {type(sequences).__name__}; give Sequences, a (Corpus, keys) "
            "pair or an iterable of key lists"
        )
    flat: list[Hashable] = []
    lengths: list[int] = []
    for s in sequences:
        if isinstance(s, (str, bytes)):
            raise TypeError(
                f"a session is a {type(s).__name__} ({s[:40]!r}); sessions must be "
                "sequences of item keys"
            )
        items = s.tolist() if isinstance(s, np.ndarray) else list(s)
        flat.extend(items)
        lengths.append(len(items))
    arr = key_column(np.array(flat, dtype=object), "sessions")
    table, codes = encode_first(arr)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64), out=offsets[1:])
    return codes, offsets, table


# ---------------------------------------------------------------------- matrices
def _as_csr(matrix: Any) -> sps.csr_matrix:
    import scipy.sparse as sps

    if sps.issparse(matrix):
        m = sps.csr_matrix(matrix, copy=True)
    else:
        arr = np.asarray(matrix)
        if arr.ndim != 2:
            raise ValueError(f"matrix must be 2-D, got shape {arr.shape}")
        m = sps.csr_matrix(arr)
    if m.shape[0] != m.shape[1]:
        raise ValueError(
            f"matrix has shape {m.shape}; an adjacency matrix must be square (n_nodes, n_nodes)"
        )
    if m.dtype.kind not in "biuf":
        raise ValueError(f"matrix has dtype {m.dtype}; adjacency values must be real numbers")
    m = m.astype(np.float64)
    m.sum_duplicates()
    return m

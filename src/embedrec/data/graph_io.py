"""Graph file readers: edge lists, adjacency lists, MATLAB ``.mat`` files and node labels.

Files are tokenised with numpy on the raw bytes and parsed by pyarrow (imported lazily), so no
Python code runs per edge. :func:`read_edgelist` and :func:`read_adjlist` return key and code
arrays that :class:`~embedrec.data.graph.Graph` assembles (``Graph.from_edgelist``,
``Graph.from_adjlist`` and ``Graph.from_mat`` call them); :func:`read_labels` and
:func:`read_mat_labels` read node labels for a graph. This module does not import
:mod:`embedrec.data.graph`.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from ..keys import encode_arrow_first

if TYPE_CHECKING:
    import scipy.sparse as sps

    from .graph import Graph

__all__ = [
    "NodeType",
    "PathLike",
    "check_choice",
    "load_mat_variable",
    "read_adjlist",
    "read_edgelist",
    "read_labels",
    "read_mat_labels",
]

logger = logging.getLogger("embedrec")

PathLike = str | os.PathLike[str]
NodeType = Literal["auto", "int", "str"]

#: ASCII whitespace, the separators of ``bytes.split()``
_WS_BYTES = (9, 10, 11, 12, 13, 32)
_WS_TABLE = np.zeros(256, dtype=bool)
_WS_TABLE[list(_WS_BYTES)] = True
_INT_RE = r"^-?[0-9]+$"


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming ``name``, ``value`` and the allowed values."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is invalid; use one of {', '.join(allowed)}")


def read_edgelist(
    path: PathLike,
    *,
    weighted: bool | None = None,
    delimiter: str | None = None,
    comment: str | None = "#",
    node_type: NodeType = "auto",
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.int64], Any]:
    """Parse an edge list file (``src dst [weight]`` per line) into key and code arrays.

    The reader behind :meth:`Graph.from_edgelist <embedrec.data.graph.Graph.from_edgelist>`,
    which documents the parameters and the errors.

    Returns
    -------
    keys : (n_nodes,) int64 or object (str) ndarray
        In order of first appearance.
    src, dst : (n_lines,) int64
        Codes into ``keys`` of each line's ends.
    weights : (n_lines,) float64 or None
    """
    check_choice("node_type", node_type, ("auto", "int", "str"))
    tok = _Tokens.read(path, delimiter=delimiter, comment=comment, sniff=True)
    if tok.n_lines == 0:
        raise ValueError(f"{tok.path} holds no edges; give a file of 'src dst' lines")
    ntok = tok.line_ntok
    bad = (ntok < 2) | (ntok > 3)
    if bad.any():
        i = int(np.argmax(bad))
        raise tok.line_error(i, f"expected 2 or 3 columns (src dst [weight]), found {int(ntok[i])}")
    has_w = ntok == 3
    if weighted is None:
        use_w = bool(has_w.all())
        if has_w.any() and not use_w:
            i = int(np.argmin(has_w))
            logger.warning(
                "%s: some lines have a weight column but line %d does not; reading the "
                "graph unweighted (pass weighted=True to require weights)",
                tok.path,
                int(tok.line_no[i]),
            )
    elif weighted:
        if not has_w.all():
            i = int(np.argmin(has_w))
            raise tok.line_error(
                i, "weighted=True but the line has no weight column (src dst weight)"
            )
        use_w = True
    else:
        use_w = False
    first = tok.line_first
    id_tok = np.empty(2 * first.size, dtype=np.int64)
    id_tok[0::2] = first
    id_tok[1::2] = first + 1
    keys, codes = tok.keys(id_tok, node_type, header_check=True)
    w = tok.floats(first + 2, "weight") if use_w else None
    return keys, codes[0::2], codes[1::2], w


def read_adjlist(
    path: PathLike, *, node_type: NodeType = "auto"
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Parse an adjacency list file (``node nbr nbr ...`` per line) into key and code arrays.

    The reader behind :meth:`Graph.from_adjlist <embedrec.data.graph.Graph.from_adjlist>`.

    Returns
    -------
    keys : (n_nodes,) int64 or object (str) ndarray
        In order of first appearance.
    src, dst : (n_pairs,) int64
        Codes of the ``node -> nbr`` pairs, in file order.
    """
    check_choice("node_type", node_type, ("auto", "int", "str"))
    tok = _Tokens.read(path, delimiter=None, comment="#", sniff=False)
    if tok.n_lines == 0:
        raise ValueError(f"{tok.path} holds no nodes; give a file of 'node nbr ...' lines")
    keys, codes = tok.keys(np.arange(tok.n_tokens, dtype=np.int64), node_type, header_check=True)
    is_head = np.zeros(tok.n_tokens, dtype=bool)
    is_head[tok.line_first] = True
    src = np.repeat(codes[tok.line_first], tok.line_ntok - 1)
    dst = codes[~is_head]
    return keys, src, dst


# ---------------------------------------------------------------------- labels
def read_labels(
    path: PathLike,
    graph: Graph,
    *,
    missing: Literal["raise", "skip"] = "raise",
) -> tuple[sps.csr_matrix, npt.NDArray[Any]]:
    """Read node labels: ``node label [label ...]`` per line (OpenNE / DeepWalk format).

    Parameters
    ----------
    path
        Whitespace-separated text (``.gz`` accepted, ``#`` comments). A node may have
        several lines (their labels are united) or none (an empty row). When the graph has
        int keys, a first line whose node is not an integer is a header and is skipped.
    graph : Graph
        Rows of the result follow ``graph.keys``; node tokens are parsed as the graph's
        key type.
    missing : {"raise", "skip"}
        What to do with lines whose node is not in the graph.

    Returns
    -------
    (labels, label_keys)
        ``labels`` is an ``(n_nodes, n_labels)`` bool CSR matrix; ``label_keys`` holds
        the label ids, sorted (int64 if every label is an integer, else str).

    Raises
    ------
    KeyError
        Nodes that are not in the graph (with ``missing="raise"``).
    ValueError
        A non-integer node id for an int-keyed graph (after the header line).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels.txt"
    >>> _ = p.write_text("1 b\\n3 a b\\n")
    >>> from embedrec.data.graph import Graph
    >>> y, names = read_labels(p, Graph.from_edges([1, 2], [2, 3]))
    >>> y.toarray().tolist(), names.tolist()
    ([[False, True], [False, False], [True, True]], ['a', 'b'])
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import scipy.sparse as sps

    check_choice("missing", missing, ("raise", "skip"))
    tok = _Tokens.read(path, delimiter=None, comment="#", sniff=False)
    line_first = tok.line_first
    line_ntok = tok.line_ntok
    node_str = tok.strings.take(pa.array(line_first))
    int_keys = graph.keys.dtype.kind == "i"
    if int_keys:
        ok = np.asarray(pc.match_substring_regex(node_str, _INT_RE).to_numpy(False), bool)
        if ok.size and not ok[0]:
            logger.info("%s: line %d is a header; skipped", tok.path, int(tok.line_no[0]))
            ok[0] = True
            keep_line = np.ones(line_first.size, dtype=bool)
            keep_line[0] = False
        else:
            keep_line = np.ones(line_first.size, dtype=bool)
        if not ok.all():
            i = int(np.argmin(ok))
            raise tok.line_error(i, "the node id is not an integer but the graph has int keys")
        nodes = node_str.filter(pa.array(keep_line))
        try:
            nodes = pc.cast(nodes, pa.int64()) if len(nodes) else pa.array([], pa.int64())
        except pa.ArrowInvalid as exc:
            raise ValueError(
                f"{tok.path}: a node id does not fit int64 ({exc}), so it is no node of the "
                "int-keyed graph; check the file"
            ) from None
        value_set = pa.array(graph.keys, type=pa.int64())
    else:
        keep_line = np.ones(line_first.size, dtype=bool)
        nodes = node_str
        value_set = pa.array(graph.keys.tolist(), type=pa.large_string())
        nodes = nodes.cast(pa.large_string())
    line_idx = np.flatnonzero(keep_line)
    row = pc.index_in(nodes, value_set=value_set).to_numpy(zero_copy_only=False)
    unknown = np.isnan(row) if row.dtype.kind == "f" else np.zeros(row.size, dtype=bool)
    if unknown.any():
        bad_keys = nodes.filter(pa.array(unknown)).to_pylist()
        if missing == "raise":
            first = int(tok.line_no[line_idx[int(np.argmax(unknown))]])
            raise KeyError(
                f"{tok.path}: {len(bad_keys)} labelled nodes are not in the graph (first on "
                f"line {first}): {bad_keys[:10]}; to skip them, pass missing='skip' (command "
                "line: --missing skip)"
            )
        logger.info("%s: skipped %d lines whose node is not in the graph", tok.path, len(bad_keys))
    row = np.where(unknown, -1, row).astype(np.int64)
    n_lab = line_ntok[line_idx] - 1
    lab_tok = np.repeat(line_first[line_idx] + 1, n_lab) + _ranges(n_lab)
    lab_row = np.repeat(row, n_lab)
    keep = lab_row >= 0
    lab_row = lab_row[keep]
    label_keys, lab_col = tok.keys(lab_tok[keep], "auto", sort=True)
    n = graph.n_nodes
    mat = sps.csr_matrix(
        (np.ones(lab_row.size, dtype=np.int8), (lab_row, lab_col)),
        shape=(n, len(label_keys)),
    )
    mat.data[:] = 1
    return mat.astype(bool), label_keys


def read_mat_labels(
    path: PathLike, variable: str = "group"
) -> tuple[sps.csr_matrix, npt.NDArray[np.int64]]:
    """Read the ``(n_nodes, n_labels)`` label matrix ``variable`` of a ``.mat`` file.

    Rows follow :meth:`Graph.from_mat` of the same file (keys ``0 .. n-1``); every non-zero
    entry is a label membership.

    Returns
    -------
    (labels, label_keys)
        A bool CSR matrix and ``label_keys = arange(n_labels)`` (int64).

    Raises
    ------
    KeyError
        If the file has no ``variable`` (the message lists the variables it has).
    """
    import scipy.sparse as sps

    m = load_mat_variable(path, variable)
    mat = sps.csr_matrix(m)
    mat.eliminate_zeros()
    mat.sum_duplicates()
    mat.sort_indices()
    return mat.astype(bool), np.arange(mat.shape[1], dtype=np.int64)


def load_mat_variable(path: PathLike, variable: str) -> Any:
    """The variable ``variable`` of a MATLAB ``.mat`` file (scipy.io.loadmat)."""
    import inspect

    import scipy.io

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f".mat file {p} does not exist; check the path")
    # sparse variables as sparse arrays (scipy >= 1.15 asks; its default changes in 1.20)
    params = inspect.signature(scipy.io.loadmat).parameters
    mat = scipy.io.loadmat(p, spmatrix=False) if "spmatrix" in params else scipy.io.loadmat(p)
    if variable not in mat:
        have = sorted(k for k in mat if not k.startswith("__"))
        raise KeyError(f"{p} has no variable {variable!r}; it holds {have}: pass variable=")
    return mat[variable]


# ---------------------------------------------------------------------- tokeniser
def _ranges(lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``concatenate([arange(k) for k in lengths])`` without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - starts


@dataclass(frozen=True)
class _Tokens:
    """Whitespace tokens of a text file, with the line of each (all numpy / arrow).

    ``strings`` holds every token (a pyarrow large_string array); non-blank line ``j``
    has tokens ``line_first[j] : line_first[j] + line_ntok[j]`` and is line
    ``line_no[j]`` (1-based) of the file.
    """

    path: Path
    data: bytes
    strings: Any
    line_first: npt.NDArray[np.int64]
    line_ntok: npt.NDArray[np.int64]
    line_no: npt.NDArray[np.int64]

    @property
    def n_tokens(self) -> int:
        return len(self.strings)

    @property
    def n_lines(self) -> int:
        return int(self.line_first.size)

    @classmethod
    def read(
        cls, path: PathLike, *, delimiter: str | None, comment: str | None, sniff: bool
    ) -> _Tokens:
        import pyarrow as pa

        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"graph file {p} does not exist; check the path")
        if p.suffix == ".gz":
            try:
                with gzip.open(p, "rb") as fh:
                    data = fh.read()
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise ValueError(
                    f"{p} is a truncated or corrupt gzip file ({exc}); re-download or "
                    f"re-compress it (`gzip -t {p}` checks it)"
                ) from None
        else:
            data = p.read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise ValueError(
                f"{p}, line {line}: bytes are not valid UTF-8 ({exc.reason}); re-encode the "
                "file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
            ) from None
        buf = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 10)
        n_phys = newlines.size + 1
        owned = False
        if comment is not None:
            cb = _one_ascii_byte(comment, "comment")
            if cb in _WS_BYTES:
                raise ValueError(f"comment={comment!r} is whitespace; use e.g. comment='#'")
            cpos = np.flatnonzero(buf == cb)
            if cpos.size:
                cline = np.searchsorted(newlines, cpos)
                # cline is sorted: the first comment character of each line starts a run
                first = np.flatnonzero(np.diff(cline, prepend=-1) != 0)
                cstart = cpos[first]
                line_end = np.append(newlines, buf.size)[cline[first]]
                mark = np.zeros(buf.size + 1, dtype=np.int64)
                np.add.at(mark, cstart, 1)
                np.add.at(mark, line_end, -1)
                blank = np.cumsum(mark[:-1]) > 0
                buf = buf.copy()
                owned = True
                buf[blank] = 32
        strict: int | None = None
        if delimiter is not None:
            db = _one_ascii_byte(delimiter, "delimiter")
            if db != 32:
                strict = db
        elif sniff:
            strict = _sniff_comma(buf, newlines)
        n_delims = None
        if strict is not None:
            dmask = buf == strict
            dline = np.searchsorted(newlines, np.flatnonzero(dmask))
            n_delims = np.bincount(dline, minlength=n_phys)
            if dline.size:
                if not owned:
                    buf = buf.copy()
                buf[dmask] = 32
        space = _WS_TABLE[buf]
        word = ~space
        start_mask = word.copy()
        start_mask[1:] &= space[:-1]
        end_mask = word.copy()
        end_mask[:-1] &= space[1:]
        starts = np.flatnonzero(start_mask)
        ends = np.flatnonzero(end_mask) + 1
        compact = buf[word]
        offsets = np.zeros(starts.size + 1, dtype=np.int64)
        np.cumsum(ends - starts, out=offsets[1:])
        strings = pa.LargeStringArray.from_buffers(
            starts.size, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(compact))
        )
        tok_line = np.searchsorted(newlines, starts)
        if tok_line.size:
            new_line = np.empty(tok_line.size, dtype=bool)
            new_line[0] = True
            np.not_equal(tok_line[1:], tok_line[:-1], out=new_line[1:])
            line_first = np.flatnonzero(new_line).astype(np.int64)
        else:
            line_first = np.zeros(0, dtype=np.int64)
        line_ntok = np.diff(np.append(line_first, starts.size)).astype(np.int64)
        line_idx = tok_line[line_first]
        tokens = cls(p, data, strings, line_first, line_ntok, line_idx.astype(np.int64) + 1)
        if n_delims is not None:
            # a strict delimiter: every non-blank line has n_fields - 1 of them
            expected = np.zeros(n_phys, dtype=np.int64)
            expected[line_idx] = line_ntok - 1
            bad_lines = np.flatnonzero(n_delims != expected)
            if bad_lines.size:
                ln = int(bad_lines[0])
                raise ValueError(
                    f"{p}, line {ln + 1}: fields must be separated by exactly one "
                    f"{chr(strict or 32)!r}, with no empty field and no whitespace inside a "
                    f"field: {tokens._physical_line(ln)!r}"
                )
        return tokens

    def _physical_line(self, ln: int) -> str:
        lines = self.data.split(b"\n", ln + 1)
        text = lines[ln] if ln < len(lines) else b""
        return text.decode("utf-8", errors="replace").rstrip("\r")[:200]

    def line_error(self, j: int, message: str) -> ValueError:
        """ValueError for non-blank line ``j``, naming the file, line and its text."""
        ln = int(self.line_no[j])
        return ValueError(f"{self.path}, line {ln}: {message}: {self._physical_line(ln - 1)!r}")

    def token_line(self, tok: int) -> int:
        """Index ``j`` of the non-blank line holding token ``tok``."""
        return int(np.searchsorted(self.line_first, tok, side="right")) - 1

    def keys(
        self,
        tok: npt.NDArray[np.int64],
        node_type: NodeType,
        *,
        sort: bool = False,
        header_check: bool = False,
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        """Parse tokens ``tok`` as keys: (key table, code of each token).

        The key table is in order of first appearance, or sorted with ``sort=True``.
        ``header_check`` refuses a first line of words above lines of integer ids.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        sel = self.strings.take(pa.array(tok, type=pa.int64()))
        if len(sel) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        as_int = node_type == "int"
        if node_type != "str":
            ok = np.asarray(pc.match_substring_regex(sel, _INT_RE).to_numpy(False), bool)
            if node_type == "int" and not ok.all():
                i = int(np.argmin(ok))
                raise self.line_error(
                    self.token_line(int(tok[i])),
                    f"id {sel[i].as_py()!r} is not an integer (node_type='int')",
                )
            as_int = bool(ok.all())
            if header_check and not as_int and self.line_first.size > 1:
                # ids on the first line are all words, every other one an int: a header
                # read as nodes would silently turn every key into a string
                on_first = tok < self.line_first[1]
                if not ok[on_first].any() and ok[~on_first].all():
                    raise self.line_error(
                        0,
                        "the first line looks like a header (every other id is an integer);"
                        " comment it out with '#', or pass node_type='str' if these are ids",
                    )
        parsed = sel
        if as_int:
            try:
                parsed = pc.cast(sel, pa.int64())
            except pa.ArrowInvalid:
                if node_type == "int":
                    big = next(i for i, s in enumerate(sel.to_pylist()) if abs(int(s)) >= 2**63)
                    raise self.line_error(
                        self.token_line(int(tok[big])),
                        f"id {sel[big].as_py()!r} does not fit int64; use node_type='str'",
                    ) from None
                parsed = sel
        keys, codes = encode_arrow_first(parsed)
        if sort and keys.size:
            order = np.argsort(keys, kind="stable")
            rank = np.empty(order.size, dtype=np.int64)
            rank[order] = np.arange(order.size)
            keys, codes = keys[order], rank[codes]
        return keys, codes

    def floats(self, tok: npt.NDArray[np.int64], what: str) -> npt.NDArray[np.float64]:
        """Parse tokens ``tok`` as finite floats > 0, naming the line of a bad one."""
        import pyarrow as pa
        import pyarrow.compute as pc

        sel = self.strings.take(pa.array(tok, type=pa.int64()))
        try:
            vals = np.asarray(pc.cast(sel, pa.float64()).to_numpy(), dtype=np.float64)
        except pa.ArrowInvalid:
            # error path (or a form only Python reads, e.g. "1_000"): find the bad token
            parsed: list[float] = []
            for i, text in enumerate(sel.to_pylist()):
                try:
                    parsed.append(float(text))
                except ValueError:
                    raise self.line_error(
                        self.token_line(int(tok[i])), f"{what} {text!r} is not a number"
                    ) from None
            vals = np.asarray(parsed, dtype=np.float64)
        bad = ~(np.isfinite(vals) & (vals > 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise self.line_error(
                self.token_line(int(tok[i])),
                f"{what} {sel[i].as_py()!r} is invalid; weights must be finite and > 0",
            )
        return vals


def _one_ascii_byte(value: str, name: str) -> int:
    if not isinstance(value, str) or len(value) != 1 or ord(value) > 127:
        raise ValueError(f"{name}={value!r} is invalid; give one ASCII character, e.g. ','")
    return ord(value)


def _sniff_comma(buf: npt.NDArray[np.uint8], newlines: npt.NDArray[np.intp]) -> int | None:
    """``ord(',')`` if the first non-blank line holds a comma, else None (whitespace)."""
    word = ~_WS_TABLE[buf]
    if not word.any():
        return None
    line = int(np.searchsorted(newlines, int(np.argmax(word))))
    lo = 0 if line == 0 else int(newlines[line - 1]) + 1
    hi = int(newlines[line]) if line < newlines.size else buf.size
    return ord(",") if bool(np.any(buf[lo:hi] == ord(","))) else None


__all__ = ["Graph", "read_labels", "read_mat_labels"]

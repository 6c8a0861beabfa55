"""How good an approximate index is: recall@k against exact search, and parameter sweeps.

:func:`recall_at_k` (also :meth:`Index.recall_at_k <embedrec.index.base.Index.recall_at_k>`)
compares an index's results with exact ones; :func:`sweep` measures recall@k and queries/s
over a grid of search-time parameters and :func:`format_sweep` prints the table.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..keys import pad_key
from ..vectors import Neighbors
from .topk import check_k

if TYPE_CHECKING:
    from .base import Index

__all__ = ["format_sweep", "recall_at_k", "sweep"]


def recall_at_k(
    index: Index,
    queries: npt.ArrayLike,
    k: int = 10,
    *,
    reference: Index | Neighbors | None = None,
) -> float:
    """Mean recall@k of ``index.search`` against exact search over the same vectors.

    Parameters
    ----------
    index : Index
    queries : (n_queries, dim) array_like
    k : int, default 10
    reference : Index or Neighbors, optional
        An exact index over the same keys, or its precomputed ``search(queries, k)`` result.
        By default ``index.exact_search(queries, k)``.

    Returns
    -------
    float
        ``mean_q |found_q ∩ exact_q| / |exact_q|`` (padding ignored), in ``[0, 1]``; 1.0 when
        no query has an exact result.

    Raises
    ------
    ValueError
        The reference results have another shape than the index's.
    """
    k = check_k(k)
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    found = index.search(q, k).keys
    if isinstance(reference, Neighbors):
        truth = reference.keys
    elif reference is None:
        truth = index.exact_search(q, k).keys
    else:
        truth = reference.search(q, k).keys
    if truth.ndim == 1:
        truth = truth[None, :]
    if truth.shape != found.shape:
        raise ValueError(
            f"reference results have shape {truth.shape} but this index returned "
            f"{found.shape}; pass reference=exact.search(queries, k) for the same queries"
        )
    pad = pad_key(index.key_type)
    total = 0.0
    n = 0
    for f_row, t_row in zip(found.tolist(), truth.tolist(), strict=True):
        t = {x for x in t_row if x is not pad and x != pad}
        if not t:
            continue
        total += len(t.intersection(f_row)) / len(t)
        n += 1
    return total / n if n else 1.0


def sweep(
    index: Index,
    queries: npt.ArrayLike,
    k: int = 10,
    values: Mapping[str, Sequence[Any]] | None = None,
    *,
    reference: Index | Neighbors | None = None,
    repeats: int = 1,
) -> list[dict[str, Any]]:
    """Recall@k and queries/s of ``index`` for each value of a search-time parameter.

    Parameters
    ----------
    index : Index
    queries : (n_queries, dim) array_like
    k : int, default 10
    values : mapping of parameter name -> values, e.g. ``{"ef_search": [16, 32, 64]}``
        One or more parameters; every combination is measured (in the given order). By default
        nothing changes and the current setting is measured once.
    reference : Index or Neighbors, optional
        Exact results for ``queries``; by default computed once with
        :meth:`Index.exact_search <embedrec.index.base.Index.exact_search>`.
    repeats : int, default 1
        Timed runs per point; the fastest counts.

    Returns
    -------
    list of dict
        One dict per point: the parameter values, ``"recall@k"`` (e.g. ``"recall@10"``),
        ``"queries/s"`` and ``"seconds"``. The previous parameters are restored afterwards.
        :func:`format_sweep` prints it as a table.

    Notes
    -----
    Queries are searched in one batch; the rate therefore uses every thread faiss and BLAS
    are allowed (``faiss.omp_set_num_threads(1)`` measures one core).
    """
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim != 2:
        raise ValueError(f"queries must be 2-D (n_queries, dim), got shape {q.shape}")
    if reference is None:
        reference = index.exact_search(q, k)
    elif not isinstance(reference, Neighbors):
        reference = reference.search(q, k)
    values = dict(values or {})
    names = list(values)
    saved = {name: index.params.get(name) for name in names}
    rows: list[dict[str, Any]] = []
    try:
        for combo in itertools.product(*(values[n] for n in names)):
            point = dict(zip(names, combo, strict=True))
            index.set_params(**point)
            best = math.inf
            for _ in range(max(1, repeats)):
                t0 = time.perf_counter()
                index.search(q, k)
                best = min(best, time.perf_counter() - t0)
            recall = index.recall_at_k(q, k, reference=reference)
            rows.append(
                {
                    **point,
                    f"recall@{k}": round(recall, 4),
                    "queries/s": round(q.shape[0] / best, 1) if best > 0 else math.inf,
                    "seconds": round(best, 4),
                }
            )
    finally:
        if names:
            index.set_params(**saved)
    return rows


def format_sweep(rows: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table of :func:`sweep` results, one row per point."""
    if not rows:
        return "(no sweep points)"
    head = list(dict.fromkeys(c for r in rows for c in r))
    body = [[_fmt(r.get(c)) for c in head] for r in rows]
    table = [head, *body]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in table
    )


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if v < 10 else f"{v:,.0f}"
    return str(v)

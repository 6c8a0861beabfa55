"""Pictures of a model: training loss per epoch, HR/NDCG@K against baselines, an index's
recall against queries/s, and a 2-D map of the item vectors coloured by a side column.

Every function returns a ``matplotlib.figure.Figure`` and, given ``path``, also writes it
as a PNG of ``figsize * dpi`` pixels. Matplotlib is an optional extra
(``pip install "embedrec[plot]"``), imported only when a picture is drawn. Figures are drawn
on the Agg canvas without ``pyplot``, so no global backend or figure registry is touched
(they work in scripts, servers and notebooks alike).

The ``embedrec plot`` commands and :func:`embedrec.report.report` (one HTML page of a model
directory) draw through these functions.

Examples
--------
>>> from embedrec.plot import plot_loss
>>> fig = plot_loss([3.9, 2.8, 2.7], "loss.png")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from ._io import atomic_open, read_manifest
from .keys import key_type_of, parse_key
from .vectors import Embeddings

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "MapMethod",
    "align_labels",
    "loss_history",
    "metrics_by_k",
    "plot_index_sweep",
    "plot_item_map",
    "plot_loss",
    "plot_metrics_at_k",
    "png_bytes",
    "project_2d",
    "require_matplotlib",
    "save_png",
    "sweep_series",
]

MapMethod = Literal["pca", "tsne"]

#: dots per inch of the PNG files (a 6.4 x 4 inch figure is 640 x 400 pixels)
DPI = 100
#: the columns of a :func:`embedrec.index.recall.sweep` row that are not search parameters
_SWEEP_MEASURES = ("queries/s", "seconds")
#: colour of the points outside the top categories, and of unlabelled ones
_GREY = "#b0b0b0"


# ---------------------------------------------------------------------------------- figures
def require_matplotlib(what: str = "plotting") -> Any:
    """The ``matplotlib`` module, or an ``ImportError`` naming the extra to install."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            f"{what} needs matplotlib, which is not installed; install it with "
            'pip install "embedrec[plot]"'
        ) from exc
    return matplotlib


def _figure(figsize: tuple[float, float], what: str) -> Figure:
    """A new figure on the Agg canvas (no pyplot: no global state, nothing to close)."""
    require_matplotlib(what)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes of ``figsize * dpi`` pixels."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_png(fig: Figure, path: str | os.PathLike[str], dpi: int = DPI) -> Path:
    """Write the figure to ``path`` as a PNG (atomically: a failed write leaves no file)."""
    path = Path(path)
    data = png_bytes(fig, dpi)
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return path


def _finish(fig: Figure, path: str | os.PathLike[str] | None, dpi: int) -> Figure:
    if path is not None:
        save_png(fig, path, dpi)
    return fig


# ---------------------------------------------------------------------------------- loss
def loss_history(source: Any) -> list[float]:
    """The per-epoch training loss of a model, a model directory or a list of numbers.

    Parameters
    ----------
    source : model, path or sequence of float
        A fitted model (its ``loss_history_``, or the ``"loss"`` of each ``epoch_stats_``
        entry for a two-tower model), a model directory of any class (read from its
        ``manifest.json``: nothing else is loaded), or the losses themselves.

    Raises
    ------
    ValueError
        No loss was recorded (an unfitted model, a session model, which has no training
        loss, or an empty list).
    """
    if isinstance(source, (str, os.PathLike)):
        manifest = read_manifest(source)
        losses = manifest.get("loss_history") or [
            s.get("loss") for s in manifest.get("epoch_stats") or [] if isinstance(s, dict)
        ]
        what = f"{source} (a {manifest.get('class')})"
    elif hasattr(source, "loss_history_") or hasattr(source, "epoch_stats_"):
        losses = list(getattr(source, "loss_history_", None) or []) or [
            s.get("loss") for s in getattr(source, "epoch_stats_", None) or []
        ]
        what = f"this {type(source).__name__}"
    else:
        losses = list(source)
        what = "the given history"
    values = [float(v) for v in losses if v is not None]
    if not values:
        raise ValueError(
            f"{what} has no training loss per epoch; plot a model fitted with epochs >= 1 "
            "(session baselines have no training loss)"
        )
    return values


def plot_loss(
    model_or_history: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (6.4, 4.0),
    dpi: int = DPI,
) -> Figure:
    """Training loss per epoch, as a line with one point per epoch.

    Parameters
    ----------
    model_or_history : model, path or sequence of float
        Anything :func:`loss_history` reads: a fitted model, a model directory or the losses.
    path : path, optional
        Also write the figure here as a PNG.
    title : str, optional
        Default: "Training loss".
    figsize : (width, height) in inches
    dpi : int
        PNG pixels per inch.

    Returns
    -------
    matplotlib.figure.Figure
        One axes holding one line: x the epochs 1..n, y the losses.
    """
    losses = loss_history(model_or_history)
    fig = _figure(figsize, "plot_loss")
    ax = fig.add_subplot()
    epochs = np.arange(1, len(losses) + 1)
    ax.plot(epochs, losses, marker="o", markersize=4)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss")
    ax.set_title(title or "Training loss")
    ax.grid(alpha=0.3)
    return _finish(fig, path, dpi)


# ---------------------------------------------------------------------------------- metrics
def metrics_by_k(result: Any) -> dict[str, dict[int, float]]:
    """``{"HR": {10: 0.05, 20: 0.09}, ...}`` from one result.

    ``result`` is an :class:`~embedrec.eval.evaluate.EvalResult` or a session result (its
    ``metrics``), one result of the JSON ``embedrec eval --json`` prints (a dict with a
    ``"metrics"`` entry), or a flat mapping ``{"HR@10": 0.05, ...}``. Entries that are not
    ``NAME@K`` numbers are ignored.
    """
    if isinstance(result, Mapping):
        flat = result.get("metrics", result)
    else:
        flat = getattr(result, "metrics", None)
    if not isinstance(flat, Mapping):
        raise TypeError(
            f"{type(result).__name__} holds no metrics; pass an EvalResult, a dict of "
            "'NAME@K' -> value, or one result of `embedrec eval --json`"
        )
    out: dict[str, dict[int, float]] = {}
    for name, value in flat.items():
        metric, sep, k = str(name).rpartition("@")
        if not sep or not k.isdigit() or not isinstance(value, (int, float)):
            continue
        out.setdefault(metric, {})[int(k)] = float(value)
    return out


def plot_metrics_at_k(
    results: Mapping[str, Any],
    metrics: Sequence[str] = ("HR", "NDCG"),
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = DPI,
) -> Figure:
    """Metric against the cut-off K: one panel per metric, one curve per model.

    Parameters
    ----------
    results : mapping of name -> result
        E.g. ``{"item2vec": r, "popularity": p}`` (the curves keep this order); each value as
        :func:`metrics_by_k` reads it (an ``EvalResult`` of :func:`embedrec.eval.evaluate`
        with ``ks=(1, 5, 10, 20, 50)``, or a result of ``embedrec eval --json``).
    metrics : sequence of str, default ("HR", "NDCG")
        Metric names without ``@K``.
    path : path, optional
        Also write the figure here as a PNG.
    title : str, optional
    figsize : (width, height) in inches, optional
        Default: 4 inches wide per panel, 3.8 high.
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure
        One axes per metric; in each, one line per named result (its label the name) whose
        points are that result's ``metric@K`` for every K it has, K ascending.

    Raises
    ------
    ValueError
        ``results`` is empty, or no result has one of ``metrics`` (the message lists the
        metrics they have).
    """
    if not results:
        raise ValueError("results is empty; pass e.g. {'model': evaluate(...)}")
    if isinstance(metrics, str):
        metrics = (metrics,)
    table = {name: metrics_by_k(r) for name, r in results.items()}
    have = sorted({m for t in table.values() for m in t})
    for metric in metrics:
        if not any(metric in t for t in table.values()):
            raise ValueError(
                f"no result has {metric}@K; they have {', '.join(have) or 'no NAME@K metric'}"
            )
    fig = _figure(figsize or (4.0 * len(metrics) + 0.5, 3.8), "plot_metrics_at_k")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    all_ks = sorted({k for t in table.values() for m in metrics for k in t.get(m, {})})
    for ax, metric in zip(axes, metrics, strict=True):
        for name, t in table.items():
            points = sorted(t.get(metric, {}).items())
            if points:
                ks, ys = zip(*points, strict=True)
                ax.plot(ks, ys, marker="o", markersize=4, label=name)
        if all_ks and all_ks[-1] / all_ks[0] >= 10:
            ax.set_xscale("log")
        ax.set_xticks(all_ks, [str(k) for k in all_ks])
        ax.minorticks_off()
        ax.set_xlabel("K")
        ax.set_ylabel(f"{metric}@K")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.suptitle(title or f"{' and '.join(metrics)} at K")
    return _finish(fig, path, dpi)


# ---------------------------------------------------------------------------------- sweeps
def sweep_series(data: Any) -> dict[str, list[dict[str, Any]]]:
    """Named series of sweep rows from what :func:`plot_index_sweep` accepts.

    ``data`` is a list of :func:`embedrec.index.recall.sweep` rows (named ``"index"``), the
    object ``embedrec index sweep --json`` prints (a list of rows, or a dict with
    ``"points"`` and ``"kind"``, named by its kind), or a mapping of name -> either of those.
    """
    if isinstance(data, Mapping) and "points" in data:
        return {str(data.get("kind") or "index"): _rows(data["points"])}
    if isinstance(data, Mapping):
        out: dict[str, list[dict[str, Any]]] = {}
        for name, value in data.items():
            series = sweep_series(value)
            out[str(name)] = next(iter(series.values())) if len(series) == 1 else _rows(value)
        return out
    return {"index": _rows(data)}


def _rows(rows: Any) -> list[dict[str, Any]]:
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence):
        raise TypeError(
            f"sweep rows must be a list of dicts (embedrec.index.recall.sweep's result), got "
            f"{type(rows).__name__}"
        )
    for row in rows:
        if not isinstance(row, Mapping) or "queries/s" not in row or _recall_key(row) is None:
            raise ValueError(
                f"{row!r} is not a sweep row: it needs 'recall@K' and 'queries/s' entries "
                "(as embedrec.index.recall.sweep and `embedrec index sweep --json` give)"
            )
    return [dict(r) for r in rows]


def _recall_key(row: Mapping[str, Any]) -> str | None:
    return next((str(c) for c in row if str(c).startswith("recall@")), None)


def plot_index_sweep(
    rows: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (6.4, 4.4),
    dpi: int = DPI,
) -> Figure:
    """Recall@k against queries/s (log scale) of index sweeps, points labelled by parameter.

    Parameters
    ----------
    rows : list of dict, or mapping of name -> list of dict
        :func:`embedrec.index.recall.sweep` rows, or the JSON of ``embedrec index sweep
        --json`` (see :func:`sweep_series`); several named sweeps share one plot. A series
        whose rows have no search parameter (a sweep of the exact index) is drawn as a star:
        the reference, recall 1 at the speed of brute force.
    path : path, optional
        Also write the figure here as a PNG.
    title : str, optional
    figsize : (width, height) in inches
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure
        One axes; one line per series (its label the series name) with x the queries/s and y
        the recall of each row, in row order; each point annotated with its parameter value.

    Raises
    ------
    ValueError
        No row has a finite queries/s, or a row lacks ``recall@K`` / ``queries/s``.
    """
    series = sweep_series(rows)
    fig = _figure(figsize, "plot_index_sweep")
    ax = fig.add_subplot()
    recall_names: set[str] = set()
    labelled: list[tuple[float, float, str, Any]] = []
    drawn = 0
    for name, srows in series.items():
        pts = [
            r
            for r in srows
            if isinstance(r["queries/s"], (int, float))
            and math.isfinite(r["queries/s"])
            and r["queries/s"] > 0
        ]
        if not pts:
            continue
        rk = _recall_key(pts[0]) or "recall"
        recall_names.add(rk)
        params = [c for c in pts[0] if c not in _SWEEP_MEASURES and c != rk]
        xs = [float(r["queries/s"]) for r in pts]
        ys = [float(r[rk]) for r in pts]
        drawn += len(pts)
        if not params:
            ax.plot(xs, ys, linestyle="none", marker="*", markersize=12, label=name)
            continue
        (line,) = ax.plot(xs, ys, marker="o", markersize=4, label=f"{name} ({params[0]})")
        labelled += [
            (x, y, ",".join(str(r[p]) for p in params), line.get_color())
            for r, x, y in zip(pts, xs, ys, strict=True)
        ]
    if not drawn:
        raise ValueError("no sweep row has a finite, positive queries/s; nothing to plot")
    ax.set_xscale("log")
    _plain_log_ticks(ax)
    _annotate_apart(ax, labelled)
    ax.set_xlabel("queries/s (log scale)")
    ax.set_ylabel(" / ".join(sorted(recall_names)) + " against exact search")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small", loc="lower left")
    ax.set_title(title or "Recall against speed")
    return _finish(fig, path, dpi)


def _plain_log_ticks(ax: Axes) -> None:
    """Log-x ticks at 1, 2 and 5 times powers of ten, written 20k, 500, 1.2M (matplotlib's
    own minor labels, 2x10^4 3x10^4 ..., collide over a decade or two)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def short(x: float, _pos: Any = None) -> str:
        for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if x >= scale:
                return f"{x / scale:g}{suffix}"
        return f"{x:g}"

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(short))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _annotate_apart(ax: Axes, points: list[tuple[float, float, str, Any]]) -> None:
    """Label each (x, y, text, colour) point unless it is within 5% of the axes (log x) of a
    point labelled before it: close points of a sweep would print over each other."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    lx0, lspan = math.log10(x0), max(math.log10(x1) - math.log10(x0), 1e-12)
    yspan = max(y1 - y0, 1e-12)
    placed: list[tuple[float, float]] = []
    for x, y, text, colour in points:
        u, v = (math.log10(x) - lx0) / lspan, (y - y0) / yspan
        if any(math.hypot(u - a, v - b) < 0.05 for a, b in placed):
            continue
        placed.append((u, v))
        ax.annotate(
            text, (x, y), textcoords="offset points", xytext=(3, -9), fontsize=7, color=colour
        )


# ---------------------------------------------------------------------------------- item map
def project_2d(
    matrix: npt.ArrayLike, method: MapMethod = "pca", *, seed: int = 0
) -> npt.NDArray[np.float64]:
    """Rows of ``matrix`` as 2-D points.

    ``"pca"``: the centred rows times the first two right singular vectors (NumPy SVD), each
    axis signed so that its largest-magnitude loading is positive (the sign of a singular
    vector is arbitrary otherwise). ``"tsne"``: scikit-learn's t-SNE (PCA init, ``seed``).

    Returns
    -------
    (n_rows, 2) float64

    Raises
    ------
    ValueError
        Fewer than 3 rows, fewer than 2 columns, or an unknown method.
    ImportError
        ``"tsne"`` without scikit-learn.
    """
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 3 or x.shape[1] < 2:
        raise ValueError(
            f"a 2-D map needs an (n_items, dim) matrix with n_items >= 3 and dim >= 2, got "
            f"shape {x.shape}"
        )
    if method == "pca":
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        axes = vt[:2]
        signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
        axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
        return np.asarray(centred @ axes.T)
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError as exc:
            raise ImportError(
                'method="tsne" needs scikit-learn, which is not installed; install it with '
                'pip install "embedrec[graph]" (or use method="pca")'
            ) from exc
        perplexity = float(min(30.0, (x.shape[0] - 1) / 3))
        tsne = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity)
        return np.asarray(tsne.fit_transform(x), dtype=np.float64)
    raise ValueError(f"method={method!r} is invalid; use 'pca' or 'tsne'")


def align_labels(
    labels: Sequence[Any] | Mapping[Any, Any] | None, keys: Sequence[Any] | None, n: int
) -> list[Any] | None:
    """One label (or None) per row, from ``labels`` as :func:`plot_item_map` takes them;
    ``keys`` are the rows' keys (None for a plain matrix), ``n`` the number of rows."""
    if labels is None:
        return None
    if isinstance(labels, Mapping):
        if keys is None:
            raise TypeError(
                "labels given as a mapping key -> label need Embeddings (which have keys); "
                "with a plain matrix pass one label per row"
            )
        key_type = key_type_of(keys)
        lookup = {
            parse_key(k if isinstance(k, (str, int)) else str(k), key_type): v
            for k, v in labels.items()
        }
        return [lookup.get(k) for k in keys]
    out = list(labels)
    if len(out) != n:
        raise ValueError(
            f"labels has {len(out)} entries but there are {n} vectors; give one label per "
            "row, or a mapping key -> label"
        )
    return out


def _is_missing(label: Any) -> bool:
    return label is None or label == "" or (isinstance(label, float) and math.isnan(label))


def plot_item_map(
    embeddings: Embeddings | npt.ArrayLike,
    labels: Sequence[Any] | Mapping[Any, Any] | None = None,
    path: str | os.PathLike[str] | None = None,
    *,
    method: MapMethod = "pca",
    top: int = 10,
    max_points: int = 20_000,
    seed: int = 0,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = DPI,
) -> Figure:
    """A 2-D map of the item vectors, coloured by a side column.

    Parameters
    ----------
    embeddings : Embeddings or (n_items, dim) array_like
        Cosine embeddings are mapped by their unit vectors (the geometry their scores see);
        dot embeddings and plain matrices as they are.
    labels : sequence (one per row) or mapping key -> label, optional
        A categorical side column (e.g. a genre). The ``top`` most frequent labels get a
        colour and a legend entry with their count; other labels and items without one are
        grey. Mapping keys are matched with the key policy (``"42"`` finds the int key 42).
    path : path, optional
        Also write the figure here as a PNG.
    method : {"pca", "tsne"}, default "pca"
        See :func:`project_2d`.
    top : int, default 10
        Labels shown in colour.
    max_points : int, default 20000
        Larger inputs are mapped through a seeded random sample of this many rows (the title
        says so).
    seed : int, default 0
        The sample and t-SNE.
    title : str, optional
    figsize : (width, height) in inches, optional
        Default 6.4 x 5, wider with a legend.
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure
        One axes. Without labels: one scatter of every point. With labels: the grey points
        first (when there are any), then one scatter per coloured label, most frequent first,
        each in one colour.

    Raises
    ------
    ValueError
        Labels of the wrong length, a bad ``top`` / ``max_points``, or a matrix too small to
        map (see :func:`project_2d`).
    """
    if top < 1 or max_points < 3:
        raise ValueError(f"top={top}, max_points={max_points} are invalid; use top >= 1, >= 3")
    keys: list[Any] | None = None
    if isinstance(embeddings, Embeddings):
        keys = list(embeddings.keys)
        matrix = embeddings.unit_vectors if embeddings.metric == "cosine" else embeddings.vectors
    else:
        matrix = np.asarray(embeddings)
    n = int(np.shape(matrix)[0])
    per_row = align_labels(labels, keys, n)
    rows = np.arange(n)
    note = ""
    if n > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
        note = f" (random {max_points} of {n})"
    xy = project_2d(np.asarray(matrix)[rows], method, seed=seed)
    m = len(rows)
    # about the same ink for 300 or 20000 points
    size = float(np.clip(20_000 / m, 2, 30))
    alpha = 0.8 if m < 3000 else 0.5
    fig = _figure(figsize or ((8.6 if per_row is not None else 6.4), 5.0), "plot_item_map")
    ax = fig.add_subplot()
    if per_row is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, alpha=alpha, linewidths=0)
    else:
        _draw_groups(ax, xy, [per_row[i] for i in rows], top=top, size=size, alpha=alpha)
    if method == "pca":
        ax.set_xlabel("principal component 1")
        ax.set_ylabel("principal component 2")
    else:
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
    ax.tick_params(labelsize=7)
    ax.set_title((title or f"Item vectors, {method.upper().replace('TSNE', 't-SNE')}") + note)
    return _finish(fig, path, dpi)


def _draw_groups(
    ax: Axes, xy: npt.NDArray[np.float64], labels: list[Any], *, top: int, size: float, alpha: float
) -> None:
    """Grey points first, then one scatter per top label, most frequent first."""
    counts = Counter(str(v) for v in labels if not _is_missing(v))
    order = sorted(counts.items(), key=lambda t: (-t[1], t[0]))
    shown = [v for v, _ in order[:top]]
    text = np.array(["" if _is_missing(v) else str(v) for v in labels], dtype=object)
    colours = _palette(len(shown))
    rest = ~np.isin(text, shown)
    if rest.any():
        n_other = len(order) - len(shown)
        parts = [f"{n_other} other labels"] if n_other else []
        if (text == "").any():
            parts.append("no label")
        ax.scatter(
            xy[rest, 0],
            xy[rest, 1],
            s=size,
            alpha=alpha * 0.6,
            color=_GREY,
            linewidths=0,
            label=f"{' / '.join(parts)} ({int(rest.sum())})",
        )
    for value, colour in zip(shown, colours, strict=True):
        sel = text == value
        ax.scatter(
            xy[sel, 0],
            xy[sel, 1],
            s=size,
            alpha=alpha,
            color=colour,
            linewidths=0,
            label=f"{value} ({int(sel.sum())})",
        )
    legend = ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
        markerscale=max(1.0, 6.0 / math.sqrt(size)),
        frameon=False,
    )
    for handle in legend.legend_handles:
        if handle is not None:
            handle.set_alpha(1.0)


def _palette(n: int) -> list[Any]:
    """``n`` distinct colours, none of them grey (grey is for the other points)."""
    from matplotlib import colormaps

    # tab10 without its grey (7), then the light tab20 shades without theirs (15)
    strong = [colormaps["tab10"](i) for i in range(10) if i != 7]
    light = [colormaps["tab20"](i) for i in range(1, 20, 2) if i != 15]
    colours = strong + light
    return [colours[i % len(colours)] for i in range(n)]

"""Picture commands: ``embedrec plot loss|map|sweep|metrics`` (PNG files) and ``embedrec report``
(one self-contained HTML page of a model directory).

They draw through :mod:`embedrec.plot` and :mod:`embedrec.report`, the same code as the Python
API; matplotlib is the ``plot`` extra (``pip install "embedrec[plot]"``). ``plot sweep`` reads
the JSON of ``embedrec index sweep --json`` and ``plot metrics`` that of ``embedrec eval
--json``, so a sweep or an evaluation is run once and drawn as often as wanted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ._common import F, State, check_out_file

__all__ = ["plot", "report"]

_METHODS = click.Choice(["pca", "tsne"])


def _out_option(default_help: str) -> Callable[[F], F]:
    return click.option("--out", required=True, type=click.Path(path_type=Path), help=default_help)


def side_options(f: F) -> F:
    """--side FILE and the flags that say how to read it (a CSV/TSV/Parquet item -> label)."""
    options = [
        click.option(
            "--side",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            help="CSV/TSV/Parquet file with a label per item (e.g. a genre) to colour the map.",
        ),
        click.option("--key-col", default=None, help="--side column of the item keys."),
        click.option("--label-col", default=None, help="--side column of the labels."),
        click.option("--side-sep", default=None, help="--side field separator (default: sniffed)."),
        click.option(
            "--side-no-header",
            is_flag=True,
            help="--side has no header row: name its columns by 0-based position (--key-col 0).",
        ),
        click.option(
            "--top",
            type=click.IntRange(min=1),
            default=10,
            show_default=True,
            help="Labels drawn in colour (the most frequent); the others are grey.",
        ),
        click.option(
            "--method",
            type=_METHODS,
            default="pca",
            show_default=True,
            help="2-D projection: pca (NumPy) or tsne (scikit-learn).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _column(text: str, no_header: bool) -> str | int:
    """A column named by the user: a 0-based position when the file has no header."""
    return int(text) if no_header and text.isdigit() else text


def _side_labels(
    side: Path | None, key_col: str | None, label_col: str | None, sep: str | None, no_header: bool
) -> dict[str, str] | None:
    if side is None:
        if key_col is not None or label_col is not None:
            raise click.UsageError("--key-col and --label-col describe a --side file; give --side")
        return None
    if key_col is None or label_col is None:
        raise click.UsageError(
            f"--side {side} needs --key-col and --label-col: the columns of the item keys and "
            "of their labels"
        )
    from ..report import read_labels

    return read_labels(
        side,
        _column(key_col, no_header),
        _column(label_col, no_header),
        sep=sep,
        has_header=not no_header,
    )


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON ({exc}); give the output of {what}") from None


def _wrote(out: Path, fig: Any) -> None:
    from ..plot import DPI

    w, h = fig.get_size_inches()
    click.echo(f"wrote {out} ({round(w * DPI)}x{round(h * DPI)} PNG)")


# ---------------------------------------------------------------------------------- plot
@click.group()
def plot() -> None:
    """PNG pictures: training loss, item map, index sweep, HR/NDCG at K (matplotlib)."""


@plot.command(name="loss")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_out_option("PNG file to write.")
@click.option("--title", default=None, help="Figure title.")
def plot_loss_cmd(model_dir: Path, out: Path, title: str | None) -> None:
    """Training loss per epoch of MODEL_DIR (a model directory of any class)."""
    from ..plot import plot_loss

    check_out_file(out)
    _wrote(out, plot_loss(model_dir, out, title=title))


@plot.command(name="map")
@click.argument("model_dir", type=click.Path(exists=True, path_type=Path))
@_out_option("PNG file to write.")
@side_options
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of t-SNE.")
@click.option("--title", default=None, help="Figure title.")
def plot_map_cmd(
    model_dir: Path,
    out: Path,
    side: Path | None,
    key_col: str | None,
    label_col: str | None,
    side_sep: str | None,
    side_no_header: bool,
    top: int,
    method: str,
    seed: int,
    title: str | None,
) -> None:
    """A 2-D map of the item vectors of MODEL_DIR (a model directory or word2vec file),
    coloured by the --label-col of a --side file."""
    from ..models.registry import load_embeddings
    from ..plot import plot_item_map

    check_out_file(out)
    labels = _side_labels(side, key_col, label_col, side_sep, side_no_header)
    emb = load_embeddings(model_dir)
    fig = plot_item_map(emb, labels, out, method=method, top=top, seed=seed, title=title)  # type: ignore[arg-type]
    _wrote(out, fig)


@plot.command(name="sweep")
@click.argument(
    "sweeps", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@_out_option("PNG file to write.")
@click.option("--title", default=None, help="Figure title.")
def plot_sweep_cmd(sweeps: tuple[Path, ...], out: Path, title: str | None) -> None:
    """Recall against queries/s of one or more SWEEPS: files holding what
    `embedrec index sweep MODEL_DIR --json` prints (one line per file, named by its index
    kind or, failing that, its file name)."""
    from ..plot import plot_index_sweep, sweep_series

    check_out_file(out)
    series: dict[str, list[dict[str, Any]]] = {}
    for path in sweeps:
        for name, rows in sweep_series(_read_json(path, "`embedrec index sweep --json`")).items():
            label = path.stem if name == "index" else name
            while label in series:  # two sweeps of one kind: tell them apart by file
                label = f"{label} ({path.stem})"
            series[label] = rows
    _wrote(out, plot_index_sweep(series, out, title=title))


@plot.command(name="metrics")
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_out_option("PNG file to write.")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="Metric to draw, without @K (repeatable; default HR and NDCG).",
)
@click.option("--title", default=None, help="Figure title.")
def plot_metrics_cmd(results: Path, out: Path, metrics: tuple[str, ...], title: str | None) -> None:
    """HR and NDCG against K of each model in RESULTS: a file holding what `embedrec eval
    --json` (or its --out) writes; run the evaluation with several -k to get curves."""
    from ..plot import plot_metrics_at_k

    check_out_file(out)
    data = _read_json(results, "`embedrec eval --json`")
    named = data.get("results", data) if isinstance(data, dict) else None
    if not isinstance(named, dict) or not named:
        raise ValueError(
            f"{results} holds no results; give the JSON of `embedrec eval --json` (an object "
            "with 'results': {model name: {'metrics': {'HR@10': ...}}})"
        )
    fig = plot_metrics_at_k(named, tuple(metrics) or ("HR", "NDCG"), out, title=title)
    _wrote(out, fig)


# ---------------------------------------------------------------------------------- report
@click.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_out_option("HTML file to write (one file: the pictures are embedded).")
@click.option(
    "--interactions",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Interaction log (CSV/TSV/Parquet): adds HR/NDCG at K against popularity "
    "(leave-last-out, as `embedrec eval`).",
)
@click.option("--user-col", default=None, help="--interactions column of user IDs.")
@click.option("--item-col", default=None, help="--interactions column of item IDs.")
@click.option("--time-col", default=None, help="--interactions column of event times.")
@click.option("--sep", default=None, help="--interactions field separator (default: sniffed).")
@click.option(
    "--no-header",
    is_flag=True,
    help="--interactions has no header row: name its columns by 0-based position.",
)
@click.option(
    "-k",
    "ks",
    type=click.IntRange(min=1),
    multiple=True,
    help="Cut-offs of the HR/NDCG curves (repeatable; default 1, 5, 10, 20, 50).",
)
@side_options
@click.pass_context
def report(
    ctx: click.Context,
    model_dir: Path,
    out: Path,
    interactions: Path | None,
    user_col: str | None,
    item_col: str | None,
    time_col: str | None,
    sep: str | None,
    no_header: bool,
    ks: tuple[int, ...],
    side: Path | None,
    key_col: str | None,
    label_col: str | None,
    side_sep: str | None,
    side_no_header: bool,
    top: int,
    method: str,
) -> None:
    """An HTML report of MODEL_DIR: class, configuration, vocabulary, training loss, a map of
    the item vectors (coloured by a --side column) and, with --interactions, HR/NDCG at K
    against the popularity and random baselines."""
    from ..report import DEFAULT_KS
    from ..report import report as write_report

    check_out_file(out)
    if interactions is not None and (user_col is None or item_col is None):
        raise click.UsageError("--interactions needs --user-col and --item-col")
    if interactions is None and (user_col or item_col or time_col):
        raise click.UsageError("--user-col, --item-col and --time-col describe --interactions")
    labels = _side_labels(side, key_col, label_col, side_sep, side_no_header)
    state = ctx.find_object(State)
    log = None
    if interactions is not None:
        from ..data.interactions import read_interactions

        assert user_col is not None and item_col is not None
        log = read_interactions(
            interactions,
            user_col=_column(user_col, no_header),
            item_col=_column(item_col, no_header),
            time_col=None if time_col is None else _column(time_col, no_header),
            sep=sep,
            has_header=not no_header,
        )
    path = write_report(
        model_dir,
        out,
        interactions=log,
        side=labels,
        ks=tuple(ks) or DEFAULT_KS,
        method=method,  # type: ignore[arg-type]
        top=top,
        progress=not (state is not None and state.quiet),
    )
    click.echo(f"wrote {path}")

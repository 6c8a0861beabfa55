"""One self-contained HTML page about a trained model directory.

:func:`report` writes the model's class, configuration, vocabulary size and dimension, its
training loss per epoch, a 2-D map of its item vectors (coloured by a side column when one is
given) and, given an interaction log, its HR and NDCG at several cut-offs against the
popularity and random baselines, scored by :func:`embedrec.eval.evaluate` on the
leave-last-out split. Pictures are PNG files embedded as base64 ``data:`` URLs, so the page is
one file with no JavaScript. Every text placed in the page is HTML-escaped.

``embedrec report MODEL_DIR --out report.html`` is the command-line form; :func:`read_labels`
reads a side column (item -> category) from a CSV/TSV/Parquet file.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._io import atomic_open, read_manifest
from .data.interactions import Interactions
from .data.readers import ColumnRef, read_table
from .plot import (
    DPI,
    MapMethod,
    align_labels,
    loss_history,
    plot_item_map,
    plot_loss,
    plot_metrics_at_k,
    png_bytes,
)

__all__ = ["DEFAULT_KS", "read_labels", "report"]

logger = logging.getLogger("embedrec")

#: the cut-offs of the report's HR/NDCG curves
DEFAULT_KS = (1, 5, 10, 20, 50)

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.9rem; }
td, th { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: left; }
img { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; font-size: 0.85rem; }
.note { color: #555; font-size: 0.9rem; } .warn { color: #a40; }
"""


def read_labels(
    path: str | os.PathLike[str],
    key_col: ColumnRef,
    label_col: ColumnRef,
    *,
    sep: str | None = None,
    has_header: bool = True,
    encoding: str = "utf8",
) -> dict[str, str]:
    """A side column of a CSV/TSV/Parquet file as ``{key text: label}``.

    Keys stay text here; :func:`embedrec.plot.plot_item_map` matches them to a model's keys
    with the key policy (``"42"`` finds the int key 42). Rows with an empty label are left out;
    a key repeated in the file keeps its first label.

    Parameters
    ----------
    path : path
    key_col, label_col : str or int
        Columns of the item keys and of the labels, by name or 0-based position.
    sep, has_header, encoding
        As :func:`embedrec.data.interactions.read_interactions`.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file or column (the message lists the file's columns).
    """
    table, names = read_table(
        Path(path),
        {"key": key_col, "label": label_col},
        sep=sep,
        has_header=has_header,
        encoding=encoding,
        text_roles=("key", "label"),
    )
    keys = table.column(names["key"]).to_pylist()
    labels = table.column(names["label"]).to_pylist()
    out: dict[str, str] = {}
    for key, label in zip(keys, labels, strict=True):
        if key is not None and label not in (None, "") and key not in out:
            out[str(key)] = str(label)
    return out


# ---------------------------------------------------------------------------------- html
def _img(fig: Any, alt: str) -> str:
    data = base64.b64encode(png_bytes(fig, DPI)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(rows: Sequence[tuple[Any, Any]], head: tuple[str, str] = ("field", "value")) -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_text(v))}</td></tr>" for k, v in rows
    )
    return (
        f"<table><tr><th>{html.escape(head[0])}</th><th>{html.escape(head[1])}</th></tr>"
        f"{body}</table>"
    )


def _text(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)


def _note(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{html.escape(text)}</p>'


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


# ---------------------------------------------------------------------------------- sections
def _model_section(directory: Path, manifest: Mapping[str, Any], emb: Any) -> str:
    meta = manifest.get("metadata") or {}
    rows: list[tuple[Any, Any]] = [
        ("directory", str(directory)),
        ("class", manifest.get("class")),
        ("keys (vocabulary size)", len(emb) if emb is not None else manifest.get("n_keys")),
        ("dimension", emb.dim if emb is not None else manifest.get("dim")),
        ("metric", manifest.get("metric")),
        ("format version", manifest.get("format_version")),
    ]
    rows += [(f"metadata: {k}", v) for k, v in meta.items()] if isinstance(meta, dict) else []
    return _table(rows)


def _config_section(manifest: Mapping[str, Any]) -> str:
    config = manifest.get("config")
    if not isinstance(config, dict) or not config:
        return _note("The manifest holds no configuration.")
    return _table(sorted(config.items()), ("field", "value"))


def _loss_section(directory: Path) -> str:
    try:
        losses = loss_history(directory)
    except ValueError as exc:
        return _note(str(exc))
    fig = plot_loss(losses)
    summary = f"{len(losses)} epochs: first {losses[0]:.4f}, last {losses[-1]:.4f}."
    return _img(fig, "training loss per epoch") + _note(summary)


def _map_section(emb: Any, side: Mapping[Any, Any] | None, method: MapMethod, top: int) -> str:
    if emb is None:
        return _note("This model has no item vectors to map.")
    if len(emb) < 3 or emb.dim < 2:
        return _note(f"{len(emb)} vectors of dimension {emb.dim} are too few to map.")
    fig = plot_item_map(emb, side, method=method, top=top)
    how = (
        f"{'PCA' if method == 'pca' else 't-SNE'} of the "
        f"{'unit ' if emb.metric == 'cosine' else ''}item vectors"
    )
    if side is None:
        how += "; no side column was given (pass one to colour the items by category)"
    else:
        per_row = align_labels(side, emb.keys, len(emb)) or []
        known = sum(1 for label in per_row if label is not None)
        how += (
            f", coloured by the side column ({known} of {len(emb)} items have a label; the "
            f"{top} most frequent labels are coloured, the rest grey)"
        )
    return _img(fig, "2-D map of the item vectors") + _note(how + ".")


def _eval_section(
    directory: Path,
    manifest: Mapping[str, Any],
    interactions: Interactions,
    ks: Sequence[int],
    progress: bool,
) -> str:
    from .eval import Popularity, RandomScorer, compare, evaluate, leave_last_out
    from .models.registry import load_model

    model = load_model(directory)
    if not callable(getattr(model, "score", None)):
        return _note(
            f"A {manifest.get('class')} has no score method, so it is not evaluated here "
            "(Item2Vec and TwoTower models are); evaluate session models with "
            "`embedrec eval --protocol session`."
        )
    split = leave_last_out(interactions)
    train, test = split.train_full, split.test
    logger.info("report: evaluating on %d test events (leave-last-out)", len(test))
    results = {
        str(manifest.get("class")).lower(): evaluate(model, train, test, ks=ks, progress=progress),
        "popularity": evaluate(Popularity().fit(train), train, test, ks=ks),
        "random": evaluate(RandomScorer(seed=0), train, test, ks=ks),
    }
    body = _img(plot_metrics_at_k(results), "HR and NDCG at K against baselines")
    body += f"<pre>{html.escape(compare(results))}</pre>"
    body += _note(
        "Leave-last-out: each user's last event is the test, the events before it the "
        "training (the catalogue and histories); the whole catalogue is ranked, each user's "
        "training items excluded. Popularity and random are scored by the same code."
    )
    holdout = (manifest.get("metadata") or {}).get("holdout")
    if holdout != "leave-last-out":
        body += _note(
            f"The model was trained with holdout={holdout!r}, so these test events may have "
            "been in its training data and the numbers may be optimistic; train it with "
            "`--holdout leave-last-out` for an honest comparison.",
            "warn",
        )
    return body


def report(
    model_dir: str | os.PathLike[str],
    out_html: str | os.PathLike[str],
    *,
    interactions: Interactions | None = None,
    side: Mapping[Any, Any] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    method: MapMethod = "pca",
    top: int = 10,
    title: str | None = None,
    progress: bool = False,
) -> Path:
    """Write an HTML report of a trained model directory.

    Parameters
    ----------
    model_dir : path
        A model directory of any class (its live generation is read).
    out_html : path
        The HTML file to write (atomically).
    interactions : Interactions, optional
        A log whose leave-last-out split scores the model (Item2Vec or TwoTower) against
        popularity and random; without it the evaluation section says how to add one.
    side : mapping key -> label, optional
        A categorical side column (e.g. :func:`read_labels`) colouring the item map.
    ks : sequence of int, default (1, 5, 10, 20, 50)
        Cut-offs of the HR/NDCG curves.
    method : {"pca", "tsne"}, default "pca"
        Projection of the item map.
    top : int, default 10
        Labels coloured on the map.
    title : str, optional
        Default: "embedrec report: <class> <directory name>".
    progress : bool, default False
        Progress of the model's evaluation.

    Returns
    -------
    Path
        ``out_html``.

    Raises
    ------
    FileNotFoundError, ValueError
        ``model_dir`` is not a model directory.
    ImportError
        matplotlib is not installed (``pip install "embedrec[plot]"``).
    """
    from .models.registry import load_embeddings

    directory = Path(model_dir)
    manifest = read_manifest(directory)
    try:
        emb = load_embeddings(directory)
    except ValueError as exc:  # a session baseline: no vectors
        logger.info("report: %s", exc)
        emb = None
    name = title or f"embedrec report: {manifest.get('class')} {directory.resolve().name}"
    if interactions is None:
        evaluation = _note(
            "No interaction log was given; pass one (`embedrec report MODEL_DIR --interactions "
            "LOG --user-col ... --item-col ...`, or interactions= in Python) to see HR and NDCG "
            "at K against the popularity baseline."
        )
    else:
        evaluation = _eval_section(directory, manifest, interactions, ks, progress)
    sections = [
        _section("model", "Model", _model_section(directory, manifest, emb)),
        _section("config", "Configuration", _config_section(manifest)),
        _section("loss", "Training loss", _loss_section(directory)),
        _section("map", "Item map", _map_section(emb, side, method, top)),
        _section("evaluation", "HR and NDCG at K", evaluation),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(name)}</title><style>{_CSS}</style></head>\n<body>\n"
        f"<h1>{html.escape(name)}</h1>\n" + "\n".join(sections) + "\n</body></html>\n"
    )
    out = Path(out_html)
    with atomic_open(out, "wb") as fh:
        fh.write(page.encode("utf-8"))
    return out

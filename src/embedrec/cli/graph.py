"""``embedrec graph train|eval``: DeepWalk, node2vec and EGES node vectors, and their benchmarks.

``train`` reads a graph (edge list, adjacency list or MATLAB ``.mat``), fits the chosen model
and saves it as a model directory (readable by ``embedrec similar`` and ``embedrec export``).
``eval`` scores a saved model by multi-label node classification (DeepWalk's protocol) and/or
link prediction (node2vec's protocol: it retrains the model's configuration on the graph minus
the held-out edges). Both print a readable report, and JSON with ``--json``.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import click
import numpy as np
import numpy.typing as npt

from ..artifacts import is_artifact_dir, load_consistent
from ..data.graph import Graph
from ..models.eges import EGES, EGESConfig
from ..models.registry import load_embeddings, model_class, read_embeddings, read_model
from ..models.walks import DeepWalk, DeepWalkConfig, Node2Vec, Node2VecConfig
from ..models.word2vec import MAX_SEED
from ..vectors import Embeddings, UnicodeErrors
from ._common import (
    State,
    base_type,
    build_config,
    check_out_dir,
    default_of,
    echo_fields,
    echo_report,
    echo_table,
    field_help,
    json_option,
    loss_trend,
    read_config_file,
    type_hints,
    w2v_file_options,
)

logger = logging.getLogger("embedrec")

F = TypeVar("F", bound=Callable[..., Any])
Method = Literal["deepwalk", "node2vec", "eges"]
GraphFormat = Literal["auto", "edgelist", "adjlist", "mat"]

#: config class and model class of each --method
_METHODS: dict[str, tuple[type[Any], type[Any]]] = {
    "deepwalk": (DeepWalkConfig, DeepWalk),
    "node2vec": (Node2VecConfig, Node2Vec),
    "eges": (EGESConfig, EGES),
}
#: manifest class name -> --method
_MODEL_CLASSES: dict[str, str] = {"DeepWalk": "deepwalk", "Node2Vec": "node2vec", "EGES": "eges"}
_BOOL_FLAGS = {
    "weighted": ("--weighted", "--unweighted"),
}


# ---------------------------------------------------------------------------------- flags
def _config_fields() -> dict[str, list[str]]:
    """Every config field of the three methods -> the methods that have it (field order kept)."""
    owners: dict[str, list[str]] = {}
    for method, (cls, _) in _METHODS.items():
        for field in dataclasses.fields(cls):
            owners.setdefault(field.name, []).append(method)
    return owners


def graph_config_options(f: F) -> F:
    """One click option per field of DeepWalkConfig, Node2VecConfig and EGESConfig.

    All default to ``None`` ("not given"), so the dataclass alone holds defaults and
    validation; the help shows the dataclass default and, for method-specific fields, the
    methods that use them.
    """
    owners = _config_fields()
    helps: dict[str, str] = {}
    hints: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for cls, _ in _METHODS.values():
        helps.update({k: v for k, v in field_help(cls).items() if k not in helps})
        hints.update({k: v for k, v in type_hints(cls).items() if k not in hints})
        for field in dataclasses.fields(cls):
            defaults.setdefault(field.name, field.default)
    options: list[Callable[[F], F]] = []
    for name, methods in owners.items():
        hint = base_type(hints[name])
        flag = "--" + name.replace("_", "-")
        default = defaults[name]
        shown = None if default is None else str(default)
        kwargs: dict[str, Any] = {"default": None}
        if get_origin(hint) is Literal:
            decls = [flag]
            kwargs["type"] = click.Choice([str(a) for a in get_args(hint)])
        elif hint is bool:
            on, off = _BOOL_FLAGS.get(name, (flag, "--no-" + flag[2:]))
            decls = [f"{on}/{off}", name]
            shown = (on if default else off)[2:]
        elif hint is int:
            decls, kwargs["type"] = [flag], click.INT
        elif hint is float:
            decls, kwargs["type"] = [flag], click.FLOAT
        else:  # a new field type needs a rule here
            raise TypeError(f"config field {name}: no CLI rule for type {hint!r}")
        only = "" if len(methods) == len(_METHODS) else f" ({', '.join(methods)} only)"
        extra = f"  [default: {shown}]" if shown else ""
        kwargs["help"] = helps.get(name, "") + only + extra
        options.append(click.option(*decls, **kwargs))
    for option in reversed(options):
        f = option(f)
    return f


# ---------------------------------------------------------------------------------- input
def graph_format(path: Path, fmt: GraphFormat) -> str:
    """The reader for ``path``: ``fmt``, or for ``auto`` its extension (``.gz`` ignored):
    ``.mat`` -> mat, ``.adjlist`` -> adjlist, anything else -> edgelist."""
    if fmt != "auto":
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    return {".mat": "mat", ".adjlist": "adjlist"}.get(last, "edgelist")


def read_graph(path: Path, fmt: GraphFormat = "auto", *, directed: bool = False) -> Graph:
    """A :class:`Graph` from an edge list, adjacency list or ``.mat`` file (``network``).

    For ``.mat`` files ``directed=False`` means "undirected iff the matrix is symmetric".
    """
    if not path.exists():
        raise FileNotFoundError(f"graph file {path} does not exist")
    kind = graph_format(path, fmt)
    if kind == "mat":
        return Graph.from_mat(path, directed=True if directed else None)
    if kind == "adjlist":
        return Graph.from_adjlist(path, directed=directed)
    return Graph.from_edgelist(path, directed=directed)


def read_side_csv(
    path: Path, graph: Graph, key_column: str | None = None
) -> dict[str, list[str | None]]:
    """Side information for EGES from a CSV/TSV file: one row per node, one column per field.

    ``key_column`` (default: the first column) holds the node ids, matched to ``graph.keys``
    (as integers when the graph's keys are integers). Values are kept as strings
    (categories); an empty cell, or a node without a row, is a missing value (EGES leaves it
    out of the node's average). Returns field name -> values aligned with ``graph.keys``.

    Raises
    ------
    ValueError
        An empty file, no field column, an unknown ``key_column``, a row of the wrong
        length, a non-integer id for an int-keyed graph, or no row matching any node.
    """
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(
                f"--side {path} is empty; give a header row and one row per node"
            ) from None
        rows = [row for row in reader if row]
    if len(header) < 2:
        raise ValueError(
            f"--side {path} has columns {header}; give the node column and at least one side "
            "field column"
        )
    key_col = header[0] if key_column is None else key_column
    if key_col not in header:
        raise ValueError(f"--side-key {key_col!r} is not a column of {path}; columns: {header}")
    k = header.index(key_col)
    fields = [name for name in header if name != key_col]
    cols = [header.index(name) for name in fields]
    int_keys = np.asarray(graph.keys).dtype.kind in "iu"
    by_key: dict[Any, list[str | None]] = {}
    for line_no, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line_no}: {len(row)} fields but the header has {len(header)}"
            )
        key: Any = row[k].strip()
        if int_keys:
            try:
                key = int(key)
            except ValueError:
                raise ValueError(
                    f"{path}, line {line_no}: node {key!r} is not an integer, but the graph's "
                    "node ids are integers"
                ) from None
        by_key[key] = [row[c].strip() or None for c in cols]
    keys = np.asarray(graph.keys).tolist()
    blank: list[str | None] = [None] * len(fields)
    n_found = sum(key in by_key for key in keys)
    if n_found == 0:
        raise ValueError(
            f"--side {path}: none of its {len(by_key)} node ids (column {key_col!r}, e.g. "
            f"{list(by_key)[:3]}) is a node of the graph (e.g. {keys[:3]}); check --side-key"
        )
    if n_found < len(keys):
        logger.warning(
            "--side %s has no row for %d of the %d graph nodes; their side values are missing",
            path,
            len(keys) - n_found,
            len(keys),
        )
    rows_of = [by_key.get(key, blank) for key in keys]
    return {name: [r[j] for r in rows_of] for j, name in enumerate(fields)}


def _check_method_flags(method: str, values: dict[str, Any]) -> None:
    owners = _config_fields()
    wrong = sorted(name for name in values if method not in owners.get(name, []))
    if wrong:
        flags = ", ".join("--" + name.replace("_", "-") for name in wrong)
        users = {name: "/".join(owners[name]) for name in wrong if name in owners}
        raise ValueError(
            f"{flags} do(es) not apply to --method {method} (used by: {users}); drop them or "
            "choose the method that uses them"
        )


def _check_side(method: str, side: Path | None) -> None:
    """EGES needs --side and the walk methods take none (checked before any reading)."""
    if method == "eges" and side is None:
        raise ValueError(
            "EGES (--method eges) needs --side CSV: a node column + one column per side field"
        )
    if method != "eges" and side is not None:
        raise ValueError(f"--side is for --method eges only, not {method}; drop it")


def _fit(
    method: str,
    cfg: Any,
    graph: Graph,
    side: dict[str, list[str | None]] | None,
    progress: bool,
) -> Any:
    model_cls = _METHODS[method][1]
    if method == "eges":
        return model_cls(cfg).fit(graph, side, progress=progress)
    return model_cls(cfg).fit(graph, progress=progress)


# ---------------------------------------------------------------------------------- commands
@click.group(name="graph")
def graph_group() -> None:
    """Node embeddings of graphs: DeepWalk, node2vec, EGES; node classification and link
    prediction benchmarks."""


_edges_argument = click.argument("edges", type=click.Path(path_type=Path))
_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(list(get_args(GraphFormat))),
    default="auto",
    show_default=True,
    help="Graph file format; auto: .mat -> mat (variable `network`), .adjlist -> adjlist "
    "(`node nbr nbr ...`), else edgelist (`u v [weight]`, whitespace/CSV/TSV).",
)
_directed_option = click.option(
    "--directed",
    is_flag=True,
    help="Read arcs u->v only (default: undirected edges; for .mat, undirected iff the "
    "matrix is symmetric).",
)
_side_option = click.option(
    "--side",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="EGES side information: CSV (TSV for .tsv) with a header, the node column and one "
    "column per side field (e.g. node,brand,category).",
)
_side_key_option = click.option(
    "--side-key", default=None, help="Node column of --side (default: its first column)."
)


@graph_group.command(name="train")
@_edges_argument
@click.option(
    "--method",
    type=click.Choice(list(_METHODS)),
    default="deepwalk",
    show_default=True,
    help="deepwalk (uniform/weighted walks), node2vec (p, q biased walks), eges (walks + "
    "side information, needs --side).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory to save the model in (created; an earlier model there is replaced).",
)
@_format_option
@_directed_option
@_side_option
@_side_key_option
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file of the method's config fields (e.g. dim = 128); flags override it.",
)
@graph_config_options
@json_option
@click.pass_obj
def graph_train(
    state: State,
    /,
    edges: Path,
    method: str,
    out: Path,
    fmt: GraphFormat,
    directed: bool,
    side: Path | None,
    side_key: str | None,
    config_file: Path | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Train node vectors on the graph in EDGES and save them in --out.

    Prints a summary (graph, timings, loss); --json prints it as JSON. The model directory
    works with `embedrec similar`, `embedrec export` and `embedrec graph eval`.
    """
    cfg_cls = _METHODS[method][0]
    given = {k: v for k, v in flags.items() if v is not None}
    _check_method_flags(method, given)
    values = read_config_file(config_file, cfg_cls) if config_file is not None else {}
    values.update(given)
    cfg = build_config(cfg_cls, values, flags=given, config_file=config_file)
    _check_side(method, side)
    check_out_dir(out)
    graph = read_graph(edges, fmt, directed=directed)
    logger.info(
        "read %s graph of %d nodes and %d edges from %s",
        "a directed" if graph.directed else "an undirected",
        graph.n_nodes,
        graph.n_edges,
        edges,
    )
    side_values = read_side_csv(side, graph, side_key) if side is not None else None
    model = _fit(method, cfg, graph, side_values, progress=not state.quiet)
    model.save(out)
    logger.info("saved the model to %s", out)
    payload = {
        "out": str(out),
        "method": method,
        "n_nodes": graph.n_nodes,
        "n_edges": graph.n_edges,
        "directed": graph.directed,
        "weighted": graph.weights is not None,
        "dim": model.embeddings_.dim,
        "timings": dict(getattr(model, "timings_", {})),
        "loss": list(getattr(model, "loss_history_", [])),
        "config": cfg.to_dict(),
    }
    kind = "directed" if graph.directed else "undirected"
    weights = "weighted" if graph.weights is not None else "unweighted"
    timings = ", ".join(f"{k.removesuffix('_s')} {v:.2f}s" for k, v in payload["timings"].items())
    echo_report(
        payload,
        lambda: echo_fields(
            [
                ("saved", f"{out} ({type(model).__name__}, vectors of dim {payload['dim']})"),
                ("graph", f"{graph.n_nodes} nodes, {graph.n_edges} edges ({kind}, {weights})"),
                ("time", timings or None),
                ("loss", loss_trend(payload["loss"])),
            ]
        ),
        as_json=as_json,
    )


def _load(
    path: Path, *, unicode_errors: UnicodeErrors = "strict", no_header: bool = False
) -> tuple[Any, Embeddings]:
    """(graph model or None, embeddings) of a model directory (a DeepWalk, Node2Vec or EGES
    model comes with its model object), or of a word2vec-format file."""

    def read(directory: Path) -> tuple[Any, Embeddings]:
        # the class and the files of one generation
        if model_class(directory) in _MODEL_CLASSES:
            model = read_model(directory)
            return model, model.embeddings_
        return None, read_embeddings(directory)

    if is_artifact_dir(path):
        return load_consistent(path, read)
    if not path.exists():
        raise FileNotFoundError(f"model {path} does not exist")
    return None, load_embeddings(path, unicode_errors=unicode_errors, no_header=no_header)


def _key_array(keys: list[Any]) -> npt.NDArray[Any]:
    if keys and isinstance(keys[0], str):
        return np.array(keys, dtype=object)
    return np.asarray(keys, dtype=np.int64)


def read_node_labels(
    path: Path, emb: Embeddings, *, missing: Literal["raise", "skip"] = "raise"
) -> tuple[Any, Any, npt.NDArray[Any]]:
    """(labels csr bool, node keys of its rows, label keys) from a labels file.

    ``.mat``: the ``group`` matrix, row ``i`` being node key ``i`` (the keys
    ``Graph.from_mat`` gives). Otherwise OpenNE/DeepWalk text, ``node label [label ...]`` per
    line, read against the embeddings' keys (nodes without a line are unlabelled; a line of
    a node the embeddings lack is an error, or skipped with ``missing="skip"``).
    """
    from ..data.graph import read_labels, read_mat_labels

    if not path.exists():
        raise FileNotFoundError(f"labels file {path} does not exist")
    if path.suffix.lower() == ".mat":
        mat, label_keys = read_mat_labels(path)
        return mat, np.arange(mat.shape[0], dtype=np.int64), np.asarray(label_keys)
    keys = _key_array(list(emb.keys))
    # a graph with the embeddings' nodes and no edges: read_labels only needs its keys
    nodes = Graph(
        indptr=np.zeros(keys.size + 1, dtype=np.int64),
        indices=np.zeros(0, dtype=np.int32),
        weights=None,
        keys=keys,
        directed=False,
    )
    mat, label_keys = read_labels(path, nodes, missing=missing)
    return mat, keys, np.asarray(label_keys)


def _parse_fractions(values: tuple[float, ...]) -> tuple[float, ...]:
    """The --train-fraction values, or node_classification's default fractions."""
    from ..eval.graph import node_classification

    if values:
        return values
    return tuple(default_of(node_classification, "train_fractions"))


@graph_group.command(name="eval")
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--labels",
    type=click.Path(path_type=Path),
    default=None,
    help="Node labels for node classification: text lines `node label [label ...]` "
    "(OpenNE/DeepWalk), or a .mat file's `group` matrix.",
)
@click.option(
    "--link-prediction",
    "link_edges",
    type=click.Path(path_type=Path),
    default=None,
    help="Graph file for link prediction: the model's configuration is retrained on it minus "
    "the held-out edges.",
)
@click.option(
    "--train-fraction",
    "train_fractions",
    type=float,
    multiple=True,
    help="Node classification: share of labelled nodes to train on (repeatable; default 0.1 "
    "0.5 0.9).",
)
@click.option(
    "--repeats", type=int, default=10, show_default=True, help="Node classification: shuffles."
)
@click.option("--C", "c", type=float, default=1.0, show_default=True, help="Logistic regression C.")
@click.option(
    "--test-fraction",
    type=float,
    default=0.5,
    show_default=True,
    help="Link prediction: share of edges held out.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
    default=0,
    show_default=True,
    help="Seed of the splits.",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Link prediction: training threads of the refit (0: all cores; default: the "
    "model's config).",
)
@click.option(
    "--missing",
    type=click.Choice(["raise", "skip"]),
    default="raise",
    show_default=True,
    help="--labels lines whose node the model does not know: an error, or skipped (logged).",
)
@_format_option
@_directed_option
@_side_option
@_side_key_option
@w2v_file_options
@json_option
@click.pass_obj
def graph_eval(
    state: State,
    /,
    model: Path,
    labels: Path | None,
    link_edges: Path | None,
    train_fractions: tuple[float, ...],
    repeats: int,
    c: float,
    test_fraction: float,
    seed: int,
    workers: int | None,
    missing: Literal["raise", "skip"],
    fmt: GraphFormat,
    directed: bool,
    side: Path | None,
    side_key: str | None,
    unicode_errors: UnicodeErrors,
    no_header: bool,
    as_json: bool,
) -> None:
    """Benchmark the node vectors of MODEL; prints a table per benchmark (--json: JSON).

    --labels: multi-label node classification (DeepWalk's protocol: one-vs-rest logistic
    regression, each test node gets its top-k labels, k = its true label count; Micro/Macro-F1
    mean and std per train fraction). --link-prediction EDGES: hold out --test-fraction of
    the edges (every node keeps one), retrain MODEL's configuration on the rest, ROC-AUC of
    held-out edges against as many non-edges (cosine, and Hadamard + logistic regression).
    """
    from ..eval.graph import link_prediction, node_classification

    if labels is None and link_edges is None:
        raise ValueError("give --labels FILE (node classification) and/or --link-prediction EDGES")
    graph_model, emb = _load(model, unicode_errors=unicode_errors, no_header=no_header)
    result: dict[str, Any] = {"model": str(model)}
    if labels is not None:
        mat, node_keys, _ = read_node_labels(labels, emb, missing=missing)
        nc = node_classification(
            emb,
            node_keys,
            mat,
            train_fractions=_parse_fractions(train_fractions),
            repeats=repeats,
            seed=seed,
            C=c,
        )
        nc["labels"] = str(labels)
        result["node_classification"] = nc
    if link_edges is not None:
        if graph_model is None:
            raise ValueError(
                f"--link-prediction retrains the model, so {model} must be a DeepWalk, Node2Vec "
                "or EGES directory (written by `embedrec graph train`)"
            )
        method = _MODEL_CLASSES[type(graph_model).__name__]
        cfg = graph_model.config
        if workers is not None:
            cfg = dataclasses.replace(cfg, workers=workers)
        _check_side(method, side)
        graph = read_graph(link_edges, fmt, directed=directed)
        side_values = read_side_csv(side, graph, side_key) if side is not None else None

        def fit(residual: Graph) -> Embeddings:
            # the residual graph keeps the input's nodes and keys, so the side rows still align
            fitted = _fit(method, cfg, residual, side_values, progress=not state.quiet)
            emb_: Embeddings = fitted.embeddings_
            return emb_

        lp = link_prediction(graph, fit, test_fraction=test_fraction, seed=seed, C=c)
        lp["graph"] = str(link_edges)
        lp["method"] = method
        result["link_prediction"] = lp
    echo_report(result, lambda: _echo_graph_eval(result), as_json=as_json)


def _echo_graph_eval(result: dict[str, Any]) -> None:
    """The readable report of ``graph eval``: a table of F1 per train fraction, the AUCs."""
    nc = result.get("node_classification")
    if nc is not None:
        title = (
            f"node classification ({nc['labels']}: {nc['n_nodes']} labelled nodes, "
            f"{nc['n_labels']} labels, {nc['repeats']} shuffles; mean ± std):"
        )
        rows: list[list[Any]] = [["train fraction", "train", "test", "micro-F1", "macro-F1"]]
        for name, part in nc["fractions"].items():
            f1 = [f"{part[m]['mean']:.4f} ± {part[m]['std']:.4f}" for m in ("micro_f1", "macro_f1")]
            rows.append([name, part["n_train"], part["n_test"], *f1])
        echo_table(rows, ">>>>>", title=title)
    lp = result.get("link_prediction")
    if lp is not None:
        if nc is not None:
            click.echo()
        echo_fields(
            [
                ("graph", f"{lp['graph']} ({lp['n_nodes']} nodes, {lp['n_edges']} edges)"),
                ("held out", f"{lp['n_test_edges']} edges and as many non-edges"),
                ("ROC-AUC, cosine", f"{lp['cosine_auc']:.4f}"),
                ("ROC-AUC, Hadamard + LR", f"{lp['hadamard_auc']:.4f}"),
            ],
            title=f"link prediction ({lp['method']} retrained without the held-out edges):",
            indent=2,
        )

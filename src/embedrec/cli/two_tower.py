"""``embedrec two-tower``: train a two-tower model from one TOML file, and the file's reference.

``embedrec two-tower config`` prints a complete, annotated example (MovieLens 100K, every key
the loader reads; ``--out FILE`` writes it) and ``--reference`` prints the table of every key
(docs/two-tower-config.md holds both). The file has five parts::

    out = "tt/"          # output model directory (or --out)
    [data]               # TwoTowerData: the events, side tables and holdout
    [model]              # TwoTowerConfig fields (loss, temperature, epochs, ...)
    [user]               # TowerConfig of the user tower, with [[user.features]] (FeatureSpec)
    [item]               # TowerConfig of the item tower, with [[item.features]]

Every relative path in the file is relative to the file's folder. ``--set SECTION.KEY=VALUE``
overrides one key (a TOML value; a bare word is a string). Validation data (for early
stopping) is the validation part of the split; the model is saved with the holdout recorded,
so ``embedrec eval`` refuses a leaky protocol.

The reference table is rendered from the dataclasses' fields and docstrings
(:func:`reference_markdown`), so it cannot drift from the loader; after changing a field, run
``python -c "from embedrec.cli.two_tower import update_reference_page as u;
u('docs/two-tower-config.md')"``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
import time
import types
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import click

from ..models.config import ConfigDict, check_choice, check_float, check_int, invalid
from ._common import (
    State,
    build_config,
    check_out_dir,
    check_out_file,
    check_writable,
    echo_fields,
    echo_report,
    echo_table,
    format_value,
    json_option,
    jsonable,
    load_toml,
    parameter_docs,
    type_hints,
)

logger = logging.getLogger("embedrec")

Dataset = Literal["movielens-100k", "movielens-latest-small"]
Holdout = Literal["leave-last-out", "temporal", "random", "none"]

#: the top-level keys of a two-tower file
FILE_KEYS = ("out", "data", "model", "user", "item")
#: the one top-level key that is not a table: (type, meaning) for the reference
OUT_KEY_DOC = (
    "str",
    "Output model directory; required here or as `--out DIR` (which wins). A new or empty "
    "folder, or an embedrec model directory (a new generation is written into it).",
)
#: the page section that :func:`update_reference_page` rewrites
REFERENCE_BEGIN = "<!-- BEGIN GENERATED: embedrec two-tower config --reference -->"
REFERENCE_END = "<!-- END GENERATED -->"
EXAMPLE_RESOURCE = "example_config.toml"


@dataclass(frozen=True, kw_only=True)
class TwoTowerData(ConfigDict):
    """The ``[data]`` part of a two-tower file: the events, the side tables, the holdout.

    Parameters
    ----------
    dataset : {"movielens-100k", "movielens-latest-small"}, optional
        A known data set, with its side tables (100K: users with ``age``, ``gender``,
        ``occupation``, ``zip``; both: items with ``genres`` and ``year``). Give either
        ``dataset`` or ``interactions``.
    path : str, optional
        ``dataset``: the folder of its files. Unset: ``$EMBEDREC_DATA/<dataset>`` when
        ``$EMBEDREC_DATA`` is set, else the official zip, downloaded into the cache once.
    interactions : str, optional
        Your own log: a CSV/TSV/Parquet file, one event per row.
    user_col, item_col : str or int, optional
        ``interactions``: the user and item ID columns (required), by name, or by 0-based
        position with ``no_header``.
    time_col : str or int, optional
        ``interactions``: event times, which order each user's history (unset: file order).
    weight_col : str or int, optional
        ``interactions``: ratings or weights, read for ``min_weight``.
    sep : str, optional
        ``interactions``: the field separator. Unset: tab for ``.tsv``, else guessed.
    no_header : bool, default False
        ``interactions``: the file has no header row.
    min_weight : float, optional
        Keep only events whose weight (a MovieLens rating) is at least this.
    min_user_interactions, min_item_interactions : int, default 1
        Iterated k-core: drop users and items with fewer events until all have enough.
    holdout : {"leave-last-out", "temporal", "random", "none"}, default "leave-last-out"
        The events held out, as ``embedrec eval --protocol``: each user's last event is test
        and the one before validation (early stopping); the latest 20% of events test and
        the 10% before validation; ``test_fraction`` of the events at random as test (no
        validation part, so no early stopping); or none (train on every event).
    split_seed : int, default 0
        Seed of the ``random`` holdout.
    test_fraction : float, default 0.2
        Test share of the ``random`` holdout, in ``(0, 1)``.
    user_table, item_table : str, optional
        ``interactions``: side tables (CSV, TSV for ``.tsv``/``.tab``, or Parquet), one row
        per user or item. A feature reads the column its ``column`` (default: ``name``) names.
    user_key, item_key : str, default "user", "item"
        The key column of ``user_table`` / ``item_table``.

    Raises
    ------
    ValueError
        A field of the wrong type or out of range, both or neither of ``dataset`` and
        ``interactions``, or keys of one given with the other.
    """

    dataset: Dataset | None = None
    path: str | None = None
    interactions: str | None = None
    user_col: str | int | None = None
    item_col: str | int | None = None
    time_col: str | int | None = None
    weight_col: str | int | None = None
    sep: str | None = None
    no_header: bool = False
    min_weight: float | None = None
    min_user_interactions: int = 1
    min_item_interactions: int = 1
    holdout: Holdout = "leave-last-out"
    split_seed: int = 0
    test_fraction: float = 0.2
    user_table: str | None = None
    user_key: str = "user"
    item_table: str | None = None
    item_key: str = "item"

    def __post_init__(self) -> None:
        def q(name: str) -> str:
            return f"[data] {name}"

        for name in ("path", "interactions", "sep", "user_table", "item_table"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v):
                raise invalid(q(name), v, "a non-empty string")
        for name in ("user_key", "item_key"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise invalid(q(name), getattr(self, name), "a column name")
        for name in ("user_col", "item_col", "time_col", "weight_col"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (str, int))):
                raise invalid(q(name), v, "a column name, or a 0-based position with no_header")
        if self.dataset is not None:
            check_choice(q("dataset"), self.dataset, get_args(Dataset), _one_of(Dataset))
        check_choice(q("holdout"), self.holdout, get_args(Holdout), _one_of(Holdout))
        if not isinstance(self.no_header, bool):
            raise invalid(q("no_header"), self.no_header, "true or false")
        if self.min_weight is not None:
            check_float(q("min_weight"), self.min_weight, allowed="a number (e.g. 4)")
        for name in ("min_user_interactions", "min_item_interactions"):
            check_int(q(name), getattr(self, name), 1, allowed="an integer >= 1")
        check_int(q("split_seed"), self.split_seed, 0, 2**63 - 1, allowed="an integer >= 0")
        check_float(q("test_fraction"), self.test_fraction, gt=0, allowed="a number in (0, 1)")
        if self.test_fraction >= 1:
            raise invalid(q("test_fraction"), self.test_fraction, "a number in (0, 1)")
        file_keys = [
            name
            for name in (
                "interactions",
                "user_col",
                "item_col",
                "time_col",
                "weight_col",
                "sep",
                "user_table",
                "item_table",
            )
            if getattr(self, name) is not None
        ] + (["no_header"] if self.no_header else [])
        if self.dataset is not None and file_keys:
            raise ValueError(
                f"[data] dataset={self.dataset!r} comes with its own events and side tables; "
                f"remove {file_keys}, or remove `dataset` to read your own files"
            )
        if self.dataset is None:
            if self.interactions is None:
                raise ValueError(
                    "[data] needs `dataset` (" + _one_of(Dataset) + ") or `interactions` "
                    "(a CSV/TSV/Parquet path) with user_col and item_col"
                )
            if self.path is not None:
                raise ValueError(
                    "[data] path names a data set's folder; use it with `dataset`, or "
                    "remove it (`interactions` is the path of your log)"
                )
            absent = [n for n in ("user_col", "item_col") if getattr(self, n) is None]
            if absent:
                raise ValueError(f"[data] interactions needs {absent}: the ID columns")


def _one_of(literal: Any) -> str:
    return "one of " + ", ".join(get_args(literal))


# ------------------------------------------------------------------------------ reading a file
def example_config() -> str:
    """The annotated example file (MovieLens 100K), as ``embedrec two-tower config`` prints it.

    It ships in the package (``embedrec/models/two_tower/example_config.toml``): the one
    source of the printed example and of the one on docs/two-tower-config.md.
    """
    res = resources.files("embedrec.models.two_tower").joinpath(EXAMPLE_RESOURCE)
    return res.read_text(encoding="utf-8")


def parse_override(text: str) -> tuple[str | None, str, Any]:
    """``"model.epochs=3"`` -> ``("model", "epochs", 3)``; ``"out=tt"`` -> ``(None, "out", "tt")``.

    The value is read as a TOML value (``3``, ``0.1``, ``true``, ``[64]``, ``"x"``); anything
    else is taken as a bare string (``--set data.holdout=none``).
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    target, sep, raw = text.partition("=")
    if not sep or not target.strip():
        raise ValueError(
            f"--set {text!r} is invalid; use SECTION.KEY=VALUE, e.g. --set model.epochs=3"
        )
    section, dot, key = target.strip().rpartition(".")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return (section if dot else None), key, value


def apply_overrides(doc: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``doc`` (a parsed two-tower file) with each ``--set SECTION.KEY=VALUE`` applied.

    Sections are ``data``, ``model``, ``user`` and ``item`` (a tower's own keys; its
    features are changed in the file); ``out`` has no section.
    """
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in doc.items()}
    for text in overrides:
        section, key, value = parse_override(text)
        if section is None:
            if key != "out":
                raise ValueError(
                    f"--set {text!r}: {key!r} needs its section, e.g. --set model.{key}=...; "
                    "sections: data, model, user, item"
                )
            doc["out"] = value
        elif section not in FILE_KEYS[1:]:
            raise ValueError(
                f"--set {text!r}: unknown section {section!r}; use data, model, user or item"
            )
        elif key == "features":
            raise ValueError(
                f"--set {text!r}: features cannot be set from the command line; edit the "
                f"[[{section}.features]] tables of the file"
            )
        else:
            doc.setdefault(section, {})[key] = value
    return doc


def read_two_tower_file(path: Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The parts of a two-tower TOML file (with ``overrides`` applied), unknown keys refused.

    Relative paths in the file (``out``, the ``[data]`` paths, a feature's ``path``) are made
    relative to the file's folder; values given by ``overrides`` (the command line) are taken
    as given, relative to the current directory. ``[data]`` is returned as a checked
    :class:`TwoTowerData`; the ``[model]``, ``[user]`` and ``[item]`` parts stay dicts for
    ``TwoTowerConfig``.
    """
    doc = load_toml(path)
    unknown = sorted(set(doc) - set(FILE_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; allowed: {list(FILE_KEYS)}")
    for part in FILE_KEYS[1:]:
        if not isinstance(doc.get(part, {}), dict):
            raise ValueError(f"{path}: `{part}` must be a table ([{part}]), not a value")
    base = path.parent

    def rel(p: Any) -> Any:
        # non-strings are left for the field checks to refuse with their message
        return str(base / p) if isinstance(p, str) and not Path(p).is_absolute() else p

    if "out" in doc:
        doc["out"] = rel(doc["out"])
    data = doc.setdefault("data", {})
    for name in ("path", "interactions", "user_table", "item_table"):
        if name in data:
            data[name] = rel(data[name])
    for tower in ("user", "item"):
        feats = doc.get(tower, {}).get("features")
        if isinstance(feats, list):
            doc[tower]["features"] = [
                {**f, "path": rel(f["path"])} if isinstance(f, dict) and "path" in f else f
                for f in feats
            ]
    doc = apply_overrides(doc, overrides)
    try:
        doc["data"] = TwoTowerData.from_dict(doc["data"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return doc


def load_data(data: TwoTowerData) -> tuple[Any, Any, Any]:
    """(Interactions, user table or None, item table or None) that ``data`` describes."""
    from ..data import datasets as ds
    from ..data.interactions import read_interactions

    filters: dict[str, Any] = {
        "min_user_interactions": data.min_user_interactions,
        "min_item_interactions": data.min_item_interactions,
    }
    if data.dataset == "movielens-100k":
        inter = ds.movielens_100k(data.path, min_rating=data.min_weight, **filters)
        return inter, ds.movielens_100k_users(data.path), ds.movielens_100k_items(data.path)
    if data.dataset == "movielens-latest-small":
        inter = ds.movielens_latest_small(data.path, min_rating=data.min_weight, **filters)
        return inter, None, ds.movielens_latest_small_items(data.path)
    assert data.interactions is not None and data.user_col is not None  # __post_init__
    assert data.item_col is not None
    inter = read_interactions(
        data.interactions,
        user_col=data.user_col,
        item_col=data.item_col,
        time_col=data.time_col,
        weight_col=data.weight_col,
        sep=data.sep,
        has_header=not data.no_header,
        min_weight=data.min_weight,
        **filters,
    )

    def table(name: str | None) -> Any:
        if name is None:
            return None
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        p = Path(name)
        if p.suffix == ".parquet":
            return pq.read_table(p)
        delim = "\t" if p.suffix in (".tsv", ".tab") else ","
        return pcsv.read_csv(p, parse_options=pcsv.ParseOptions(delimiter=delim))

    return inter, table(data.user_table), table(data.item_table)


def split_data(data: TwoTowerData, inter: Any) -> tuple[Any, Any]:
    """(the split or None, the training events) of ``data.holdout``."""
    from ..eval import split as sp

    if data.holdout == "leave-last-out":
        split = sp.leave_last_out(inter)
    elif data.holdout == "temporal":
        split = sp.temporal_split(inter)
    elif data.holdout == "random":
        split = sp.random_holdout(inter, test_fraction=data.test_fraction, seed=data.split_seed)
    else:
        return None, inter
    return split, split.train


# ---------------------------------------------------------------------------- the reference
#: Sphinx roles: ":class:`~a.b.C`" -> "`C`" (the ~ form), ":meth:`X.y`" -> "`X.y`"
_ROLE_SHORT = re.compile(r":[a-z]+:`~(?:\w+\.)*(\w+)`")
_ROLE = re.compile(r":[a-z]+:`([\w.]+)`")


def field_docs(cls: type) -> dict[str, str]:
    """Each field's description (the indented lines of its entry: these docstrings put the
    type after ``name :``; :func:`~embedrec.cli._common.parameter_docs`) as Markdown: code
    spans, Sphinx roles reduced to the name."""
    out = {}
    for name, (_, text) in parameter_docs(cls).items():
        joined = text.replace("``", "`")
        out[name] = _ROLE.sub(r"`\1`", _ROLE_SHORT.sub(r"`\1`", joined))
    return out


def toml_type(hint: Any) -> str:
    """How a TOML file spells a field's type: ``"a", "b"`` (code spans) for a choice,
    ``list of int``, ``str or int``; ``None`` (unset) is left out (the default column says
    "unset")."""
    origin = get_origin(hint)
    if origin is Literal:
        return ", ".join(f"`{json.dumps(a)}`" for a in get_args(hint))
    if origin in (Union, types.UnionType):
        parts = [toml_type(a) for a in get_args(hint) if a is not type(None)]
        return " or ".join(parts)
    if origin is tuple:
        return "list of " + toml_type(get_args(hint)[0])
    return str(getattr(hint, "__name__", hint))


def toml_default(field: dataclasses.Field[Any]) -> str:
    """A field's default as TOML writes it: ``"relu"``, ``true``, ``[128]``; "unset" for
    ``None`` (TOML has no null: leave the key out) and "required" when there is none."""
    if field.default is dataclasses.MISSING:
        return "required"

    def value(v: Any) -> str:
        if v is None:
            return "unset"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (tuple, list)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, str):
            return json.dumps(v)
        return repr(v)

    return f"`{value(field.default)}`" if field.default is not None else "unset"


def _cell(text: str) -> str:
    """A Markdown table cell: ``|`` escaped outside code spans (Python-Markdown's tables
    leave pipes inside backticks alone)."""
    parts = text.split("`")
    return "`".join(p.replace("|", "\\|") if i % 2 == 0 else p for i, p in enumerate(parts))


def reference_sections() -> list[tuple[str, type, tuple[str, ...]]]:
    """(section heading, dataclass, fields left out) of every table of a two-tower file, in
    file order. Needs torch (``TwoTowerConfig`` lives beside the model)."""
    from ..models.two_tower import require_torch

    require_torch("the two-tower config reference")
    from ..models.two_tower.model import TwoTowerConfig
    from ..models.two_tower.spec import FeatureSpec, TowerConfig

    return [
        ("[data]", TwoTowerData, ()),
        ("[model]", TwoTowerConfig, ("user", "item")),
        ("[user] and [item]", TowerConfig, ("features",)),
        ("[[user.features]] and [[item.features]]", FeatureSpec, ()),
    ]


def reference_markdown() -> str:
    """The reference of every key of a two-tower file as Markdown tables (key, type, default,
    meaning), rendered from the dataclasses' fields and ``Parameters`` docstrings.

    Raises
    ------
    ValueError
        A field has no description in its class docstring (document it there).
    """
    out = [
        "### Top level",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
        f"| `out` | {OUT_KEY_DOC[0]} | unset | {_cell(OUT_KEY_DOC[1])} |",
    ]
    for heading, cls, skip in reference_sections():
        docs = field_docs(cls)
        hints = type_hints(cls)
        out += ["", f"### {heading}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for field in dataclasses.fields(cls):
            if field.name in skip:
                continue
            meaning = docs.get(field.name, "")
            if not meaning:
                raise ValueError(
                    f"{cls.__name__}.{field.name} has no description in the class docstring's "
                    "Parameters section; add one (the two-tower reference is rendered from it)"
                )
            row = (f"`{field.name}`", toml_type(hints[field.name]), toml_default(field), meaning)
            out.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(out) + "\n"


def update_reference_page(page: str | Path) -> bool:
    """Rewrite the generated part of ``page`` (between :data:`REFERENCE_BEGIN` and
    :data:`REFERENCE_END`) with :func:`reference_markdown`; returns whether it changed."""
    path = Path(page)
    text = path.read_text(encoding="utf-8")
    if REFERENCE_BEGIN not in text or REFERENCE_END not in text:
        raise ValueError(
            f"{path} lacks the markers {REFERENCE_BEGIN!r} and {REFERENCE_END!r} around the "
            "generated reference; add them where the tables belong"
        )
    before, rest = text.split(REFERENCE_BEGIN, 1)
    after = rest.split(REFERENCE_END, 1)[1]
    new = f"{before}{REFERENCE_BEGIN}\n{reference_markdown()}{REFERENCE_END}{after}"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


@click.group(name="two-tower")
def two_tower() -> None:
    """Two-tower (DSSM-style) retrieval models on PyTorch (embedrec[torch])."""


@two_tower.command(name="config")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the example to this file (refused if it exists) instead of printing it.",
)
@click.option(
    "--reference",
    is_flag=True,
    help="Print the table of every key (type, default, meaning) as Markdown instead.",
)
def two_tower_config(out: Path | None, reference: bool) -> None:
    """Print a complete, annotated example config (MovieLens 100K) for `two-tower train`.

    Every key the loader reads is in it, with its type, allowed values and default; keys
    this example does not use are shown commented out. It trains as is:

      embedrec two-tower config --out movielens.toml

      embedrec two-tower train --config movielens.toml

    The reference with the walk-through is docs/two-tower-config.md.
    """
    text = reference_markdown() if reference else example_config()
    if out is None:
        click.echo(text, nl=False)
        return
    if out.exists():
        raise FileExistsError(
            f"--out {out} exists; choose a new file name (nothing is overwritten)"
        )
    check_out_file(out)
    out.write_text(text, encoding="utf-8")
    logger.info("wrote %s", out)


def _echo_training(payload: dict[str, Any]) -> None:
    """The readable report of ``two-tower train``: a summary, then one row per epoch."""
    echo_fields(
        [
            ("saved", f"{payload['out']} (TwoTower)"),
            ("users", payload["n_users"]),
            ("items", payload["n_items"]),
            ("holdout", payload["holdout"]),
            ("training", f"{len(payload['epochs'])} epoch(s) in {payload['seconds']:.2f}s"),
            ("best epoch", payload["best_epoch"]),
            ("processes", payload["world_size"] if payload["world_size"] > 1 else None),
        ]
    )
    epochs = payload["epochs"]
    if not epochs:
        return
    names = [k for k in epochs[0] if k != "epoch"]
    rows = [("epoch", *names)]
    rows += [
        (str(e.get("epoch", i + 1)), *(format_value(e.get(n)) for n in names))
        for i, e in enumerate(epochs)
    ]
    click.echo("")
    echo_table(rows, ">" * len(rows[0]))


@two_tower.command(name="train")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="TOML file: out, [data], [model], [user], [item]. `embedrec two-tower config` "
    "prints a complete annotated example; every key: docs/two-tower-config.md.",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Model directory.")
@click.option("--epochs", type=int, default=None, help="Override [model] epochs.")
@click.option("--seed", type=int, default=None, help="Override [model] seed.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one key of the file (repeatable), e.g. --set model.lr=0.01 "
    "--set data.holdout=none --set user.hidden=[64]. VALUE is a TOML value; a bare word "
    "is a string.",
)
@click.option(
    "--checkpoint-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a checkpoint here after every epoch.",
)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --checkpoint-dir.")
@json_option
@click.pass_obj
def two_tower_train(
    state: State,
    /,
    config_file: Path,
    out: Path | None,
    epochs: int | None,
    seed: int | None,
    overrides: tuple[str, ...],
    checkpoint_dir: Path | None,
    resume: bool,
    as_json: bool,
) -> None:
    """Train a two-tower model as the --config file describes; prints a summary and the
    epochs (--json: the same as JSON).

    Start from the annotated example: `embedrec two-tower config --out my.toml` writes it
    (MovieLens 100K, every key with its type, allowed values and default); the reference of
    every key is docs/two-tower-config.md (`embedrec two-tower config --reference`).

    Runs unchanged under `torchrun --nproc-per-node N -m embedrec two-tower train ...`
    (DistributedDataParallel; rank 0 writes the model).
    """
    from ..models.two_tower import require_torch

    require_torch("embedrec two-tower")
    from ..models.two_tower.model import TwoTower, TwoTowerConfig, init_distributed

    doc = read_two_tower_file(config_file, overrides)
    out = out or (Path(doc["out"]) if doc.get("out") else None)
    if out is None:
        raise ValueError(f'{config_file}: no output directory; give `out = "dir"` or --out DIR')
    model_values = dict(doc.get("model", {}))
    flags = {"epochs": epochs, "seed": seed}
    given = {name: value for name, value in flags.items() if value is not None}
    model_values.update(given)
    if "user" in doc:
        model_values["user"] = doc["user"]
    if "item" in doc:
        model_values["item"] = doc["item"]
    cfg = build_config(TwoTowerConfig, model_values, flags=given, config_file=config_file)
    rank, world = init_distributed()
    if rank == 0:
        check_out_dir(out)
        if checkpoint_dir is not None:
            check_writable(checkpoint_dir / "checkpoint", "--checkpoint-dir")
    data: TwoTowerData = doc["data"]
    inter, users, items = load_data(data)
    split, train = split_data(data, inter)
    valid = split.valid if split is not None and len(split.valid) else None
    t0 = time.perf_counter()
    model = TwoTower(cfg).fit(
        train,
        valid=valid,
        user_table=users,
        item_table=items,
        user_key_column=data.user_key,
        item_key_column=data.item_key,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        progress=not state.quiet,
    )
    if split is not None and valid is not None:
        # the validation events chose the epoch; refit is not needed for evaluation, but the
        # model's histories should hold them (as Item2Vec's train_full does)
        model.add_history(split.valid)
    seconds = time.perf_counter() - t0
    model.metadata_ = {
        "config_file": str(config_file),
        "data": jsonable({k: v for k, v in data.to_dict().items() if v is not None}),
        "holdout": data.holdout,
        "split_seed": data.split_seed,
    }
    if rank == 0:
        model.save(out)
        logger.info("saved the model to %s", out)
        payload = {
            "out": str(out),
            "n_items": len(model.embeddings_) if model.embeddings_ is not None else 0,
            "n_users": 0 if model.user_keys_ is None else len(model.user_keys_),
            "holdout": data.holdout,
            "seconds": seconds,
            "best_epoch": model.best_epoch_,
            "epochs": model.epoch_stats_,
            "world_size": world,
        }
        echo_report(payload, lambda: _echo_training(payload), as_json=as_json)
    if world > 1:
        import torch.distributed as tdist

        tdist.barrier()
        tdist.destroy_process_group()
    sys.stdout.flush()

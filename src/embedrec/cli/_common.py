"""What every ``embedrec`` command module shares: the state object of the root group, output
helpers (JSON and tables on stdout), output-path checks, TOML reading, and the rules that turn
config dataclass fields into click options.

Every reporting command prints through :func:`echo_report`: a readable report by default
(:func:`echo_fields` key/value blocks and :func:`echo_table` tables, values through
:func:`format_value`, empty sections left out) and the JSON payload with ``--json``
(:data:`json_option`). Results go to stdout; logs and progress bars go to stderr
(docs/cli-output.md).

Command modules import from here, never from :mod:`embedrec.cli.main` (which only holds the root
group and registers the command modules), so the CLI has no import cycle.

Training flags are generated from the config dataclasses (:func:`config_options`): every field
is a flag, its help comes from the class docstring, and only the flags a user gives are passed
on, so defaults and validation live in the dataclass alone.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import re
import sys
import tempfile
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import click
import numpy as np

from ..artifacts import is_artifact_dir

__all__ = [
    "WORKERS_ALL_CORES",
    "F",
    "State",
    "base_type",
    "build_config",
    "check_out_dir",
    "check_out_file",
    "check_writable",
    "config_options",
    "default_of",
    "echo_fields",
    "echo_json",
    "echo_report",
    "echo_table",
    "field_help",
    "format_value",
    "given_flags",
    "json_option",
    "jsonable",
    "load_toml",
    "loss_trend",
    "parameter_docs",
    "percent",
    "read_config_file",
    "w2v_file_options",
]

F = TypeVar("F", bound=Callable[..., Any])

#: boolean fields whose flag pair reads better than ``--x/--no-x``
_BOOL_FLAGS = {
    "cbow_mean": ("--cbow-mean", "--cbow-sum"),
}

#: ``--workers``: one meaning on every command, "0: all cores" (leaving the flag out too),
#: whether the config spells "every core" ``0`` or ``None`` (``build_config`` maps 0 to None)
WORKERS_ALL_CORES = "(0: all cores)"


@dataclasses.dataclass
class State:
    """The root group's options, passed to every command (``@click.pass_obj``)."""

    quiet: bool = False


# ---------------------------------------------------------------------------------- output
def jsonable(obj: Any) -> Any:
    """Plain JSON values: numpy scalars become Python numbers, NaN and inf become null."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def echo_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON (through :func:`jsonable`) to stdout."""
    click.echo(json.dumps(jsonable(obj), indent=2, allow_nan=False))


def echo_table(rows: Sequence[Sequence[Any]], align: str, *, title: str | None = None) -> None:
    """Print ``rows`` (the header first) as columns two spaces apart, to stdout.

    ``align`` holds one character per column: ``<`` left, ``>`` right. Each column is as wide
    as its widest cell; trailing spaces are dropped. Cells that are not text go through
    :func:`format_value`. A ``title`` line comes first.
    """
    cells_of = [[c if isinstance(c, str) else format_value(c) for c in row] for row in rows]
    widths = [max(len(row[c]) for row in cells_of) for c in range(len(align))]
    if title is not None:
        click.echo(title)
    for row in cells_of:
        cells = (f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


def format_value(value: Any) -> str:
    """A value of a readable report: ``None`` and NaN are "none", booleans "yes"/"no", floats
    four significant digits (whole numbers with thousands separators from 1,000 up), lists
    their items joined by ", ", dicts ``name=value`` pairs."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items()) or "none"
    return str(value)


def percent(part: int, whole: int) -> str | None:
    """``"50.0% (1/2)"``; ``None`` (left out of a report) when ``whole`` is 0."""
    return f"{100 * part / whole:.1f}% ({part}/{whole})" if whole else None


def echo_fields(
    fields: Sequence[tuple[str, Any]], *, title: str | None = None, indent: int = 0
) -> None:
    """Print ``name: value`` lines with the values aligned, to stdout.

    Fields whose value is ``None`` are left out (an empty section says nothing rather than
    "0/0"); other values go through :func:`format_value`. A ``title`` line comes first.
    """
    shown = [(name, value) for name, value in fields if value is not None]
    if title is not None:
        click.echo(title)
    if not shown:
        return
    width = max(len(name) for name, _ in shown) + 1
    pad = " " * indent
    for name, value in shown:
        text = value if isinstance(value, str) else format_value(value)
        click.echo(f"{pad}{name + ':':<{width}}  {text}".rstrip())


def loss_trend(losses: Sequence[float | None] | None) -> str | None:
    """``"3.21 (epoch 1) -> 1.05 (epoch 40)"``; ``None`` (left out) when no loss was recorded."""
    if not losses:
        return None
    first, last = format_value(losses[0]), format_value(losses[-1])
    return f"{first} (epoch 1) -> {last} (epoch {len(losses)})"


def echo_report(payload: Any, render: Callable[[], None], *, as_json: bool) -> None:
    """The one way a reporting command prints its result: ``payload`` as JSON with
    ``--json`` (its shape is the command's stable interface), else ``render()``, the
    readable report of the same facts."""
    if as_json:
        echo_json(payload)
    else:
        render()


#: the ``--json`` flag of every reporting command
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as JSON (for scripts) instead of the readable report.",
)


def default_of(func: Callable[..., Any], name: str) -> Any:
    """The default of parameter ``name`` of ``func`` (so a flag shows the library default)."""
    return inspect.signature(func).parameters[name].default


def given_flags(names: Iterable[str]) -> list[str]:
    """The flags (``--test-days``) of the parameters ``names`` (``test_days``) of the running
    command that the user gave, rather than left at their defaults, in the order of
    ``names``; for refusing flags that do not apply, by name.

    A flag given with its default value counts as given (it was asked for).
    """
    from click.core import ParameterSource

    ctx = click.get_current_context()
    opts = {p.name: p.opts[0] for p in ctx.command.params}
    return [
        opts[name]
        for name in names
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)
    ]


# ---------------------------------------------------------------------------------- output paths
def check_writable(path: Path, flag: str = "--out") -> None:
    """Refuse an output ``path`` whose folder cannot be written, before any work is done.

    Artifacts are written to a temporary sibling of ``path`` and renamed, so this creates
    and removes a probe file in the nearest existing folder above ``path``; it creates no
    folder and leaves nothing behind.
    """
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(
            f"{flag} {path}: {folder} is a file, not a directory, so nothing can be written "
            f"under it; choose another {flag}"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".embedrec-probe-", dir=folder)
    except OSError as exc:
        raise OSError(
            f"{flag} {path} is not writable ({exc.strerror or exc} in {folder}); choose a "
            f"writable {flag} path"
        ) from None
    os.close(fd)
    os.unlink(probe)


def check_out_dir(path: Path, flag: str = "--out") -> None:
    """Refuse an output path that ``model.save`` would refuse, before spending time training."""
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a directory; choose another {flag}")
    if path.is_dir() and any(path.iterdir()) and not is_artifact_dir(path):
        raise FileExistsError(
            f"{path} is a non-empty directory that is not an embedrec artifact; choose an empty "
            f"or new {flag} directory so nothing of yours is overwritten"
        )
    check_writable(path, flag)


def check_out_file(path: Path, flag: str = "--out") -> None:
    """Refuse an output file path that is a directory or cannot be written, up front."""
    if path.is_dir():
        raise IsADirectoryError(f"{flag} {path} is a directory; give a file path")
    check_writable(path, flag)


# ---------------------------------------------------------------------------------- configs
#: "seed=-1 is invalid; ..." or "TwoTowerConfig.seed=-1 ...": the field a message is about
_FIELD_MESSAGE = re.compile(r"(?:\w+Config\.)?(\w+)=(\S+)(.*)", re.S)


def build_config(
    cls: Any, values: dict[str, Any], *, flags: Iterable[str] = (), config_file: Path | None = None
) -> Any:
    """``cls.from_dict(values)``, with a validation message pointing at its source.

    Run before any data is read. A message about a field given as a flag names the flag
    (``--seed -1 is invalid; ...``); one about a field of ``config_file`` names the file.
    """
    fields = cls.__dataclass_fields__
    if values.get("workers") == 0 and "workers" in fields and fields["workers"].default is None:
        values = {**values, "workers": None}  # --workers 0: every core (WORKERS_ALL_CORES)
    try:
        return cls.from_dict(values)
    except ValueError as exc:
        msg = str(exc)
        m = _FIELD_MESSAGE.fullmatch(msg)
        if m and m.group(1) in set(flags):
            msg = f"--{m.group(1).replace('_', '-')} {m.group(2)}{m.group(3)}"
        elif config_file is not None:
            msg = f"{config_file}: {msg}"
        raise ValueError(msg) from exc


def load_toml(path: Path) -> dict[str, Any]:
    """The TOML document in ``path``: ``tomllib`` on Python 3.11+, the ``tomli`` package on 3.10.

    Raises
    ------
    ValueError
        The file is not valid TOML (the message names the file and the parser's reason).
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    with open(path, "rb") as fh:
        try:
            doc: dict[str, Any] = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML: {exc}") from exc
    return doc


def _check_value_type(path: Path, name: str, value: Any, hint: Any) -> None:
    """TOML values must have the field's type: the dataclass does not check bools or choices."""
    base = base_type(hint)
    if get_origin(base) is Literal:
        ok, want = value in get_args(base), " or ".join(repr(a) for a in get_args(base))
    elif base is bool:
        ok, want = isinstance(value, bool), "true or false"
    elif base is int:
        ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif base is float:
        ok, want = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    else:
        ok, want = True, ""
    if not ok:
        raise ValueError(f"{path}: {name}={value!r} is invalid; use {want}")


def type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` of a config dataclass's fields (``InitVar`` ones included),
    evaluated one by one: Python 3.10's ``get_type_hints`` refuses an ``InitVar[...]``
    annotation under postponed evaluation (``from __future__ import annotations``)."""
    fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
    found: dict[str, Any] = {}
    for base in reversed(cls.__mro__):  # a field's annotation lives in the class defining it
        module_ns = dict(vars(sys.modules[base.__module__]))
        class_ns = dict(vars(base))
        for name, hint in inspect.get_annotations(base).items():
            if name in fields:
                # what get_type_hints does with a string: evaluate it in the defining scope
                found[name] = eval(hint, module_ns, class_ns) if isinstance(hint, str) else hint
    return {name: found[name] for name in fields}


def read_config_file(path: Path, cls: type) -> dict[str, Any]:
    """Top-level keys of a TOML file, checked against the fields of dataclass ``cls``."""
    data = load_toml(path)
    hints = type_hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise ValueError(
            f"{path}: unknown key(s) {unknown}; keys are {cls.__name__} fields: {sorted(hints)}"
        )
    for name, value in data.items():
        _check_value_type(path, name, value, hints[name])
    return data


# ---------------------------------------------------------------------------------- config flags
def parameter_docs(cls: type) -> dict[str, tuple[str, str]]:
    """Each field's entry in ``cls``'s NumPy-style ``Parameters`` section: the text after
    ``name :`` on its first line (a type, or a one-line description) and its indented lines,
    joined. An entry naming several fields (``a, b : text``) describes each."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    if "Parameters" not in lines:
        return {}
    docs: dict[str, tuple[str, list[str]]] = {}
    current: list[str] = []
    for line in lines[lines.index("Parameters") + 2 :]:
        if not line.strip() and not current:
            continue
        if line and not line.startswith(" "):
            head, sep, text = line.partition(" : ")
            if not sep and "," not in line:
                break  # the next section's title
            current = [n.strip() for n in head.split(",")]
            for name in current:
                docs[name] = (text.strip(), [])
        elif line.strip():
            for name in current:
                docs[name][1].append(line.strip())
        else:
            break
    return {name: (head, " ".join(body)) for name, (head, body) in docs.items()}


def field_help(cls: type) -> dict[str, str]:
    """Per-field flag help: an entry's first line and the rest (:func:`parameter_docs`; these
    docstrings put the description after ``name :``), code marks dropped; ``workers``
    says :data:`WORKERS_ALL_CORES` on every command."""
    helps = {
        name: " ".join(filter(None, (head, body))).replace("``", "")
        for name, (head, body) in parameter_docs(cls).items()
    }
    if "workers" in helps:
        helps["workers"] = helps["workers"].replace("(None: all cores)", WORKERS_ALL_CORES)
    return helps


def base_type(hint: Any) -> Any:
    """``X | None`` -> ``X``; other hints unchanged."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def config_options(cls: type) -> Callable[[F], F]:
    """One click option per dataclass field, all defaulting to ``None`` ("not given").

    Literal fields become choices, bool fields ``--x/--no-x`` pairs (see ``_BOOL_FLAGS``), int
    and float fields typed options. The shown default is the dataclass default.
    """
    hints = type_hints(cls)
    helps = field_help(cls)
    options: list[Callable[[F], F]] = []
    for field in dataclasses.fields(cls):
        hint = base_type(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        default = field.default
        shown = None if default is None else str(default)
        if field.name == "workers" and default is None:
            shown = "0"  # None, every core, is what --workers 0 gives (build_config)
        kwargs: dict[str, Any] = {"default": None}
        if get_origin(hint) is Literal:
            decls = [flag]
            kwargs["type"] = click.Choice([str(a) for a in get_args(hint)])
        elif hint is bool:
            on, off = _BOOL_FLAGS.get(field.name, (flag, "--no-" + flag[2:]))
            decls = [f"{on}/{off}", field.name]
            shown = "auto" if default is None else (on if default else off)[2:]
        elif hint is int:
            decls, kwargs["type"] = [flag], click.INT
        elif hint is float:
            decls, kwargs["type"] = [flag], click.FLOAT
        else:  # a new field type needs a rule here
            raise TypeError(f"{cls.__name__}.{field.name}: no CLI rule for type {hint!r}")
        # the option default stays None (= "not given"); the dataclass default is only shown
        kwargs["help"] = helps.get(field.name, "") + (f"  [default: {shown}]" if shown else "")
        options.append(click.option(*decls, **kwargs))

    def decorate(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def w2v_file_options(f: F) -> F:
    """--unicode-errors and --no-header: how a word2vec-format MODEL file is read."""
    f = click.option(
        "--no-header",
        "no_header",
        is_flag=True,
        help="A word2vec-format text MODEL file has no 'n_keys dim' header line (GloVe).",
    )(f)
    return click.option(
        "--unicode-errors",
        type=click.Choice(["strict", "replace", "ignore"]),
        default="strict",
        show_default=True,
        help="Word2vec-format MODEL files: key bytes that are not UTF-8 (e.g. long words cut "
        "by word2vec.c) are refused, replaced by U+FFFD, or dropped.",
    )(f)

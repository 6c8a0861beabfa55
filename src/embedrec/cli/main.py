"""The ``embedrec`` command: a thin shell over the Python API.

Results go to stdout (tables, JSON); logs and progress bars go to stderr through
``logging.getLogger("embedrec")``. Errors raised by the library for bad input (``ValueError``,
``OSError``, a truncated stream's ``EOFError``, ``MemoryError``, ...: ``LIBRARY_ERRORS``)
become one line ``error: <message>`` on stderr and exit status 2, the status click uses for
usage errors; any other exception is a bug and keeps its traceback. Every command checks its
flags (through the config dataclasses) and that its output path is writable before it reads
any data, so bad input fails at once and leaves nothing behind (docs/errors.md).

Training flags are generated from :class:`~embedrec.models.word2vec.Word2VecConfig`: every
field is a flag, its help comes from the class docstring, and only the flags a user gives are
passed on, so defaults and validation live in the dataclass alone.
"""

from __future__ import annotations

import dataclasses
import errno
import inspect
import json
import logging
import math
import os
import re
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import click
import numpy as np

from .. import __version__
from .._io import read_manifest
from ..artifacts import is_artifact_dir, load_consistent
from ..models import word2vec as w2v
from ..models.word2vec import MAX_SEED, Word2Vec, Word2VecConfig
from ..vectors import AnalogyMethod, Embeddings, Key, UnicodeErrors

logger = logging.getLogger("embedrec")

F = TypeVar("F", bound=Callable[..., Any])

#: exceptions the library raises for bad input; anything else is a bug and keeps its traceback.
#: OSError covers missing, unreadable and unwritable paths (FileNotFoundError,
#: PermissionError, NotADirectoryError, a read-only file system, a full disk, ...); EOFError is
#: a truncated compressed stream (click would print only "Aborted!"); MemoryError an input
#: too large for this machine. UnicodeDecodeError is a ValueError.
LIBRARY_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    KeyError,
    TypeError,
    OSError,
    EOFError,
    MemoryError,
)

#: the fix to suggest for an OSError, by errno
_OS_FIXES = {
    errno.ENOENT: "check the path",
    errno.EACCES: "check its permissions or choose another path",
    errno.EPERM: "check its permissions or choose another path",
    errno.EROFS: "the file system is read-only: choose a writable path",
    errno.ENOSPC: "the disk is full: free space or choose another path",
    errno.ENOTDIR: "a part of the path is a file, not a directory: choose another path",
    errno.EISDIR: "it is a directory: give a file path",
    errno.EEXIST: "choose another path",
}

#: boolean fields whose flag pair reads better than ``--x/--no-x``
_BOOL_FLAGS = {
    "cbow_mean": ("--cbow-mean", "--cbow-sum"),
    "shared_negatives": ("--shared-negatives", "--exact"),
}

QUICKSTART_CONFIG = {
    "arch": "skipgram",
    "loss": "neg",
    "dim": 32,
    "window": 5,
    "min_count": 1,
    "epochs": 5,
    "sample": 0.0,
    "workers": 2,
}


# ---------------------------------------------------------------------------------- errors
class LibraryError(click.ClickException):
    """A library exception shown as ``error: <message>`` with exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


def _one_line(exc: BaseException) -> str:
    # str(KeyError("x")) is "'x'": use the argument itself
    msg: Any = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        # "[Errno 13] Permission denied: 'x'" from the OS itself: name the path and the fix
        fix = _OS_FIXES.get(exc.errno or 0, "check the path")
        msg = f"{exc.filename}: {exc.strerror}; {fix}"
    elif isinstance(exc, EOFError):
        msg = (
            f"the input ended early ({exc or 'end of file'}); a compressed file is probably "
            "truncated: re-download or re-compress it (`gzip -t FILE` checks a .gz file)"
        )
    elif isinstance(exc, MemoryError) and not str(exc).startswith("training needs"):
        msg = (
            f"out of memory ({exc or 'no details'}); use smaller inputs or settings (e.g. a "
            "lower --dim, a higher --min-count) or a machine with more memory"
        )
    return " ".join(str(msg).split()) or type(exc).__name__


class _Group(click.Group):
    """Top-level group: turns library exceptions raised by any subcommand into LibraryError."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LIBRARY_ERRORS as exc:
            raise LibraryError(_one_line(exc)) from exc


# ---------------------------------------------------------------------------------- helpers
@dataclasses.dataclass
class _State:
    quiet: bool = False


class _BarSafeHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes through ``tqdm.write`` so a log line never lands in the middle of a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm.auto import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


def _setup_logging(quiet: bool) -> Callable[[], None]:
    """Send embedrec's log records to stderr; returns a function that undoes it.

    The CLI may run inside another process (tests, notebooks), so the logger's previous level,
    handlers and propagation are restored when the command ends.
    """
    handler = _BarSafeHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    # -q keeps warnings: they say the result will be worse and how to fix it
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

    return restore


def _jsonable(obj: Any) -> Any:
    """Plain JSON values: numpy scalars become Python numbers, NaN and inf become null."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _echo_json(obj: Any) -> None:
    click.echo(json.dumps(_jsonable(obj), indent=2, allow_nan=False))


def _default_of(func: Callable[..., Any], name: str) -> Any:
    return inspect.signature(func).parameters[name].default


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


def _check_out_dir(path: Path, flag: str = "--out") -> None:
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


#: "seed=-1 is invalid; ..." or "TwoTowerConfig.seed=-1 ...": the field a message is about
_FIELD_MESSAGE = re.compile(r"(?:\w+Config\.)?(\w+)=(\S+)(.*)", re.S)


def build_config(
    cls: Any, values: dict[str, Any], *, flags: Iterable[str] = (), config_file: Path | None = None
) -> Any:
    """``cls.from_dict(values)``, with a validation message pointing at its source.

    Run before any data is read. A message about a field given as a flag names the flag
    (``--seed -1 is invalid; ...``); one about a field of ``config_file`` names the file.
    """
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


def load_embeddings(
    path: Path, *, unicode_errors: UnicodeErrors = "strict", no_header: bool = False
) -> Embeddings:
    """Embeddings from a Word2Vec or Embeddings directory, or a word2vec-format file.

    ``unicode_errors`` and ``no_header`` apply to word2vec-format files (see
    :meth:`Embeddings.load_word2vec_format`).
    """
    if path.is_file():
        return Embeddings.load_word2vec_format(
            path, unicode_errors=unicode_errors, no_header=no_header
        )
    return load_consistent(path, _load_embeddings_dir)


def _load_embeddings_dir(path: Path) -> Embeddings:
    """The embeddings of one generation directory (the class its manifest names)."""
    manifest = read_manifest(path)
    kind = manifest.get("class")
    if kind == "Word2Vec":
        return Word2Vec.load(path).embeddings_
    if kind == "Item2Vec":
        from ..models.item2vec import Item2Vec

        return Item2Vec.load(path).embeddings_
    if kind == "Embeddings":
        return Embeddings.load(path)
    if kind in ("DeepWalk", "Node2Vec"):
        from ..models import walks

        loaded: Embeddings = getattr(walks, kind).load(path).embeddings_
        return loaded
    if kind == "EGES":
        from ..models.eges import EGES

        return EGES.load(path).embeddings_
    raise ValueError(
        f"{path} holds a {kind!r}; this command reads Word2Vec, Item2Vec, DeepWalk, Node2Vec, "
        "EGES and Embeddings directories and word2vec-format files"
    )


def _parse_key(text: str, emb: Embeddings) -> Key:
    if emb.key_type == "int":
        try:
            return int(text)
        except ValueError:
            pass
    return text


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


# ---------------------------------------------------------------------------------- config flags
def _field_help(cls: type) -> dict[str, str]:
    """Per-field help from the ``Parameters`` section of a NumPy-style class docstring."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    out: dict[str, str] = {}
    try:
        start = lines.index("Parameters") + 2
    except ValueError:
        return out
    names: list[str] = []
    for line in lines[start:]:
        if not line.strip() or line.startswith("--"):
            break
        if line.startswith(" "):
            for name in names:
                out[name] += " " + line.strip()
            continue
        head, sep, text = line.partition(" : ")
        if not sep:
            break
        names = [n.strip() for n in head.split(",")]
        for name in names:
            out[name] = text.strip()
    return {k: v.replace("``", "") for k, v in out.items()}


def _base_type(hint: Any) -> Any:
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
    hints = get_type_hints(cls)
    helps = _field_help(cls)
    options: list[Callable[[F], F]] = []
    for field in dataclasses.fields(cls):
        hint = _base_type(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        default = field.default
        shown = None if default is None else str(default)
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


def _check_value_type(path: Path, name: str, value: Any, hint: Any) -> None:
    """TOML values must have the field's type: the dataclass does not check bools or choices."""
    base = _base_type(hint)
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


def read_config_file(path: Path, cls: type) -> dict[str, Any]:
    """Top-level keys of a TOML file, checked against the fields of dataclass ``cls``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError as exc:
            raise ValueError(
                f"reading {path} needs Python 3.11+ (tomllib) or `pip install tomli`"
            ) from exc
    with open(path, "rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML: {exc}") from exc
    hints = get_type_hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise ValueError(
            f"{path}: unknown key(s) {unknown}; keys are {cls.__name__} fields: {sorted(hints)}"
        )
    for name, value in data.items():
        _check_value_type(path, name, value, hints[name])
    return data


# ---------------------------------------------------------------------------------- commands
@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="embedrec")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no log lines but warnings.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool) -> None:
    """Train, evaluate and query embeddings for recommender systems.

    Start with `embedrec quickstart`. Logs and progress go to stderr, results to stdout.
    """
    ctx.obj = _State(quiet=quiet)
    ctx.call_on_close(_setup_logging(quiet))


@cli.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("embedrec-quickstart"),
    show_default=True,
    help="Directory to save the trained model in.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, MAX_SEED),
    default=None,
    help="Seed of the corpus and the training.",
)
@click.pass_obj
def quickstart(state: _State, out: Path, seed: int | None) -> None:
    """Train Word2Vec on a synthetic topic corpus and show that it finds the topics.

    Every word of the corpus belongs to one planted topic; a good embedding puts words of one
    topic next to each other. Prints some nearest neighbours and the fraction of each word's 10
    nearest neighbours that share its topic, then saves the model.
    """
    from ..data.synthetic import topic_corpus

    _check_out_dir(out)
    sentences, topic_of = topic_corpus() if seed is None else topic_corpus(seed=seed)
    n_topics = len(set(topic_of.values()))
    n_tokens = sum(len(s) for s in sentences)
    click.echo(
        f"corpus: {len(sentences)} sentences, {n_tokens} tokens, {len(topic_of)} words in "
        f"{n_topics} planted topics (word tN_wJ belongs to topic N)"
    )
    cfg_values: dict[str, Any] = dict(QUICKSTART_CONFIG)
    if seed is not None:
        cfg_values["seed"] = seed
    cfg = Word2VecConfig(**cfg_values)
    t0 = time.perf_counter()
    model = Word2Vec(cfg).fit(sentences, progress=not state.quiet)
    seconds = time.perf_counter() - t0
    click.echo(
        f"trained Word2Vec ({cfg.arch}, loss={cfg.loss}, dim={cfg.dim}, window={cfg.window}, "
        f"epochs={cfg.epochs}) in {seconds:.2f}s, final loss {model.loss_history_[-1]:.4f}"
    )

    emb = model.embeddings_
    shown: list[Key] = [w for w in (f"t{t}_w0" for t in range(min(n_topics, 3))) if w in emb]
    shown += [w for w in emb.keys[-1:] if w not in shown]  # also the rarest word
    res = emb.most_similar(shown, k=5)
    click.echo("\nnearest neighbours (cosine):")
    width = max(len(str(w)) for w in shown)
    for word, keys, scores in zip(shown, res.keys, res.scores, strict=True):
        row = ", ".join(f"{k} {s:.3f}" for k, s in zip(keys, scores, strict=True))
        click.echo(f"  {word:<{width}}  {row}")

    words = list(topic_of)
    top = emb.most_similar(words, k=10).keys
    topic_q = np.array([topic_of[w] for w in words])
    topic_n = np.vectorize(topic_of.__getitem__, otypes=[np.int64])(top)
    accuracy = float(np.mean(topic_n == topic_q[:, None]))
    click.echo(
        f"\ntopic accuracy@10: {accuracy:.3f} (share of each word's 10 nearest neighbours in its "
        f"own topic, over all {len(words)} words; chance is {1 / n_topics:.3f})"
    )
    model.save(out)
    click.echo(f"\nsaved the model to {out}; next: embedrec similar {out} t0_w0")


@cli.group()
def word2vec() -> None:
    """Word2Vec: train on text files, evaluate on word benchmarks."""


@word2vec.command()
@click.argument("corpus", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory to save the model in (created; an earlier model there is replaced).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file of Word2VecConfig fields (e.g. dim = 300); flags override it.",
)
@config_options(Word2VecConfig)
@click.pass_obj
def train(
    state: _State,
    /,
    corpus: tuple[Path, ...],
    out: Path,
    config_file: Path | None,
    **flags: Any,
) -> None:
    """Train Word2Vec on CORPUS: text files or directories of them, one sentence per line.

    Prints a JSON summary (vocabulary size, loss and words/s per epoch) to stdout.
    """
    values = read_config_file(config_file, Word2VecConfig) if config_file is not None else {}
    given = {k: v for k, v in flags.items() if v is not None}
    values.update(given)
    cfg = build_config(Word2VecConfig, values, flags=given, config_file=config_file)
    _check_out_dir(out)
    logger.info("training Word2Vec with %s", cfg)
    model = Word2Vec(cfg).fit(list(corpus), progress=not state.quiet)
    model.save(out)
    logger.info("saved the model to %s", out)
    stats = model.epoch_stats_
    seconds = sum(s["seconds"] for s in stats)
    effective = sum(s["effective_words"] for s in stats)
    _echo_json(
        {
            "out": str(out),
            "vocab_size": len(model.embeddings_),
            "dim": model.embeddings_.dim,
            "loss": model.loss_history_,
            "words_per_sec": effective / seconds if seconds > 0 else None,
            "seconds": seconds,
            "epochs": [
                {
                    "epoch": int(s["epoch"]) + 1,
                    "loss": s["loss"],
                    "words_per_sec": s["words_per_sec"],
                    "effective_words": int(s["effective_words"]),
                    "seconds": s["seconds"],
                }
                for s in stats
            ],
            "config": cfg.to_dict(),
        }
    )


@word2vec.command(name="eval")
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--analogies",
    type=click.Path(path_type=Path),
    help="Analogy questions in the questions-words.txt format.",
)
@click.option(
    "--pairs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Word pairs with human similarity scores, tab-separated (repeatable).",
)
@click.option(
    "--restrict-vocab",
    type=int,
    default=_default_of(Embeddings.evaluate_analogies, "restrict_vocab"),
    show_default=True,
    help="Only the most frequent keys take part (word2vec.c's compute-accuracy uses 30000).",
)
@click.option(
    "--method",
    type=click.Choice(get_args(AnalogyMethod)),
    default=_default_of(Embeddings.evaluate_analogies, "method"),
    show_default=True,
    help="Analogy scoring: 3CosAdd (Mikolov) or 3CosMul (Levy & Goldberg).",
)
@w2v_file_options
def eval_(
    model: Path,
    analogies: Path | None,
    pairs: tuple[Path, ...],
    restrict_vocab: int,
    method: AnalogyMethod,
    unicode_errors: UnicodeErrors,
    no_header: bool,
) -> None:
    """Evaluate MODEL on analogy and word-similarity benchmarks; prints JSON.

    MODEL is a Word2Vec or Embeddings directory or a word2vec-format file.
    """
    if analogies is None and not pairs:
        raise click.UsageError("give --analogies FILE and/or --pairs FILE")
    emb = load_embeddings(model, unicode_errors=unicode_errors, no_header=no_header)
    result: dict[str, Any] = {"analogies": None, "pairs": {}}
    if analogies is not None:
        result["analogies"] = emb.evaluate_analogies(
            analogies, restrict_vocab=restrict_vocab, method=method
        )
    for path in pairs:
        result["pairs"][str(path)] = emb.evaluate_pairs(path, restrict_vocab=restrict_vocab)
    _echo_json(result)


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("keys", nargs=-1, required=True)
@click.option(
    "-k",
    "k",
    type=int,
    default=_default_of(Embeddings.most_similar, "k"),
    show_default=True,
    help="Neighbours per key.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@w2v_file_options
def similar(
    model: Path,
    keys: tuple[str, ...],
    k: int,
    as_json: bool,
    unicode_errors: UnicodeErrors,
    no_header: bool,
) -> None:
    """Nearest neighbours of each KEY in MODEL (a model directory or word2vec-format file).

    Keys that look like integers are looked up as integers when the model's keys are integers.
    """
    emb = load_embeddings(model, unicode_errors=unicode_errors, no_header=no_header)
    queries = [_parse_key(key, emb) for key in keys]
    res = emb.most_similar(queries, k=k)
    rows: list[tuple[Key, list[tuple[Any, float]]]] = []
    for q, ns, ss in zip(queries, res.keys.tolist(), res.scores.tolist(), strict=True):
        rows.append((q, list(zip(ns, ss, strict=True))))
    if as_json:
        _echo_json(
            [
                {"query": q, "neighbors": [{"key": n, "score": s} for n, s in neighbours]}
                for q, neighbours in rows
            ]
        )
        return
    table = [("query", "rank", "neighbor", "score")]
    for q, neighbours in rows:
        table += [(str(q), str(r), str(n), f"{s:.4f}") for r, (n, s) in enumerate(neighbours, 1)]
    widths = [max(len(row[c]) for row in table) for c in range(4)]
    for row in table:
        click.echo(
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  "
            f"{row[3]:>{widths[3]}}".rstrip()
        )


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["word2vec", "npy", "parquet", "tensorboard"]),
    default="word2vec",
    show_default=True,
    help="word2vec (word2vec.c/gensim file), npy (vectors.npy + keys.json dir), parquet "
    "(key + vector columns), tensorboard (projector dir: vectors.tsv, metadata.tsv).",
)
@click.option("--binary", is_flag=True, help="Binary word2vec format instead of text.")
@click.option(
    "--layout",
    type=click.Choice(["list", "columns"]),
    default="list",
    show_default=True,
    help="parquet: one list column `vector`, or one column per dimension v0..vN.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="File (word2vec .gz: gzipped; parquet) or directory (npy, tensorboard) to write.",
)
@w2v_file_options
def export(
    model: Path,
    fmt: str,
    binary: bool,
    layout: str,
    out: Path,
    unicode_errors: UnicodeErrors,
    no_header: bool,
) -> None:
    """Export the vectors of MODEL for other tools: word2vec.c/gensim, NumPy, Parquet, or the
    TensorBoard Embedding Projector (with per-key counts as metadata when the model has them).
    """
    from ..export import export_embeddings

    if fmt in ("npy", "tensorboard"):
        _check_out_dir(out)
    else:
        check_out_file(out)

    def read(source: Path) -> tuple[Embeddings, dict[str, Any] | None]:
        # the vectors and the counts come from one generation of a model directory
        emb = load_embeddings(source, unicode_errors=unicode_errors, no_header=no_header)
        if fmt in ("tensorboard", "parquet") and source.is_dir():
            from .._io import read_npy
            from ..artifacts import has_file

            if not has_file(source, read_manifest(source), "counts.npy"):
                return emb, None
            counts = read_npy(source / "counts.npy")
            if counts.shape == (len(emb),):
                return emb, {"count": counts.tolist()}
        return emb, None

    emb, metadata = load_consistent(model, read) if model.is_dir() else read(model)
    export_embeddings(emb, out, fmt, binary=binary, layout=layout, metadata=metadata)  # type: ignore[arg-type]
    kind = (
        ("binary" if binary else "text")
        if fmt == "word2vec"
        else layout
        if fmt == "parquet"
        else "dir"
    )
    click.echo(f"wrote {len(emb)} x {emb.dim} vectors to {out} ({fmt}, {kind})")


@cli.command()
def warmup() -> None:
    """Compile (or load from the numba cache) every training kernel; prints the seconds."""
    # warmup fits tiny models; their corpus log lines say nothing useful here
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        from ..models.warmup import warmup as compile_kernels

        seconds = compile_kernels()
    finally:
        logger.setLevel(level)
    click.echo(f"warmup: training kernels ready in {seconds:.2f}s")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``embedrec`` console script and ``python -m embedrec``."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="embedrec")


# the recommendation commands register themselves on `cli`
from . import graph as _graph  # noqa: E402, F401
from . import index_cmds as _index_cmds  # noqa: E402, F401
from . import recsys as _recsys  # noqa: E402, F401
from . import serve as _serve  # noqa: E402, F401
from . import two_tower as _two_tower  # noqa: E402, F401

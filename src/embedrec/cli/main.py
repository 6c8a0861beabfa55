"""The ``embedrec`` command: the root group, its own commands (``similar``, ``export``,
``warmup``), and the registration of the command groups and commands of other modules, one
module each (:mod:`~embedrec.cli.quickstart`, :mod:`~embedrec.cli.datasets_cmds`,
:mod:`~embedrec.cli.word2vec`, :mod:`~embedrec.cli.recsys`, :mod:`~embedrec.cli.graph`,
:mod:`~embedrec.cli.index_cmds`, :mod:`~embedrec.cli.two_tower`, :mod:`~embedrec.cli.serve`,
:mod:`~embedrec.cli.report`);
what they share lives in :mod:`embedrec.cli._common`. The CLI is a thin shell over the Python
API.

Results go to stdout (tables, JSON); logs and progress bars go to stderr through
``logging.getLogger("embedrec")``. Errors raised by the library for bad input (``ValueError``,
``OSError``, a truncated stream's ``EOFError``, ``MemoryError``, ...: ``LIBRARY_ERRORS``)
become one line ``error: <message>`` on stderr and exit status 2, the status click uses for
usage errors; any other exception is a bug and keeps its traceback. Every command checks its
flags (through the config dataclasses) and that its output path is writable before it reads
any data, so bad input fails at once and leaves nothing behind (docs/errors.md).

Every command that reads vectors accepts every model directory (and word2vec-format files),
through the one model registry (:mod:`embedrec.models.registry`).
"""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import click
import numpy as np

from .. import __version__
from .._io import read_manifest
from ..artifacts import load_consistent
from ..keys import parse_key
from ..models.registry import load_embeddings, read_embeddings, read_output_embeddings
from ..vectors import Embeddings, Key, UnicodeErrors
from . import graph, index_cmds, recsys, serve, two_tower, word2vec
from . import report as report_cmds
from ._common import (
    State,
    check_out_dir,
    check_out_file,
    default_of,
    echo_json,
    echo_table,
    w2v_file_options,
)
from .datasets_cmds import datasets
from .quickstart import quickstart
from .sessions_cmds import sessions

__all__ = ["LIBRARY_ERRORS", "LibraryError", "cli", "load_embeddings", "main"]

logger = logging.getLogger("embedrec")

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

#: ``similar``'s default floor on the training count of the neighbours it shows
SIMILAR_MIN_COUNT = 5


#: the root flag that ``_Group`` accepts after a subcommand too
_QUIET_FLAGS = frozenset({"-q", "--quiet"})


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
    """Top-level group: turns library exceptions raised by any subcommand into LibraryError,
    and takes ``-q``/``--quiet`` anywhere on the line (``embedrec item2vec train ... -q``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # the root option is moved before the subcommand; "--" ends options, as in click
        end = args.index("--") if "--" in args else len(args)
        if any(a in _QUIET_FLAGS for a in args[:end]):
            args = ["--quiet", *(a for a in args[:end] if a not in _QUIET_FLAGS), *args[end:]]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LIBRARY_ERRORS as exc:
            raise LibraryError(_one_line(exc)) from exc


# ---------------------------------------------------------------------------------- logging
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


# ---------------------------------------------------------------------------------- commands
@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="embedrec")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no log lines but warnings.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool) -> None:
    """Train, evaluate and query embeddings for recommender systems.

    Start with `embedrec quickstart`. Logs and progress go to stderr, results to stdout.
    """
    ctx.obj = State(quiet=quiet)
    ctx.call_on_close(_setup_logging(quiet))


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("keys", nargs=-1, required=True)
@click.option(
    "-k",
    "k",
    type=int,
    default=default_of(Embeddings.most_similar, "k"),
    show_default=True,
    help="Neighbours per key.",
)
@click.option(
    "--min-count",
    type=click.IntRange(0),
    default=SIMILAR_MIN_COUNT,
    show_default=True,
    help="Show only neighbours seen at least this often in training (model directories "
    "that saved counts); 0 shows every key. Vectors of keys seen once or twice are mostly "
    "noise that crowds the neighbours of popular keys.",
)
@click.option(
    "--missing",
    type=click.Choice(["raise", "skip"]),
    default="raise",
    show_default=True,
    help="A KEY the model does not know: stop with an error (raise), or leave it out and say "
    "so (skip).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@w2v_file_options
@click.pass_context
def similar(
    ctx: click.Context,
    model: Path,
    keys: tuple[str, ...],
    k: int,
    min_count: int,
    missing: str,
    as_json: bool,
    unicode_errors: UnicodeErrors,
    no_header: bool,
) -> None:
    """Nearest neighbours of each KEY in MODEL (a model directory or word2vec-format file).

    Keys that look like integers are looked up as integers when the model's keys are integers.
    """
    from ..data.vocab import n_at_least
    from ..models.registry import read_counts

    def read(directory: Path) -> tuple[Embeddings, Any]:
        return read_embeddings(directory), read_counts(directory)

    counts = None
    if model.is_dir():
        emb, counts = load_consistent(model, read)
    else:
        emb = load_embeddings(model, unicode_errors=unicode_errors, no_header=no_header)
    explicit = ctx.get_parameter_source("min_count") is not click.core.ParameterSource.DEFAULT
    if counts is None and explicit and min_count > 0:
        raise ValueError(f"{model} has no training counts; drop --min-count")
    restrict = None
    if counts is not None and min_count > 0:
        if len(counts) > 1 and bool((np.diff(counts) > 0).any()):
            # graph models keep node order: put the keys in count order (a stable sort, so
            # equal counts keep theirs) to make the floor a prefix
            order = np.argsort(-counts, kind="stable")
            emb = Embeddings([emb.keys[i] for i in order], emb.vectors[order], metric=emb.metric)
            counts = counts[order]
        # the default floor steps aside for a model where no key reaches it (tiny data)
        if explicit or counts.max(initial=0) >= min_count:
            restrict = n_at_least(counts, min_count)
    queries = [parse_key(key, emb.key_type) for key in keys]
    unknown = [q for q in queries if q not in emb]
    if unknown and missing == "raise":
        raise KeyError(
            f"unknown key(s) {unknown[:10]} (not in {model}); check them, or pass --missing skip"
        )
    known = [q for q in queries if q in emb]
    rows: list[tuple[Key, list[tuple[Any, float]]]] = []
    if known:
        res = emb.most_similar(known, k=k, restrict_vocab=restrict)
        for q, ns, ss in zip(known, res.keys.tolist(), res.scores.tolist(), strict=True):
            rows.append((q, list(zip(ns, ss, strict=True))))
    hidden = 0 if restrict is None else len(emb) - restrict
    if as_json:  # one entry per KEY, in order; unknown ones (with --missing skip) flagged
        found = dict(rows)
        echo_json(
            [
                {
                    "query": q,
                    "neighbors": [{"key": n, "score": s} for n, s in found.get(q, [])],
                    **({"unknown": True} if q in unknown else {}),
                }
                for q in queries
            ]
        )
        return
    table = [("query", "rank", "neighbor", "score")]
    for q, neighbours in rows:
        table += [(str(q), str(r), str(n), f"{s:.4f}") for r, (n, s) in enumerate(neighbours, 1)]
    if rows:
        echo_table(table, "<><>")
    if hidden:
        click.echo(
            f"\n({hidden} of {len(emb)} keys seen fewer than {min_count} times in training are "
            "not shown as neighbours; --min-count 0 shows them)"
        )
    if unknown:
        click.echo(f"\nunknown keys (left out): {', '.join(map(str, unknown))}")


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
@click.option(
    "--vectors",
    "which",
    type=click.Choice(["input", "output"]),
    default="input",
    show_default=True,
    help="input: the vectors `similar` and indexes use; output: the context vectors that "
    "Item2Vec's recommendations score with (Item2Vec and SessionEmbed directories).",
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
    which: str,
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
        check_out_dir(out)
    else:
        check_out_file(out)

    def read(directory: Path) -> tuple[Embeddings, dict[str, Any] | None]:
        # the vectors and the counts come from one generation of a model directory
        emb = read_embeddings(directory) if which == "input" else read_output_embeddings(directory)
        if fmt in ("tensorboard", "parquet"):
            from .._io import read_npy
            from ..artifacts import has_file

            if not has_file(directory, read_manifest(directory), "counts.npy"):
                return emb, None
            counts = read_npy(directory / "counts.npy")
            if counts.shape == (len(emb),):
                return emb, {"count": counts.tolist()}
        return emb, None

    if model.is_dir():
        emb, metadata = load_consistent(model, read)
    elif which == "output":
        raise ValueError(f"{model} is a vector file; --vectors output needs a model directory")
    else:
        emb = load_embeddings(model, unicode_errors=unicode_errors, no_header=no_header)
        metadata = None
    export_embeddings(emb, out, fmt, binary=binary, layout=layout, metadata=metadata)  # type: ignore[arg-type]
    kind = (
        ("binary" if binary else "text")
        if fmt == "word2vec"
        else layout
        if fmt == "parquet"
        else "dir"
    )
    click.echo(f"wrote {len(emb)} x {emb.dim} {which} vectors to {out} ({fmt}, {kind})")


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


# the command groups and the commands of other modules, each defined without the root group
for _command in (
    word2vec.word2vec,
    recsys.item2vec,
    recsys.recommend,
    recsys.eval_recommendations,
    recsys.tune,
    graph.graph_group,
    index_cmds.index,
    two_tower.two_tower,
    serve.serve,
    quickstart,
    datasets,
    sessions,
    report_cmds.plot,
    report_cmds.report,
):
    cli.add_command(_command)

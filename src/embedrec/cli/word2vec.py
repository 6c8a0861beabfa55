"""``embedrec word2vec train|eval``: Word2Vec on text files, and its word benchmarks.

``train`` reads text files (one sentence per line), fits :class:`~embedrec.models.word2vec.Word2Vec`
with flags generated from :class:`~embedrec.models.word2vec.Word2VecConfig` (and ``--config``
TOML), saves the model and prints a JSON summary. ``eval`` scores any model directory or
word2vec-format file on analogy and word-similarity benchmarks.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, get_args

import click

from ..models.registry import load_embeddings
from ..models.word2vec import Word2Vec, Word2VecConfig
from ..vectors import AnalogyMethod, Embeddings, UnicodeErrors
from ._common import (
    State,
    build_config,
    check_out_dir,
    config_options,
    default_of,
    echo_json,
    read_config_file,
    w2v_file_options,
)

logger = logging.getLogger("embedrec")


@click.group()
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
    state: State,
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
    check_out_dir(out)
    logger.info("training Word2Vec with %s", cfg)
    model = Word2Vec(cfg).fit(list(corpus), progress=not state.quiet)
    model.save(out)
    logger.info("saved the model to %s", out)
    stats = model.epoch_stats_
    seconds = sum(s["seconds"] for s in stats)
    effective = sum(s["effective_words"] for s in stats)
    echo_json(
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
    default=default_of(Embeddings.evaluate_analogies, "restrict_vocab"),
    show_default=True,
    help="Only the most frequent keys take part (word2vec.c's compute-accuracy uses 30000).",
)
@click.option(
    "--method",
    type=click.Choice(get_args(AnalogyMethod)),
    default=default_of(Embeddings.evaluate_analogies, "method"),
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

    MODEL is a model directory (any class) or a word2vec-format file.
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
    echo_json(result)

"""``embedrec word2vec train|eval``: Word2Vec on text files, and its word benchmarks.

``train`` reads text files (one sentence per line; tokens are whitespace-separated and kept as
they are, or with ``--normalize`` lowercase runs of letters, :func:`embedrec.data.text.normalize`),
fits :class:`~embedrec.models.word2vec.Word2Vec` with flags generated from
:class:`~embedrec.models.word2vec.Word2VecConfig` (and ``--config`` TOML), saves the model and
prints a summary. ``eval`` scores any model directory or word2vec-format file on analogy and
word-similarity benchmarks. Both print JSON with ``--json``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, get_args

import click

from ..data.corpus import resolve_paths
from ..data.text import read_normalized
from ..models.registry import load_embeddings
from ..models.word2vec import Word2Vec, Word2VecConfig
from ..vectors import AnalogyMethod, Embeddings, UnicodeErrors
from ._common import (
    State,
    build_config,
    check_out_dir,
    config_options,
    default_of,
    echo_fields,
    echo_report,
    echo_table,
    json_option,
    loss_trend,
    percent,
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
@click.option(
    "--normalize",
    is_flag=True,
    help="Tokens are lowercase runs of letters (Unicode letters and marks; punctuation, "
    "digits and symbols separate them) instead of the default: whitespace-separated tokens "
    "kept as they are, case and punctuation included (docs/tokenisation.md).",
)
@click.option("--keep-case", is_flag=True, help="With --normalize: do not lowercase.")
@click.option(
    "--keep-digits", is_flag=True, help="With --normalize: digits are part of tokens (mp3, 1984)."
)
@config_options(Word2VecConfig)
@json_option
@click.pass_obj
def train(
    state: State,
    /,
    corpus: tuple[Path, ...],
    out: Path,
    config_file: Path | None,
    normalize: bool,
    keep_case: bool,
    keep_digits: bool,
    as_json: bool,
    **flags: Any,
) -> None:
    """Train Word2Vec on CORPUS: text files or directories of them, one sentence per line.

    Tokens are what lies between whitespace, as it is ("Paris," and "paris" are two words),
    unless --normalize is given. Prints a summary (vocabulary, loss and words/s per epoch);
    --json prints it as JSON.
    """
    if (keep_case or keep_digits) and not normalize:
        raise click.UsageError("--keep-case and --keep-digits shape --normalize; add --normalize")
    values = read_config_file(config_file, Word2VecConfig) if config_file is not None else {}
    given = {k: v for k, v in flags.items() if v is not None}
    values.update(given)
    cfg = build_config(Word2VecConfig, values, flags=given, config_file=config_file)
    check_out_dir(out)
    logger.info("training Word2Vec with %s", cfg)
    source: Any = list(corpus)
    if normalize:
        source = read_normalized(
            resolve_paths(source), lowercase=not keep_case, keep_digits=keep_digits
        )
    model = Word2Vec(cfg).fit(source, progress=not state.quiet)
    model.save(out)
    logger.info("saved the model to %s", out)
    stats = model.epoch_stats_
    seconds = sum(s["seconds"] for s in stats)
    effective = sum(s["effective_words"] for s in stats)
    epochs = [
        {
            "epoch": int(s["epoch"]) + 1,
            "loss": s["loss"],
            "words_per_sec": s["words_per_sec"],
            "effective_words": int(s["effective_words"]),
            "seconds": s["seconds"],
        }
        for s in stats
    ]
    payload = {
        "out": str(out),
        "vocab_size": len(model.embeddings_),
        "dim": model.embeddings_.dim,
        "loss": model.loss_history_,
        "words_per_sec": effective / seconds if seconds > 0 else None,
        "seconds": seconds,
        "epochs": epochs,
        "config": cfg.to_dict(),
    }
    tokens = "whitespace-separated, as they are"
    if normalize:
        case = "as cased" if keep_case else "lowercase"
        tokens = f"{case} runs of letters{' and digits' if keep_digits else ''} (--normalize)"

    def render() -> None:
        echo_fields(
            [
                ("saved", f"{out} (Word2Vec, {cfg.arch}, loss {cfg.loss})"),
                ("vocabulary", f"{len(model.embeddings_)} words, vectors of dim {cfg.dim}"),
                ("tokens", tokens),
                ("training", f"{len(stats)} epoch(s) in {seconds:.2f}s"),
                ("words/s", payload["words_per_sec"]),
                ("loss", loss_trend(model.loss_history_)),
            ]
        )
        rows: list[list[Any]] = [["epoch", "loss", "words/s", "words", "seconds"]]
        rows += [
            [e["epoch"], e["loss"], e["words_per_sec"], e["effective_words"], f"{e['seconds']:.2f}"]
            for e in epochs
        ]
        click.echo()
        echo_table(rows, ">>>>>", title="per epoch:")

    echo_report(payload, render, as_json=as_json)


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
@click.option(
    "--case-sensitive",
    is_flag=True,
    help="Match benchmark words to keys with their case. By default both are compared "
    "uppercased (gensim's rule), so a model trained with --normalize (lowercase keys) answers "
    "questions-words.txt as it is.",
)
@w2v_file_options
@json_option
def eval_(
    model: Path,
    analogies: Path | None,
    pairs: tuple[Path, ...],
    restrict_vocab: int,
    method: AnalogyMethod,
    case_sensitive: bool,
    unicode_errors: UnicodeErrors,
    no_header: bool,
    as_json: bool,
) -> None:
    """Evaluate MODEL on analogy and word-similarity benchmarks.

    MODEL is a model directory (any class) or a word2vec-format file. Prints the accuracy per
    analogy section (sections without an answerable question are left out), the share of
    questions with an out-of-vocabulary word, and the correlations per word-pair file; --json
    prints them as JSON.
    """
    if analogies is None and not pairs:
        raise click.UsageError("give --analogies FILE and/or --pairs FILE")
    emb = load_embeddings(model, unicode_errors=unicode_errors, no_header=no_header)
    result: dict[str, Any] = {"analogies": None, "pairs": {}}
    fold = not case_sensitive
    if analogies is not None:
        result["analogies"] = emb.evaluate_analogies(
            analogies, restrict_vocab=restrict_vocab, method=method, case_insensitive=fold
        )
    for path in pairs:
        result["pairs"][str(path)] = emb.evaluate_pairs(
            path, restrict_vocab=restrict_vocab, case_insensitive=fold
        )

    def render() -> None:
        an = result["analogies"]
        if an is not None:
            title = f"analogies ({analogies}; {method}, the {restrict_vocab} most frequent keys):"
            rows: list[list[Any]] = [["section", "accuracy"]]
            for sec in [*an["sections"], {"section": "total", **an["total"]}]:
                score = percent(sec["correct"], sec["correct"] + sec["incorrect"])
                if score is not None:  # a section without an answerable question says nothing
                    rows.append([sec["section"], score])
            if len(rows) > 1:
                echo_table(rows, "<>", title=title)
            else:
                echo_fields([("accuracy", "none: every question has an unknown word")], title=title)
            oov = percent(an["oov_questions"], an["questions"])
            echo_fields([("questions", an["questions"]), ("with unknown words", oov)])
        if result["pairs"]:
            if an is not None:
                click.echo()
            rows = [["file", "spearman", "pearson", "pairs", "unknown"]]
            for name, r in result["pairs"].items():
                unknown = percent(r["oov_pairs"], r["pairs"] + r["oov_pairs"])
                rows.append([name, r["spearman"], r["pearson"], r["pairs"], unknown])
            echo_table(rows, "<>>><", title="word pairs (cosine against human scores):")

    echo_report(result, render, as_json=as_json)

"""Word-embedding benchmarks: analogy accuracy and word-similarity correlation.

:func:`evaluate_analogies` (Google's ``questions-words.txt``) and :func:`evaluate_pairs`
(WordSim-353, SimLex-999) follow gensim's ``evaluate_word_analogies`` and
``evaluate_word_pairs``, so results compare with it. :class:`~embedrec.vectors.Embeddings`
offers both as methods; the answers are ranked by :meth:`Embeddings.analogy
<embedrec.vectors.Embeddings.analogy>`, i.e. by the one ranking path.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from ..formats import parse_float, read_text_lines
from ..index.topk import n_candidates

if TYPE_CHECKING:
    from ..vectors import AnalogyMethod, Embeddings

__all__ = ["evaluate_analogies", "evaluate_pairs"]

logger = logging.getLogger("embedrec")

# evaluate_analogies looks at this many ranked candidates, as gensim's evaluate_word_analogies.
_ANALOGY_TOPN = 5


def evaluate_analogies(
    emb: Embeddings,
    path: str | os.PathLike[str],
    *,
    restrict_vocab: int = 300_000,
    method: AnalogyMethod = "3cosadd",
    case_insensitive: bool = True,
) -> dict[str, Any]:
    """Accuracy on an analogy test set in Google's ``questions-words.txt`` format.

    Follows gensim's ``KeyedVectors.evaluate_word_analogies`` (with ``dummy4unknown=False``):

    * ``": name"`` lines start sections; other lines hold four words ``a b c d`` meaning
      a:b :: c:d. Lines without exactly four words are skipped (logged).
    * Only the first ``restrict_vocab`` keys are used. With ``case_insensitive`` keys and
      question words are uppercased and a word maps to its first (most frequent) key.
      Questions with any word outside that vocabulary are skipped and counted as OOV.
    * The answer ranks the restricted vocabulary (3CosAdd: cosine to ``b - a + c`` on unit
      vectors, or 3CosMul, see :meth:`analogy`) without the three question words; of the
      top 5, the first whose word differs from ``a``, ``b`` and ``c`` (after uppercasing)
      is the prediction. It is correct if it equals ``d``.

    Cosine is used whatever :attr:`metric` is. Answers are computed in batches of questions
    with matrix products.

    Parameters
    ----------
    path : path
        The questions file (UTF-8; may be gzipped).
    restrict_vocab : int, default 300000
    method : {"3cosadd", "3cosmul"}, default "3cosadd"
    case_insensitive : bool, default True

    Returns
    -------
    dict
        ``sections``: list of ``{"section", "correct", "incorrect", "accuracy"}`` in file
        order; ``total``: ``{"correct", "incorrect", "accuracy"}``; ``oov_questions``: number
        of skipped questions; ``oov_ratio``: their fraction of all questions (0..1; gensim
        logs it as a percentage); ``questions``: number of well-formed questions. The accuracy
        of a section without evaluated questions is 0.0, as in gensim.

    Raises
    ------
    ValueError
        A question before the first section header, no questions at all, or an unreadable
        file.
    """
    if method not in ("3cosadd", "3cosmul"):
        raise ValueError(f"method={method!r} is invalid; use '3cosadd' or '3cosmul'")
    path = Path(path)
    vocab, canon, n_cand = _canonical_vocab(emb, restrict_vocab, case_insensitive)
    names: list[str] = []
    q_section: list[int] = []
    q_words: list[list[int]] = []
    n_questions = oov = 0
    for line_no, line in enumerate(read_text_lines(path), start=1):
        if line.startswith(": "):
            names.append(line.lstrip(": ").strip())
            continue
        if not names:
            raise ValueError(
                f"{path}: line {line_no}: question before the first ': section' header"
            )
        words = line.split()
        if len(words) != 4:
            logger.info("Skipping invalid line #%d in %s", line_no, path)
            continue
        if case_insensitive:
            words = [w.upper() for w in words]
        n_questions += 1
        ids = [vocab.get(w, -1) for w in words]
        if min(ids) < 0:
            oov += 1
            continue
        q_section.append(len(names) - 1)
        q_words.append(ids)
    if n_questions == 0:
        raise ValueError(f"{path}: no analogy questions found (expected lines 'a b c d')")
    quads = np.array(q_words, dtype=np.int64).reshape(-1, 4)
    correct = _analogy_correct(emb, quads, canon, n_cand, method)
    sec = np.array(q_section, dtype=np.int64)
    n_right = np.bincount(sec[correct], minlength=len(names))
    n_all = np.bincount(sec, minlength=len(names))
    sections = [
        _accuracy_entry(int(r), int(t - r), section=name)
        for name, r, t in zip(names, n_right, n_all, strict=True)
    ]
    for s in sections:
        if s["correct"] + s["incorrect"] == 0:  # every question of it has an unknown word
            continue
        logger.info(
            "%s: %.1f%% (%d/%d)",
            s["section"],
            100 * s["accuracy"],
            s["correct"],
            s["correct"] + s["incorrect"],
        )
    total = _accuracy_entry(int(correct.sum()), int((~correct).sum()))
    logger.info(
        "Total accuracy: %.1f%% (%d/%d); questions with OOV words: %.1f%%",
        100 * total["accuracy"],
        total["correct"],
        total["correct"] + total["incorrect"],
        100 * oov / n_questions,
    )
    return {
        "sections": sections,
        "total": total,
        "oov_questions": oov,
        "oov_ratio": oov / n_questions,
        "questions": n_questions,
    }


def evaluate_pairs(
    emb: Embeddings,
    path: str | os.PathLike[str],
    *,
    delimiter: str = "\t",
    restrict_vocab: int = 300_000,
    case_insensitive: bool = True,
    score_column: int | None = None,
) -> dict[str, float | int]:
    """Correlation of cosine similarities with human judgements (WordSim-353, SimLex-999).

    Follows gensim's ``KeyedVectors.evaluate_word_pairs`` (``dummy4unknown=False``): pairs with
    a word outside the first ``restrict_vocab`` keys are skipped and counted as OOV; with
    ``case_insensitive`` words are uppercased and map to their first key.

    File layout: ``delimiter``-separated columns, fields stripped of surrounding whitespace;
    blank lines and lines starting with ``#`` are ignored. Word 1 and word 2 are the first two
    columns and the score is the third (``score_column=2``). The first non-comment line is a
    header when its score column is not a number; after a header, if the third column of the
    first row is not a number either (the official ``SimLex-999.txt`` has ``POS`` there), the
    first numeric column after the words is used and logged. Other lines that are too short
    or have a non-numeric score are skipped with a warning, as gensim skips them.
    Comma-separated files (the original ``wordsim353/*.csv``) need ``delimiter=","``.

    Parameters
    ----------
    path : path
        The pairs file (UTF-8; may be gzipped).
    delimiter : str, default tab
    restrict_vocab : int, default 300000
    case_insensitive : bool, default True
    score_column : int, optional
        0-based column of the human score; ``None`` detects it as described above.

    Returns
    -------
    dict
        ``pearson``, ``pearson_pvalue``, ``spearman``, ``spearman_pvalue`` (scipy.stats),
        ``pairs`` (pairs evaluated), ``oov_pairs`` (pairs skipped for OOV words) and
        ``oov_ratio`` (``oov_pairs / (pairs + oov_pairs)``, a fraction 0..1; gensim returns
        it as a percentage).

    Raises
    ------
    ValueError
        No pair could be evaluated (bad format, or all pairs OOV).
    """
    from scipy import stats  # scipy.stats is slow to import; only evaluation needs it

    path = Path(path)
    vocab, _, _ = _canonical_vocab(emb, restrict_vocab, case_insensitive)
    gold: list[float] = []
    pair_idx: list[tuple[int, int]] = []
    skipped: list[int] = []
    oov = 0
    col = score_column
    header: list[str] | None = None
    data_seen = False
    for line_no, line in enumerate(read_text_lines(path), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(delimiter)]
        if col is None and header is not None and not data_seen and len(fields) > 2:
            numeric = (j for j in range(2, len(fields)) if parse_float(fields[j]) is not None)
            col = next(numeric, 2)
            if col != 2:
                name = header[col] if col < len(header) else "?"
                logger.info("%s: using column %d (%r) as the score", path, col, name)
        use = 2 if col is None else col
        score = parse_float(fields[use]) if len(fields) > use else None
        if score is None and header is None and not data_seen:
            header = fields
            logger.info("%s: line %d is a header: %s", path, line_no, line.strip())
            continue
        data_seen = True
        if score is None:
            skipped.append(line_no)
            logger.info("Skipping invalid line #%d in %s", line_no, path)
            continue
        a, b = fields[0], fields[1]
        if case_insensitive:
            a, b = a.upper(), b.upper()
        if a not in vocab or b not in vocab:
            oov += 1
            logger.debug("Skipping line #%d with OOV words: %s", line_no, line.strip())
            continue
        gold.append(score)
        pair_idx.append((vocab[a], vocab[b]))
    if skipped:
        logger.warning(
            "%s: skipped %d malformed line(s) (e.g. line %d); check delimiter=%r",
            path,
            len(skipped),
            skipped[0],
            delimiter,
        )
    if not gold:
        raise ValueError(
            f"{path}: no similarity pair could be evaluated: {oov} pair(s) had words outside "
            f"the first {restrict_vocab} keys and {len(skipped)} line(s) were malformed "
            f"(check delimiter={delimiter!r})"
        )
    ij = np.array(pair_idx, dtype=np.int64)
    unit = emb.unit_vectors
    model = np.einsum(
        "ij,ij->i", unit[ij[:, 0]].astype(np.float64), unit[ij[:, 1]].astype(np.float64)
    )
    pearson = stats.pearsonr(gold, model)
    spearman = stats.spearmanr(gold, model)
    result: dict[str, float | int] = {
        "pearson": float(pearson[0]),
        "pearson_pvalue": float(pearson[1]),
        "spearman": float(spearman[0]),
        "spearman_pvalue": float(spearman[1]),
        "pairs": len(gold),
        "oov_pairs": oov,
        "oov_ratio": oov / (len(gold) + oov),
    }
    logger.info(
        "%s: Pearson %.4f, Spearman %.4f, %d pairs, OOV %.1f%%",
        path,
        result["pearson"],
        result["spearman"],
        len(gold),
        100 * result["oov_ratio"],
    )
    return result


def _canonical_vocab(
    emb: Embeddings, restrict_vocab: int, case_insensitive: bool
) -> tuple[dict[str, int], npt.NDArray[np.int64], int]:
    """gensim's ``ok_vocab``: word (uppercased if asked) -> index of its first occurrence
    among the first ``restrict_vocab`` keys; plus each candidate's canonical index."""
    n = n_candidates(restrict_vocab, len(emb))
    words = [str(key) for key in emb.keys[:n]]
    if case_insensitive:
        words = [w.upper() for w in words]
    vocab: dict[str, int] = {}
    for i, w in enumerate(words):
        vocab.setdefault(w, i)
    canon = np.fromiter((vocab[w] for w in words), dtype=np.int64, count=n)
    return vocab, canon, n


def _analogy_correct(
    emb: Embeddings,
    quads: npt.NDArray[np.int64],
    canon: npt.NDArray[np.int64],
    n_cand: int,
    method: AnalogyMethod,
) -> npt.NDArray[np.bool_]:
    ia, ib, ic, expected = quads.T
    keys = np.asarray(emb.keys, dtype=object)
    answers = emb.analogy(
        keys[ia].tolist(),
        keys[ib].tolist(),
        keys[ic].tolist(),
        k=_ANALOGY_TOPN,
        method=method,
        restrict_vocab=n_cand,
    )
    n_q, width = answers.keys.shape
    if width == 0:
        return np.zeros(len(quads), dtype=bool)
    top_idx = emb.index_of(answers.keys.reshape(-1)).reshape(n_q, width)
    # gensim walks its top 5 and stops at the first word that is not a question word after
    # case folding (a different-case variant of a, b or c is skipped); if all 5 are, the last
    # one stands as the (wrong) prediction.
    top_canon = canon[top_idx]
    ignored = (top_canon == ia[:, None]) | (top_canon == ib[:, None]) | (top_canon == ic[:, None])
    first_ok = np.where(ignored.all(axis=1), width - 1, np.argmax(~ignored, axis=1))
    predicted = top_canon[np.arange(len(quads)), first_ok]
    return cast(npt.NDArray[np.bool_], predicted == expected)


def _accuracy_entry(correct: int, incorrect: int, **extra: str) -> dict[str, Any]:
    total = correct + incorrect
    return {
        **extra,
        "correct": correct,
        "incorrect": incorrect,
        "accuracy": correct / total if total else 0.0,
    }

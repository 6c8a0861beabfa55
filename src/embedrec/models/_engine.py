"""The one SGNS training engine: what every skip-gram/CBOW-style model trains through.

This module owns the pieces that Word2Vec, Item2Vec, DeepWalk/Node2Vec and EGES share:

- memory and corpus checks before anything is allocated (:func:`check_table_memory`,
  :func:`check_trainable`);
- the sampling tables: subsampling thresholds, the unigram noise alias table, the Huffman
  tree and the tabulated sigmoid (:func:`keep_thresholds`, :func:`noise_alias`,
  :func:`build_tables`);
- weight initialisation (:func:`init_weights`) and the linear learning-rate schedule
  (:func:`linear_schedule`);
- the Hogwild epoch loop over shards of the corpus, with its progress bar, per-epoch
  statistics and callbacks (:func:`train_epochs`, :func:`run_shard_epochs`,
  :func:`epoch_recorder`);
- the word2vec driver on top of them (:func:`train_sgns`), configured by
  :class:`EngineSettings`.

Models translate their configuration into :class:`EngineSettings` and call these functions;
the numba kernels (:mod:`embedrec.kernels`) do the arithmetic.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ..data.corpus import Corpus
from ..kernels import SHARE_BATCH, SHARE_NONE, SHARE_SEQUENTIAL
from ..progress import Progress

logger = logging.getLogger("embedrec")

#: raw tokens per shard: the unit of work handed to a thread (sentences are never cut)
SHARD_TOKENS = 1 << 16
#: with several workers, each keeps a private copy of this many most contended output rows
PRIVATE_ROWS = 64

WindowUpdate = Literal["exact", "sequential", "batch"]
#: the kernel's ``share_mode`` of each ``window_update``
SHARE_MODES: dict[str, int] = {
    "exact": int(SHARE_NONE),
    "batch": int(SHARE_BATCH),
    "sequential": int(SHARE_SEQUENTIAL),
}


# ------------------------------------------------------------------------------ checks
def physical_memory() -> int | None:
    """Bytes of physical memory of this machine, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # e.g. Windows has no sysconf
        return None


def check_table_memory(tables: Sequence[tuple[str, int]], dim: int) -> None:
    """Refuse float32 tables of ``rows x dim`` that cannot fit in physical memory.

    Called once the vocabulary is known and before anything is allocated, so an oversized
    ``dim`` or vocabulary fails at once with the numbers instead of as a NumPy allocation
    error (or the OOM killer) later.

    Parameters
    ----------
    tables : sequence of (name, rows)
        The tables training allocates, e.g. ``[("input", n_keys), ("output", n_keys)]``.
    dim : int
        Columns of every table.

    Raises
    ------
    MemoryError
        The tables need more bytes than the machine has; the message gives both and the fix.
    """
    need = sum(rows for _, rows in tables) * dim * 4
    have = physical_memory()
    if have is None or need <= have:
        return
    rows = " + ".join(f"{rows:,} ({name})" for name, rows in tables)
    raise MemoryError(
        f"training needs {_size(need)} for its float32 tables ({rows} rows x dim={dim} x 4 "
        f"bytes), more than this machine's {_size(have)} of memory; lower dim (--dim) or shrink "
        "the vocabulary (raise min_count / --min-count, or set max_final_vocab)"
    )


def _size(n_bytes: int) -> str:
    """``1.44 TiB``, ``512.00 MiB``: the largest binary unit that keeps the number >= 1."""
    value, unit = float(n_bytes), "bytes"
    for next_unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    return f"{value:,.2f} {unit}" if unit != "bytes" else f"{n_bytes} bytes"


def check_trainable(enc: Corpus) -> None:
    """Refuse a corpus without a sentence of two or more tokens: it yields no training pair.

    Without this check such a corpus "trains" in no time, with no loss and vectors that are
    their random initialisation.
    """
    if enc.n_sentences and int(np.diff(enc.offsets).max()) >= 2:
        return
    raise ValueError(
        f"the corpus yields no training example: its {enc.n_sentences} sentence(s) (after "
        "min_count) all have fewer than two tokens, so no (center, context) pair exists; give "
        "sentences of two or more whitespace-separated tokens, one per line, or lower min_count"
    )


# ------------------------------------------------------------------------------ tables
def keep_thresholds(counts: npt.NDArray[np.int64], sample: float) -> npt.NDArray[np.uint64]:
    """Subsampling keep-probabilities as uint64 thresholds against 32 random bits.

    ``2**32`` means "always kept" (word2vec.c's ``sample``; see
    :func:`embedrec.kernels.sampling.keep_probabilities`).
    """
    from ..kernels.sampling import keep_probabilities

    p_keep = keep_probabilities(counts, sample)
    keep: npt.NDArray[np.uint64] = np.where(
        p_keep >= 1.0, 2.0**32, np.floor(p_keep * 2.0**32)
    ).astype(np.uint64)
    return keep


def noise_alias(
    counts: npt.NDArray[np.int64], ns_exponent: float
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int32]]:
    """The unigram noise distribution ``count ** ns_exponent`` as an alias table.

    A key that never occurs (count 0, e.g. an isolated graph node) is never drawn as noise,
    whatever the sign of ``ns_exponent``. Returns ``(prob_u32, alias)`` for
    :func:`embedrec.kernels.sampling.alias_draw`.
    """
    from ..kernels.sampling import alias_thresholds, build_alias

    seen = counts > 0
    weights = np.where(seen, counts.astype(np.float64), 0.0)
    with np.errstate(divide="ignore"):  # 0 ** negative: masked out just below
        weights = np.where(seen, weights ** float(ns_exponent), 0.0)
    prob, alias = build_alias(weights)
    return alias_thresholds(prob), alias


@dataclass
class SGNSTables:
    """Everything a training kernel reads besides the weights (see :func:`build_tables`)."""

    keep: npt.NDArray[np.uint64]
    neg_prob: npt.NDArray[np.uint64]
    neg_alias: npt.NDArray[np.int32]
    codes: npt.NDArray[np.uint8]
    points: npt.NDArray[np.int32]
    code_lens: npt.NDArray[np.int32]
    sig: npt.NDArray[np.float32]
    logsig: npt.NDArray[np.float32]

    def as_tuple(self) -> tuple[npt.NDArray[Any], ...]:
        """The kernels' ``tables`` argument: ``(keep_u32, neg_prob_u32, neg_alias, codes,
        points, code_lens, sig, logsig)``."""
        return (
            self.keep,
            self.neg_prob,
            self.neg_alias,
            self.codes,
            self.points,
            self.code_lens,
            self.sig,
            self.logsig,
        )


def build_tables(
    counts: npt.NDArray[np.int64],
    *,
    loss: Literal["neg", "hs"],
    sample: float,
    ns_exponent: float,
) -> SGNSTables:
    """Subsampling thresholds, the noise alias table (``loss="neg"``) or the Huffman tree
    (``loss="hs"``; empty for a single key), and the sigmoid tables, for ``counts`` (the
    key counts, most frequent first)."""
    from ..kernels.huffman import build_huffman
    from ..kernels.sgns import sigmoid_tables

    keep = keep_thresholds(counts, sample)
    n = int(counts.shape[0])
    if loss == "neg":
        neg_prob, alias = noise_alias(counts, ns_exponent)
        codes = np.zeros((n, 0), dtype=np.uint8)
        points = np.zeros((n, 0), dtype=np.int32)
        lens = np.zeros(n, dtype=np.int32)
    else:
        neg_prob = np.zeros(1, dtype=np.uint64)
        alias = np.zeros(1, dtype=np.int32)
        if n >= 2:
            codes, points, lens = build_huffman(counts)
        else:  # one key: nothing to predict
            codes = np.zeros((1, 0), dtype=np.uint8)
            points = np.zeros((1, 0), dtype=np.int32)
            lens = np.zeros(1, dtype=np.int32)
    sig, logsig = sigmoid_tables()
    return SGNSTables(keep, neg_prob, alias, codes, points, lens, sig, logsig)


@dataclass(frozen=True)
class SessionContext:
    """Airbnb's skip-gram extensions (Grbovic and Cheng, KDD 2018), in vocabulary rows.

    Parameters
    ----------
    sentence_global : (n_sentences,) int32 or None
        Each sentence's global context row (e.g. the item its session converted on), ``-1``
        for none: every center of the sentence also predicts it.
    key_group : (n_keys,) int32 or None
        Each key's group code (e.g. its category or market), ``-1`` for none.
    group_negative : int
        Negatives drawn per center from the center's group (with ``key_group``).
    """

    sentence_global: npt.NDArray[np.int32] | None = None
    key_group: npt.NDArray[np.int32] | None = None
    group_negative: int = 0

    def check(self, n_sentences: int, n_keys: int) -> None:
        """Refuse arrays that do not fit the corpus (``n_sentences``) and vocabulary."""
        for name, arr, n in (
            ("sentence_global", self.sentence_global, n_sentences),
            ("key_group", self.key_group, n_keys),
        ):
            if arr is None:
                continue
            if arr.shape != (n,):
                raise ValueError(f"{name} has shape {arr.shape}; expected ({n},)")
            if arr.size and arr.min() < -1:
                raise ValueError(f"{name} holds codes below -1 (-1 means none)")
        glob = self.sentence_global
        if glob is not None and glob.size and glob.max() >= n_keys:
            raise ValueError(f"sentence_global holds rows past the vocabulary of {n_keys} keys")
        if self.group_negative < 0:
            raise ValueError(f"group_negative={self.group_negative} is invalid; use >= 0")

    def kernel_arrays(
        self, counts: npt.NDArray[np.int64], ns_exponent: float
    ) -> tuple[npt.NDArray[Any], ...]:
        """``train_shard``'s ``session`` tuple: the group noise tables are
        ``count ** ns_exponent`` within each group, as the unigram noise is over all keys."""
        from ..kernels.sampling import alias_thresholds, build_segment_alias
        from ..kernels.train import no_session

        empty = no_session()
        glob = empty[0] if self.sentence_global is None else self.sentence_global
        if self.key_group is None or self.group_negative == 0:
            return (glob, *empty[1:])
        key_group = self.key_group
        grouped = np.flatnonzero(key_group >= 0)
        items = grouped[np.argsort(key_group[grouped], kind="stable")].astype(np.int32)
        n_groups = int(key_group.max()) + 1 if grouped.size else 0
        offsets = np.zeros(n_groups + 1, dtype=np.int64)
        np.cumsum(np.bincount(key_group[grouped], minlength=n_groups), out=offsets[1:])
        seen = counts[items] > 0
        with np.errstate(divide="ignore"):
            weights = np.where(seen, counts[items].astype(np.float64) ** float(ns_exponent), 0.0)
        prob, alias = build_segment_alias(weights, offsets)
        return glob, key_group, offsets, items, alias_thresholds(prob), alias


# ------------------------------------------------------------------------------ init
def init_weights(
    n_in: int, n_out: int, dim: int, seed: int, width: float = 1.0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Initial ``(n_in, dim)`` input and ``(n_out, dim)`` output tables (float32).

    word2vec.c: input vectors uniform in ``[-0.5, 0.5) * width / dim``, output vectors zero.
    ``width=1`` is word2vec.c's interval, ``width=2`` gensim 4's ``[-1, 1) / dim``. The input
    table is the first draw of ``numpy.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    w_in = rng.random((n_in, dim), dtype=np.float32)
    w_in -= np.float32(0.5)
    if width != 1.0:
        w_in *= np.float32(width)
    w_in /= np.float32(dim)
    return w_in, np.zeros((n_out, dim), dtype=np.float32)


def linear_schedule(
    start: float, end: float, tokens_per_epoch: float, epochs: int
) -> Callable[[int, int], float]:
    """``alpha_at(epoch, token)``: the learning rate falling linearly from ``start`` (first
    token of the first epoch) to ``end`` (after the last token of the last epoch)."""
    total = tokens_per_epoch * epochs
    span = start - end

    def alpha_at(epoch: int, token: int) -> float:
        return start - span * ((epoch * tokens_per_epoch + token) / total)

    return alpha_at


# ------------------------------------------------------------------------------ epochs
class HasHistory(Protocol):
    """A model that keeps per-epoch statistics (see :func:`epoch_recorder`)."""

    loss_history_: list[float]
    epoch_stats_: list[dict[str, float]]


EpochHook = Callable[[int, dict[str, float]], None]


def epoch_recorder(model: HasHistory, callbacks: Sequence[Callable[..., Any]]) -> EpochHook:
    """Reset ``model.loss_history_`` / ``model.epoch_stats_`` and return the ``on_epoch``
    hook that appends each epoch's stats to them, then calls ``cb(model, epoch, stats)``
    for every callback."""
    model.loss_history_ = []
    model.epoch_stats_ = []

    def on_epoch(epoch: int, stats: dict[str, float]) -> None:
        model.loss_history_.append(stats["loss"])
        model.epoch_stats_.append(stats)
        for cb in callbacks:
            cb(model, epoch, stats)

    return on_epoch


ShardJob = Callable[[int, int], tuple[float, int, int, int]]
#: ``train(a, b, alpha_begin, alpha_end, rng_state)`` trains sentences ``a..b`` once and
#: returns ``(loss_sum, examples, effective_tokens, raw_tokens)``
ShardTrainer = Callable[
    [int, int, float, float, npt.NDArray[np.uint64]], tuple[float, int, int, int]
]


def run_shard_epochs(
    job: ShardJob,
    *,
    n_shards: int,
    epochs: int,
    workers: int,
    total_tokens: int,
    unit: str,
    label: str,
    progress: bool,
    on_epoch: EpochHook,
) -> None:
    """Run ``job(epoch, shard)`` over every shard for every epoch, Hogwild on threads.

    ``job`` returns ``(loss_sum, examples, effective_tokens, raw_tokens)`` of one shard; the
    per-epoch ``stats`` (mean loss per example in float64, reset every epoch, token counts,
    seconds, tokens/s) go to ``on_epoch(epoch, stats)``. One progress bar spans all epochs;
    with ``progress`` an INFO line per epoch gives the rate and the loss.
    """
    bar = Progress(total_tokens, "training", unit, enabled=progress)
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            loss = 0.0
            examples = effective = raw = 0
            results = (
                pool.map(lambda i: job(epoch, i), range(n_shards))  # noqa: B023
                if pool is not None
                else (job(epoch, i) for i in range(n_shards))
            )
            for lo, ex, ef, rw in results:
                loss += lo
                examples += ex
                effective += ef
                raw += rw
                bar.update(rw, loss=loss / max(examples, 1))
            dt = time.perf_counter() - t0
            stats = {
                "epoch": float(epoch),
                "loss": loss / examples if examples else float("nan"),
                "loss_sum": loss,
                "examples": float(examples),
                "effective_words": float(effective),
                "raw_words": float(raw),
                "seconds": dt,
                "words_per_sec": effective / dt if dt > 0 else float("nan"),
            }
            if progress:
                logger.info(
                    "%sepoch %d/%d: %d effective %s in %.2fs, %.0f %s/s, loss %.5f",
                    f"{label} " if label else "",
                    epoch + 1,
                    epochs,
                    effective,
                    unit,
                    dt,
                    stats["words_per_sec"],
                    unit,
                    stats["loss"],
                )
            on_epoch(epoch, stats)
    finally:
        if pool is not None:
            pool.shutdown()
        bar.close()


def train_epochs(
    corpus: Corpus,
    bounds: npt.NDArray[np.int64],
    train: ShardTrainer,
    *,
    epochs: int,
    workers: int,
    start_alpha: float,
    min_alpha: float,
    seed: int,
    unit: str,
    label: str,
    progress: bool,
    on_epoch: EpochHook,
) -> None:
    """Train every shard ``bounds[i]:bounds[i + 1]`` of ``corpus`` for ``epochs`` epochs.

    Each call ``train(a, b, alpha_begin, alpha_end, rng_state)`` gets the learning rate at
    the shard's first and last raw token (:func:`linear_schedule` over all epochs) and its
    own random stream, seeded from ``(seed, epoch, shard)``, so one worker is
    bit-reproducible. See :func:`run_shard_epochs` for the loop, the stats and the hooks.
    """
    from ..kernels.rng import seed_state

    offsets = corpus.offsets
    alpha_at = linear_schedule(start_alpha, min_alpha, float(corpus.n_tokens), epochs)

    def job(epoch: int, i: int) -> tuple[float, int, int, int]:
        a, b = int(bounds[i]), int(bounds[i + 1])
        return train(
            a,
            b,
            alpha_at(epoch, int(offsets[a])),
            alpha_at(epoch, int(offsets[b])),
            seed_state(seed, epoch, i),
        )

    run_shard_epochs(
        job,
        n_shards=int(bounds.size - 1),
        epochs=epochs,
        workers=workers,
        total_tokens=corpus.n_tokens * epochs,
        unit=unit,
        label=label,
        progress=progress,
        on_epoch=on_epoch,
    )


# ------------------------------------------------------------------------------ word2vec
@dataclass(frozen=True, kw_only=True)
class EngineSettings:
    """What :func:`train_sgns` needs, resolved from a model's config.

    Parameters
    ----------
    arch : "skipgram" or "cbow"
    loss : "neg" or "hs"
    dim, window, shrink_windows, negative, ns_exponent, sample, epochs, seed, cbow_mean :
        as :class:`~embedrec.models.word2vec.Word2VecConfig`
    start_alpha, min_alpha : the learning rate at the first and after the last token
    workers : training threads (resolved: >= 1)
    window_update : how a skip-gram window's pairs use the center's output rows: "exact",
        "sequential" or "batch" (resolved, never None)
    """

    arch: Literal["skipgram", "cbow"]
    loss: Literal["neg", "hs"]
    dim: int
    window: int
    shrink_windows: bool
    negative: int
    ns_exponent: float
    sample: float
    start_alpha: float
    min_alpha: float
    epochs: int
    workers: int
    seed: int
    cbow_mean: bool
    window_update: WindowUpdate

    def output_rows(self, n_keys: int) -> int:
        """Rows of the output table: one per key (negative sampling) or per inner Huffman
        node (hierarchical softmax)."""
        return n_keys if self.loss == "neg" else max(n_keys - 1, 1)


def train_sgns(
    counts: npt.NDArray[np.int64],
    enc: Corpus,
    s: EngineSettings,
    *,
    basket: bool = False,
    init_width: float = 1.0,
    session: SessionContext | None = None,
    progress: bool,
    on_epoch: EpochHook,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Train word2vec on an encoded corpus; returns the ``(input, output)`` tables.

    Parameters
    ----------
    counts : (n_keys,) int64
        Key counts, most frequent first (the vocabulary's order; token ``i`` is key ``i``).
    enc : Corpus
        int32 tokens and int64 sentence offsets.
    s : EngineSettings
    basket : every sentence is an unordered set (Item2Vec's ``mode="set"``)
    init_width : initial input vectors in ``[-0.5, 0.5) * init_width / dim``
    session : Airbnb's global context and in-group negatives (skip-gram only); ``None``: off
    progress : progress bar and INFO log lines
    on_epoch : ``on_epoch(epoch, stats)`` after every epoch (see :func:`epoch_recorder`)

    Raises
    ------
    ValueError
        The corpus yields no (center, context) pair.
    MemoryError
        The tables cannot fit in memory (checked before allocating).
    """
    from ..kernels.train import no_session, shard_params, train_shard

    n = int(counts.shape[0])
    check_trainable(enc)
    n_rows = s.output_rows(n)
    check_table_memory([("input", n), ("output", n_rows)], s.dim)
    w_in, w_out = init_weights(n, n_rows, s.dim, s.seed, init_width)
    t = build_tables(counts, loss=s.loss, sample=s.sample, ns_exponent=s.ns_exponent)
    if enc.n_tokens == 0:
        raise ValueError("the encoded corpus has no tokens; nothing to train")
    bounds = enc.shards(SHARD_TOKENS)
    workers = min(s.workers, int(bounds.size - 1))
    # CBOW touches each output row once per center, not once per context word: it scales
    # without private copies (measured: they cost it a third of its speed)
    n_priv = min(PRIVATE_ROWS, n_rows) if workers > 1 and s.arch == "skipgram" else 0
    # hierarchical softmax: the inner nodes nearest the root have the highest rows;
    # negative sampling: the most frequent words have the lowest
    priv_lo = n_rows - n_priv if s.loss == "hs" else 0
    if n_priv:
        w_out = np.concatenate([w_out, np.zeros((workers * n_priv, s.dim), np.float32)])
    slots: queue.SimpleQueue[int] = queue.SimpleQueue()
    for k in range(workers):
        slots.put(n_rows + k * n_priv)
    share_mode = SHARE_MODES[s.window_update]
    corpus = (enc.tokens, enc.offsets)
    weights = (w_in, w_out)
    tables = t.as_tuple()
    if session is not None:
        session.check(enc.n_sentences, n)
        if s.arch != "skipgram" or s.loss != "neg":
            raise ValueError(
                "global context and in-group negatives are extensions of skip-gram with "
                "negative sampling; use arch='skipgram', loss='neg'"
            )
    session_arrays = (
        no_session() if session is None else session.kernel_arrays(counts, s.ns_exponent)
    )
    group_negative = 0 if session is None or session.key_group is None else session.group_negative

    def train(
        a: int, b: int, alpha_begin: float, alpha_end: float, state: npt.NDArray[np.uint64]
    ) -> tuple[float, int, int, int]:
        base = slots.get()  # a private block no other running shard uses
        try:
            params = shard_params(
                s_begin=a,
                s_end=b,
                cbow=s.arch == "cbow",
                cbow_mean=s.cbow_mean,
                window=s.window,
                shrink_windows=s.shrink_windows,
                basket=basket,
                use_hs=s.loss == "hs",
                negative=s.negative,
                share_mode=share_mode,
                priv_lo=priv_lo,
                priv_hi=priv_lo + n_priv,
                priv_base=base,
                group_negative=group_negative,
            )
            alphas = np.array([alpha_begin, alpha_end], dtype=np.float64)
            res = train_shard(corpus, weights, tables, params, alphas, state, session_arrays)
        finally:
            slots.put(base)
        return float(res[0]), int(res[1]), int(res[2]), int(res[3])

    train_epochs(
        enc,
        bounds,
        train,
        epochs=s.epochs,
        workers=workers,
        start_alpha=s.start_alpha,
        min_alpha=s.min_alpha,
        seed=s.seed,
        unit="words",
        label="",
        progress=progress,
        on_epoch=on_epoch,
    )
    return w_in, w_out[:n_rows]  # drop the private blocks

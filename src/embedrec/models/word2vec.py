"""Word2Vec: skip-gram and CBOW with negative sampling or hierarchical softmax.

Mikolov et al. 2013 ("Efficient Estimation of Word Representations in Vector Space";
"Distributed Representations of Words and Phrases and their Compositionality"), trained
with Hogwild threads over numba kernels and, by default, the shared-negative mini-batches of
Ji et al. 2016 ("Parallelizing Word2Vec in Shared and Distributed Memory").
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import queue
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from ..artifacts import load_consistent
from ..data.corpus import Corpus, build_corpus
from ..data.vocab import Vocab
from ..kernels import SHARE_BATCH, SHARE_NONE, SHARE_SEQUENTIAL
from ..progress import Progress
from ..vectors import Embeddings
from .base import EmbeddingModel, read_model_dir, write_model_dir

logger = logging.getLogger("embedrec")

Arch = Literal["skipgram", "cbow"]
Loss = Literal["neg", "hs"]
WindowUpdate = Literal["batch", "sequential"]
#: raw tokens per shard: the unit of work handed to a thread (sentences are never cut)
SHARD_TOKENS = 1 << 16
#: with several workers, each keeps a private copy of this many most contended output rows
PRIVATE_ROWS = 64
#: largest ``dim`` a config accepts: 64 times the 1,024 dimensions of the widest published
#: word2vec-style embeddings, so only a typo (an extra zero or three) is refused
MAX_DIM = 1 << 16
#: seeds are mixed as unsigned 64-bit integers and given to NumPy, which refuses negatives
MAX_SEED = 2**63 - 1


@dataclass(frozen=True, kw_only=True)
class Word2VecConfig:
    """Hyper-parameters of :class:`Word2Vec` (names follow word2vec.c and gensim).

    Parameters
    ----------
    arch : "skipgram" or "cbow"
    loss : "neg" (negative sampling) or "hs" (hierarchical softmax)
    dim : vector size, 1..65536 (``MAX_DIM``); training also refuses tables larger than
        the machine's memory before allocating them
    window : maximum distance between center and context word
    shrink_windows : draw each window size uniformly in ``1..window`` (word2vec.c)
    negative : noise words per positive example (``loss="neg"``)
    ns_exponent : noise distribution ``count ** ns_exponent``; 0 is uniform, negative
        values favour rare words
    sample : subsampling threshold (0 disables)
    min_count, max_vocab_size, max_final_vocab : vocabulary limits
    alpha, min_alpha : learning rate, decaying linearly over all epochs from ``alpha`` to
        ``min_alpha``; ``alpha=None`` (default) is word2vec.c's choice, 0.025 for skip-gram and
        0.05 for CBOW (CBOW at 0.025, gensim's default, loses about 5 analogy points on the
        Wikipedia benchmark; benchmarks/README.md)
    epochs : passes over the corpus
    workers : training threads (``None``: all cores)
    seed : seeds initialisation and every shard's random stream (0 <= seed < 2**63)
    cbow_mean : CBOW uses the mean (True) or the sum (False) of context vectors
    shared_negatives : skip-gram shares the center's output rows (its negatives or Huffman
        path) across the whole context window, updating them as one mini-batch (Ji et al.
        2016); ``False`` runs the exact per-pair word2vec.c algorithm. ``None`` (default)
        shares for negative sampling and runs hierarchical softmax exactly: sharing the
        Huffman path cost about 1.5 analogy points on the Wikipedia benchmark, while exact
        HS is still about 2x gensim's speed (benchmarks/README.md).
    window_update : with shared output rows, "batch" (default) updates the window's pairs as
        one mini-batch (fastest); "sequential" updates them pair after pair as word2vec.c
        does, so each pair sees the previous one's update, keeping the one shared draw (on
        BlogCatalog DeepWalk it recovered most of the batch mode's Macro-F1 loss at about
        1.2x its time; benchmarks/README.md)
    """

    arch: Arch = "skipgram"
    loss: Loss = "neg"
    dim: int = 100
    window: int = 5
    shrink_windows: bool = True
    negative: int = 5
    ns_exponent: float = 0.75
    sample: float = 1e-3
    min_count: int = 5
    max_vocab_size: int | None = None
    max_final_vocab: int | None = None
    alpha: float | None = None
    min_alpha: float = 0.0001
    epochs: int = 5
    workers: int | None = None
    seed: int = 1
    cbow_mean: bool = True
    shared_negatives: bool | None = None
    window_update: WindowUpdate = "batch"

    def __post_init__(self) -> None:
        def bad(field: str, allowed: str) -> ValueError:
            return ValueError(f"{field}={getattr(self, field)!r} is invalid; use {allowed}")

        if self.arch not in get_args(Arch):
            raise bad("arch", "'skipgram' or 'cbow'")
        if self.window_update not in get_args(WindowUpdate):
            raise bad(
                "window_update",
                "'batch' (one mini-batch per window) or 'sequential' (pair after pair)",
            )
        if self.loss not in get_args(Loss):
            raise bad("loss", "'neg' (negative sampling) or 'hs' (hierarchical softmax)")
        for name in ("dim", "window", "epochs", "min_count"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(name, f"an integer {name}>=1")
        if self.dim > MAX_DIM:
            raise bad("dim", f"an integer 1 <= dim <= {MAX_DIM} (50-300 is usual)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise bad("seed", f"an integer 0 <= seed <= {MAX_SEED}")
        if not 0 <= self.seed <= MAX_SEED:
            raise bad("seed", f"an integer 0 <= seed <= {MAX_SEED}")
        if (
            isinstance(self.negative, bool)
            or not isinstance(self.negative, int)
            or self.negative < 0
        ):
            raise bad("negative", "an integer negative>=0")
        if self.loss == "neg" and self.negative == 0:
            raise ValueError(
                "negative=0 with loss='neg' trains nothing; use negative>=1 "
                "(5-20 is usual) or loss='hs'"
            )
        if not math.isfinite(self.ns_exponent):
            raise bad("ns_exponent", "a finite real number (0.75 is usual)")
        if not (self.sample >= 0 and math.isfinite(self.sample)):
            raise bad("sample", "sample>=0 (1e-3..1e-5 is usual; 0 disables)")
        if self.alpha is not None and not (self.alpha > 0 and math.isfinite(self.alpha)):
            raise bad("alpha", "alpha>0 (0.025 is usual), or None for the default")
        if not (0 <= self.min_alpha <= self.start_alpha):
            raise bad("min_alpha", f"0 <= min_alpha <= alpha={self.start_alpha}")
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1
        ):
            raise bad("workers", "an integer workers>=1, or None for all cores")
        for name in ("max_vocab_size", "max_final_vocab"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise bad(name, f"None or an integer {name}>=1")

    @property
    def start_alpha(self) -> float:
        """The initial learning rate: ``alpha``, or 0.025 (skip-gram) / 0.05 (CBOW) if None."""
        if self.alpha is not None:
            return float(self.alpha)
        return 0.05 if self.arch == "cbow" else 0.025

    @property
    def window_batches(self) -> bool:
        """Whether skip-gram shares output rows across the window (``shared_negatives``)."""
        if self.shared_negatives is None:
            return self.loss == "neg"
        return self.shared_negatives

    @property
    def share_mode(self) -> int:
        """The kernel's ``share_mode``: exact per-pair, window mini-batch or window-sequential."""
        if not self.window_batches:
            return int(SHARE_NONE)
        return int(SHARE_SEQUENTIAL if self.window_update == "sequential" else SHARE_BATCH)

    @property
    def n_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word2VecConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown Word2VecConfig fields {unknown}; allowed: {sorted(names)}")
        return cls(**d)


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


EpochCallback = Callable[["Word2Vec", int, dict[str, float]], None]
CorpusInput = (
    str
    | os.PathLike[str]
    | Iterable[str | os.PathLike[str]]
    | Iterable[Iterable[Hashable]]
    | tuple[Vocab, Corpus]
)


@dataclass
class _Tables:
    keep: npt.NDArray[np.uint64]
    neg_prob: npt.NDArray[np.uint64]
    neg_alias: npt.NDArray[np.int32]
    codes: npt.NDArray[np.uint8]
    points: npt.NDArray[np.int32]
    code_lens: npt.NDArray[np.int32]
    sig: npt.NDArray[np.float32]
    logsig: npt.NDArray[np.float32]


class Word2Vec(EmbeddingModel):
    """Skip-gram / CBOW word embeddings.

    Examples
    --------
    >>> from embedrec import Word2Vec, Word2VecConfig
    >>> sentences = [["a", "b", "c"], ["b", "c", "d"]] * 50
    >>> model = Word2Vec(Word2VecConfig(dim=8, min_count=1, epochs=2, workers=1)).fit(
    ...     sentences, progress=False)
    >>> model.embeddings_.vectors.shape
    (4, 8)
    """

    #: width of the initial input vectors, in units of word2vec.c's ``1 / dim`` interval
    _init_width: float = 1.0

    def __init__(self, config: Word2VecConfig | None = None) -> None:
        self.config = config if config is not None else Word2VecConfig()
        self.vocab_: Vocab | None = None
        self.embeddings_: Embeddings  # set by fit / load
        self.output_weights_: npt.NDArray[np.float32] | None = None
        self.loss_history_: list[float] = []
        self.epoch_stats_: list[dict[str, float]] = []

    # ------------------------------------------------------------------ training
    def fit(
        self,
        corpus: CorpusInput,
        *,
        progress: bool = True,
        callbacks: Sequence[EpochCallback] = (),
    ) -> Word2Vec:
        """Build the vocabulary from ``corpus`` and train.

        Parameters
        ----------
        corpus
            A text file / directory / list of files (one sentence per line), an iterable of
            token sequences (``str`` or ``int`` tokens), or a prebuilt ``(Vocab, Corpus)``.
        progress
            Show a progress bar (stderr) and INFO log lines with words/s and loss.
        callbacks
            Called as ``cb(model, epoch, stats)`` after every epoch; ``stats`` holds
            ``loss`` (mean per training example), ``effective_words``, ``raw_words``,
            ``seconds`` and ``words_per_sec``.

        Returns
        -------
        self
        """
        cfg = self.config
        if isinstance(corpus, tuple) and len(corpus) == 2 and isinstance(corpus[1], Corpus):
            vocab, enc = corpus
        else:
            vocab, enc = build_corpus(
                corpus,
                min_count=cfg.min_count,
                max_vocab_size=cfg.max_vocab_size,
                max_final_vocab=cfg.max_final_vocab,
                progress=progress,
            )
        return self._fit_encoded(vocab, enc, progress=progress, callbacks=callbacks)

    def _fit_encoded(
        self,
        vocab: Vocab,
        enc: Corpus,
        *,
        progress: bool,
        callbacks: Sequence[EpochCallback],
        basket: bool = False,
    ) -> Word2Vec:
        """Train on an encoded corpus; ``basket`` treats every sentence as an unordered set."""
        self.vocab_ = vocab
        check_trainable(enc)
        n_out = len(vocab) if self.config.loss == "neg" else max(len(vocab) - 1, 1)
        check_table_memory([("input", len(vocab)), ("output", n_out)], self.config.dim)
        w_in, w_out = self._init_weights(len(vocab))
        tables = self._tables(vocab)
        self.loss_history_ = []
        self.epoch_stats_ = []
        w_out = self._train(
            enc, w_in, w_out, tables, progress=progress, callbacks=callbacks, basket=basket
        )
        self.output_weights_ = w_out
        self.embeddings_ = Embeddings(vocab.keys, w_in, metric="cosine")
        return self

    def _init_weights(self, n: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        # word2vec.c: input vectors uniform in [-0.5, 0.5) / dim, output vectors zero;
        # ``_init_width`` widens the interval (2.0 = gensim 4's [-1, 1) / dim)
        w_in = rng.random((n, cfg.dim), dtype=np.float32)
        w_in -= np.float32(0.5)
        if self._init_width != 1.0:
            w_in *= np.float32(self._init_width)
        w_in /= np.float32(cfg.dim)
        n_out = n if cfg.loss == "neg" else max(n - 1, 1)
        return w_in, np.zeros((n_out, cfg.dim), dtype=np.float32)

    def _tables(self, vocab: Vocab) -> _Tables:
        from ..kernels.huffman import build_huffman
        from ..kernels.sampling import alias_thresholds, build_alias, keep_probabilities
        from ..kernels.sgns import sigmoid_tables

        cfg = self.config
        p_keep = keep_probabilities(vocab.counts, cfg.sample)
        keep = np.where(p_keep >= 1.0, 2.0**32, np.floor(p_keep * 2.0**32)).astype(np.uint64)
        n = len(vocab)
        if cfg.loss == "neg":
            weights = vocab.counts.astype(np.float64) ** cfg.ns_exponent
            prob, alias = build_alias(weights)
            neg_prob = alias_thresholds(prob)
            codes = np.zeros((n, 0), dtype=np.uint8)
            points = np.zeros((n, 0), dtype=np.int32)
            lens = np.zeros(n, dtype=np.int32)
        else:
            neg_prob = np.zeros(1, dtype=np.uint64)
            alias = np.zeros(1, dtype=np.int32)
            if n >= 2:
                codes, points, lens = build_huffman(vocab.counts)
            else:  # one word: nothing to predict
                codes = np.zeros((1, 0), dtype=np.uint8)
                points = np.zeros((1, 0), dtype=np.int32)
                lens = np.zeros(1, dtype=np.int32)
        sig, logsig = sigmoid_tables()
        return _Tables(keep, neg_prob, alias, codes, points, lens, sig, logsig)

    def _train(
        self,
        enc: Corpus,
        w_in: npt.NDArray[np.float32],
        w_out: npt.NDArray[np.float32],
        t: _Tables,
        *,
        progress: bool,
        callbacks: Sequence[EpochCallback],
        basket: bool = False,
    ) -> npt.NDArray[np.float32]:
        from ..kernels.rng import seed_state
        from ..kernels.train import train_shard

        cfg = self.config
        if enc.n_tokens == 0:
            raise ValueError("the encoded corpus has no tokens; nothing to train")
        bounds = enc.shards(SHARD_TOKENS)
        n_shards = bounds.size - 1
        offsets = enc.offsets
        per_epoch = float(enc.n_tokens)
        total = per_epoch * cfg.epochs
        span = cfg.start_alpha - cfg.min_alpha

        def alpha_at(epoch: int, token: int) -> float:
            return cfg.start_alpha - span * ((epoch * per_epoch + token) / total)

        def job(epoch: int, i: int) -> tuple[float, int, int, int]:
            a, b = int(bounds[i]), int(bounds[i + 1])
            base = slots.get()  # a private block no other running shard uses
            try:
                return run(epoch, i, a, b, base)
            finally:
                slots.put(base)

        def run(epoch: int, i: int, a: int, b: int, base: int) -> tuple[float, int, int, int]:
            res = train_shard(
                enc.tokens,
                offsets,
                a,
                b,
                w_in,
                w_out,
                t.keep,
                cfg.arch == "cbow",
                cfg.cbow_mean,
                cfg.window,
                cfg.shrink_windows,
                basket,
                cfg.loss == "hs",
                cfg.negative,
                t.neg_prob,
                t.neg_alias,
                t.codes,
                t.points,
                t.code_lens,
                cfg.share_mode,
                priv_lo,
                priv_lo + n_priv,
                base,
                alpha_at(epoch, int(offsets[a])),
                alpha_at(epoch, int(offsets[b])),
                t.sig,
                t.logsig,
                seed_state(cfg.seed, epoch, i),
            )
            return float(res[0]), int(res[1]), int(res[2]), int(res[3])

        workers = min(cfg.n_workers, n_shards)
        n_rows = w_out.shape[0]
        # CBOW touches each output row once per center, not once per context word: it scales
        # without private copies (measured: they cost it a third of its speed)
        n_priv = min(PRIVATE_ROWS, n_rows) if workers > 1 and cfg.arch == "skipgram" else 0
        # hierarchical softmax: the inner nodes nearest the root have the highest rows;
        # negative sampling: the most frequent words have the lowest
        priv_lo = n_rows - n_priv if cfg.loss == "hs" else 0
        if n_priv:
            w_out = np.concatenate([w_out, np.zeros((workers * n_priv, cfg.dim), np.float32)])
        slots: queue.SimpleQueue[int] = queue.SimpleQueue()
        for k in range(workers):
            slots.put(n_rows + k * n_priv)
        run_shard_epochs(
            job,
            n_shards=n_shards,
            epochs=cfg.epochs,
            workers=workers,
            total_tokens=enc.n_tokens * cfg.epochs,
            unit="words",
            label="",
            progress=progress,
            on_epoch=lambda epoch, stats: self._end_epoch(epoch, stats, callbacks),
        )
        return w_out[:n_rows]  # drop the private blocks

    def _end_epoch(
        self, epoch: int, stats: dict[str, float], callbacks: Sequence[EpochCallback]
    ) -> None:
        self.loss_history_.append(stats["loss"])
        self.epoch_stats_.append(stats)
        for cb in callbacks:
            cb(self, epoch, stats)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as a directory (manifest.json, vectors.npy, keys.json, counts.npy).

        The write publishes a new generation (see :mod:`embedrec.artifacts`): an interrupted
        save leaves the previous save intact, and a concurrent load reads one whole save.
        """
        emb = self._fitted()
        assert self.vocab_ is not None
        write_model_dir(
            path,
            "Word2Vec",
            config=self.config,
            embeddings=emb,
            counts=self.vocab_.counts,
            loss_history=self.loss_history_,
            epoch_stats=self.epoch_stats_,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Word2Vec:
        """Load a directory written by :meth:`save`; raises ``ValueError`` if it is corrupt."""
        d = load_consistent(path, lambda p: read_model_dir(p, "Word2Vec", Word2VecConfig))
        model = cls(d.config)
        model.vocab_ = d.vocab
        model.embeddings_ = d.embeddings
        model.loss_history_ = list(d.manifest.get("loss_history", []))
        model.epoch_stats_ = list(d.manifest.get("epoch_stats", []))
        return model


ShardJob = Callable[[int, int], tuple[float, int, int, int]]


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
    on_epoch: Callable[[int, dict[str, float]], None],
) -> None:
    """Run ``job(epoch, shard)`` over every shard for every epoch, Hogwild on threads.

    ``job`` returns ``(loss_sum, examples, effective_tokens, raw_tokens)`` of one shard; the
    per-epoch ``stats`` (mean loss per example in float64, reset every epoch, token counts,
    seconds, tokens/s) go to ``on_epoch(epoch, stats)``. One progress bar spans all epochs;
    with ``progress`` an INFO line per epoch gives the rate and the loss. The Word2Vec engine
    and EGES share this loop.
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


def warmup() -> float:
    """Compile (or load from cache) every training kernel; returns the seconds it took."""
    t0 = time.perf_counter()
    sentences = [["a", "b", "c", "d"], ["b", "c", "d", "a"]] * 4
    for arch in get_args(Arch):
        for loss in get_args(Loss):
            for shared in (True, False):
                cfg = Word2VecConfig(
                    arch=arch,
                    loss=loss,
                    dim=4,
                    min_count=1,
                    epochs=1,
                    workers=1,
                    shared_negatives=shared,
                )
                Word2Vec(cfg).fit(sentences, progress=False)
    # graph walks (every sampler) and EGES
    from ..data.graph import Graph
    from .eges import EGES, EGESConfig
    from .walks import DeepWalk, DeepWalkConfig, Node2Vec, Node2VecConfig

    graph = Graph.from_edges([0, 1, 2, 3], [1, 2, 3, 0], weights=[1.0, 2.0, 1.0, 2.0])
    for weighted in (True, False):
        for shared in (True, False):
            DeepWalk(
                DeepWalkConfig(
                    dim=4,
                    walks_per_node=1,
                    walk_length=4,
                    window=2,
                    workers=1,
                    weighted=weighted,
                    shared_negatives=shared,
                )
            ).fit(graph, progress=False)
        for sampler in ("alias", "otf"):
            n2v = Node2VecConfig(
                p=0.5,
                q=2.0,
                sampler=sampler,
                dim=4,
                walks_per_node=1,
                walk_length=4,
                window=2,
                workers=1,
                weighted=weighted,
            )
            Node2Vec(n2v).fit(graph, progress=False)
    for mode in ("eges", "ges"):
        eges = EGESConfig(mode=mode, dim=4, walks_per_node=1, walk_length=4, window=2, workers=1)
        EGES(eges).fit(graph, {"c": ["x", "y", "x", "y"]}, progress=False)
    return time.perf_counter() - t0

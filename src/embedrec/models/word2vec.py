"""Word2Vec: skip-gram and CBOW with negative sampling or hierarchical softmax.

Mikolov et al. 2013 ("Efficient Estimation of Word Representations in Vector Space";
"Distributed Representations of Words and Phrases and their Compositionality"), trained
with Hogwild threads over numba kernels and, by default, the shared-negative mini-batches of
Ji et al. 2016 ("Parallelizing Word2Vec in Shared and Distributed Memory").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import InitVar, dataclass
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from ..artifacts import load_consistent
from ..data.corpus import Corpus, build_corpus
from ..data.vocab import Vocab
from ..vectors import Embeddings
from ._engine import (
    PRIVATE_ROWS,
    SHARD_TOKENS,
    EngineSettings,
    WindowUpdate,
    check_table_memory,
    check_trainable,
    epoch_recorder,
    physical_memory,
    run_shard_epochs,
    train_sgns,
)
from .base import EmbeddingModel, read_model_dir, write_model_dir
from .config import (
    ConfigDict,
    check_choice,
    check_float,
    check_int,
    invalid,
    shared_negatives_shim,
    upgrade_window_update,
)

logger = logging.getLogger("embedrec")

# moved to the engine (:mod:`._engine`); re-exported here for existing imports
__all__ = [
    "MAX_DIM",
    "MAX_SEED",
    "PRIVATE_ROWS",
    "SHARD_TOKENS",
    "UPDATES",
    "Word2Vec",
    "Word2VecConfig",
    "check_table_memory",
    "check_trainable",
    "physical_memory",
    "run_shard_epochs",
]

Arch = Literal["skipgram", "cbow"]
Loss = Literal["neg", "hs"]
#: the accepted ``window_update`` values, for messages
UPDATES = (
    "'batch' (one mini-batch per window), 'sequential' (pair after pair, one shared draw) or "
    "'exact' (a draw per pair, word2vec.c)"
)
#: largest ``dim`` a config accepts: 64 times the 1,024 dimensions of the widest published
#: word2vec-style embeddings, so only a typo (an extra zero or three) is refused
MAX_DIM = 1 << 16
#: seeds are mixed as unsigned 64-bit integers and given to NumPy, which refuses negatives
MAX_SEED = 2**63 - 1


@dataclass(frozen=True, kw_only=True)
class Word2VecConfig(ConfigDict):
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
    min_count : minimum count: rarer words are dropped from the vocabulary
    max_vocab_size : most distinct words held while counting; past it the rarest are
        forgotten as in word2vec.c, to bound memory (None: no bound)
    max_final_vocab : most words kept in the vocabulary: ``min_count`` is raised until at
        most this many remain, as in gensim (None: no limit)
    alpha : initial learning rate, at the first token; it decays linearly over all epochs to
        ``min_alpha``. None (default) is word2vec.c's choice, 0.025 for skip-gram and 0.05 for
        CBOW (CBOW at 0.025, gensim's default, loses about 5 analogy points on the Wikipedia
        benchmark; benchmarks/README.md)
    min_alpha : final learning rate, reached at the last token of the last epoch
    epochs : passes over the corpus
    workers : training threads (``None``: all cores)
    seed : seeds initialisation and every shard's random stream (0 <= seed < 2**63)
    cbow_mean : CBOW uses the mean (True) or the sum (False) of context vectors
    window_update : how a skip-gram window's pairs use the center's output rows (its noise
        draws with ``loss="neg"``, its Huffman path with ``loss="hs"``):

        - "batch": one draw per center, the window's pairs updated as one mini-batch (Ji et
          al. 2016; fastest);
        - "sequential": one draw per center, the pairs updated one after another as
          word2vec.c does, so each pair sees the previous one's update (closer to the exact
          mode's quality than "batch", at a little more time; benchmarks/README.md);
        - "exact": a fresh draw for every pair, updated pair after pair: the per-pair
          word2vec.c / gensim algorithm;
        - ``None`` (default): "batch" for negative sampling, "exact" for hierarchical
          softmax (sharing the Huffman path cost about 1.5 analogy points on the Wikipedia
          benchmark, while exact HS is still about 2x gensim's speed; benchmarks/README.md).

        CBOW makes one update per center, always exact: it takes ``None`` or "exact". (This
        one field replaces the older ``shared_negatives``: ``False`` is "exact"; old saves
        are read as before.)
    shared_negatives : deprecated, use ``window_update`` ("exact" for ``False``); accepted
        by the constructor with a ``DeprecationWarning``
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
    window_update: WindowUpdate | None = None
    shared_negatives: InitVar[bool | None] = None

    def __post_init__(self, shared_negatives: bool | None) -> None:
        check_choice("arch", self.arch, get_args(Arch), "'skipgram' or 'cbow'")
        if shared_negatives is not None:
            object.__setattr__(
                self,
                "window_update",
                shared_negatives_shim(shared_negatives, self.window_update),
            )
        if self.window_update is not None:
            check_choice("window_update", self.window_update, get_args(WindowUpdate), UPDATES)
        check_choice(
            "loss",
            self.loss,
            get_args(Loss),
            "'neg' (negative sampling) or 'hs' (hierarchical softmax)",
        )
        for name in ("dim", "window", "epochs", "min_count"):
            check_int(name, getattr(self, name), 1)
        check_int(
            "dim",
            self.dim,
            1,
            MAX_DIM,
            allowed=f"an integer 1 <= dim <= {MAX_DIM} (50-300 is usual)",
        )
        check_int("seed", self.seed, 0, MAX_SEED)
        check_int("negative", self.negative, 0)
        if self.loss == "neg" and self.negative == 0:
            raise ValueError(
                "negative=0 with loss='neg' trains nothing; use negative>=1 "
                "(5-20 is usual) or loss='hs'"
            )
        check_float("ns_exponent", self.ns_exponent, allowed="a finite real number (0.75 is usual)")
        check_float(
            "sample", self.sample, ge=0, allowed="sample>=0 (1e-3..1e-5 is usual; 0 disables)"
        )
        if self.alpha is not None:
            check_float(
                "alpha",
                self.alpha,
                gt=0,
                allowed="alpha>0 (0.025 is usual), or None for the default",
            )
        if not (0 <= self.min_alpha <= self.start_alpha):
            raise invalid(
                "min_alpha", self.min_alpha, f"0 <= min_alpha <= alpha={self.start_alpha}"
            )
        if self.workers is not None:
            check_int(
                "workers", self.workers, 1, allowed="an integer workers>=1, or None for all cores"
            )
        for name in ("max_vocab_size", "max_final_vocab"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1, allowed=f"None or an integer {name}>=1")
        if self.arch == "cbow" and self.window_update not in (None, "exact"):
            raise invalid(
                "window_update",
                self.window_update,
                "None or 'exact' with arch='cbow' (CBOW makes one update per center word, as "
                "word2vec.c does: there are no window pairs to share draws across)",
            )

    @property
    def start_alpha(self) -> float:
        """The initial learning rate: ``alpha``, or 0.025 (skip-gram) / 0.05 (CBOW) if None."""
        if self.alpha is not None:
            return float(self.alpha)
        return 0.05 if self.arch == "cbow" else 0.025

    @property
    def n_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    def engine_settings(self) -> EngineSettings:
        """This configuration as the training engine's settings (modes resolved)."""
        update = self.window_update or ("batch" if self.loss == "neg" else "exact")
        return EngineSettings(
            arch=self.arch,
            loss=self.loss,
            dim=self.dim,
            window=self.window,
            shrink_windows=self.shrink_windows,
            negative=self.negative,
            ns_exponent=self.ns_exponent,
            sample=self.sample,
            start_alpha=self.start_alpha,
            min_alpha=self.min_alpha,
            epochs=self.epochs,
            workers=self.n_workers,
            seed=self.seed,
            cbow_mean=self.cbow_mean,
            window_update=update,
        )

    @classmethod
    def upgrade(cls, d: dict[str, Any]) -> dict[str, Any]:
        """Read saves made before ``window_update`` took over ``shared_negatives``."""
        return upgrade_window_update(d, auto_default=True)


EpochCallback = Callable[["Word2Vec", int, dict[str, float]], None]
CorpusInput = (
    str
    | os.PathLike[str]
    | Iterable[str | os.PathLike[str]]
    | Iterable[Iterable[Hashable]]
    | tuple[Vocab, Corpus]
)


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
        self.vocab_ = vocab
        w_in, w_out = train_sgns(
            vocab.counts,
            enc,
            cfg.engine_settings(),
            progress=progress,
            on_epoch=epoch_recorder(self, callbacks),
        )
        self.output_weights_ = w_out
        self.embeddings_ = Embeddings(vocab.keys, w_in, metric="cosine")
        return self

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

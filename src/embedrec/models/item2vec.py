"""Item2Vec: item vectors from interaction sequences, user vectors from item vectors.

Barkan & Koenigstein 2016 ("Item2Vec: Neural Item Embedding for Collaborative Filtering")
treat a user's items as a set; the ordered, windowed variant is the word2vec skip-gram on
time-ordered sequences (Grbovic et al. 2015, Caselles-Dupré et al. 2018). Both run on the
SGNS training engine (:func:`embedrec.models._engine.train_sgns`); ``mode="set"`` shuffles
every sequence each epoch and uses the whole set as context (bounded by ``2 * window`` for
long sequences).

:meth:`Item2Vec.fit` also takes Airbnb's two training extensions for sessions (Grbovic and
Cheng, KDD 2018, "Real-time Personalization using Embeddings for Search Ranking at Airbnb"):
a **global context** item per sequence (the item the session converted on: a booking, a
purchase), which every item of the sequence learns to predict as if it were in its window,
and **in-group negatives**: ``group_negative`` extra negatives per center drawn from the
center's own group (its category or market), so that the vectors learn what tells items of
one group apart and not only the group itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

from .._io import read_npy
from ..artifacts import check_finite, has_file, load_consistent
from ..data.corpus import Corpus, build_corpus, encode_sequences
from ..data.interactions import Interactions
from ..data.vocab import Vocab
from ..index.topk import blocked_top_k, check_k
from ..keys import plain
from ..vectors import Embeddings, Neighbors
from ._engine import SessionContext, epoch_recorder, train_sgns
from .base import EmbeddingModel, read_model_dir, write_model_dir
from .config import ConfigDict, check_choice, check_float, check_int, shared_fields
from .word2vec import Word2VecConfig

logger = logging.getLogger("embedrec")

Mode = Literal["set", "window"]
UserVector = Literal["mean", "recency", "last_n", "multi_interest"]
RecencyBy = Literal["position", "time"]
Scoring = Literal["output", "cosine"]


@dataclass(frozen=True, kw_only=True)
class Item2VecConfig(ConfigDict):
    """Hyper-parameters of :class:`Item2Vec`.

    The defaults were chosen on validation splits of interaction logs (leave-last-out; the
    data sets and figures are in benchmarks/README.md), not copied from NLP word2vec.

    Parameters
    ----------
    mode : "window" (ordered sequences, sliding window) or "set" (each sequence is a basket:
        shuffled every epoch, the whole basket is the context, bounded by ``2 * window``)
    dim : vector size
    window : context half-width (window mode); in set mode the largest basket trained as one
        whole context is ``2 * window + 1`` items
    shrink_windows : window mode draws each window size uniformly in ``1..window``
    negative : noise items per positive pair
    ns_exponent : noise distribution ``count ** ns_exponent`` (0 uniform, negative values
        favour rare items; Caselles-Dupré et al. 2018)
    sample : subsampling threshold of frequent items (0 disables)
    min_count : items with fewer events get no vector
    alpha : initial learning rate, at the first event; it decays linearly over all epochs to
        ``min_alpha``
    min_alpha : final learning rate, reached at the last event of the last epoch
    epochs : passes over the sequences
    workers : training threads (``None``: all cores)
    seed : seeds training and the k-means of ``multi_interest``
    user_vector : how a history becomes a query:
        ``mean`` of its item vectors; ``recency``: a weighted mean with weights halving every
        ``half_life`` positions (or seconds, ``recency_by="time"``) back from the latest
        event; ``last_n``: mean of the last ``last_n`` known items; ``multi_interest``:
        k-means of the item vectors into up to ``n_interests`` queries, a candidate scoring
        its best cosine to any of them (merged results)
    half_life : see ``user_vector="recency"``
    recency_by : "position" or "time"
    last_n : see ``user_vector="last_n"``
    n_interests : see ``user_vector="multi_interest"``
    scoring : how recommendations score a candidate item ``j`` for a user query ``q``:
        ``output`` (default): ``q . out_j`` with ``q`` the weighted mean of the history's
        *input* vectors and ``out_j`` the item's *output* (context) vector, i.e. the
        skip-gram's own logit for "``j`` occurs next to this history". With uniform noise
        (``ns_exponent=0``) it estimates ``log P(j | history)`` up to a constant, so it keeps
        the popularity signal that next-item prediction needs. ``cosine``: the classic
        Item2Vec item-item cosine between ``q`` and the input vectors (popularity-free, and
        much worse at next-item prediction: figures in benchmarks/README.md). ``most_similar``
        always uses cosine between input vectors.
    group_negative : extra negatives per center drawn from the center's group when
        :meth:`Item2Vec.fit` is given ``groups`` (Airbnb's in-group negatives); ignored
        without groups
    """

    mode: Mode = "window"
    dim: int = 64
    window: int = 3
    shrink_windows: bool = True
    negative: int = 10
    ns_exponent: float = 0.5
    sample: float = 0.0
    min_count: int = 1
    alpha: float = 0.025
    min_alpha: float = 0.0001
    epochs: int = 40
    workers: int | None = None
    seed: int = 1
    user_vector: UserVector = "recency"
    half_life: float = 3.0
    recency_by: RecencyBy = "position"
    last_n: int = 5
    n_interests: int = 3
    scoring: Scoring = "output"
    group_negative: int = 5

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, get_args(Mode), "'window' or 'set'")
        check_choice(
            "user_vector",
            self.user_vector,
            get_args(UserVector),
            "'mean', 'recency', 'last_n' or 'multi_interest'",
        )
        check_choice("recency_by", self.recency_by, get_args(RecencyBy), "'position' or 'time'")
        check_choice("scoring", self.scoring, get_args(Scoring), "'output' or 'cosine'")
        for name in ("last_n", "n_interests"):
            check_int(name, getattr(self, name), 1)
        check_int("group_negative", self.group_negative, 0)
        check_float("half_life", self.half_life, gt=0, allowed="a finite half_life>0")
        self.word2vec_config()  # validates the engine's fields with the engine's messages

    def word2vec_config(self) -> Word2VecConfig:
        """The engine's configuration: skip-gram with negative sampling."""
        return Word2VecConfig(**shared_fields(self, Word2VecConfig), arch="skipgram", loss="neg")


class _CodedSequences(Protocol):
    """Sequences already coded against a key table (``Sequences`` of the data layer)."""

    @property
    def items(self) -> npt.NDArray[np.int32]: ...
    @property
    def offsets(self) -> npt.NDArray[np.int64]: ...
    @property
    def item_keys(self) -> npt.NDArray[Any]: ...


SequenceInput = Interactions | _CodedSequences | Iterable[Sequence[Hashable]] | tuple[Vocab, Corpus]
Item2VecCallback = Callable[["Item2Vec", int, dict[str, float]], None]


class Recommendations(Neighbors):
    """``(keys, scores)`` of a recommendation, plus the history keys the model did not know.

    Attributes
    ----------
    keys, scores : as :class:`~embedrec.vectors.Neighbors` (1-D for one history, 2-D for a
        batch; in a batch, entries past a row's last candidate have score ``-inf``)
    unknown : list
        Unknown history keys (one list per history for a batch). A history with no known
        key is answered with the most frequent items (popularity fallback).
    """

    unknown: list[Any]

    def __new__(
        cls, keys: npt.NDArray[Any], scores: npt.NDArray[np.float32], unknown: list[Any]
    ) -> Recommendations:
        self = super().__new__(cls, keys, scores)
        self.unknown = unknown
        return self


#: one global-context item key per sequence (``None``: none), or session key -> item key
GlobalContext = Sequence[Any] | Mapping[Any, Any]


def _is_plain_iterable(data: Any) -> bool:
    """Whether ``data`` is an iterable of key sequences (not a log, coded sequences or a
    prebuilt corpus)."""
    if isinstance(data, Interactions):
        return False
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], Corpus):
        return False
    return not all(hasattr(data, a) for a in ("items", "offsets", "item_keys"))


def sequence_keys(data: Any) -> list[Any] | None:
    """The key of each sequence of ``data``: an Interactions log's user (session) keys, or
    the user key of each of a ``Sequences``' sequences; ``None`` where there are none."""
    if isinstance(data, Interactions):
        return list(data.user_keys.tolist())
    if getattr(data, "user_keys", None) is not None and hasattr(data, "user"):
        return list(data.user_keys[data.user].tolist())
    return None


def _global_rows(
    data: Any, global_context: GlobalContext, vocab: Vocab, n_sentences: int
) -> npt.NDArray[np.int32]:
    """The vocabulary row of each training sentence's global context item (``-1``: none).

    Sentences of a log or of coded sequences are the sequences themselves (empty ones
    included); a plain list of sequences loses those that ``min_count`` emptied, so the
    entries of those are dropped too.
    """
    if isinstance(global_context, Mapping):
        seq_keys = sequence_keys(data)
        if seq_keys is None:
            raise TypeError(
                "global_context as a mapping (session key -> item key) needs an Interactions "
                "log or Sequences with user keys, whose user keys are the session keys; for "
                "other inputs give one entry per sequence, in order"
            )
        entries = [global_context.get(k) for k in seq_keys]
    else:
        if isinstance(global_context, (str, bytes)):
            raise TypeError("global_context must be a sequence of item keys, not a string")
        entries = list(global_context)
    if isinstance(data, Interactions):
        n_seq = data.n_users
    elif isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], Corpus):
        n_seq = data[1].n_sentences
    elif hasattr(data, "offsets"):
        n_seq = len(data.offsets) - 1
    else:
        n_seq = len(data)
    if len(entries) != n_seq:
        raise ValueError(
            f"global_context has {len(entries)} entries but there are {n_seq} sequences; give "
            "one item key (or None) per sequence, in order"
        )
    index = vocab.key_to_index
    rows = np.array([-1 if e is None else index.get(plain(e), -1) for e in entries], dtype=np.int32)
    unknown = sum(e is not None for e in entries) - int((rows >= 0).sum())
    if unknown:
        logger.info(
            "%d of the global context items have no vector (not in the sequences, or below "
            "min_count) and are ignored",
            unknown,
        )
    if _is_plain_iterable(data):  # build_corpus dropped the sequences min_count emptied
        kept = np.array([any(plain(k) in index for k in seq) for seq in data], dtype=bool)
        rows = rows[kept]
    if rows.shape != (n_sentences,):
        raise ValueError(
            f"global_context gives {rows.size} sentences but the corpus has {n_sentences}; "
            "give one entry per sequence of the data"
        )
    return rows


def _group_codes(groups: Mapping[Any, Hashable], vocab: Vocab) -> npt.NDArray[np.int32]:
    """Each vocabulary row's group code (``-1``: no group), groups numbered by first sight."""
    if not isinstance(groups, Mapping):
        raise TypeError(
            f"groups must be a mapping from item key to group, not {type(groups).__name__}; "
            "e.g. dict(zip(items.item_id, items.category))"
        )
    codes: dict[Hashable, int] = {}
    out = np.full(len(vocab), -1, dtype=np.int32)
    for row, key in enumerate(vocab.keys):
        label = groups.get(key)
        if label is not None:
            out[row] = codes.setdefault(label, len(codes))
    if not codes:
        raise ValueError(
            "no item of the vocabulary has a group in groups; its keys must be the item keys "
            f"(e.g. {vocab.keys[0]!r})"
        )
    return out


class Item2Vec(EmbeddingModel):
    """Item embeddings from interaction sequences, with user vectors and recommendations.

    Examples
    --------
    >>> from embedrec.models.item2vec import Item2Vec, Item2VecConfig
    >>> baskets = [["a", "b", "c"], ["b", "c", "d"], [1, 2]][:2] * 50
    >>> model = Item2Vec(Item2VecConfig(dim=8, epochs=2, workers=1)).fit(baskets, progress=False)
    >>> keys, scores = model.recommend(["a"], k=2)
    >>> len(keys)
    2
    """

    def __init__(self, config: Item2VecConfig | None = None) -> None:
        self.config = config if config is not None else Item2VecConfig()
        self.vocab_: Vocab | None = None
        self.embeddings_: Embeddings  # set by fit / load
        self.output_weights_: npt.NDArray[np.float32] | None = None
        self.loss_history_: list[float] = []
        self.epoch_stats_: list[dict[str, float]] = []
        #: free-form JSON facts saved with the model, e.g. the data and holdout it was trained on
        self.metadata_: dict[str, Any] = {}

    # ------------------------------------------------------------------ training
    def fit(
        self,
        data: SequenceInput,
        *,
        global_context: GlobalContext | None = None,
        groups: Mapping[Any, Hashable] | None = None,
        progress: bool = True,
        callbacks: Sequence[Item2VecCallback] = (),
    ) -> Item2Vec:
        """Learn item vectors from sequences.

        Parameters
        ----------
        data
            An :class:`~embedrec.data.interactions.Interactions` (each user's whole history,
            in time order, is one sequence), coded ``Sequences`` (e.g. sessions from
            ``Interactions.sequences(session_gap=...)``), any iterable of key sequences
            (``int`` or ``str`` keys), or a prebuilt ``(Vocab, Corpus)``.
        global_context
            Airbnb's global context: the item each sequence converted on (a purchase, a
            booking), which every item of that sequence is also trained to predict. Either one
            entry per sequence, in order (``None`` for a sequence without one), or, for an
            :class:`~embedrec.data.interactions.Interactions` log, a mapping from user (session)
            key to item key (sessions left out have none; ``Sequences`` look up the user key
            of each sequence). Items outside the vocabulary (no
            event of theirs survived ``min_count``) are ignored, with an INFO line.
        groups
            Airbnb's in-group negatives: a mapping from item key to its group (category,
            market; any hashable label). Each center then also gets
            ``config.group_negative`` negatives drawn from its own group, by ``count **
            ns_exponent`` as the other negatives; items without a group get none.
        progress
            Progress bar and INFO log lines (rate, loss); ``False`` silences them.
        callbacks
            ``cb(model, epoch, stats)`` after every epoch.
        """
        cfg = self.config
        if global_context is not None and _is_plain_iterable(data):
            if isinstance(data, (str, bytes, os.PathLike)):
                raise TypeError("global_context needs sequences of item keys, not a path")
            data = [list(seq) for seq in data]  # type: ignore[union-attr, arg-type]
        vocab, enc = self._encode(data, progress)
        self.vocab_ = vocab
        session = None
        if global_context is not None or groups is not None:
            session = SessionContext(
                sentence_global=None
                if global_context is None
                else _global_rows(data, global_context, vocab, enc.n_sentences),
                key_group=None if groups is None else _group_codes(groups, vocab),
                group_negative=cfg.group_negative,
            )
        w_in, w_out = train_sgns(
            vocab.counts,
            enc,
            cfg.word2vec_config().engine_settings(),
            basket=cfg.mode == "set",
            session=session,
            progress=progress,
            on_epoch=epoch_recorder(self, callbacks),
        )
        self.embeddings_ = Embeddings(vocab.keys, w_in, metric="cosine")
        self.output_weights_ = w_out
        return self

    @classmethod
    def from_vectors(
        cls,
        embeddings: Embeddings,
        *,
        counts: npt.ArrayLike | None = None,
        output_weights: npt.NDArray[np.float32] | None = None,
        config: Item2VecConfig | None = None,
    ) -> Item2Vec:
        """A recommender over item vectors trained elsewhere (DeepWalk, EGES, a file).

        User vectors, scoring, ``recommend`` / ``recommend_users`` / ``score`` (the
        evaluation ``Scorer``) then work as for a trained Item2Vec.

        Parameters
        ----------
        embeddings : Embeddings
            Item vectors keyed by item key.
        counts : (n_items,) int, optional
            Training counts (the popularity fallback for histories with no known item);
            default all ones.
        output_weights : (n_items, dim) float32, optional
            Context vectors for ``scoring="output"``.
        config : Item2VecConfig, optional
            Only the user-vector and scoring fields are used; default
            ``Item2VecConfig(scoring="cosine")`` when ``output_weights`` is None.

        Examples
        --------
        >>> import numpy as np
        >>> from embedrec import Embeddings
        >>> emb = Embeddings(["a", "b", "c"], np.eye(3, dtype=np.float32))
        >>> Item2Vec.from_vectors(emb).recommend(["a"], k=2).keys.tolist()[:1]
        ['b']
        """
        if not isinstance(embeddings, Embeddings):
            raise TypeError(f"embeddings must be an Embeddings, not {type(embeddings).__name__}")
        if config is None:
            config = Item2VecConfig(scoring="cosine" if output_weights is None else "output")
        n = len(embeddings)
        cnt = np.ones(n, dtype=np.int64) if counts is None else np.asarray(counts, dtype=np.int64)
        if cnt.shape != (n,):
            raise ValueError(f"counts has shape {cnt.shape} but there are {n} item vectors")
        if output_weights is not None and output_weights.shape != embeddings.vectors.shape:
            raise ValueError(
                f"output_weights has shape {output_weights.shape} but the vectors have shape "
                f"{embeddings.vectors.shape}"
            )
        model = cls(config)
        model.embeddings_ = embeddings
        model.vocab_ = Vocab(list(embeddings.keys), cnt)
        model.output_weights_ = output_weights
        return model

    def _encode(self, data: SequenceInput, progress: bool) -> tuple[Vocab, Corpus]:
        min_count = self.config.min_count
        if isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], Corpus):
            return data[0], data[1]
        if isinstance(data, Interactions):
            if len(data) == 0:
                raise ValueError("the interactions are empty; nothing to train on")
            return encode_sequences(
                data.item, data.user_offsets(), data.item_keys, min_count=min_count
            )
        if all(hasattr(data, a) for a in ("items", "offsets", "item_keys")):
            seqs: Any = data
            if len(seqs.items) == 0:
                raise ValueError("the sequences are empty; nothing to train on")
            return encode_sequences(seqs.items, seqs.offsets, seqs.item_keys, min_count=min_count)
        if isinstance(data, (str, bytes, os.PathLike)):
            raise TypeError(
                "Item2Vec.fit takes interactions or sequences, not a path; read the log with "
                "embedrec.data.interactions.read_interactions(path, user_col=..., item_col=...)"
            )
        return build_corpus(data, min_count=min_count, progress=progress)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ user vectors
    def _history_rows(
        self, histories: Sequence[Sequence[Hashable]]
    ) -> tuple[list[npt.NDArray[np.int64]], list[npt.NDArray[np.bool_]], list[list[Any]]]:
        if isinstance(histories, (str, bytes)):
            raise TypeError("histories must be a list of key sequences, not a string")
        k2i: dict[Any, int] = self._fitted().key_to_index
        rows, known, unknown = [], [], []
        for h in histories:
            if isinstance(h, (str, bytes)) or not hasattr(h, "__len__"):
                raise TypeError(
                    f"each history must be a sequence of keys, got {type(h).__name__}; wrap a "
                    "single history in a list"
                )
            keys = h.tolist() if isinstance(h, np.ndarray) else list(h)
            idx = np.fromiter((k2i.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
            ok = idx >= 0
            rows.append(idx)
            known.append(ok)
            unknown.append([k for k, good in zip(keys, ok.tolist(), strict=True) if not good])
        return rows, known, unknown

    def _queries(
        self,
        rows: list[npt.NDArray[np.int64]],
        known: list[npt.NDArray[np.bool_]],
        times: Sequence[npt.ArrayLike] | None,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        """(n, m, dim) query vectors and (n,) whether each history had a known item.

        ``cosine`` scoring: unit-length means of unit input vectors; ``output`` scoring:
        weighted means (weights summing to 1) of the raw input vectors.
        """
        cfg = self.config
        cosine = cfg.scoring == "cosine"
        emb = self._fitted()
        unit = emb.unit_vectors if cosine else emb.vectors
        n = len(rows)
        m = cfg.n_interests if cfg.user_vector == "multi_interest" else 1
        q = np.zeros((n, m, unit.shape[1]), dtype=np.float32)
        has = np.zeros(n, dtype=bool)
        if times is not None and len(times) != n:
            raise ValueError(f"times has {len(times)} entries for {n} histories; give one each")
        rng = np.random.default_rng(cfg.seed)
        for u in range(n):
            ok = known[u]
            if not ok.any():
                continue
            has[u] = True
            pos = np.flatnonzero(ok)
            vecs = unit[rows[u][pos]]
            if cfg.user_vector == "mean":
                q[u, 0] = vecs.mean(axis=0)
            elif cfg.user_vector == "last_n":
                q[u, 0] = vecs[-cfg.last_n :].mean(axis=0)
            elif cfg.user_vector == "recency":
                if cfg.recency_by == "time":
                    if times is None:
                        raise ValueError(
                            "user_vector='recency' with recency_by='time' needs the event times; "
                            "pass times=..., or use recency_by='position'"
                        )
                    t = np.asarray(times[u], dtype=np.float64)
                    if t.shape != ok.shape:
                        raise ValueError(
                            f"times[{u}] has shape {t.shape} but history {u} has {ok.size} keys"
                        )
                    age = t[pos].max() - t[pos]
                else:
                    age = (ok.size - 1 - pos).astype(np.float64)
                w = np.exp2(-age / cfg.half_life)
                q[u, 0] = (w / w.sum()).astype(np.float32) @ vecs
            else:
                q[u] = self._interests(vecs, m, rng)
        if cosine:
            norms = np.linalg.norm(q, axis=2, keepdims=True)
            q /= np.where(norms > 0, norms, 1.0)
        return q, has

    @staticmethod
    def _interests(
        vecs: npt.NDArray[np.float32], m: int, rng: np.random.Generator
    ) -> npt.NDArray[np.float32]:
        """Up to ``m`` k-means centroids of ``vecs``; unused slots repeat the first one."""
        from scipy.cluster.vq import kmeans2

        out = np.empty((m, vecs.shape[1]), dtype=np.float32)
        c = min(m, len(np.unique(vecs, axis=0)))
        if c <= 1:
            out[:] = vecs.mean(axis=0)
            return out
        cent, label = kmeans2(vecs.astype(np.float64), c, minit="++", seed=rng)
        used = np.unique(label)
        cent = cent[used].astype(np.float32)
        out[: len(cent)] = cent
        out[len(cent) :] = cent[0]
        return out

    def _candidate_vectors(self) -> npt.NDArray[np.float32]:
        if self.config.scoring == "cosine":
            return self._fitted().unit_vectors
        if self.output_weights_ is None:
            raise RuntimeError(
                "scoring='output' needs the output vectors, which this model does not have; "
                "refit it, or use Item2VecConfig(scoring='cosine')"
            )
        return self.output_weights_

    def user_vectors(
        self,
        histories: Sequence[Sequence[Hashable]],
        *,
        times: Sequence[npt.ArrayLike] | None = None,
    ) -> npt.NDArray[np.float32]:
        """(n, m, dim) float32 query vectors of each history (``m = n_interests`` for
        ``multi_interest``, else 1); unit length with ``scoring="cosine"``; all-zero for a
        history with no known item."""
        rows, known, _ = self._history_rows(histories)
        return self._queries(rows, known, times)[0]

    # ------------------------------------------------------------------ scoring
    def score(
        self,
        histories: Sequence[Sequence[Hashable]],
        candidates: Sequence[Hashable] | npt.NDArray[Any],
        *,
        times: Sequence[npt.ArrayLike] | None = None,
        users: Sequence[Hashable] | None = None,
    ) -> npt.NDArray[np.float32]:
        """(n_histories, n_candidates) float32 scores of each candidate for each history (see
        ``Item2VecConfig.scoring``; the best over interests for ``multi_interest``); ``-inf``
        for candidates without a vector.

        A history with no known item gets the candidates' normalised training counts
        (popularity fallback, in ``[0, 1]``). This is the ``Scorer`` protocol of
        :mod:`embedrec.eval`; ``users`` (the user key of each history) is accepted and
        ignored, since Item2Vec scores from the history alone.
        """
        emb = self._fitted()
        cand = candidates.tolist() if isinstance(candidates, np.ndarray) else list(candidates)
        k2i: dict[Any, int] = emb.key_to_index
        cidx = np.fromiter((k2i.get(c, -1) for c in cand), dtype=np.int64, count=len(cand))
        rows, known, _ = self._history_rows(histories)
        return self._score(rows, known, times, cidx)

    def _score(
        self,
        rows: list[npt.NDArray[np.int64]],
        known: list[npt.NDArray[np.bool_]],
        times: Sequence[npt.ArrayLike] | None,
        cidx: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.float32]:
        assert self.vocab_ is not None
        ok = cidx >= 0
        q, has = self._queries(rows, known, times)
        cvec = self._candidate_vectors()[np.where(ok, cidx, 0)]
        if q.shape[1] > 1:
            out = np.einsum("nmd,cd->nmc", q, cvec).max(axis=1)
        else:
            out = q[:, 0] @ cvec.T
        out = np.ascontiguousarray(out, dtype=np.float32)
        if not has.all():
            counts = self.vocab_.counts[np.where(ok, cidx, 0)].astype(np.float64)
            pop = counts / max(float(counts.max()), 1.0) if counts.size else counts
            out[~has] = pop.astype(np.float32)
        out[:, ~ok] = -np.inf
        return out

    def recommend_users(
        self,
        histories: Sequence[Sequence[Hashable]],
        k: int = 10,
        *,
        exclude_seen: bool = True,
        times: Sequence[npt.ArrayLike] | None = None,
    ) -> Recommendations:
        """Top-``k`` items for each history, batch-first: ``(n, k)`` keys and scores.

        Rows run over the model's whole catalogue; with ``exclude_seen`` a history's own keys
        are never returned. Unknown history keys are ignored and reported in ``unknown``.
        """
        emb = self._fitted()
        k = check_k(k)
        rows, known, unknown = self._history_rows(histories)
        n_items = len(emb)
        width = min(k, n_items)
        keys_arr = np.asarray(emb.keys, dtype=object if emb.key_type == "str" else np.int64)
        if times is not None and len(times) != len(rows):
            raise ValueError(
                f"times has {len(times)} entries for {len(rows)} histories; give one each"
            )
        all_idx = np.arange(n_items, dtype=np.int64)
        all_times = None if times is None else list(times)

        def score_block(sl: slice) -> npt.NDArray[np.float32]:
            t_sl = None if all_times is None else all_times[sl]
            return self._score(rows[sl], known[sl], t_sl, all_idx)

        def mask_block(sl: slice, scores: npt.NDArray[np.float32]) -> None:
            if exclude_seen:
                for j, r in enumerate(rows[sl]):
                    scores[j, r[r >= 0]] = -np.inf

        # the one ranking path (ties: the lower row first); small blocks: multi-interest
        # scoring holds n_interests score matrices at once
        out_idx, out_scores = blocked_top_k(
            len(rows),
            n_items,
            width,
            score_block,
            mask_block=mask_block,
            drop_inf=False,
            cells=2_000_000,
        )
        return Recommendations(keys_arr[out_idx], out_scores, unknown)

    def recommend(
        self,
        history: Sequence[Hashable],
        k: int = 10,
        *,
        exclude_seen: bool = True,
        times: npt.ArrayLike | None = None,
    ) -> Recommendations:
        """Top-``k`` items for one history (1-D ``keys`` and ``scores``; fewer than ``k`` when
        the catalogue minus the history is smaller). See :meth:`recommend_users`."""
        res = self.recommend_users(
            [history], k, exclude_seen=exclude_seen, times=None if times is None else [times]
        )
        keep = np.isfinite(res.scores[0])
        return Recommendations(res.keys[0][keep], res.scores[0][keep], res.unknown[0])

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None) -> None:
        """Write the model as a directory (manifest.json, vectors.npy, keys.json, counts.npy,
        output_vectors.npy); ``metadata`` (default :attr:`metadata_`) goes into the manifest;
        atomic: an interrupted save leaves any previous one intact."""
        emb = self._fitted()
        assert self.vocab_ is not None
        write_model_dir(
            path,
            "Item2Vec",
            config=self.config,
            embeddings=emb,
            counts=self.vocab_.counts,
            arrays={} if self.output_weights_ is None else {"output_vectors": self.output_weights_},
            loss_history=self.loss_history_,
            epoch_stats=self.epoch_stats_,
            metadata=self.metadata_ if metadata is None else metadata,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Item2Vec:
        """Load a directory written by :meth:`save`; ``ValueError`` if it is incomplete (no
        output_vectors.npy with ``scoring="output"``) or corrupt."""
        return load_consistent(path, cls._load_generation)

    @classmethod
    def _load_generation(cls, path: Path) -> Item2Vec:
        d = read_model_dir(
            path,
            "Item2Vec",
            Item2VecConfig,
            lambda cfg: ("output_vectors.npy",) if cfg.scoring == "output" else (),
        )
        vectors, manifest = d.embeddings.vectors, d.manifest
        model = cls(d.config)
        if d.config.scoring == "output" or has_file(path, manifest, "output_vectors.npy"):
            out = read_npy(path / "output_vectors.npy")
            check_finite(out, path / "output_vectors.npy")
            if out.shape != vectors.shape or out.dtype != np.float32:
                raise ValueError(
                    f"{path}: output_vectors.npy is {out.dtype} {out.shape} but vectors.npy is "
                    f"float32 {vectors.shape}; the directory is corrupt, re-save the model"
                )
            model.output_weights_ = out
        model.vocab_ = d.vocab
        model.embeddings_ = d.embeddings
        model.loss_history_ = list(manifest.get("loss_history", []))
        model.epoch_stats_ = list(manifest.get("epoch_stats", []))
        model.metadata_ = dict(manifest.get("metadata") or {})
        return model

"""Embeddings for session continuation: a repeat/explore mixture over item vectors.

In click sessions a third or more of the next items are re-clicks of items already in the
session, and the rest are new items near the latest clicks. :class:`SessionEmbed` scores
both, as a mixture of two distributions over the catalogue (the structure of RepeatNet, Ren
et al. AAAI 2019, with simple, counted parts instead of networks):

- **explore**: ``softmax(q . out_j / temperature)`` over the items *not* in the session, where
  ``q`` is the recency-weighted mean of the session's input vectors (weights halving every
  ``half_life`` positions back from the latest click) and ``out_j`` the item's output
  (context) vector, i.e. the skip-gram's own logit for "``j`` comes next to this session";
  models without output vectors use the cosine between ``q`` and the unit item vectors;
- **repeat**: a distribution over the session's own items, each weighing
  ``sum over its occurrences of 2 ** (-d / repeat_half_life)`` (``d``: positions back from
  the latest click);
- the **mixture weight** ``P(repeat | prefix)`` is counted on the training sessions
  themselves, per prefix length (1, 2, 3, 4, 5-9, 10+) and per whether the prefix already
  holds a re-click (Laplace-smoothed). Nothing is tuned on test data, and the weight follows
  each data set: media sessions with many replays get a high one, shopping sessions a lower
  one.

The embedder is any SGNS model of this library fitted on the training sessions: Item2Vec
(the default, with session defaults: every item kept, passes scaled to the data size) or a
graph model (DeepWalk, Node2Vec, EGES) fitted on the session graph
(:meth:`embedrec.data.graph.Graph.from_sessions`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from ..data.interactions import Sequences
from ..vectors import Embeddings, Neighbors
from .config import ConfigDict, check_bool, check_choice, check_float, check_int
from .item2vec import Item2Vec, Item2VecConfig, sequence_keys
from .repeat_gate import RepeatGate
from .session_base import (
    SessionInput,
    SessionModel,
    as_sessions,
    check_array,
    compact_items,
    csr_arrays,
    csr_from_arrays,
)
from .session_rerank import (
    CONTEXT,
    FEATURES,
    N_CANDIDATES,
    MLPReranker,
    Reranker,
    candidates,
    context,
    features,
    reranker_from_state,
    reranker_state,
)
from .session_vknn import SessionVectorKNN

logger = logging.getLogger(__name__)

#: the latest share of training sessions that calibration holds out (a fifth: the
#: re-ranker's fit gains from more held-out predictions more than the probe's embeddings
#: lose, and small logs reach :data:`MIN_CALIBRATION_SESSIONS` sooner; benchmarks/README.md)
CALIBRATION_FRACTION = 0.2
#: the fewest sessions one held-out part may have
MIN_CALIBRATION_SESSIONS = 100
#: the most next-item predictions calibration holds out (the latest sessions first): a
#: large log holds out less than :data:`CALIBRATION_FRACTION`, so calibration's cost stops
#: growing with the log. Every benchmark log of benchmarks/README.md is under it; past some
#: ten thousand predictions the re-ranker's fit gains little (its learning curve there).
MAX_CALIBRATION_PREDICTIONS = 20_000
#: a latest fifth with fewer predictions than this (or fewer sessions than
#: :data:`MIN_CALIBRATION_SESSIONS`) is too small to choose on alone: calibration is then
#: cross-fitted over :data:`CALIBRATION_FOLDS` folds instead, so that every training
#: session is held out once (benchmarks/README.md, "small logs")
MIN_HELD_PREDICTIONS = 5_000
#: the folds of cross-fitted calibration (blocks of sessions in time order)
CALIBRATION_FOLDS = 5
#: fewer training sessions than this: no calibration (the configured scoring values)
MIN_CROSSFIT_SESSIONS = 50
#: the scoring grid calibration scores
SCORING_GRID: dict[str, tuple[float, ...]] = {
    "half_life": (0.5, 1.0, 2.0),
    "temperature": (0.5, 0.7, 1.0, 1.4),
    "transition_weight": (0.0, 0.3, 0.6),
}
#: how far :func:`search_scoring` follows the temperature past the grid's edge, doubling
#: (or halving) it while MRR@20 rises: vectors trained long on small logs are long, so
#: their softmax is peaked, and such logs want a temperature of 4-16
TEMPERATURE_RANGE = (1 / 8, 64.0)

RepeatRule = Literal["counted", "decay"]
Gate = Literal["logistic", "table"]

#: recency ranks of the counted repeat rule (the last one pools the older items)
N_RANKS = 10

#: prefix-length buckets of the repeat weight: 1, 2, 3, 4, 5-9, 10+
_LENGTH_EDGES = np.array([2, 3, 4, 5, 10])


@dataclass(frozen=True, kw_only=True)
class SessionEmbedConfig(ConfigDict):
    """Scoring of :class:`SessionEmbed` and the passes of its default Item2Vec.

    Parameters
    ----------
    half_life : positions back from the latest click at which a click weighs half in the
        session vector ``q``
    repeat_rule : how the repeat distribution weighs the session's items: ``"counted"``
        (default): by recency rank (the latest distinct item, the one before, ...), with the
        share of re-clicks that went to each rank counted on the training sessions;
        ``"decay"``: ``sum over an item's occurrences of 2 ** (-d / repeat_half_life)``
    repeat_half_life : see ``repeat_rule="decay"``
    temperature : of the explore softmax (higher flattens it, and so favours re-clicks)
    transition_weight : share of the explore distribution that follows the latest click's
        sequential rules (``b`` clicked within 10 steps after ``a`` in training sessions,
        :class:`~embedrec.models.session_rules.SequentialRules`) instead of the embeddings'
        softmax; the embeddings have no direction, the rules do
    gate : how ``P(re-click | prefix)`` is estimated: ``"logistic"`` (default,
        :class:`~embedrec.models.repeat_gate.RepeatGate`: a logistic regression on counted
        prefix features, fitted on the training sessions) or ``"table"`` (the share of
        re-clicks per prefix length and per whether the prefix holds one)
    calibrate : choose ``half_life``, ``temperature`` and ``transition_weight`` on held-out
        training sessions instead of taking the values above: the latest fifth
        (:data:`CALIBRATION_FRACTION`, at most :data:`MAX_CALIBRATION_PREDICTIONS`
        predictions), predicted by a second, smaller fit; or, where that fifth is too small
        to choose on, each of five blocks of sessions in turn, each predicted by a fit on
        the others (:func:`calibration_folds`, :meth:`SessionEmbed._calibrate`)
    rerank : with ``calibrate``, also fit a re-ranking of the top candidates
        (:mod:`~embedrec.models.session_rerank`) on half of the held-out sessions, and keep
        it if it raises MRR@20 on the other half
    knn_k, knn_power, knn_index : the neighbour sessions whose votes the re-ranker reads
        (:class:`~embedrec.models.session_vknn.SessionVectorKNN`: how many vote, the
        exponent of their cosine, the index kind that finds them)
    update_budget : the default Item2Vec trains ``clip(update_budget / n_events, min_epochs,
        max_epochs)`` passes: small session logs need many passes, large ones few
    min_epochs, max_epochs : bounds of that rule
    """

    half_life: float = 1.0
    repeat_rule: RepeatRule = "counted"
    repeat_half_life: float = 1.0
    temperature: float = 1.0
    transition_weight: float = 0.3
    gate: Gate = "logistic"
    calibrate: bool = True
    rerank: bool = True
    knn_k: int = 50
    knn_power: float = 4.0
    knn_index: str = "exact"
    update_budget: int = 10_000_000
    min_epochs: int = 10
    max_epochs: int = 300

    def __post_init__(self) -> None:
        check_choice("repeat_rule", self.repeat_rule, get_args(RepeatRule), "'counted' or 'decay'")
        check_float(
            "transition_weight",
            self.transition_weight,
            ge=0,
            allowed="a transition_weight in [0, 1]",
        )
        if self.transition_weight > 1:
            raise ValueError(
                f"transition_weight={self.transition_weight!r} is invalid; use a value in [0, 1]"
            )
        for name in ("half_life", "repeat_half_life", "temperature"):
            check_float(name, getattr(self, name), gt=0, allowed=f"a finite {name} > 0")
        check_bool("calibrate", self.calibrate)
        check_bool("rerank", self.rerank)
        check_int("knn_k", self.knn_k, 1)
        check_float("knn_power", self.knn_power, gt=0, allowed="a finite knn_power > 0")
        from ..index.registry import INDEX_KINDS

        check_choice("knn_index", self.knn_index, INDEX_KINDS, ", ".join(INDEX_KINDS))
        check_int("update_budget", self.update_budget, 1)
        check_int("min_epochs", self.min_epochs, 1)
        check_int("max_epochs", self.max_epochs, self.min_epochs)

    def epochs_for(self, n_events: int) -> int:
        """Passes of the default Item2Vec over ``n_events`` training events."""
        return int(
            np.clip(round(self.update_budget / max(n_events, 1)), self.min_epochs, self.max_epochs)
        )


class SessionEmbed(SessionModel):
    """Session continuation from item embeddings (see the module docstring).

    Parameters
    ----------
    config : SessionEmbedConfig, optional
    embedder_config : dict, optional
        Item2Vec fields (``dim``, ``window``, ``negative``, ...) of the default embedder.
    embedder : an unfitted model, optional
        What learns the item vectors from the training sessions: an :class:`Item2Vec` (fit on
        the sessions as sentences) or a graph model (DeepWalk, Node2Vec, EGES: fit on the
        session graph). Default: ``Item2Vec`` with ``min_count=1`` and
        :meth:`SessionEmbedConfig.epochs_for` passes.
    reranker : Reranker, optional
        A fitted re-ranker (e.g. the one :func:`embedrec.tune.tune_session_embed` fitted on
        validation sessions) used as it is: no re-ranker is fitted on held-out sessions.

    Examples
    --------
    >>> sessions = [["a", "b", "c"], ["a", "b", "c"], ["b", "c", "d"]] * 20
    >>> model = SessionEmbed(embedder=Item2Vec(Item2VecConfig(dim=8, epochs=5, workers=1)))
    >>> model = model.fit(sessions)
    >>> model.recommend(["a", "b"], k=2).keys.tolist()[0] in {"a", "b", "c"}
    True
    """

    def __init__(
        self,
        config: SessionEmbedConfig | None = None,
        *,
        embedder: Any = None,
        embedder_config: dict[str, Any] | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        if embedder is not None and embedder_config is not None:
            raise ValueError(
                "give embedder (a model) or embedder_config (Item2Vec fields for the default "
                "embedder), not both"
            )
        self.config = config if config is not None else SessionEmbedConfig()
        self.embedder = embedder
        self.reranker = reranker
        self.reranker_: Reranker | None = None
        #: what :meth:`fit` hands the embedder (global context, groups, side information)
        self._extras: dict[str, Any] = {}
        self.embedder_config = dict(embedder_config or {})
        bad = {"epochs", "min_count"} & set(self.embedder_config)
        if bad:
            raise ValueError(
                f"embedder_config sets {sorted(bad)}; SessionEmbed keeps every item and sets "
                "the passes from update_budget (or pass your own embedder=Item2Vec(...))"
            )
        Item2VecConfig(**self.embedder_config)  # refuse unknown or bad fields now

    config_class = SessionEmbedConfig

    def fit(
        self,
        data: SessionInput,
        *,
        global_context: Sequence[Any] | Mapping[Any, Any] | None = None,
        groups: Mapping[Any, Hashable] | None = None,
        side: Mapping[str, Mapping[Any, Any]] | None = None,
        progress: bool = False,
    ) -> SessionEmbed:
        """Learn from training sessions (:func:`~.session_base.as_sessions` lists the inputs).

        Parameters
        ----------
        data
            The training sessions.
        global_context, groups
            Airbnb's extensions, handed to the default (or a given) :class:`Item2Vec`
            embedder (see :meth:`Item2Vec.fit`): the item each session converted on (a mapping
            from session key, e.g. :func:`~embedrec.data.sessions.session_conversions`, or one
            entry per session in order), and each item's group, from which extra negatives
            are drawn.
        side
            Side information for an :class:`~embedrec.models.eges.EGES` embedder: field name
            -> {item key: value} (items left out have a missing value).
        progress
            Accepted for symmetry with the embedding models.

        Raises
        ------
        ValueError
            An extension the embedder does not take (``global_context`` / ``groups``: an
            Item2Vec; ``side``: EGES), or a ``global_context`` of the wrong length.
        """
        from .eges import EGES

        item2vec = self.embedder is None or isinstance(self.embedder, Item2Vec)
        if (global_context is not None or groups is not None) and not item2vec:
            raise ValueError(
                "global_context and groups are Item2Vec's (skip-gram) extensions; this "
                f"SessionEmbed's embedder is a {type(self.embedder).__name__}: use the default "
                "embedder or an Item2Vec"
            )
        if side is not None and not isinstance(self.embedder, EGES):
            raise ValueError(
                "side information is for an EGES embedder: SessionEmbed(embedder=EGES(...))"
            )
        sessions = as_sessions(data)
        self._extras = {
            "global_context": _by_session(data, global_context),
            "groups": groups,
            "side": side,
        }
        try:
            return super().fit(sessions, progress=progress)
        finally:
            self._extras = {}

    #: the item (input) vectors (cosine): ``most_similar``, exports and indexes read them
    embeddings_: Embeddings
    #: ``in_`` scaled to unit length, made on first use by the re-ranker's features
    _unit: npt.NDArray[np.float32] | None = None

    def most_similar(
        self, key: Any, k: int = 10, *, missing: Literal["raise", "skip"] = "raise"
    ) -> Neighbors:
        """Nearest items to ``key`` (or to each key of a list) by the cosine of their
        vectors (:meth:`embedrec.vectors.Embeddings.most_similar`)."""
        self._fitted()
        return self.embeddings_.most_similar(key, k=k, missing=missing)

    _ARRAYS = (
        "input_vectors",
        "output_vectors",
        "repeat_table",
        "rank_share",
        "gate_item_logit",
        "gate_weights",
        "rules_data",
        "rules_indices",
        "rules_indptr",
    )
    #: the neighbour sessions of the re-ranker's votes (saves before them have none)
    _LATER_ARRAYS = ("knn_indices", "knn_indptr")

    # ------------------------------------------------------------------ persistence
    def _state(self) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
        t = self.transitions_
        arrays = {
            "input_vectors": self.in_,
            "output_vectors": self.out_,
            "repeat_table": self.repeat_table_,
            "rank_share": self.rank_share_,
            "gate_item_logit": self.gate_.item_logit_,
            "gate_weights": self.gate_.weights_,
            **csr_arrays(t, "rules"),
            "knn_indices": self.knn_.session_items_.indices,
            "knn_indptr": self.knn_.session_items_.indptr,
        }
        rr = self.reranker_
        facts = {
            "scoring": dict(self.scoring_),
            "reranker": None if rr is None else reranker_state(rr),
            "embedder": type(self.embedder_).__name__,
        }
        return arrays, facts

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]], facts: dict[str, Any]) -> None:

        import scipy.sparse as sps

        from .repeat_gate import N_FEATURES
        from .session_base import check_csr

        n = len(self.item_keys_)
        vin = check_array(arrays["input_vectors"], "input_vectors", "f", (n, None))
        self.in_ = vin.astype(np.float32)
        self._unit = None
        dim = vin.shape[1]
        self.embeddings_ = Embeddings(list(self.item_keys_.tolist()), self.in_)
        self.out_ = check_array(arrays["output_vectors"], "output_vectors", "f", (n, dim)).astype(
            np.float32
        )
        self.repeat_table_ = check_array(
            arrays["repeat_table"], "repeat_table", "f", (_LENGTH_EDGES.size + 1, 2)
        )
        self.rank_share_ = check_array(arrays["rank_share"], "rank_share", "f", (N_RANKS,))
        gate = RepeatGate()
        gate.item_logit_ = check_array(arrays["gate_item_logit"], "gate_item_logit", "f", (n,))
        gate.weights_ = check_array(arrays["gate_weights"], "gate_weights", "f", (N_FEATURES,))
        self.gate_ = gate
        self.transitions_ = csr_from_arrays(arrays, "rules", n)
        # a save from before the neighbour votes: no neighbour session, no votes (its
        # re-ranker, if any, has no weight on them)
        indptr = arrays.get("knn_indptr", np.zeros(1, dtype=np.int64))
        indices = arrays.get("knn_indices", np.zeros(0, dtype=np.int32))
        check_csr(indptr, indices, max(indptr.size - 1, 0), n, "knn")
        held = sps.csr_array(
            (np.ones(indices.size, dtype=np.float32), indices.astype(np.int32), indptr),
            shape=(indptr.size - 1, n),
        )
        self.knn_ = self._new_knn().from_matrix(held, self.in_)
        scoring = facts.get("scoring")
        names = ("half_life", "temperature", "transition_weight")
        if not isinstance(scoring, dict) or not all(
            isinstance(scoring.get(k), (int, float)) and np.isfinite(scoring[k]) for k in names
        ):
            raise ValueError("the manifest has no valid state.scoring; re-save the model")
        if scoring["half_life"] <= 0 or scoring["temperature"] <= 0:
            raise ValueError("the manifest's state.scoring is out of range; re-save the model")
        self.scoring_ = {k: float(scoring[k]) for k in names}
        saved = facts.get("reranker")
        self.reranker_ = None if saved is None else reranker_from_state(saved)

    # ------------------------------------------------------------------ training
    def _fit(self, sessions: Sequences) -> None:
        cfg = self.config
        self.scoring_ = {
            "half_life": cfg.half_life,
            "temperature": cfg.temperature,
            "transition_weight": cfg.transition_weight,
        }
        self.reranker_ = None
        #: how many held-out parts calibration used (0: none, 1: the latest fifth, more:
        #: cross-fitted; :func:`calibration_folds`)
        self.calibration_parts_ = 0
        if cfg.calibrate:
            self.scoring_ = self._calibrate(sessions)
        if self.reranker is not None:
            self.reranker_ = self.reranker
        self._fit_tables(sessions)

    def _new_embedder(self, n_events: int) -> Any:
        if self.embedder is None:
            epochs = self.config.epochs_for(n_events)
            logger.info("SessionEmbed: Item2Vec with %d epochs", epochs)
            return Item2Vec(Item2VecConfig(min_count=1, epochs=epochs, **self.embedder_config))
        return type(self.embedder)(self.embedder.config)

    def _fit_tables(self, sessions: Sequences) -> None:
        embedder = self._new_embedder(int(sessions.items.size))
        train = _drop_singletons(sessions)
        extras = self._extras
        if isinstance(embedder, Item2Vec):
            embedder.fit(
                train,
                global_context=extras.get("global_context"),
                groups=extras.get("groups"),
                progress=False,
            )
        else:
            from ..data.graph import Graph
            from .eges import EGES

            graph = Graph.from_sessions(train)
            if isinstance(embedder, EGES):
                side = extras.get("side") or {}
                aligned = {f: [m.get(k) for k in graph.keys] for f, m in side.items()}
                embedder.fit(graph, aligned, progress=False)
            else:
                embedder.fit(graph, progress=False)
        self.embedder_ = embedder
        self.in_, self.out_ = _item_tables(embedder, self.item_keys_)
        self._unit = None
        self.embeddings_ = Embeddings(list(self.item_keys_.tolist()), self.in_)
        self.repeat_table_, self.rank_share_ = repeat_tables(sessions)
        self.gate_ = RepeatGate().fit(sessions, len(self.item_keys_))
        self.transitions_ = transition_table(sessions, self.item_keys_)
        self.knn_ = self._new_knn().fit(train, self.in_)

    def _new_knn(self) -> SessionVectorKNN:
        cfg = self.config
        return SessionVectorKNN(cfg.knn_k, cfg.knn_power, cfg.knn_index)

    def _calibrate(self, sessions: Sequences) -> dict[str, float]:
        """Choose ``half_life``, ``temperature`` and ``transition_weight`` on held-out
        training sessions (and, with ``rerank``, fit the re-ranker there).

        :func:`calibration_folds` says which: the latest fifth (at most
        :data:`MAX_CALIBRATION_PREDICTIONS` predictions), or, where that holds too few
        predictions to choose on, each of :data:`CALIBRATION_FOLDS` blocks of sessions in
        turn (cross-fitting). For each held-out part a probe is fitted on the other sessions
        alone, and :data:`SCORING_GRID` is scored (:func:`search_scoring`) by MRR@20 of
        next-item prediction at every position of the held-out sessions (the session
        protocol), so nothing is chosen on data the final model is tested on. Too few
        sessions: the configured values.
        """
        cfg = self.config
        fixed = {
            "half_life": cfg.half_life,
            "temperature": cfg.temperature,
            "transition_weight": cfg.transition_weight,
        }
        holds = calibration_folds(sessions)
        if holds is None:
            return fixed
        folds = []
        for hold in holds:
            early = _pick(sessions, ~hold)
            # the held-out sessions as the protocol tests the probe: without the clicks on
            # items it never saw (as the test sessions are without those the model never saw)
            seen = np.bincount(early.items, minlength=len(self.item_keys_)) > 0
            folds.append((self._probe(early), known_clicks(_pick(sessions, hold), seen)))
        self.calibration_parts_ = len(folds)

        def score(points: list[dict[str, float]]) -> dict[str, npt.NDArray[np.float64]]:
            return grid_metrics(
                np.concatenate([p._grid_ranks(late, points) for p, late in folds], axis=1)
            )

        # past the grid's temperatures only where the log is small (cross-fitted): there the
        # vectors are long and the re-ranker seldom wins its check; on larger logs the
        # re-ranker re-balances re-clicks and new items itself, and does better over the
        # grid's choice (benchmarks/README.md, "Small logs")
        best, metrics = search_scoring(score, extend=len(folds) > 1)
        logger.info(
            "SessionEmbed calibration (%d held-out part%s): %s (held-out MRR@20 %.4f)",
            len(folds),
            "" if len(folds) == 1 else "s",
            best,
            metrics["MRR@20"],
        )
        if self.config.rerank and self.reranker is None:
            for probe, _ in folds:
                probe.scoring_ = dict(best)
            self.reranker_ = fit_reranker_folds(folds)[0]
        return best

    def _probe(self, early: Sequences) -> SessionEmbed:
        """A model like this one fitted on ``early`` alone (for calibration): it knows only
        the items of ``early`` and counts only their clicks there (the re-ranker's
        popularity feature would otherwise see the clicks it learns to predict, which a
        fitted model never does at serving time)."""
        probe = SessionEmbed(
            self.config,
            embedder=self.embedder,
            embedder_config=None if self.embedder is not None else self.embedder_config,
        )
        early = compact_items(early)
        probe.item_keys_ = early.item_keys
        probe.item_counts_ = np.bincount(early.items, minlength=len(early.item_keys)).astype(
            np.int64
        )
        probe._extras = self._extras
        probe._fit_tables(early)
        return probe

    # ------------------------------------------------------------------ scoring
    def _score_prefixes(self, prefixes: Sequences) -> npt.NDArray[np.float32]:
        rerank: Reranker | None = getattr(self, "reranker_", None)
        parts = self._components(prefixes, rerank=rerank is not None)
        mix = parts.mixture()
        if rerank is None or len(prefixes) == 0:
            return mix
        return rerank.rescore(parts, mix)

    def _components(self, prefixes: Sequences, *, rerank: bool = False) -> Components:
        """The parts of the mixture for a batch of prefixes (see the module docstring);
        ``rerank``: with what only the re-ranker reads (the neighbour sessions' votes, the
        rules of the click before the latest, the unit item vectors)."""
        base = self._prefix_parts(prefixes)
        sc = self.scoring_
        soft = self._softmax(base, self._logits(base, sc["half_life"]), sc["temperature"])
        explore = _blend(base, soft, sc["transition_weight"])
        parts = (explore, base.repeat, base.beta, base.trans, base.counts, base.last)
        if not rerank:
            return Components(*parts, self.item_counts_)
        votes = self.knn_.score(prefixes, sc["half_life"])
        prev_rules = np.zeros_like(explore)
        lengths = prefixes.lengths()
        two = np.flatnonzero(lengths > 1)
        if two.size:
            prev_rules[two] = self.transitions_[base.items[prefixes.offsets[1:][two] - 2]].toarray()
        return Components(*parts, self.item_counts_, votes, prev_rules, self._unit_vectors())

    def _prefix_parts(self, prefixes: Sequences) -> _Prefixes:
        """What the score of a batch of prefixes reads besides the scoring values."""
        cfg = self.config
        n, n_items = len(prefixes), len(self.item_keys_)
        lengths = prefixes.lengths()
        owner = np.repeat(np.arange(n), lengths)
        back = (prefixes.offsets[1:][owner] - 1 - np.arange(prefixes.items.size)).astype(np.float64)
        items = prefixes.items.astype(np.int64)
        rows = np.flatnonzero(lengths > 0)
        last = np.full(n, -1, dtype=np.int64)
        last[rows] = items[prefixes.offsets[1:][rows] - 1]
        # the last click's sequential rules, over the items not in the session
        trans = np.zeros((n, n_items), dtype=np.float32)
        if n:
            trans[rows] = self.transitions_[last[rows]].toarray()
            trans[owner, items] = 0.0
        total = trans.sum(axis=1, keepdims=True)
        use = np.flatnonzero(total[:, 0] > 0)
        # repeat: the session's own items, recency-weighted
        repeat = np.zeros((n, n_items), dtype=np.float32)
        if cfg.repeat_rule == "decay":
            r = np.exp2(-back / cfg.repeat_half_life).astype(np.float32)
            np.add.at(repeat, (owner, items), r)
        else:
            p, item, rank = recency_ranks(owner, items, back)
            repeat[p, item] = self.rank_share_[np.minimum(rank, N_RANKS - 1)]
        repeat /= np.maximum(repeat.sum(axis=1, keepdims=True), 1e-30)
        counts = np.zeros((n, n_items), dtype=np.float32)
        np.add.at(counts, (owner, items), 1.0)
        return _Prefixes(
            owner=owner,
            back=back,
            items=items,
            last=last,
            trans=trans,
            use=use,
            rule_weights=trans[use],
            rule_totals=total[use],
            repeat=repeat,
            counts=counts,
            beta=self._repeat_weight(prefixes),
        )

    def _logits(self, base: _Prefixes, half_life: float) -> npt.NDArray[np.float32]:
        """``q . out_j`` of every item: ``q`` the session vector at this ``half_life``."""
        n = base.last.size
        w = np.exp2(-base.back / half_life)
        q = np.zeros((n, self.in_.shape[1]), dtype=np.float64)
        np.add.at(q, base.owner, w[:, None] * self.in_[base.items])
        q /= np.maximum(np.bincount(base.owner, weights=w, minlength=n), 1e-12)[:, None]
        out: npt.NDArray[np.float32] = q.astype(np.float32) @ self.out_.T
        return out

    @staticmethod
    def _softmax(
        base: _Prefixes, logits: npt.NDArray[np.float32], temperature: float
    ) -> npt.NDArray[np.float32]:
        """The explore softmax of ``logits / temperature`` over the items not in the
        session."""
        z = logits / np.float32(temperature)
        z[base.owner, base.items] = -np.inf
        z -= z.max(axis=1, keepdims=True)
        soft: npt.NDArray[np.float32] = np.exp(z)
        soft /= np.maximum(soft.sum(axis=1, keepdims=True), 1e-30)
        return soft

    def _grid_metrics(
        self, sessions: Sequences, grid: Sequence[Mapping[str, float]], k: int = 20
    ) -> dict[str, npt.NDArray[np.float64]]:
        """``HR@k``, ``MRR@k`` and ``NDCG@k`` of :meth:`_grid_ranks`, one entry per grid
        point."""
        return grid_metrics(self._grid_ranks(sessions, grid), k)

    def _grid_ranks(
        self, sessions: Sequences, grid: Sequence[Mapping[str, float]]
    ) -> npt.NDArray[np.int64]:
        """``(len(grid), predictions)`` ranks of the clicked item (0: unknown) of next-item
        prediction at every position of ``sessions`` for each scoring of ``grid``
        (``half_life``, ``temperature``, ``transition_weight``), without a re-ranker: the
        ranks :func:`~embedrec.eval.sessions.evaluate_sessions` counts with ``scoring_``
        set to each in turn (equal scores rank the lower code first; an empty prefix gets the
        popular items), at a fraction of the cost: what the scoring values do not change is
        computed once per block of prefixes, the session vector once per half-life and the
        softmax once per temperature, and only the target's rank is counted."""
        from ..eval.sessions import next_item_prefixes
        from .session_base import SCORE_BLOCK_CELLS

        prefixes, targets = next_item_prefixes(sessions, self.item_keys_)
        n_items = len(self.item_keys_)
        ranks = np.zeros((len(grid), len(prefixes)), dtype=np.int64)
        # empty prefixes: the popular items answer them, whatever the scoring
        filled = prefixes.lengths() > 0
        gone = np.flatnonzero(~filled)
        if gone.size:
            pop = self.item_counts_.astype(np.float32)
            ranks[:, gone] = target_ranks(
                np.broadcast_to(pop, (gone.size, pop.size)), targets[gone]
            )
        block = max(1, SCORE_BLOCK_CELLS // max(n_items, 1))
        for a in range(0, len(prefixes), block):
            b = min(len(prefixes), a + block)
            base = self._prefix_parts(prefixes.rows(a, b))
            t = np.where(filled[a:b], targets[a:b], -1)
            logits: dict[float, npt.NDArray[np.float32]] = {}
            softs: dict[tuple[float, float], npt.NDArray[np.float32]] = {}
            for g, sc in enumerate(grid):
                hl, temp = float(sc["half_life"]), float(sc["temperature"])
                if (hl, temp) not in softs:
                    if hl not in logits:
                        logits = {hl: self._logits(base, hl)}
                    softs = {(hl, temp): self._softmax(base, logits[hl], temp)}
                got = _mixture_ranks(base, softs[hl, temp], float(sc["transition_weight"]), t)
                ranks[g, a:b] = np.where(t >= 0, got, ranks[g, a:b])
        return ranks

    def _unit_vectors(self) -> npt.NDArray[np.float32]:
        """The item vectors scaled to length 1 (zero vectors stay 0), computed once."""
        if self._unit is None:
            norm = np.linalg.norm(self.in_, axis=1, keepdims=True)
            self._unit = (self.in_ / np.maximum(norm, 1e-12)).astype(np.float32)
        return self._unit

    def _repeat_weight(self, prefixes: Sequences) -> npt.NDArray[np.float32]:
        if self.config.gate == "logistic":
            return self.gate_.predict(prefixes).astype(np.float32)
        lengths = prefixes.lengths()
        has_rep = _has_repeat(prefixes)
        bucket = np.searchsorted(_LENGTH_EDGES, lengths, side="right")
        return self.repeat_table_[bucket, has_rep.astype(np.int64)].astype(np.float32)


@dataclass(frozen=True, eq=False)
class RerankData:
    """The re-ranker's view of a set of predictions (:func:`rerank_data`), one row each."""

    #: (n, C, len(FEATURES)) features of each prediction's candidates
    features: npt.NDArray[np.float64]
    #: the clicked candidate's column (-1: the click is not among the candidates)
    target: npt.NDArray[np.int64]
    #: (n, len(CONTEXT)) the prefixes' context
    context: npt.NDArray[np.float64]
    #: (n, C) the candidates' item codes
    candidates: npt.NDArray[np.int64]
    #: the clicked item's rank in the mixture's own order (0: an unknown item)
    plain_rank: npt.NDArray[np.int64]
    #: empty prefixes (the popular items answer them, re-ranker or not)
    empty: npt.NDArray[np.bool_]

    @classmethod
    def concat(cls, parts: Sequence[RerankData]) -> RerankData:
        """The predictions of ``parts``, one after the other (``parts`` not empty)."""
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def take(self, rows: npt.NDArray[np.int64]) -> RerankData:
        """The predictions ``rows``, in that order."""
        return type(self)(*(getattr(self, f.name)[rows] for f in fields(self)))

    def reranked(self, rr: Reranker) -> npt.NDArray[np.int64]:
        """The clicked item's rank in ``rr``'s order (as :meth:`Reranker.rescore` puts it,
        equal scores by lower code; a click outside the candidates ranks after all of
        them: 0 here, a miss at every cut-off up to ``C``)."""
        s = rr.score(self.features, self.context)
        s -= s.max(axis=1, keepdims=True)
        v = (1.0 + np.exp(s)).astype(np.float32)
        rows = np.flatnonzero(self.target >= 0)
        own = v[rows, self.target[rows]][:, None]
        code = self.candidates[rows, self.target[rows]][:, None]
        sub, cand = v[rows], self.candidates[rows]
        ranks = np.zeros(self.target.size, dtype=np.int64)
        ranks[rows] = (
            1
            + np.count_nonzero(sub > own, axis=1)
            + np.count_nonzero((sub == own) & (cand < code), axis=1)
        )
        return np.where(self.empty, self.plain_rank, ranks)


def rerank_data(model: SessionEmbed, sessions: Sequences) -> RerankData:
    """What a re-ranker of ``model``'s candidates is fitted and checked on: every
    prediction of ``sessions`` (the session protocol)."""
    from ..eval.sessions import next_item_prefixes
    from .session_base import SCORE_BLOCK_CELLS

    prefixes, targets = next_item_prefixes(sessions, model.item_keys_)
    empty = prefixes.lengths() == 0
    pop = model.item_counts_.astype(np.float32)
    fs, ts, cs, cands, plain = [], [], [], [], []
    block = max(1, SCORE_BLOCK_CELLS // max(len(model.item_keys_), 1))
    for a in range(0, len(prefixes), block):
        b = min(len(prefixes), a + block)
        parts = model._components(prefixes.rows(a, b), rerank=True)
        mix = parts.mixture()
        cand = candidates(mix)
        hit = cand == targets[a:b, None]
        ts.append(np.where(hit.any(axis=1), hit.argmax(axis=1), -1))
        fs.append(features(parts, mix, cand))
        cs.append(context(parts))
        cands.append(cand)
        mix[empty[a:b]] = pop
        plain.append(target_ranks(mix, targets[a:b]))
    if not fs:
        c = min(N_CANDIDATES, len(model.item_keys_))
        return RerankData(
            np.zeros((0, c, len(FEATURES))),
            np.zeros(0, dtype=np.int64),
            np.zeros((0, len(CONTEXT))),
            np.zeros((0, c), dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            empty,
        )
    return RerankData(
        np.concatenate(fs),
        np.concatenate(ts),
        np.concatenate(cs),
        np.concatenate(cands),
        np.concatenate(plain),
        empty,
    )


def mrr_at(ranks: npt.NDArray[np.int64], k: int = 20) -> float:
    """MRR@k of the clicked items' ranks (0: a miss), as the evaluator counts it."""
    from ..eval.sessions import rank_metrics

    return rank_metrics(ranks, k)[f"MRR@{k}"]


def check_half(late: Sequences) -> Sequences:
    """The half of ``late`` (every other session) on which :func:`fit_reranker_checked`
    compares the re-rankers it fitted on the other half."""
    return _pick(late, np.arange(len(late)) % 2 == 1)


def fit_reranker_checked(probe: SessionEmbed, late: Sequences) -> tuple[Reranker | None, float]:
    """A re-ranker of ``probe``'s candidates, and the MRR@20 on :func:`check_half` of the
    order it chose. ``probe`` must not have seen ``late``.

    The linear re-ranker and the MLP (:class:`MLPReranker`) are both fitted on the other
    half of the held-out sessions ``late``; the one with the higher MRR@20 on the check
    half is kept if it beats the mixture's own order there, and is then refitted on both
    halves (``None`` otherwise). The figure returned is that of the re-ranker fitted on the
    other half alone, or the mixture's (NaN when a half is empty): what
    :func:`~embedrec.eval.sessions.evaluate_sessions` gives there. Each half's candidates
    and features are computed once, for every re-ranker."""
    return fit_reranker_folds([(probe, late)])


def fit_reranker_folds(
    folds: Sequence[tuple[SessionEmbed, Sequences]],
) -> tuple[Reranker | None, float]:
    """:func:`fit_reranker_checked` over several held-out parts, each predicted by its own
    probe (cross-fitted calibration): the fit and check halves are the union of each
    part's halves, and the final fit reads the parts in the order given (the latest last:
    the MLP's early stopping holds out its last rows)."""
    fits, checks, orders = [], [], []
    for probe, late in folds:
        half = np.arange(len(late)) % 2 == 0
        fits.append(rerank_data(probe, _pick(late, half)))
        checks.append(rerank_data(probe, check_half(late)))
        # both halves' rows in the order of late's predictions (sessions alternate)
        n_pred = np.maximum(late.lengths() - 1, 0)
        in_fit = np.repeat(half, n_pred)
        order = np.empty(in_fit.size, dtype=np.int64)
        order[in_fit] = np.arange(int(in_fit.sum()))
        order[~in_fit] = int(in_fit.sum()) + np.arange(int((~in_fit).sum()))
        orders.append(order)
    fit_data, check_data = RerankData.concat(fits), RerankData.concat(checks)
    if fit_data.target.size == 0 or check_data.target.size == 0:
        return None, float("nan")
    best_mrr = plain = mrr_at(check_data.plain_rank)
    best: type[Reranker] | None = None
    for kind in (Reranker, MLPReranker):
        rr = kind().fit(fit_data.features, fit_data.target, fit_data.context)
        mrr = mrr_at(check_data.reranked(rr))
        logger.info(
            "SessionEmbed re-ranker %s: held-out MRR@20 %.4f -> %.4f", kind.__name__, plain, mrr
        )
        if mrr > best_mrr:
            best, best_mrr = kind, mrr
    if best is None:
        return None, best_mrr
    every = RerankData.concat(
        [
            RerankData.concat([fd, cd]).take(o)
            for fd, cd, o in zip(fits, checks, orders, strict=True)
        ]
    )
    return best().fit(every.features, every.target, every.context), best_mrr


def grid_metrics(ranks: npt.NDArray[np.int64], k: int = 20) -> dict[str, npt.NDArray[np.float64]]:
    """``HR@k``, ``MRR@k`` and ``NDCG@k`` of each row of ``(grid points, predictions)``
    clicked-item ranks (0: a miss), as the evaluator counts them."""
    from ..eval.sessions import rank_metrics

    per_point = [rank_metrics(r, k) for r in ranks]
    return {name: np.array([m[name] for m in per_point]) for name in per_point[0]}


def scoring_grid(axes: Mapping[str, Sequence[float]] = SCORING_GRID) -> list[dict[str, float]]:
    """Every combination of the values of ``axes`` (``half_life``, ``temperature``,
    ``transition_weight``), the last axis fastest."""
    names = list(axes)
    return [
        {n: float(v) for n, v in zip(names, values, strict=True)}
        for values in itertools.product(*(axes[n] for n in names))
    ]


def search_scoring(
    score: Callable[[list[dict[str, float]]], dict[str, npt.NDArray[np.float64]]],
    metric: str = "MRR@20",
    axes: Mapping[str, Sequence[float]] = SCORING_GRID,
    *,
    extend: bool = True,
) -> tuple[dict[str, float], dict[str, float]]:
    """The scoring with the highest ``metric`` (the first of equal ones) and its metrics.

    ``score`` gives the metrics of a list of scorings. It is asked for the whole grid of
    ``axes`` first; with ``extend``, if the best temperature is the grid's highest (or
    lowest), the temperature is then doubled (halved), with the best half-life and every
    transition weight, while that raises ``metric``, within :data:`TEMPERATURE_RANGE`.
    """
    points = scoring_grid(axes)
    got = score(points)
    pick = int(np.argmax(got[metric]))
    best, best_metrics = points[pick], {n: float(v[pick]) for n, v in got.items()}
    if not extend:
        return best, best_metrics
    temps = [float(t) for t in axes["temperature"]]
    for edge, factor in ((max(temps), 2.0), (min(temps), 0.5)):
        t = edge
        while best["temperature"] == t:
            t *= factor
            if not TEMPERATURE_RANGE[0] <= t <= TEMPERATURE_RANGE[1]:
                break
            more = [
                {"half_life": best["half_life"], "temperature": t, "transition_weight": float(g)}
                for g in axes["transition_weight"]
            ]
            extra = score(more)
            j = int(np.argmax(extra[metric]))
            if extra[metric][j] <= best_metrics[metric]:
                break
            best, best_metrics = more[j], {n: float(v[j]) for n, v in extra.items()}
    return best, best_metrics


@dataclass(frozen=True, eq=False)
class Components:
    """The parts of :class:`SessionEmbed`'s score for a batch of prefixes (rows)."""

    explore: npt.NDArray[np.float32]
    repeat: npt.NDArray[np.float32]
    beta: npt.NDArray[np.float32]
    #: the latest click's raw sequential-rule weights (session items zeroed)
    trans: npt.NDArray[np.float32]
    #: how often each item occurs in the prefix
    counts: npt.NDArray[np.float32]
    last: npt.NDArray[np.int64]
    item_counts: npt.NDArray[np.int64]
    #: the neighbour sessions' votes (:class:`SessionVectorKNN`), when asked for
    knn: npt.NDArray[np.float32] | None = None
    #: the raw sequential-rule weights of the click before the latest (all items; rows
    #: of one-click prefixes are 0), when asked for
    prev_rules: npt.NDArray[np.float32] | None = None
    #: the unit item vectors (rows of the code table), when asked for
    unit: npt.NDArray[np.float32] | None = None

    def mixture(self) -> npt.NDArray[np.float32]:
        return _mix(self.beta, self.repeat, self.explore)


@dataclass(frozen=True, eq=False, kw_only=True)
class _Prefixes:
    """What :class:`SessionEmbed`'s score of a batch of prefixes reads besides the scoring
    values (:meth:`SessionEmbed._prefix_parts`)."""

    #: each prefix event's prefix, its distance back from the prefix's end, its item code
    owner: npt.NDArray[np.int64]
    back: npt.NDArray[np.float64]
    items: npt.NDArray[np.int64]
    #: the latest click's item (-1: empty prefix)
    last: npt.NDArray[np.int64]
    #: the latest click's raw sequential-rule weights (session items zeroed)
    trans: npt.NDArray[np.float32]
    #: the prefixes with a rule weight, their rows of ``trans`` and those rows' sums
    use: npt.NDArray[np.int64]
    rule_weights: npt.NDArray[np.float32]
    rule_totals: npt.NDArray[np.float32]
    repeat: npt.NDArray[np.float32]
    counts: npt.NDArray[np.float32]
    beta: npt.NDArray[np.float32]


def _blend(base: _Prefixes, soft: npt.NDArray[np.float32], gamma: float) -> npt.NDArray[np.float32]:
    """The explore distribution, into ``soft``: ``(1 - gamma) softmax + gamma rules`` on
    the prefixes whose latest click has rules, the softmax alone on the others."""
    if gamma > 0 and base.use.size:
        soft[base.use] = (1.0 - gamma) * soft[
            base.use
        ] + gamma * base.rule_weights / base.rule_totals
    return soft


def _mixture_ranks(
    base: _Prefixes, soft: npt.NDArray[np.float32], gamma: float, targets: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """``target_ranks(_mix(base.beta, base.repeat, _blend(base, soft, gamma)), targets)``,
    without the ``(n, n_items)`` temporaries
    (:func:`~embedrec.kernels.session_rank.mixture_ranks`)."""
    from ..kernels.session_rank import mixture_ranks

    rule_row = np.full(soft.shape[0], -1, dtype=np.int64)
    if gamma > 0:
        rule_row[base.use] = np.arange(base.use.size)
    out = np.empty(soft.shape[0], dtype=np.int64)
    mixture_ranks(
        soft,
        base.beta.astype(np.float32),
        base.repeat,
        rule_row,
        base.rule_weights,
        base.rule_totals.reshape(-1).astype(np.float32),
        np.float32(1.0 - gamma),
        np.float32(gamma),
        targets.astype(np.int64),
        out,
    )
    return out


def _mix(
    beta: npt.NDArray[np.float32], repeat: npt.NDArray[np.float32], explore: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """``beta P_repeat + (1 - beta) P_explore``, row by row."""
    b = beta[:, None]
    out: npt.NDArray[np.float32] = (b * repeat + (1.0 - b) * explore).astype(np.float32)
    return out


def target_ranks(
    scores: npt.NDArray[np.float32], targets: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The rank (1: first) of each row's target column in the row's order by decreasing
    score, equal scores by increasing column (:func:`embedrec.index.topk.top_k`'s order,
    which the evaluator reads); 0 where the target is ``-1`` (unknown)."""
    n = scores.shape[0]
    t = np.maximum(targets, 0)
    own = scores[np.arange(n), t][:, None]
    ranks = 1 + np.count_nonzero(scores > own, axis=1)
    equal = scores == own
    tied = np.flatnonzero(np.count_nonzero(equal, axis=1) > 1)
    if tied.size:
        lower = np.arange(scores.shape[1])[None, :] < t[tied, None]
        ranks[tied] += np.count_nonzero(equal[tied] & lower, axis=1)
    out: npt.NDArray[np.int64] = np.where(targets >= 0, ranks, 0).astype(np.int64)
    return out


def transition_table(sessions: Sequences, keys: npt.NDArray[Any]) -> Any:
    """Sequential rules (SR, Ludewig and Jannach 2018: "b follows a within 10 steps",
    weight ``1 / steps``, the top 20 per item) as an ``(n_keys, n_keys)`` sparse matrix in
    the code table of ``keys``."""
    import scipy.sparse as sps

    from .session_rules import SequentialRules

    n = len(keys)
    if sessions.items.size == 0:
        return sps.csr_array((n, n), dtype=np.float32)
    sr = SequentialRules().fit(sessions)
    # SR compacts its table to the items that occur: map its codes back to ours
    ours = {k: i for i, k in enumerate(keys.tolist())}
    to_ours = np.array([ours[k] for k in sr.item_keys_.tolist()], dtype=np.int64)
    coo = sr.rules_.tocoo()
    return sps.csr_array(
        (coo.data, (to_ours[coo.row], to_ours[coo.col])), shape=(n, n), dtype=np.float32
    )


def _by_session(
    data: Any, global_context: Sequence[Any] | Mapping[Any, Any] | None
) -> Mapping[Any, Any] | None:
    """``global_context`` as a mapping from session key (what :class:`Item2Vec` looks up
    for every subset of the sessions that calibration fits on)."""
    if global_context is None or isinstance(global_context, Mapping):
        return global_context
    if isinstance(global_context, (str, bytes)):
        raise TypeError("global_context must be item keys, one per session, not a string")
    entries = list(global_context)
    keys = sequence_keys(data)
    if keys is None:
        if isinstance(data, Sequences):
            raise ValueError(
                "global_context over Sequences without user_keys: give a list of sessions or "
                "an Interactions log (session keys as user keys)"
            )
        if not hasattr(data, "__len__"):
            raise TypeError(
                "global_context as a list needs the sessions as a list (or a log), not an iterator"
            )
        keys = list(range(len(data)))  # a list of sessions: as_sessions keys them by position
    if len(keys) != len(entries):
        raise ValueError(
            f"global_context has {len(entries)} entries for {len(keys)} sessions; give one "
            "item key (or None) per session, in order, or a mapping from session key to item key"
        )
    return {k: e for k, e in zip(keys, entries, strict=True) if e is not None}


def calibration_hold(sessions: Sequences) -> npt.NDArray[np.bool_] | None:
    """The sessions a single held-out part of :meth:`SessionEmbed._calibrate` holds: the
    latest :data:`CALIBRATION_FRACTION` by last event, fewer if they would make more than
    :data:`MAX_CALIBRATION_PREDICTIONS` predictions (but at least
    :data:`MIN_CALIBRATION_SESSIONS`); ``None`` when that many are not there."""
    n_hold = int(len(sessions) * CALIBRATION_FRACTION)
    if n_hold < MIN_CALIBRATION_SESSIONS:
        return None
    latest_first = _latest_first(sessions)
    predictions = np.maximum(sessions.lengths() - 1, 0)[latest_first]
    within = int(np.count_nonzero(np.cumsum(predictions) <= MAX_CALIBRATION_PREDICTIONS))
    n_hold = min(n_hold, max(within, MIN_CALIBRATION_SESSIONS))
    hold = np.zeros(len(sessions), dtype=bool)
    hold[latest_first[:n_hold]] = True
    return hold


def calibration_folds(sessions: Sequences) -> list[npt.NDArray[np.bool_]] | None:
    """The held-out parts of :meth:`SessionEmbed._calibrate`, each a mask over
    ``sessions``, the latest last: :func:`calibration_hold` alone where it makes at least
    :data:`MIN_HELD_PREDICTIONS` predictions (or the whole log at least
    ``CALIBRATION_FOLDS`` times that many); else :data:`CALIBRATION_FOLDS` blocks of
    sessions by last event, which together hold every session once (cross-fitting); ``None``
    under :data:`MIN_CROSSFIT_SESSIONS` sessions."""
    hold = calibration_hold(sessions)
    n_pred = np.maximum(sessions.lengths() - 1, 0)
    # a log of many predictions whose latest sessions happen to be short keeps one part:
    # five probes cost five fits, which only small logs make cheap
    large = int(n_pred.sum()) >= CALIBRATION_FOLDS * MIN_HELD_PREDICTIONS
    if hold is not None and (int(n_pred[hold].sum()) >= MIN_HELD_PREDICTIONS or large):
        return [hold]
    if len(sessions) < MIN_CROSSFIT_SESSIONS:
        return None
    oldest_first = _latest_first(sessions)[::-1]
    out = []
    for block in np.array_split(oldest_first, CALIBRATION_FOLDS):
        mask = np.zeros(len(sessions), dtype=bool)
        mask[block] = True
        out.append(mask)
    return out


def _latest_first(sessions: Sequences) -> npt.NDArray[np.int64]:
    """Session indices by last event, the latest first (equal times: the later index
    first)."""
    last = sessions.times[np.maximum(sessions.offsets[1:] - 1, 0)]
    out: npt.NDArray[np.int64] = np.argsort(last, kind="stable")[::-1]
    return out


def known_clicks(s: Sequences, known: npt.NDArray[np.bool_]) -> Sequences:
    """``s`` as the session protocol tests a model that knows the items ``known``: clicks
    on other items removed, then sessions shorter than 2 (a fitted model never sees an
    unknown item either: it drops it from a history)."""
    keep = known[s.items]
    if keep.all():
        return s
    owner = np.repeat(np.arange(len(s)), s.lengths())
    lengths = np.bincount(owner[keep], minlength=len(s))
    off = np.zeros(len(s) + 1, dtype=np.int64)
    np.cumsum(lengths, out=off[1:])
    kept = Sequences(s.items[keep], off, s.user, s.item_keys, s.times[keep], s.user_keys)
    return _pick(kept, lengths >= 2)


def _pick(s: Sequences, keep: npt.NDArray[np.bool_]) -> Sequences:
    """The sequences where ``keep`` is True."""
    ev = np.repeat(keep, s.lengths())
    off = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(s.lengths()[keep], out=off[1:])
    return Sequences(s.items[ev], off, s.user[keep], s.item_keys, s.times[ev], s.user_keys)


def _drop_singletons(s: Sequences) -> Sequences:
    keep = s.lengths() >= 2
    return s if keep.all() else _pick(s, keep)


def _item_tables(
    embedder: Any, keys: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Input and output vectors of ``keys`` (zeros for items the embedder has no row for);
    without output vectors, unit input vectors on both sides (cosine scoring)."""
    emb = embedder.embeddings_
    known = np.array([k in emb for k in keys.tolist()], dtype=bool)
    rows = np.full(len(keys), -1, dtype=np.int64)
    rows[known] = emb.index_of(keys[known].tolist())
    v = np.zeros((len(keys), emb.dim), dtype=np.float32)
    v[known] = emb.vectors[rows[known]]
    out_w = getattr(embedder, "output_weights_", None)
    if out_w is not None:
        o = np.zeros_like(v)
        o[known] = out_w[rows[known]]
        return v, o
    unit = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return unit, unit


def _has_repeat(prefixes: Sequences) -> npt.NDArray[np.bool_]:
    """Whether each prefix holds an item twice."""
    n = len(prefixes)
    owner = np.repeat(np.arange(n), prefixes.lengths())
    pairs = np.unique(
        owner.astype(np.int64) * (int(prefixes.items.max(initial=0)) + 1) + prefixes.items
    )
    distinct = np.bincount(pairs // (int(prefixes.items.max(initial=0)) + 1), minlength=n)
    return distinct < prefixes.lengths()


def recency_ranks(
    owner: npt.NDArray[np.int64], items: npt.NDArray[np.int64], back: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The distinct items of each prefix and their recency rank (0: the latest click's item,
    1: the next most recent distinct item, ...), from every event's prefix (``owner``), item
    and distance back from the prefix's end."""
    order = np.lexsort((back, items, owner))  # per (prefix, item): the latest occurrence first
    o, it, bk = owner[order], items[order], back[order]
    first = np.ones(o.size, dtype=bool)
    first[1:] = (o[1:] != o[:-1]) | (it[1:] != it[:-1])
    o, it, bk = o[first], it[first], bk[first]
    by_recency = np.lexsort((bk, o))
    o, it = o[by_recency], it[by_recency]
    start = np.zeros(o.size, dtype=np.int64)
    if o.size:
        new = np.ones(o.size, dtype=bool)
        new[1:] = o[1:] != o[:-1]
        start = np.maximum.accumulate(np.where(new, np.arange(o.size), 0))
    return o, it, np.arange(o.size) - start


def repeat_tables(
    sessions: Sequences,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
    """What the training sessions say about re-clicks, counted over every prefix.

    Returns
    -------
    repeat : (6, 2) float64
        ``P(next item is already in the prefix)`` per prefix-length bucket (rows: 1, 2, 3, 4,
        5-9, 10+) and per whether the prefix holds a re-click (columns), Laplace-smoothed:
        ``(repeats + 1) / (prefixes + 2)``.
    rank_share : (N_RANKS,) float32
        Of the re-clicks, the share that went to the item of recency rank ``r`` (0: the latest
        click's item; the last entry pools older ones), Laplace-smoothed and divided by the
        mean number of candidate items at that rank, so that it is a per-item weight.
    """
    hits = np.zeros((_LENGTH_EDGES.size + 1, 2))
    total = np.zeros_like(hits)
    rank_hits = np.ones(N_RANKS)
    rank_slots = np.ones(N_RANKS)
    items, off = sessions.items, sessions.offsets
    for s in range(len(sessions)):
        seq = items[off[s] : off[s + 1]].tolist()
        last_seen: dict[int, int] = {}
        rep = 0
        for j in range(1, len(seq)):
            x = seq[j - 1]
            if x in last_seen:
                rep = 1
            last_seen[x] = j - 1
            b = int(np.searchsorted(_LENGTH_EDGES, j, side="right"))
            total[b, rep] += 1
            target = seq[j]
            if target in last_seen:
                hits[b, rep] += 1
                # recency rank of the target among the distinct items so far
                newer = sum(1 for v in last_seen.values() if v > last_seen[target])
                rank_hits[min(newer, N_RANKS - 1)] += 1
                n_distinct = len(last_seen)
                rank_slots[: min(n_distinct, N_RANKS)] += 1
                if n_distinct > N_RANKS:
                    rank_slots[N_RANKS - 1] += n_distinct - N_RANKS
    share = rank_hits / rank_slots
    return (hits + 1.0) / (total + 2.0), (share / share.sum()).astype(np.float32)

"""Popularity and rule baselines of session-based recommendation: S-POP, AR and SR.

The three non-neural baselines of the session-rec framework (Ludewig & Jannach 2018,
"Evaluation of session-based recommendation algorithms", User Modeling and User-Adapted
Interaction 28; Ludewig, Latifi & Jannach 2019/2021), rebuilt from their published description:

- :class:`SessionPop` (S-POP) ranks the items of the current session by how often they occur in
  it, then the globally popular items;
- :class:`AssociationRules` (AR) scores the items that co-occur with the current item in
  training sessions (Agrawal, Imieliński & Swami 1993, rules of size two);
- :class:`SequentialRules` (SR) scores the items that *followed* the current item in training
  sessions, weighted by how many steps later they came (Kamehkhosh, Jannach & Ludewig 2017).

AR and SR score only the **last** item of a prefix (the "current item"), as in session-rec.
Their rules are a sparse ``(n_items, n_items)`` matrix built with vectorised NumPy over
look-back pairs and ``scipy.sparse`` (duplicate pairs summed), then pruned to the
``pruning`` heaviest successors of each item. Ranking, ties (lower item code first) and the
zero-score fill-up are the base class's (:class:`~.session_base.SessionModel`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from ..data.interactions import Sequences
from .config import ConfigDict, check_choice, check_int
from .session_base import SessionModel, check_array, csr_arrays, csr_from_arrays

if TYPE_CHECKING:
    import scipy.sparse as sps

__all__ = [
    "AssociationRules",
    "AssociationRulesConfig",
    "SequentialRules",
    "SequentialRulesConfig",
    "SessionPop",
    "SessionPopConfig",
    "Weighting",
    "lookback_weights",
]

Weighting = Literal["div", "quadratic", "log", "same", "linear"]

#: look-back pairs materialised at once while counting rules (bounds memory: ~40 bytes a pair)
PAIR_BLOCK = 1 << 22

_PRUNING_ALLOWED = "an integer pruning>=0 (successors kept per item; 0 keeps them all)"


@dataclass(frozen=True, kw_only=True)
class SessionPopConfig(ConfigDict):
    """Hyper-parameters of :class:`SessionPop`.

    Parameters
    ----------
    top_n : only the ``top_n`` most popular training items (by events) get a popularity
        boost; the others score only their count in the session. session-rec's default is 100.
    """

    top_n: int = 100

    def __post_init__(self) -> None:
        check_int("top_n", self.top_n, 1)


@dataclass(frozen=True, kw_only=True)
class AssociationRulesConfig(ConfigDict):
    """Hyper-parameters of :class:`AssociationRules`.

    Parameters
    ----------
    pruning : keep the ``pruning`` heaviest rules of each item (0 keeps them all). At the cut,
        equal weights keep the lower item code first. session-rec's default is 20; its
        fractional pruning (``pruning < 1``) is not offered.
    """

    pruning: int = 20

    def __post_init__(self) -> None:
        check_int("pruning", self.pruning, 0, allowed=_PRUNING_ALLOWED)


@dataclass(frozen=True, kw_only=True)
class SequentialRulesConfig(ConfigDict):
    """Hyper-parameters of :class:`SequentialRules`.

    session-rec's published setting for RSC15 (yoochoose clicks) is ``steps=8,
    weighting="div"`` (with ``pruning=20``); the defaults here are session-rec's class
    defaults.

    Parameters
    ----------
    steps : how far back a rule reaches: the event at position ``t`` makes rules from the
        items at ``t-1, ..., t-steps``
    weighting : the weight ``w(d)`` of a rule between items ``d`` steps apart
        (:func:`lookback_weights`): ``div`` 1/d, ``quadratic`` 1/d², ``log`` 1/log10(d+1.7),
        ``same`` 1, ``linear`` 1-0.1·d (0 beyond d=100; negative for d>10, as in session-rec)
    pruning : keep the ``pruning`` heaviest rules of each item (0 keeps them all). At the cut,
        equal weights keep the lower item code first.
    """

    steps: int = 10
    weighting: Weighting = "div"
    pruning: int = 20

    def __post_init__(self) -> None:
        check_int("steps", self.steps, 1)
        check_choice(
            "weighting",
            self.weighting,
            get_args(Weighting),
            "'div', 'quadratic', 'log', 'same' or 'linear'",
        )
        check_int("pruning", self.pruning, 0, allowed=_PRUNING_ALLOWED)


def lookback_weights(d: npt.ArrayLike, weighting: Weighting) -> npt.NDArray[np.float64]:
    """The weight of a sequential rule between two events ``d`` steps apart.

    Parameters
    ----------
    d : int array-like, every value >= 1
        Look-back distances.
    weighting : "div" (1/d), "quadratic" (1/d²), "log" (1/log10(d+1.7)), "same" (1) or
        "linear" (1-0.1·d for d<=100, else 0)

    Returns
    -------
    (len(d),) float64

    >>> lookback_weights([1, 2, 4], "div").tolist()
    [1.0, 0.5, 0.25]
    """
    check_choice(
        "weighting", weighting, get_args(Weighting), "'div', 'quadratic', 'log', 'same' or 'linear'"
    )
    dist = np.asarray(d, dtype=np.float64)
    if dist.size and dist.min() < 1:
        raise ValueError(f"look-back distances must be >= 1; got min {dist.min():g}")
    if weighting == "div":
        return 1.0 / dist
    if weighting == "quadratic":
        return 1.0 / (dist * dist)
    if weighting == "log":
        return np.asarray(1.0 / np.log10(dist + 1.7), dtype=np.float64)
    if weighting == "same":
        return np.ones_like(dist)
    return np.where(dist <= 100, 1.0 - 0.1 * dist, 0.0)


# ---------------------------------------------------------------------------------- S-POP
class SessionPop(SessionModel):
    """S-POP: the items of the session by their count in it, then the popular items.

    A candidate ``i`` scores ``s_i + g_i``: ``s_i`` is how often ``i`` occurs in the prefix and
    ``g_i`` in [0, 1) is a popularity boost for the ``top_n`` most popular training items (0
    for the others). Session items therefore rank by their count, equal counts by global
    popularity, and the popular unseen items come next.

    session-rec uses ``g_i = c_i / (c_i + 1)`` (``c_i`` = training events of ``i``). In
    float32 (the scores' type) neighbouring counts round to the same value from ``c = 4140``
    on, so popular items would tie and fall back to the code order. Here
    ``g_i = r_i / (m + 1)``, with ``m`` the number of distinct counts among the ``top_n``
    items and ``r_i`` the 1-based rank of ``c_i`` among them (ascending): the same order as
    ``c_i / (c_i + 1)``, equal counts still tie, and float32 resolves it while
    ``prefix length * (m + 1)`` stays below about 2**23. Among items with equal counts at the
    ``top_n`` cut, the lower code gets the boost.

    Reference: Ludewig & Jannach 2018, "Evaluation of session-based recommendation
    algorithms", UMUAI 28 (S-POP in their baseline set).

    Attributes
    ----------
    popularity_boost_ : (n_items,) float32
        ``g_i`` per item code.

    Examples
    --------
    >>> from embedrec.models.session_rules import SessionPop, SessionPopConfig
    >>> sessions = [["a", "b"], ["b", "c"], ["b", "c"], ["d"]]
    >>> model = SessionPop(SessionPopConfig(top_n=2)).fit(sessions)
    >>> model.recommend(["a", "d", "a"], k=4).keys.tolist()
    ['a', 'd', 'b', 'c']
    """

    popularity_boost_: npt.NDArray[np.float32]

    config_class = SessionPopConfig
    _ARRAYS = ("popularity_boost",)

    def __init__(self, config: SessionPopConfig | None = None) -> None:
        self.config = config if config is not None else SessionPopConfig()

    def _state(self) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
        return {"popularity_boost": self.popularity_boost_}, {}

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]], facts: dict[str, Any]) -> None:
        n = len(self.item_keys_)
        boost = check_array(arrays["popularity_boost"], "popularity_boost", "f", (n,))
        self.popularity_boost_ = boost.astype(np.float32)

    def _fit(self, sessions: Sequences) -> None:
        counts = self.item_counts_
        # most popular first, equal counts by lower code (a stable sort of -counts)
        top = np.argsort(-counts, kind="stable")[: self.config.top_n]
        levels, rank = np.unique(counts[top], return_inverse=True)
        boost = np.zeros(counts.shape[0], dtype=np.float64)
        boost[top] = (rank + 1) / (levels.size + 1)
        self.popularity_boost_ = boost.astype(np.float32)

    def _score_prefixes(self, prefixes: Sequences) -> npt.NDArray[np.float32]:
        n = len(prefixes)
        scores = np.tile(self.popularity_boost_, (n, 1))
        rows = np.repeat(np.arange(n), prefixes.lengths())
        np.add.at(scores, (rows, prefixes.items), np.float32(1.0))
        return scores


# ---------------------------------------------------------------------------------- rules
class _RuleModel(SessionModel):
    """A rule matrix scored by the prefix's last item (the shared half of AR and SR)."""

    #: (n_items, n_items) float32 CSR: ``rules_[a, b]`` is the weight of the rule a -> b
    rules_: sps.csr_array
    _ARRAYS = ("rules_data", "rules_indices", "rules_indptr")

    def _state(self) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
        return csr_arrays(self.rules_, "rules"), {}

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]], facts: dict[str, Any]) -> None:
        self.rules_ = csr_from_arrays(arrays, "rules", len(self.item_keys_))

    def _score_prefixes(self, prefixes: Sequences) -> npt.NDArray[np.float32]:
        n_items = self.rules_.shape[0]
        scores = np.zeros((len(prefixes), n_items), dtype=np.float32)
        has = prefixes.lengths() > 0
        if has.any():
            last = prefixes.items[prefixes.offsets[1:][has] - 1]
            scores[has] = self.rules_[last].toarray()
        return scores


class AssociationRules(_RuleModel):
    """AR: items that co-occurred with the current item in training sessions.

    Rules of size two (Agrawal, Imieliński & Swami 1993, "Mining association rules between
    sets of items in large databases") as session-rec builds them: for every pair of events at
    positions ``u < t`` of one training session, ``count[a_u, a_t]`` and ``count[a_t, a_u]``
    both grow by 1. Every pair counts (repeated events too), and an item repeated in a session
    counts with itself (+2 per pair on the diagonal). Each item keeps its ``pruning`` largest
    counts (ties: lower code first). A prefix scores ``count[last item, j]`` for each ``j``:
    the raw counts, not session-rec's division by the row maximum, which leaves the ranking
    unchanged.

    Reference: Ludewig & Jannach 2018, "Evaluation of session-based recommendation
    algorithms", UMUAI 28.

    Attributes
    ----------
    rules_ : (n_items, n_items) float32 scipy.sparse.csr_array
        The pruned co-occurrence counts (symmetric before pruning).

    Examples
    --------
    >>> from embedrec.models.session_rules import AssociationRules
    >>> model = AssociationRules().fit([["a", "b", "c"], ["c", "a"], ["b", "d"]])
    >>> rec = model.recommend(["b", "a"], k=2)
    >>> rec.keys.tolist(), rec.scores.tolist()
    (['c', 'b'], [2.0, 1.0])
    """

    config_class = AssociationRulesConfig

    def __init__(self, config: AssociationRulesConfig | None = None) -> None:
        self.config = config if config is not None else AssociationRulesConfig()

    def _fit(self, sessions: Sequences) -> None:
        n_items = self.item_keys_.shape[0]
        # ordered pairs (earlier, later) with weight 1; AR is their symmetric sum
        forward = _count_rules(sessions, n_items, steps=None, weighting="same")
        self.rules_ = _prune_rows((forward + forward.T).tocsr(), self.config.pruning)


class SequentialRules(_RuleModel):
    """SR: items that followed the current item in training sessions, closer ones weighing more.

    For each training event at position ``t`` and each look-back ``d = 1..min(steps, t)``,
    ``rule[a_{t-d}, a_t]`` grows by ``w(d)`` (:func:`lookback_weights`). Rules are directed
    (earlier -> later). Each item keeps its ``pruning`` heaviest rules (ties: lower code
    first). A prefix scores ``rule[last item, j]`` for each ``j``: the raw weights, not
    session-rec's division by the row maximum, which leaves the ranking unchanged. session-rec's
    ``idf_weight`` and ``last_n_days`` options are not offered. session-rec's published RSC15
    setting is ``SequentialRulesConfig(steps=8, weighting="div")``.

    Reference: Ludewig & Jannach 2018, "Evaluation of session-based recommendation
    algorithms", UMUAI 28; Kamehkhosh, Jannach & Ludewig 2017, "A comparison of frequent
    pattern techniques and a deep learning method for session-based recommendation".

    Attributes
    ----------
    rules_ : (n_items, n_items) float32 scipy.sparse.csr_array
        The pruned rule weights, ``rules_[a, b]`` for "b after a".

    Examples
    --------
    >>> from embedrec.models.session_rules import SequentialRules, SequentialRulesConfig
    >>> sessions = [["a", "b", "c"], ["a", "b"], ["b", "c"]]
    >>> model = SequentialRules(SequentialRulesConfig(steps=2)).fit(sessions)
    >>> rec = model.recommend(["a"], k=2)
    >>> rec.keys.tolist(), rec.scores.tolist()
    (['b', 'c'], [2.0, 0.5])
    """

    config_class = SequentialRulesConfig

    def __init__(self, config: SequentialRulesConfig | None = None) -> None:
        self.config = config if config is not None else SequentialRulesConfig()

    def _fit(self, sessions: Sequences) -> None:
        cfg = self.config
        n_items = self.item_keys_.shape[0]
        rules = _count_rules(sessions, n_items, steps=cfg.steps, weighting=cfg.weighting)
        self.rules_ = _prune_rows(rules, cfg.pruning)


# ---------------------------------------------------------------------------------- helpers
def _count_rules(
    sessions: Sequences, n_items: int, *, steps: int | None, weighting: Weighting
) -> sps.csr_array:
    """``R[a_{t-d}, a_t] += w(d)`` over every event ``t`` and look-back ``d = 1..min(steps,
    position of t)`` (all earlier events when ``steps`` is None), as float64 CSR.

    The pairs are materialised in blocks of about :data:`PAIR_BLOCK` (a block never splits
    one event's look-backs), each block summed into CSR by scipy.
    """
    import scipy.sparse as sps

    items = sessions.items
    lengths = sessions.lengths()
    position = np.arange(items.shape[0], dtype=np.int64) - np.repeat(sessions.offsets[:-1], lengths)
    per_event = position if steps is None else np.minimum(position, steps)
    total = sps.csr_array((n_items, n_items), dtype=np.float64)
    for a, b in _event_blocks(per_event, PAIR_BLOCK):
        counts = per_event[a:b]
        later = np.repeat(np.arange(a, b, dtype=np.int64), counts)
        if later.size == 0:
            continue
        first = np.cumsum(counts) - counts
        d = np.arange(later.size, dtype=np.int64) - np.repeat(first, counts) + 1
        block = sps.coo_array(
            (lookback_weights(d, weighting), (items[later - d], items[later])),
            shape=(n_items, n_items),
        ).tocsr()
        total = block if total.nnz == 0 else total + block
    total.sum_duplicates()
    return total


def _event_blocks(per_event: npt.NDArray[np.int64], block: int) -> Iterator[tuple[int, int]]:
    """Event ranges ``[a, b)`` holding at most ``block`` pairs each (or one event)."""
    ends = np.cumsum(per_event)
    n = per_event.shape[0]
    a = 0
    while a < n:
        before = int(ends[a - 1]) if a else 0
        b = max(int(np.searchsorted(ends, before + block, side="right")), a + 1)
        yield a, b
        a = b


def _prune_rows(rules: sps.csr_array, keep: int) -> sps.csr_array:
    """Keep the ``keep`` largest entries of each row (ties: lower column first), as float32.

    ``keep=0`` keeps every entry. The weights are compared in float64, before the cast.
    """
    import scipy.sparse as sps

    rules = rules.tocsr()
    rules.sum_duplicates()  # canonical: columns ascending within each row
    counts = np.diff(rules.indptr)
    if keep == 0 or rules.nnz == 0 or int(counts.max()) <= keep:
        return sps.csr_array(rules, dtype=np.float32)
    rows = np.repeat(np.arange(rules.shape[0], dtype=np.int64), counts)
    # within each row: heaviest first; lexsort is stable and the columns are ascending within a
    # row, so equal weights keep the lower column first (a third key would cost 5x the time)
    order = np.lexsort((-rules.data, rows))
    rank = np.arange(rules.nnz, dtype=np.int64) - rules.indptr[rows]
    kept = np.sort(order[rank < keep])  # back to (row, column) order
    indptr = np.zeros(rules.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.minimum(counts, keep), out=indptr[1:])
    return sps.csr_array(
        (rules.data[kept].astype(np.float32), rules.indices[kept], indptr), shape=rules.shape
    )

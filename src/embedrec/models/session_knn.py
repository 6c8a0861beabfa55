"""Session-based kNN recommenders: SKNN, V-SKNN, STAN and V-STAN.

A prefix (the session so far) is compared with the training sessions that share an item with
it; the most similar ones (its neighbours) vote for their items. The four models differ in
how a session is compared and how a neighbour votes:

- **SKNN** (Jannach & Ludewig, RecSys 2017, "When recurrent neural networks meet the
  neighborhood for session-based recommendation"): set similarity (Jaccard or cosine), each
  neighbour adds its similarity to each of its items.
- **V-SKNN** (Ludewig & Jannach, UMUAI 2018, "Evaluation of session-based recommendation
  algorithms"): recent prefix items weigh more in the similarity, and a neighbour's vote decays
  with how far back the most recent prefix item it shares lies.
- **STAN** (Garg et al., SIGIR 2019, "Sequence and time aware neighborhood for session-based
  recommendations"): exponential position weights in the prefix (λ1 = ``lambda_spw``), an
  exponential decay with the neighbour's age (λ2 = ``lambda_snh``, days) and, inside a
  neighbour, with an item's distance from the shared item (λ3 = ``lambda_inh``).
- **V-STAN** (Ludewig, Latifi & Jannach, UMUAI 2021, "Empirical analysis of session-based
  recommendation algorithms"): STAN plus V-SKNN's vote decay in exponential form
  (``lambda_ipw``) and an idf factor (``lambda_idf``).

The rules follow the session-rec framework (Ludewig, Latifi, Jannach); the arithmetic is in
:mod:`embedrec.kernels.session_knn`, which scores a whole batch of prefixes in one call. The
neighbour candidates of a prefix are the training sessions holding any of its items; when
there are more than ``sample_size``, the most recent ones are kept (session-rec's
``sampling='recent'``, the only sampling offered here). Equal similarities and equal times
favour the lower training session, and equal item scores the lower item code (the base class).

Departures from session-rec, none of which changes a ranking unless said:

- Scores are not divided by their maximum (session-rec's SKNN / V-SKNN ``normalize``).
- STAN / V-STAN's "now" is the time of the prefix's last event; session-rec passes the time of
  the event being predicted. The recency factor ``exp(-(now - t_n) / lambda_snh)`` then
  differs by one constant per prefix, so rankings are identical. ``now`` is also clamped to the
  newest neighbour candidate (see :func:`~embedrec.kernels.session_knn.score_stan_batch`).
- Where session-rec has a coding slip, the intended formula is used (each is named in the
  config that it concerns).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from ..data.interactions import Sequences
from ..kernels.session_knn import (
    DECAY_DIV,
    DECAY_LINEAR,
    DECAY_LOG,
    DECAY_QUADRATIC,
    DECAY_SAME,
    SIM_COSINE,
    SIM_JACCARD,
    SIM_VEC,
    score_sknn_batch,
    score_stan_batch,
)
from .config import ConfigDict, check_bool, check_choice, check_float, check_int
from .session_base import SessionModel, check_array, check_csr

SKNNSimilarity = Literal["jaccard", "cosine"]
VSKNNSimilarity = Literal["vec", "cosine"]
Weighting = Literal["same", "div", "linear", "quadratic", "log"]

_SIMILARITY_CODES = {"jaccard": SIM_JACCARD, "cosine": SIM_COSINE, "vec": SIM_VEC}
_WEIGHTING_CODES = {
    "same": DECAY_SAME,
    "div": DECAY_DIV,
    "linear": DECAY_LINEAR,
    "quadratic": DECAY_QUADRATIC,
    "log": DECAY_LOG,
}
_WEIGHTINGS = "'same', 'div', 'linear', 'quadratic' or 'log'"
SECONDS_PER_DAY = 86400.0


def _check_neighbourhood(k: Any, sample_size: Any) -> None:
    check_int("k", k, 1)
    check_int(
        "sample_size",
        sample_size,
        0,
        allowed="an integer sample_size>=1, or 0 to compare with every candidate session",
    )


def _check_lambda(name: str, value: Any) -> None:
    check_float(name, value, gt=0, allowed=f"a finite {name}>0")


# ------------------------------------------------------------------------------------ configs


@dataclass(frozen=True, kw_only=True)
class SKNNConfig(ConfigDict):
    """Hyper-parameters of :class:`SKNN`.

    The defaults are session-rec's tuned RSC15 setting (``k: 500, sample_size: 10000,
    similarity: jaccard``; conf/save/rsc15/window/window_rsc15_baselines.yml). Its example
    configuration for the 100k sample uses ``k=100, sample_size=500, similarity="cosine"``.

    Parameters
    ----------
    k : neighbours that vote (the most similar candidate sessions)
    sample_size : candidate sessions compared, the most recent ones (0: all of them)
    similarity : ``"jaccard"`` ``|S∩N| / |S∪N|`` or ``"cosine"`` ``|S∩N| / sqrt(|S| |N|)``
        between the prefix's item set ``S`` and a session's ``N``. session-rec codes cosine
        as ``|S∩N| sqrt(|S|) / sqrt(|N|)`` (operator precedence); with ``|S|`` fixed per prefix
        both rank alike, and the true cosine is used here.
    remind : session-rec's SKNN reminder bonus (off in the published settings): for the last
        three prefix events ``e`` (oldest first, ``c = 1, 2, 3``) ``score(e) = (score(e) + 5)
        * 5 + c / 100``, which puts them first.

    Notes
    -----
    session-rec's ``pop_boost``, ``extend`` and random sampling are left out.
    """

    k: int = 500
    sample_size: int = 10000
    similarity: SKNNSimilarity = "jaccard"
    remind: bool = False

    def __post_init__(self) -> None:
        _check_neighbourhood(self.k, self.sample_size)
        check_choice(
            "similarity", self.similarity, get_args(SKNNSimilarity), "'jaccard' or 'cosine'"
        )
        check_bool("remind", self.remind)


@dataclass(frozen=True, kw_only=True)
class VSKNNConfig(ConfigDict):
    """Hyper-parameters of :class:`VSKNN`.

    The defaults are session-rec's tuned RSC15 setting (``k: 100, sample_size: 1000,
    weighting: quadratic, weighting_score: quadratic``, the rest at session-rec's defaults;
    conf/save/rsc15/window/window_rsc15_baselines.yml). Its example configuration for the 100k
    sample uses ``k=500, sample_size=5000, weighting="quadratic", weighting_score="div",
    idf_weighting=5``.

    Parameters
    ----------
    k : neighbours that vote
    sample_size : candidate sessions compared, the most recent ones (0: all of them)
    similarity : ``"vec"``: ``sum_{i in S∩N} w_i / |S|`` (``|S|`` distinct prefix items);
        ``"cosine"``: ``sum_{i in S∩N} w_i / (sqrt(sum_{i in S} w_i^2) sqrt(|N|))``
    weighting : the weight ``w_i`` of the prefix item whose last position is ``c`` of ``l``:
        ``same`` 1, ``div`` ``c/l``, ``linear`` ``max(0, 1 - 0.1 (l - c))``, ``quadratic``
        ``(c/l)^2``, ``log`` ``1 / log10(l - c + 1.7)``. (session-rec's ``linear`` gives 0 to
        every position after the 10th, the most recent ones of a long session, a slip; the
        formula here stops at 0 instead.)
    weighting_score : the decay of a neighbour's vote with ``step``, the distance from the end
        of the prefix (1 = the last event) of the most recent prefix event whose item the
        neighbour holds: ``same`` 1, ``div`` ``1/step``, ``linear`` ``max(0, 1 - 0.1 step)``
        (session-rec lets it go negative), ``quadratic`` ``1/step^2``, ``log``
        ``1 / log10(step + 1.7)``
    idf_weighting : a vote for item ``i`` is multiplied by ``1 + idf_weighting * idf(i)``,
        ``idf(i) = ln(n_sessions / n_events(i))``; 0 turns it off
    remind : score the prefix's own items too (session-rec's default); ``False`` leaves them at
        0 (they still fill the list last)
    push_reminders : multiply each prefix item's score by (its count in the prefix + 1)
    add_reminders : lift the three most recent distinct prefix items with a score > 0 that score
        below the 17th best item to just above it (+1e-4). session-rec's comment says "last 3"
        but its code takes the first three in session order; the last three are used here.

    Notes
    -----
    session-rec's ``dwelling_time``, ``weighting_time``, ``last_n_clicks``, ``last_n_days``,
    ``extend``, idf as the session weighting and random sampling are left out.
    """

    k: int = 100
    sample_size: int = 1000
    similarity: VSKNNSimilarity = "vec"
    weighting: Weighting = "quadratic"
    weighting_score: Weighting = "quadratic"
    idf_weighting: float = 0.0
    remind: bool = True
    push_reminders: bool = False
    add_reminders: bool = False

    def __post_init__(self) -> None:
        _check_neighbourhood(self.k, self.sample_size)
        check_choice("similarity", self.similarity, get_args(VSKNNSimilarity), "'vec' or 'cosine'")
        check_choice("weighting", self.weighting, get_args(Weighting), _WEIGHTINGS)
        check_choice("weighting_score", self.weighting_score, get_args(Weighting), _WEIGHTINGS)
        check_float(
            "idf_weighting",
            self.idf_weighting,
            ge=0,
            allowed="a finite idf_weighting>=0 (0 turns the idf factor off)",
        )
        for name in ("remind", "push_reminders", "add_reminders"):
            check_bool(name, getattr(self, name))


@dataclass(frozen=True, kw_only=True)
class STANConfig(ConfigDict):
    """Hyper-parameters of :class:`STAN`.

    The defaults are session-rec's RSC15 "stan-mrr" setting (``k: 1000, sample_size: 10000,
    lambda_spw: 1e-5, lambda_snh: 10, lambda_inh: 2``; conf/save/rsc15/window/
    window_rsc15_stan.yml). Its "stan-hr" setting is ``k=1000, sample_size=10000,
    lambda_spw=0.5, lambda_snh=20, lambda_inh=0.5``; session-rec's code defaults are
    ``sample_size=5000, lambda_spw=1.02, lambda_snh=5, lambda_inh=2.05``.

    Parameters
    ----------
    k : neighbours that vote
    sample_size : candidate sessions compared, the most recent ones (0: all of them)
    lambda_spw : λ1, prefix position weight ``exp((c - l) / lambda_spw)`` for the item whose
        last position is ``c`` of ``l`` (1e-5: only the last item counts)
    lambda_snh : λ2, in days: a neighbour's similarity is multiplied by
        ``exp(-(now - t_n) / lambda_snh)``, ``t_n`` its last event time
    lambda_inh : λ3, a neighbour's vote for its item ``i`` is multiplied by
        ``exp(-|pos(i) - p*| / lambda_inh)``, ``p*`` the position in the neighbour of its last
        item that the prefix holds
    remind : score the prefix's own items too

    Notes
    -----
    Times are in seconds. session-rec's ``extend`` and random sampling are left out.
    """

    k: int = 1000
    sample_size: int = 10000
    lambda_spw: float = 1e-5
    lambda_snh: float = 10.0
    lambda_inh: float = 2.0
    remind: bool = True

    def __post_init__(self) -> None:
        _check_neighbourhood(self.k, self.sample_size)
        for name in ("lambda_spw", "lambda_snh", "lambda_inh"):
            _check_lambda(name, getattr(self, name))
        check_bool("remind", self.remind)


@dataclass(frozen=True, kw_only=True)
class VSTANConfig(ConfigDict):
    """Hyper-parameters of :class:`VSTAN`.

    The defaults are session-rec's RSC15 "vstan-mrr" setting (``k: 1500, sample_size: 10000,
    lambda_spw: 0.5, lambda_snh: 5, lambda_inh: 2, lambda_ipw: 2, lambda_idf: 2``;
    conf/save/rsc15/window/window_rsc15_vstan.yml). Its "vstan-hr" setting is ``k=2000,
    sample_size=10000, lambda_spw=4, lambda_snh=20, lambda_inh=0.5, lambda_ipw=1,
    lambda_idf=2``. On the single (unsliced) RSC15 split it uses "vstan-mrr" ``k=1000,
    sample_size=5000, lambda_spw=4, lambda_snh=5, lambda_inh=4, lambda_ipw=1e-5,
    lambda_idf=1`` and "vstan-hr" ``k=2000, sample_size=2500, lambda_spw=8, lambda_snh=10,
    lambda_inh=8, lambda_ipw=0.5, lambda_idf=2``.

    Parameters
    ----------
    k, sample_size, lambda_spw, lambda_snh, lambda_inh, remind : as :class:`STANConfig`
    lambda_ipw : a neighbour's votes are multiplied by ``exp((q - l) / lambda_ipw)``, ``q``
        the last prefix position whose item the neighbour holds
    lambda_idf : a vote for item ``i`` is multiplied by ``1 + lambda_idf * idf(i)``,
        ``idf(i) = ln(n_sessions / n_events(i))``; 0 turns it off (session-rec's ``False``)

    Notes
    -----
    session-rec's ``similarity`` argument is stored but never read there (the weighted cosine
    is always used), so it is left out, as are ``extend`` and random sampling.
    """

    k: int = 1500
    sample_size: int = 10000
    lambda_spw: float = 0.5
    lambda_snh: float = 5.0
    lambda_inh: float = 2.0
    lambda_ipw: float = 2.0
    lambda_idf: float = 2.0
    remind: bool = True

    def __post_init__(self) -> None:
        _check_neighbourhood(self.k, self.sample_size)
        for name in ("lambda_spw", "lambda_snh", "lambda_inh", "lambda_ipw"):
            _check_lambda(name, getattr(self, name))
        check_float(
            "lambda_idf",
            self.lambda_idf,
            ge=0,
            allowed="a finite lambda_idf>=0 (0 turns the idf factor off)",
        )
        check_bool("remind", self.remind)


# ------------------------------------------------------------------------------ the index


@dataclass(frozen=True)
class SessionIndex:
    """The training sessions as CSR arrays (the layout :mod:`embedrec.kernels.session_knn`
    reads).

    Attributes
    ----------
    item_indptr : (n_items + 1,) int64
    item_sessions : (n_pairs,) int32
        Sessions holding each item, ascending.
    item_positions : (n_pairs,) int32
        The item's last 1-based position in that session.
    session_indptr : (n_sessions + 1,) int64
    session_items : (n_pairs,) int32
        Distinct items of each session, ascending.
    session_positions : (n_pairs,) int32
        Each one's last 1-based position in the session.
    session_time : (n_sessions,) float64
        Last event time of each session (``-inf`` for an empty one).
    session_rank : (n_sessions,) int32
        Recency rank: 0 is the latest session; equal times rank the lower session first.
    idf : (n_items,) float64
        ``ln(n_sessions / n_events(i))``, ``n_sessions`` counting non-empty sessions.
    """

    item_indptr: npt.NDArray[np.int64]
    item_sessions: npt.NDArray[np.int32]
    item_positions: npt.NDArray[np.int32]
    session_indptr: npt.NDArray[np.int64]
    session_items: npt.NDArray[np.int32]
    session_positions: npt.NDArray[np.int32]
    session_time: npt.NDArray[np.float64]
    session_rank: npt.NDArray[np.int32]
    idf: npt.NDArray[np.float64]

    @property
    def n_sessions(self) -> int:
        return int(self.session_indptr.shape[0] - 1)


def build_session_index(sessions: Sequences, n_items: int) -> SessionIndex:
    """Index ``sessions`` (codes below ``n_items``) for the kNN kernels; vectorised, no loop
    over events."""
    items = sessions.items.astype(np.int64)
    n_events = items.shape[0]
    n_sessions = len(sessions)
    lengths = sessions.lengths()
    if n_events and (items.min() < 0 or items.max() >= n_items):
        raise ValueError(f"session item codes must lie in 0..{n_items - 1}")
    session_of = np.repeat(np.arange(n_sessions, dtype=np.int64), lengths)
    position = np.arange(n_events, dtype=np.int64) - sessions.offsets[session_of] + 1
    # one pair per distinct (session, item), at the item's last position: unique over the
    # reversed events finds each key's last occurrence
    keys, first_reversed = np.unique((session_of * n_items + items)[::-1], return_index=True)
    last = n_events - 1 - first_reversed
    pair_session = keys // n_items
    pair_item = keys % n_items
    pair_position = position[last].astype(np.int32)

    session_indptr = np.zeros(n_sessions + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_session, minlength=n_sessions), out=session_indptr[1:])
    by_item = np.argsort(pair_item, kind="stable")  # sessions stay ascending inside an item
    item_indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_item, minlength=n_items), out=item_indptr[1:])

    session_time = np.full(n_sessions, -np.inf)
    filled = lengths > 0
    if n_events:
        session_time[filled] = np.maximum.reduceat(sessions.times, sessions.offsets[:-1][filled])
    order = np.lexsort((np.arange(n_sessions), -session_time))
    session_rank = np.empty(n_sessions, dtype=np.int32)
    session_rank[order] = np.arange(n_sessions, dtype=np.int32)

    counts = np.bincount(items, minlength=n_items).astype(np.float64)
    with np.errstate(divide="ignore"):
        idf = np.where(counts > 0, np.log(max(int(filled.sum()), 1) / np.maximum(counts, 1)), 0.0)
    return SessionIndex(
        item_indptr=item_indptr,
        item_sessions=pair_session[by_item].astype(np.int32),
        item_positions=pair_position[by_item],
        session_indptr=session_indptr,
        session_items=pair_item.astype(np.int32),
        session_positions=pair_position,
        session_time=session_time,
        session_rank=session_rank,
        idf=idf,
    )


# ------------------------------------------------------------------------------ models


def _n_blocks(n_prefixes: int) -> int:
    import numba

    return max(1, min(n_prefixes, int(numba.get_num_threads())))


class _SessionKNN(SessionModel):
    """What the four kNN models share: the index and the prefix checks."""

    index_: SessionIndex
    _ARRAYS = tuple(f"index_{f.name}" for f in dataclasses.fields(SessionIndex))

    def _fit(self, sessions: Sequences) -> None:
        self.index_ = build_session_index(sessions, len(self.item_keys_))

    def _score_sknn(
        self,
        prefixes: Sequences,
        k: int,
        sample_size: int,
        similarity: int,
        *,
        weighting: int,
        weighting_score: int,
        idf_weighting: float,
        remind: bool,
        push_reminders: bool,
        add_reminders: bool,
        sknn_remind: bool,
    ) -> npt.NDArray[np.float32]:
        """The SKNN / V-SKNN kernel over this model's index (one call for a whole batch)."""
        ix = self.index_
        items, offsets, out = self._prepared(prefixes)
        score_sknn_batch(
            ix.item_indptr,
            ix.item_sessions,
            ix.item_positions,
            ix.session_indptr,
            ix.session_items,
            ix.session_rank,
            ix.idf,
            items,
            offsets,
            k,
            sample_size,
            similarity,
            weighting,
            weighting_score,
            idf_weighting,
            remind,
            push_reminders,
            add_reminders,
            sknn_remind,
            _n_blocks(len(prefixes)),
            out,
        )
        return out

    def _state(self) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
        ix = self.index_
        arrays = {f"index_{f.name}": getattr(ix, f.name) for f in dataclasses.fields(ix)}
        return arrays, {"n_sessions": ix.n_sessions}

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]], facts: dict[str, Any]) -> None:
        n_items = len(self.item_keys_)
        n_s = facts.get("n_sessions")
        if not isinstance(n_s, int) or isinstance(n_s, bool) or n_s < 0:
            raise ValueError("the manifest has no valid state.n_sessions; re-save the model")
        a = {name.removeprefix("index_"): arr for name, arr in arrays.items()}
        check_csr(a["item_indptr"], a["item_sessions"], n_items, n_s, "item -> sessions")
        check_csr(a["session_indptr"], a["session_items"], n_s, n_items, "session -> items")
        pairs = a["item_sessions"].size
        check_array(a["item_positions"], "index_item_positions", "i", (pairs,))
        check_array(a["session_positions"], "index_session_positions", "i", (pairs,))
        check_array(a["session_rank"], "index_session_rank", "i", (n_s,))
        check_array(a["idf"], "index_idf", "f", (n_items,))
        t = a["session_time"]
        if t.dtype.kind != "f" or t.shape != (n_s,) or bool(np.isnan(t).any()):
            raise ValueError("index_session_time.npy is corrupt; re-save the model")
        if a["session_rank"].size and (
            int(a["session_rank"].min()) < 0 or int(a["session_rank"].max()) >= n_s
        ):
            raise ValueError("index_session_rank.npy is corrupt; re-save the model")
        self.index_ = SessionIndex(
            item_indptr=a["item_indptr"].astype(np.int64),
            item_sessions=a["item_sessions"].astype(np.int32),
            item_positions=a["item_positions"].astype(np.int32),
            session_indptr=a["session_indptr"].astype(np.int64),
            session_items=a["session_items"].astype(np.int32),
            session_positions=a["session_positions"].astype(np.int32),
            session_time=t.astype(np.float64),
            session_rank=a["session_rank"].astype(np.int32),
            idf=a["idf"].astype(np.float64),
        )

    def _prepared(
        self, prefixes: Sequences
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        n_items = len(self.item_keys_)
        items = np.ascontiguousarray(prefixes.items, dtype=np.int32)
        if items.size and (int(items.min()) < 0 or int(items.max()) >= n_items):
            raise ValueError(
                f"prefix item codes must lie in 0..{n_items - 1}; map other key tables with "
                "embedrec.models.session_base.recode"
            )
        offsets = np.ascontiguousarray(prefixes.offsets, dtype=np.int64)
        out = np.empty((len(prefixes), n_items), dtype=np.float32)
        return items, offsets, out


class SKNN(_SessionKNN):
    """Session-based kNN (SKNN; Jannach & Ludewig 2017) as in session-rec.

    Each of the ``k`` training sessions most similar to the prefix's item set adds its
    similarity to every item it holds (see :class:`SKNNConfig`).

    Examples
    --------
    >>> from embedrec.models.session_knn import SKNN, SKNNConfig
    >>> sessions = [["a", "b"], ["b", "c"], ["a", "c", "d"]]
    >>> model = SKNN(SKNNConfig(k=10)).fit(sessions)
    >>> model.recommend(["b"], k=2).keys.tolist()
    ['b', 'a']
    """

    config_class = SKNNConfig

    def __init__(self, config: SKNNConfig | None = None) -> None:
        self.config = config if config is not None else SKNNConfig()

    def _score_prefixes(self, prefixes: Sequences) -> npt.NDArray[np.float32]:
        cfg = self.config
        return self._score_sknn(
            prefixes,
            cfg.k,
            cfg.sample_size,
            _SIMILARITY_CODES[cfg.similarity],
            weighting=DECAY_SAME,
            weighting_score=DECAY_SAME,
            idf_weighting=0.0,
            remind=True,
            push_reminders=False,
            add_reminders=False,
            sknn_remind=cfg.remind,
        )


class VSKNN(_SessionKNN):
    """Vector multiplication session-based kNN (V-SKNN; Ludewig & Jannach 2018) as in
    session-rec's ``VMContextKNN``.

    Recent prefix items weigh more in the similarity; a neighbour's votes decay with how far
    back the latest prefix item it shares lies (see :class:`VSKNNConfig`).

    Examples
    --------
    >>> from embedrec.models.session_knn import VSKNN
    >>> sessions = [["a", "b"], ["b", "c"], ["a", "c", "d"]]
    >>> VSKNN().fit(sessions).recommend(["a"], k=2).keys.tolist()
    ['a', 'b']
    """

    config_class = VSKNNConfig

    def __init__(self, config: VSKNNConfig | None = None) -> None:
        self.config = config if config is not None else VSKNNConfig()

    def _score_prefixes(self, prefixes: Sequences) -> npt.NDArray[np.float32]:
        cfg = self.config
        return self._score_sknn(
            prefixes,
            cfg.k,
            cfg.sample_size,
            _SIMILARITY_CODES[cfg.similarity],
            weighting=_WEIGHTING_CODES[cfg.weighting],
            weighting_score=_WEIGHTING_CODES[cfg.weighting_score],
            idf_weighting=float(cfg.idf_weighting),
            remind=cfg.remind,
            push_reminders=cfg.push_reminders,
            add_reminders=cfg.add_reminders,
            sknn_remind=False,
        )


class _TimeAwareKNN(_SessionKNN):
    """STAN and V-STAN: one kernel, their own parameters."""

    def _stan_parameters(self) -> tuple[int, int, float, float, float, float, float, bool]:
        """k, sample_size, lambda_spw, lambda_snh (seconds), lambda_inh, lambda_ipw (0: off),
        lambda_idf (0: off), remind."""
        raise NotImplementedError

    def _score_prefixes(self, prefixes: Sequences) -> npt.NDArray[np.float32]:
        ix = self.index_
        items, offsets, out = self._prepared(prefixes)
        times = np.ascontiguousarray(prefixes.times, dtype=np.float64)
        if not np.all(np.isfinite(times)):
            raise ValueError("prefix times must be finite (seconds, one per event)")
        k, sample_size, spw, snh, inh, ipw, idf_weight, remind = self._stan_parameters()
        score_stan_batch(
            ix.item_indptr,
            ix.item_sessions,
            ix.item_positions,
            ix.session_indptr,
            ix.session_items,
            ix.session_positions,
            ix.session_time,
            ix.session_rank,
            ix.idf,
            items,
            offsets,
            times,
            k,
            sample_size,
            spw,
            snh,
            inh,
            ipw,
            idf_weight,
            remind,
            _n_blocks(len(prefixes)),
            out,
        )
        return out


class STAN(_TimeAwareKNN):
    """Sequence and time aware neighbourhood (STAN; Garg et al. 2019) as in session-rec.

    Needs event times in seconds (an ``Interactions`` log carries them; ``recommend`` takes
    ``times=``). See :class:`STANConfig`.

    Examples
    --------
    >>> from embedrec.models.session_knn import STAN
    >>> sessions = [["a", "b"], ["b", "c"], ["a", "c", "d"]]
    >>> STAN().fit(sessions).recommend(["c"], k=2).keys.tolist()
    ['c', 'b']
    """

    config_class = STANConfig

    def __init__(self, config: STANConfig | None = None) -> None:
        self.config = config if config is not None else STANConfig()

    def _stan_parameters(self) -> tuple[int, int, float, float, float, float, float, bool]:
        c = self.config
        days = float(c.lambda_snh) * SECONDS_PER_DAY
        return (
            c.k,
            c.sample_size,
            float(c.lambda_spw),
            days,
            float(c.lambda_inh),
            0.0,
            0.0,
            c.remind,
        )


class VSTAN(_TimeAwareKNN):
    """V-STAN (Ludewig, Latifi & Jannach 2021) as in session-rec's ``VSKNN_STAN``: STAN with
    V-SKNN's vote decay (exponential, ``lambda_ipw``) and an idf factor (``lambda_idf``).
    See :class:`VSTANConfig`.

    Examples
    --------
    >>> from embedrec.models.session_knn import VSTAN
    >>> sessions = [["a", "b"], ["b", "c"], ["a", "c", "d"]]
    >>> VSTAN().fit(sessions).recommend(["c"], k=2).keys.tolist()
    ['c', 'd']
    """

    config_class = VSTANConfig

    def __init__(self, config: VSTANConfig | None = None) -> None:
        self.config = config if config is not None else VSTANConfig()

    def _stan_parameters(self) -> tuple[int, int, float, float, float, float, float, bool]:
        c = self.config
        return (
            c.k,
            c.sample_size,
            float(c.lambda_spw),
            float(c.lambda_snh) * SECONDS_PER_DAY,
            float(c.lambda_inh),
            float(c.lambda_ipw),
            float(c.lambda_idf),
            c.remind,
        )

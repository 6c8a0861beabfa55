"""The session protocol: predict the next item at every position of each test session.

This is the evaluation of the session-rec framework (Ludewig, Latifi and Jannach, RecSys
2019, UMUAI 2021), which the session-based recommendation literature compares on:

- a test session ``e_0 .. e_{n-1}`` gives ``n - 1`` predictions: the prefix ``e_0 .. e_{j-1}``
  predicts ``e_j`` (``positions="all"``); ``positions="last"`` keeps only the last one;
- the model ranks its whole catalogue; items already in the session stay in the ranking
  (re-clicks are a third of YOOCHOOSE's next items), unless the model itself drops them;
- every metric is a mean over all predictions (micro average), not over sessions:

  ``HR@k``    the target is in the top ``k``;
  ``MRR@k``   ``1 / rank`` when the rank is at most ``k``, else 0;
  ``NDCG@k``  ``1 / log2(rank + 1)`` when the rank is at most ``k``, else 0 (the usual
              discount; session-rec's own NDCG gives rank 2 full credit, ``1 / log2(rank)``
              from rank 2 on, so its NDCG figures differ from these);
  ``Coverage@k``   distinct items in any top ``k``, over the catalogue (items with a
                   training event);
  ``Popularity@k`` the mean, over predictions, of the mean training count of the distinct
                   items in the top ``k`` divided by the highest training count.

HR, MRR, Coverage and Popularity equal session-rec's for the same ranked lists (the tests
derive them by hand). Unlike session-rec, ties are not left to a sort's whim: a model ranks
equal scores by item code (lower first, :func:`embedrec.index.topk.top_k`).

Models are duck-typed (:class:`SessionRecommender`): an ``item_keys_`` table and
``recommend_next(prefixes, k)``. Test items are matched to the model's table by key; an
unknown target is a miss, unknown prefix items are dropped from the prefix.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ..data.interactions import Interactions, Sequences
from ..data.sessions import SessionSplit
from ..progress import Progress
from .evaluate import check_ks

Positions = Literal["all", "last"]

#: prefix events materialised at once (bounds memory on long sessions)
BATCH_EVENTS = 1 << 20
#: per-position results are kept for prefixes of length 1..MAX_POSITION (longer ones pooled)
MAX_POSITION = 20


class SessionRecommender(Protocol):
    """What :func:`evaluate_sessions` needs of a model."""

    #: the model's item keys; codes index it
    item_keys_: npt.NDArray[Any]

    def recommend_next(self, prefixes: Sequences, k: int) -> npt.NDArray[np.int64]:
        """``(n_prefixes, <= k)`` item codes, best first (``-1`` pads)."""
        ...


class HistoryScorer(Protocol):
    """A model that scores candidates for histories (the evaluation ``Scorer`` of
    :func:`embedrec.eval.evaluate`: Item2Vec, TwoTower) and has item vectors."""

    embeddings_: Any

    def score(
        self, histories: Sequence[Sequence[Any]], candidates: npt.NDArray[Any], **kw: Any
    ) -> npt.NDArray[np.float32]: ...


class ScorerSessions:
    """A :class:`HistoryScorer` as a :class:`SessionRecommender`: the session so far is its
    history, and its scores of the whole catalogue rank the next item (re-clicks included).

    This is how Item2Vec's user vectors and a two-tower model's user tower (trained with
    ``history_mode="prefix"`` on sessions as users) enter the session protocol;
    :func:`evaluate_sessions` wraps such a model itself.

    Parameters
    ----------
    model : a fitted model with ``embeddings_`` and ``score(histories, candidates, times=)``
    rows : prefixes scored at once (bounds the ``rows x n_items`` score block)
    """

    def __init__(self, model: HistoryScorer, *, rows: int = 1024) -> None:
        emb = getattr(model, "embeddings_", None)
        if emb is None:
            raise ValueError(
                f"{type(model).__name__} has no item vectors (embeddings_); fit it first"
            )
        self.model = model
        self.rows = int(rows)
        self.item_keys_ = np.asarray(emb.keys, dtype=object if emb.key_type == "str" else None)
        counts = getattr(model, "item_counts_", None)
        vocab = getattr(model, "vocab_", None)
        if counts is None and vocab is not None:
            counts = vocab.counts
        ok = counts is not None and len(counts) == len(self.item_keys_)
        self.item_counts_ = np.asarray(counts, dtype=np.int64) if ok else None

    def recommend_next(self, prefixes: Sequences, k: int) -> npt.NDArray[np.int64]:
        """Top ``k`` item codes after each prefix (:func:`embedrec.index.topk.top_k`'s order)."""
        from ..index.topk import top_k

        keys = prefixes.item_keys[prefixes.items].tolist()
        bounds = prefixes.offsets.tolist()
        out = []
        for a in range(0, len(prefixes), self.rows):
            b = min(a + self.rows, len(prefixes))
            histories = [keys[bounds[i] : bounds[i + 1]] for i in range(a, b)]
            times = [prefixes.times[bounds[i] : bounds[i + 1]] for i in range(a, b)]
            scores = self.model.score(histories, self.item_keys_, times=times)
            cols, _ = top_k(np.asarray(scores, dtype=np.float32), k, drop_inf=False)
            out.append(cols)
        return np.concatenate(out) if out else np.zeros((0, k), dtype=np.int64)


def as_session_recommender(model: SessionRecommender | HistoryScorer) -> SessionRecommender:
    """``model`` itself when it has ``recommend_next``, else a :class:`ScorerSessions` of it.

    Raises
    ------
    TypeError
        A model with neither ``recommend_next`` nor ``score``.
    """
    if hasattr(model, "recommend_next"):
        return model  # type: ignore[return-value]
    if hasattr(model, "score") and hasattr(model, "embeddings_"):
        return ScorerSessions(model)
    raise TypeError(
        f"{type(model).__name__} can not predict next items: give a session model "
        "(recommend_next) or a model that scores histories (score, e.g. Item2Vec, TwoTower)"
    )


@dataclass(frozen=True, eq=False)
class SessionEvalResult:
    """Metrics of one :func:`evaluate_sessions` run.

    Attributes
    ----------
    metrics : dict[str, float]
        ``HR@k``, ``MRR@k``, ``NDCG@k``, ``Coverage@k``, ``Popularity@k`` for each cut-off.
    n_predictions, n_sessions : int
        Predictions made (the denominator) and test sessions they came from.
    n_unknown_targets : int
        Predictions whose target the model has no row for (always misses).
    by_position : dict[int, dict[str, float]]
        HR/MRR at the largest cut-off and the prediction count for each prefix length
        ``1 .. MAX_POSITION`` (the last entry pools the longer prefixes).
    by_kind : dict[str, dict[str, float]]
        The same for ``"repeat"`` targets (already in the prefix) and ``"new"`` ones.
    ks : tuple[int, ...]
    positions : "all" or "last"
    seconds : float
        Wall time of the model's ranking calls.
    ranks : (n_predictions,) int64
        The target's 1-based rank in the top ``max(ks)``, 0 for a miss; for paired tests
        (:func:`paired_difference`).
    sessions : (n_predictions,) int64
        The test session (its index among the test sessions) of each prediction.
    """

    metrics: dict[str, float]
    n_predictions: int
    n_sessions: int
    n_unknown_targets: int
    by_position: dict[int, dict[str, float]]
    by_kind: dict[str, dict[str, float]]
    ks: tuple[int, ...]
    positions: str
    seconds: float
    ranks: npt.NDArray[np.int64] = field(repr=False)
    sessions: npt.NDArray[np.int64] = field(repr=False)

    def ci95(self) -> dict[str, float]:
        """Half-width of a normal 95% interval of HR@k and MRR@k over the predictions.

        Predictions of one session are treated as independent (as the literature reports
        them), so the intervals are somewhat too narrow."""
        out = {}
        n = max(self.ranks.size, 2)
        for k in self.ks:
            hit = (self.ranks >= 1) & (self.ranks <= k)
            rr = np.where(hit, 1.0 / np.maximum(self.ranks, 1), 0.0)
            out[f"HR@{k}"] = 1.96 * float(hit.std(ddof=1)) / np.sqrt(n)
            out[f"MRR@{k}"] = 1.96 * float(rr.std(ddof=1)) / np.sqrt(n)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no rank array)."""
        return {
            "protocol": "session",
            "positions": self.positions,
            "metrics": dict(self.metrics),
            "ks": list(self.ks),
            "n_predictions": self.n_predictions,
            "n_sessions": self.n_sessions,
            "n_unknown_targets": self.n_unknown_targets,
            "by_position": {str(k): v for k, v in self.by_position.items()},
            "by_kind": self.by_kind,
            "seconds": self.seconds,
        }

    def table(self) -> str:
        """The metrics and counts as a two-column text table."""
        return compare_sessions({"value": self})


def compare_sessions(results: Mapping[str, SessionEvalResult]) -> str:
    """Several session results side by side: one row per metric, one column per name."""
    if not results:
        raise ValueError("results is empty; pass e.g. {'model': evaluate_sessions(...)}")
    names = list(results)
    rs = [results[n] for n in names]
    metrics = list(dict.fromkeys(m for r in rs for m in r.metrics))
    rows = [[m, *(f"{r.metrics[m]:.4f}" if m in r.metrics else "-" for r in rs)] for m in metrics]
    rows.append(["predictions", *(str(r.n_predictions) for r in rs)])
    rows.append(["sessions", *(str(r.n_sessions) for r in rs)])
    rows.append(["query s", *(f"{r.seconds:.2f}" for r in rs)])
    table = [["metric", *names], *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in table
    )


def prediction_values(ranks: npt.NDArray[np.int64], metric: str) -> npt.NDArray[np.float64]:
    """Each prediction's share of ``metric`` (``HR@k``, ``MRR@k`` or ``NDCG@k``) from the
    clicked item's 1-based rank (0: a miss): their mean is the metric."""
    name, _, k_text = metric.partition("@")
    if name not in ("HR", "MRR", "NDCG") or not k_text.isdigit() or int(k_text) < 1:
        raise ValueError(f"metric={metric!r} is invalid; use HR@k, MRR@k or NDCG@k")
    k = int(k_text)
    hit = (ranks >= 1) & (ranks <= k)
    r = np.maximum(ranks, 1).astype(np.float64)
    value = {"HR": np.ones_like(r), "MRR": 1.0 / r, "NDCG": 1.0 / np.log2(r + 1.0)}[name]
    return np.where(hit, value, 0.0)


def paired_difference(
    a: SessionEvalResult, b: SessionEvalResult, metric: str = "MRR@20"
) -> tuple[float, float]:
    """``(a - b, its standard error)`` of ``metric`` for two models scored on the same test
    sessions (the same predictions in the same order).

    The standard error is clustered by session (the predictions of one session are not
    independent: a model that reads a session well reads all of its prefixes well):
    ``sqrt(S / (S - 1) * sum_s (D_s - n_s * d)^2) / n``, with ``D_s`` the sum of the
    per-prediction differences in session ``s``, ``n_s`` its predictions, ``d`` the mean
    difference, ``n`` the predictions and ``S`` the sessions. A difference of about two
    standard errors or more is unlikely to be the noise of these test sessions.

    Raises
    ------
    ValueError
        The two results are not of the same predictions, or the metric is not counted.
    """
    if a.ranks.shape != b.ranks.shape or not np.array_equal(a.sessions, b.sessions):
        raise ValueError(
            "paired_difference needs two results of the same test sessions (the same "
            f"predictions: {a.ranks.size} and {b.ranks.size}); score both models on one split"
        )
    first = prediction_values(a.ranks, metric)  # refuses a metric it does not count
    if int(metric.partition("@")[2]) > min(max(a.ks), max(b.ks)):
        raise ValueError(f"metric={metric!r}: the results count ranks up to {max(a.ks)}")
    diff = first - prediction_values(b.ranks, metric)
    n = diff.size
    mean = float(diff.mean())
    _, session = np.unique(a.sessions, return_inverse=True)
    per = np.bincount(session, weights=diff)
    size = np.bincount(session).astype(np.float64)
    n_sessions = per.size
    if n_sessions < 2:
        return mean, float("nan")
    resid = per - size * mean
    se = float(np.sqrt(n_sessions / (n_sessions - 1) * np.sum(resid**2)) / n)
    return mean, se


def _test_sessions(test: Interactions | Sequences | SessionSplit) -> Sequences:
    if isinstance(test, SessionSplit):
        test = test.test
    if isinstance(test, Interactions):
        return test.sequences()
    if isinstance(test, Sequences):
        return test
    raise TypeError(
        f"test must be an Interactions session log, Sequences or a SessionSplit, not "
        f"{type(test).__name__}"
    )


def _model_codes(keys: npt.NDArray[Any], model_keys: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Model code of each key of ``keys`` (-1 when the model does not know it)."""
    if len(keys) == len(model_keys) and bool(np.all(keys == model_keys)):
        return np.arange(len(keys), dtype=np.int64)
    lookup = {k: i for i, k in enumerate(model_keys.tolist())}
    return np.array([lookup.get(k, -1) for k in keys.tolist()], dtype=np.int64)


def evaluate_sessions(
    model: SessionRecommender | HistoryScorer,
    test: Interactions | Sequences | SessionSplit,
    *,
    ks: Sequence[int] = (10, 20),
    positions: Positions = "all",
    item_counts: npt.NDArray[np.int64] | None = None,
    progress: bool = False,
) -> SessionEvalResult:
    """Next-item prediction at every position of each test session (see the module docstring).

    Parameters
    ----------
    model : SessionRecommender
        A fitted session model (:mod:`embedrec.models.session_rules`,
        :mod:`embedrec.models.session_knn`, :mod:`embedrec.models.session_embed`), or a
        model that scores histories (Item2Vec, TwoTower: wrapped in :class:`ScorerSessions`).
    test : Interactions, Sequences or SessionSplit
        Test sessions in time order (a session log's users are sessions); a split's ``test``.
    ks : cut-offs
    positions : "all" (every prefix, the protocol) or "last" (the last item of each session)
    item_counts : (n_model_items,) int64, optional
        Training events per model item code, for Popularity@k; default the model's
        ``item_counts_``.
    progress : show a progress bar
    """
    ks = check_ks(ks)
    if positions not in ("all", "last"):
        raise ValueError(f"positions={positions!r} is invalid; use 'all' or 'last'")
    model = as_session_recommender(model)
    keys = model.item_keys_
    k_max = ks[-1]
    sessions = _test_sessions(test)
    codes = _model_codes(sessions.item_keys, keys)[sessions.items]
    lengths = sessions.lengths()
    starts = sessions.offsets[:-1]
    # prediction j of a session: prefix = events [start, start + j), target = event start + j
    valid = lengths >= 2
    if positions == "all":
        n_pred = np.where(valid, lengths - 1, 0)
        sess = np.repeat(np.arange(len(sessions)), n_pred)
        first = np.repeat(np.cumsum(n_pred) - n_pred, n_pred)
        j = np.arange(sess.size, dtype=np.int64) - first + 1
    else:
        sess = np.flatnonzero(valid)
        j = lengths[sess] - 1
    if sess.size == 0:
        raise ValueError("no test session has two events; nothing to predict")
    target_event = starts[sess] + j
    targets = codes[target_event]
    ranks = np.zeros(sess.size, dtype=np.int64)
    tops = np.full((sess.size, k_max), -1, dtype=np.int64)
    repeat = np.zeros(sess.size, dtype=bool)
    seconds = 0.0
    bounds = _batches(j, BATCH_EVENTS)
    bar = Progress(int(sess.size), "session eval", "predictions", enabled=progress)
    try:
        for a, b in itertools.pairwise(bounds):
            prefixes, pcodes = _prefixes(sessions, codes, sess[a:b], j[a:b], keys)
            t0 = time.perf_counter()
            top = np.asarray(model.recommend_next(prefixes, k_max), dtype=np.int64)
            seconds += time.perf_counter() - t0
            if top.shape[0] != b - a or top.ndim != 2:
                raise ValueError(
                    f"{type(model).__name__}.recommend_next returned shape {top.shape} for "
                    f"{b - a} prefixes; expected ({b - a}, <= {k_max})"
                )
            w = min(top.shape[1], k_max)
            tops[a:b, :w] = top[:, :w]
            tgt = targets[a:b]
            hit = (tops[a:b] == tgt[:, None]) & (tgt[:, None] >= 0)
            found = hit.any(axis=1)
            ranks[a:b] = np.where(found, hit.argmax(axis=1) + 1, 0)
            repeat[a:b] = _in_prefix(pcodes, prefixes.offsets, tgt)
            bar.update(b - a)
    finally:
        bar.close()
    counts = item_counts if item_counts is not None else getattr(model, "item_counts_", None)
    metrics = _metrics(ranks, tops, ks, len(keys), counts)
    return SessionEvalResult(
        metrics=metrics,
        n_predictions=int(sess.size),
        n_sessions=int(np.unique(sess).size),
        n_unknown_targets=int((targets < 0).sum()),
        by_position=_by_position(ranks, j, k_max),
        by_kind={
            "repeat": _hr_mrr(ranks[repeat], k_max),
            "new": _hr_mrr(ranks[~repeat], k_max),
        },
        ks=ks,
        positions=positions,
        seconds=seconds,
        ranks=ranks,
        sessions=sess.astype(np.int64),
    )


def next_item_prefixes(
    sessions: Sequences, item_keys: npt.NDArray[Any]
) -> tuple[Sequences, npt.NDArray[np.int64]]:
    """Every prediction of the session protocol at once: the prefixes (codes into
    ``item_keys``, unknown items dropped) and the targets' codes (``-1``: unknown). For
    held-out training sessions (calibration, re-ranking); :func:`evaluate_sessions` builds
    the same pairs in batches."""
    codes = _model_codes(sessions.item_keys, item_keys)[sessions.items]
    lengths = sessions.lengths()
    n_pred = np.maximum(lengths - 1, 0)
    sess = np.repeat(np.arange(len(sessions)), n_pred)
    j = np.arange(sess.size, dtype=np.int64) - np.repeat(np.cumsum(n_pred) - n_pred, n_pred) + 1
    prefixes, _ = _prefixes(sessions, codes, sess, j, item_keys)
    return prefixes, codes[sessions.offsets[:-1][sess] + j]


def _batches(j: npt.NDArray[np.int64], budget: int) -> list[int]:
    """Prediction indices cutting the predictions into runs of about ``budget`` prefix
    events."""
    csum = np.cumsum(j)
    cuts = np.searchsorted(csum, np.arange(budget, int(csum[-1]), budget), side="right")
    return sorted({0, *cuts.tolist(), int(j.size)})


def _prefixes(
    sessions: Sequences,
    codes: npt.NDArray[np.int64],
    sess: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    keys: npt.NDArray[Any],
) -> tuple[Sequences, npt.NDArray[np.int64]]:
    """The prefixes (model codes, unknown items dropped) of predictions ``(sess, j)``."""
    total = int(j.sum())
    first = np.repeat(np.cumsum(j) - j, j)
    events = np.repeat(sessions.offsets[:-1][sess], j) + (np.arange(total) - first)
    pc = codes[events]
    keep = pc >= 0
    owner = np.repeat(np.arange(j.size), j)
    offsets = np.zeros(j.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner[keep], minlength=j.size), out=offsets[1:])
    prefixes = Sequences(
        items=pc[keep].astype(np.int32),
        offsets=offsets,
        user=sessions.user[sess],
        item_keys=keys,
        times=sessions.times[events][keep],
    )
    return prefixes, pc[keep]


def _in_prefix(
    pcodes: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64], targets: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Whether each target occurs in its prefix."""
    owner = np.repeat(np.arange(targets.size), np.diff(offsets))
    same = pcodes == targets[owner]
    return np.bincount(owner[same], minlength=targets.size) > 0


def rank_metrics(ranks: npt.NDArray[np.int64], k: int) -> dict[str, float]:
    """``HR@k``, ``MRR@k`` and ``NDCG@k`` (one relevant item) of the clicked items' ranks
    (1: first; 0: a miss, e.g. an unknown item), as means over every prediction (0 for
    none)."""
    if ranks.size == 0:
        return {f"HR@{k}": 0.0, f"MRR@{k}": 0.0, f"NDCG@{k}": 0.0}
    hit = (ranks >= 1) & (ranks <= k)
    r = np.maximum(ranks, 1)
    return {
        f"HR@{k}": float(hit.mean()),
        f"MRR@{k}": float(np.where(hit, 1.0 / r, 0.0).mean()),
        f"NDCG@{k}": float(np.where(hit, 1.0 / np.log2(r + 1.0), 0.0).mean()),
    }


def _hr_mrr(ranks: npt.NDArray[np.int64], k: int) -> dict[str, float]:
    m = rank_metrics(ranks, k)
    return {"n": int(ranks.size), f"HR@{k}": m[f"HR@{k}"], f"MRR@{k}": m[f"MRR@{k}"]}


def _by_position(
    ranks: npt.NDArray[np.int64], j: npt.NDArray[np.int64], k: int
) -> dict[int, dict[str, float]]:
    pos = np.minimum(j, MAX_POSITION)
    return {int(p): _hr_mrr(ranks[pos == p], k) for p in np.unique(pos)}


def _metrics(
    ranks: npt.NDArray[np.int64],
    tops: npt.NDArray[np.int64],
    ks: tuple[int, ...],
    n_items: int,
    counts: npt.NDArray[np.int64] | None,
) -> dict[str, float]:
    out: dict[str, float] = {}
    pop = None
    if counts is not None and len(counts) == n_items and counts.max() > 0:
        pop = np.append(counts / counts.max(), np.nan)  # index -1 (padding) -> nan
    for k in ks:
        out.update(rank_metrics(ranks, k))
        top = tops[:, :k]
        shown = np.unique(top[top >= 0])
        out[f"Coverage@{k}"] = float(shown.size / max(n_items, 1))
        if pop is not None:
            # mean over the distinct items of each list (session-rec's Popularity)
            srt = np.sort(top, axis=1)
            first = np.ones_like(srt, dtype=bool)
            first[:, 1:] = srt[:, 1:] != srt[:, :-1]
            first &= srt >= 0
            vals = np.where(first, pop[srt], 0.0)
            per = vals.sum(axis=1) / np.maximum(first.sum(axis=1), 1)
            out[f"Popularity@{k}"] = float(per.mean())
    return out

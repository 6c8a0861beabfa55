"""The offline next-item protocol: full ranking over the catalogue, seen items excluded.

Any model is evaluated through one method, ``score(histories, candidates, *, times=...,
users=...)`` (the :class:`Scorer` protocol): Item2Vec, the baselines, the two-tower model and
later models all go through this same code, so their numbers are comparable.

The protocol, for every user with at least one test event and one training event:

1. the *catalogue* (the candidates) is every item with a training event, in item-code order;
   there are no sampled negatives;
2. the scorer gets the user's key, the user's training item keys in time order (and their
   times) and scores every candidate; ``-inf`` means "cannot score", and such candidates are
   never recommended;
3. the user's own training items are set to ``-inf`` (``exclude_seen=True``);
4. the top ``max(ks)`` candidates are taken, ties going to the earlier candidate;
5. HR, Recall, NDCG, MRR (per user) and Coverage are computed against the user's distinct
   test items (see :mod:`embedrec.eval.metrics` for the conventions). A test item with no
   training event stays relevant but can never be recommended;
6. ``Accuracy@K`` is computed over test *events*: the fraction of the evaluated users' test
   events whose item is in that user's top ``K``, micro-averaged over events (a user with 20
   test events weighs 20 times one with a single event; HR and Recall weigh every user
   once). It is TensorFlow Recommenders' ``factorized_top_k/top_K_categorical_accuracy``
   and counts repeated test events of one (user, item) pair once each.

The TensorFlow Recommenders retrieval protocol (the MovieLens tutorials) is
``random_holdout(inter, test_fraction=0.2, seed=...)``, ``exclude_seen=False`` and
``Accuracy@100``. Two differences remain: TFRS ranks every item of the movie table, here the
catalogue is the items with a training event (a test event of an item seen only in test is a
miss), and TFRS also scores test events of users without a training event, which are skipped
here (``n_skipped_users``; each event goes to test with probability 0.2, so a user with
n events has none left in training with probability 0.2**n: none in practice on MovieLens,
whose users have at least 20 ratings).

A test item the user also has in training (a repeated event split across the two parts, as a
random holdout can do) is masked with ``exclude_seen=True``, so it is always a miss for every
metric; with ``exclude_seen=False`` it is ranked like any other item and can be hit.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..data.interactions import Interactions
from ..index.topk import top_k_exact
from ..progress import Progress
from ..vectors import Key
from .metrics import coverage, event_ranks, hit_matrix, metrics_from_hits

__all__ = ["EvalResult", "Scorer", "compare", "evaluate", "top_k_exact"]

logger = logging.getLogger("embedrec")


class Scorer(Protocol):
    """Anything that scores candidate items for user histories (higher is better)."""

    def score(
        self,
        histories: Sequence[Sequence[Key]],
        candidates: npt.NDArray[Any],
        *,
        times: Sequence[npt.NDArray[np.float64]] | None = None,
        users: Sequence[Key] | None = None,
    ) -> npt.NDArray[np.float32]:
        """Score every candidate for every history.

        Parameters
        ----------
        histories : sequence of n_histories key sequences
            Each user's item keys in time order (:func:`evaluate` passes 1-D ndarrays).
        candidates : (n_candidates,) ndarray
            Item keys to score.
        times : sequence of (len(history),) float64, optional
            The time of each history event.
        users : sequence of n_histories user keys, optional
            The user of each history, in the same order (:func:`evaluate` passes a 1-D
            ndarray slice of the user key table). Models with user-ID embeddings or user
            side features need it; history-only models ignore it. :func:`evaluate` passes it
            only to a ``score`` that declares a ``users`` parameter (or ``**kwargs``), so a
            scorer written before it existed keeps working.

        Returns
        -------
        (n_histories, n_candidates) float32
            Scores, higher is better; ``-inf`` for candidates it cannot score. Never NaN.
        """
        ...


@dataclass(frozen=True, eq=False)
class EvalResult:
    """Metrics of one :func:`evaluate` run.

    Attributes
    ----------
    metrics : dict[str, float]
        ``{"HR@10": ..., "Recall@10": ..., "NDCG@10": ..., "MRR@10": ..., "Accuracy@10": ...,
        "Coverage@10": ...}`` for each cut-off: HR, Recall, NDCG and MRR are means over the
        evaluated users, Accuracy is the hit fraction over their test events (micro average).
    n_users : int
        Users evaluated (at least one test event and one training event).
    n_skipped_users : int
        Users with test events but no training history; not scored.
    n_test_items_not_in_catalogue : int
        Relevant (user, item) pairs whose item has no training event: relevant, but they can
        never be recommended.
    n_candidates : int
        Catalogue size: items with a training event.
    per_user : dict[str, (n_users,) float64]
        Per-user values whose mean is the metric, for every metric except Coverage, for
        confidence intervals and paired tests between models. For HR, Recall, NDCG and MRR
        they are the users' own values. ``Accuracy@K`` is a ratio, ``A = sum_u h_u / N`` (user
        ``u`` has ``h_u`` of its ``n_u`` test events in its top K, ``N = sum_u n_u``), so its
        rows are its linearisation (the delta method for a ratio estimator, clustered by
        user): ``A + (h_u - A * n_u) / mean(n_u)``. Their mean is exactly ``A``; their spread
        gives its standard error with users, not events, as the independent units; the
        difference of two models' rows is the linearisation of the difference of their
        accuracies. They are not per-user accuracies (and may fall outside ``[0, 1]``); those
        are ``hits / test_events`` with ``hits = A * test_events + (row - A) *
        test_events.mean()``.
    user_keys : (n_users,) ndarray
        The evaluated users, aligned with the ``per_user`` rows.
    ks : tuple[int, ...]
        The cut-offs, ascending.
    test_events : (n_users,) int64
        Test events of each evaluated user (``n_u``, repeated (user, item) events counted
        each time), aligned with ``user_keys``; Accuracy's denominator is their sum.
    """

    metrics: dict[str, float]
    n_users: int
    n_skipped_users: int
    n_test_items_not_in_catalogue: int
    n_candidates: int
    per_user: dict[str, npt.NDArray[np.float64]] = field(repr=False)
    user_keys: npt.NDArray[Any] = field(repr=False)
    ks: tuple[int, ...] = ()
    test_events: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False
    )

    @property
    def n_test_events(self) -> int:
        """Test events of the evaluated users: the denominator of ``Accuracy@K``."""
        return int(self.test_events.sum())

    def ci95(self) -> dict[str, float | None]:
        """Half-width of a normal 95% confidence interval of each metric in ``per_user``:
        ``1.96 * std(per_user[name], ddof=1) / sqrt(n_users)``; ``None`` with fewer than two
        users (and no entry for Coverage).

        For ``Accuracy@K`` (the rows are its linearisation, see ``per_user``) this is the
        delta-method interval of a ratio estimator with users as clusters,
        ``1.96 * sqrt(sum_u (h_u - A n_u)^2 / (U - 1)) / (mean(n_u) * sqrt(U))``: test events
        of one user are not treated as independent.
        """
        return {
            name: 1.96 * float(v.std(ddof=1)) / math.sqrt(v.size) if v.size > 1 else None
            for name, v in self.per_user.items()
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: means, 95% interval half-widths and counts (no per-user
        arrays)."""
        return {
            "metrics": dict(self.metrics),
            "ci95": self.ci95(),
            "ks": list(self.ks),
            "n_users": self.n_users,
            "n_skipped_users": self.n_skipped_users,
            "n_test_items_not_in_catalogue": self.n_test_items_not_in_catalogue,
            "n_candidates": self.n_candidates,
            "n_test_events": self.n_test_events,
        }

    def table(self) -> str:
        """The metrics and counts as a two-column text table."""
        return compare({"value": self})


def compare(results: Mapping[str, EvalResult]) -> str:
    """Several results side by side: one row per metric, one column per named result.

    Parameters
    ----------
    results : mapping of name -> EvalResult
        E.g. ``{"item2vec": r1, "popularity": r2}``; columns keep this order.

    Returns
    -------
    str
        A plain-text table; a metric missing from a result shows ``-``.
    """
    if not results:
        raise ValueError("results is empty; pass e.g. {'model': evaluate(...)}")
    names = list(results)
    rs = [results[n] for n in names]
    metrics = list(dict.fromkeys(m for r in rs for m in r.metrics))
    head = ["metric", *names]
    rows = [[m, *(f"{r.metrics[m]:.4f}" if m in r.metrics else "-" for r in rs)] for m in metrics]
    rows.append(["users", *(str(r.n_users) for r in rs)])
    rows.append(["skipped users", *(str(r.n_skipped_users) for r in rs)])
    rows.append(["test events", *(str(r.n_test_events) for r in rs)])
    rows.append(["candidates", *(str(r.n_candidates) for r in rs)])
    table = [head, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    )


def check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    if isinstance(ks, (int, np.integer)):
        raise ValueError(f"ks={ks!r} must be a sequence of cut-offs; use ks=({ks},)")
    out = tuple(ks)
    if not out:
        raise ValueError("ks is empty; give at least one cut-off, e.g. ks=(10,)")
    for k in out:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k={k!r} is invalid; every cut-off must be an integer >= 1")
    return tuple(sorted({int(k) for k in out}))


def _accepts_users(score: Any) -> bool:
    """Whether a ``score`` method takes ``users=`` (declared, or through ``**kwargs``).

    A signature that cannot be read (some builtins) is taken to follow the protocol.
    """
    try:
        params = inspect.signature(score).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(
        (p.name == "users" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        or p.kind == p.VAR_KEYWORD
        for p in params
    )


def _same_keys(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    return a is b or (a.shape == b.shape and bool(np.array_equal(a, b)))


def evaluate(
    scorer: Scorer,
    train: Interactions,
    test: Interactions,
    *,
    ks: Sequence[int] = (10,),
    batch_size: int = 1024,
    users: Sequence[Key] | None = None,
    exclude_seen: bool = True,
    progress: bool = False,
) -> EvalResult:
    """Rank the whole catalogue for every evaluable user and score it against their test
    items (the protocol is in the module docstring).

    Parameters
    ----------
    scorer : Scorer
        Has ``score(histories, candidates, *, times=..., users=...)``; fitted on ``train`` (or
        on less). A ``score`` without a ``users`` parameter (nor ``**kwargs``) is called
        without it (its signature is read once per call of ``evaluate``).
    train : Interactions
        The events the model was fitted on. They define the catalogue (every item with a
        training event), each user's history (item keys in time order, with their times)
        and the items excluded from that user's ranking.
    test : Interactions
        The held-out events, with the same key tables as ``train`` (the parts of one
        :class:`~embedrec.eval.split.Split`).
    ks : sequence of int, default (10,)
        Cut-offs, each ``>= 1``; HR, Recall, NDCG, MRR, Accuracy and Coverage are reported
        at each.
    batch_size : int, default 1024
        Users scored per ``score`` call; peak memory is a few ``batch_size * n_candidates``
        arrays.
    users : sequence of user keys, optional
        Restrict the evaluation to these users.
    exclude_seen : bool, default True
        Remove each user's training items from their ranking (a test event of an item the
        user also has in training is then always a miss). ``False`` for the TFRS protocol.
    progress : bool, default False
        Report progress (bar and log lines) through :class:`embedrec.progress.Progress`.

    Returns
    -------
    EvalResult

    Raises
    ------
    ValueError
        Mismatched key tables, no training events, no evaluable user, bad ``ks`` or
        ``batch_size``, or a scorer returning the wrong shape or NaN.
    KeyError
        ``users`` holds keys that are not in the user key table (all are listed).
    TypeError
        ``scorer`` has no ``score`` method.

    Examples
    --------
    Users 1, 2, 3 saw (b, a), (a, b), (b, c); the last event of each is the test. Popularity
    ranks b (2 training events) over a (1); c is not in the catalogue. User 1 gets a (b is
    seen): hit; user 2 gets b: hit; user 3 gets a: miss.

    >>> from embedrec.eval import Popularity, leave_last_out
    >>> log = Interactions.from_arrays([1, 1, 2, 2, 3, 3], list("baabbc"))
    >>> s = leave_last_out(log, n_valid=0)
    >>> r = evaluate(Popularity().fit(s.train), s.train, s.test, ks=(1,))
    >>> round(r.metrics["HR@1"], 3), r.n_test_items_not_in_catalogue
    (0.667, 1)

    The TFRS retrieval protocol: a random 80/20 split, seen items not excluded, event-level
    top-100 accuracy.

    >>> from embedrec.eval import random_holdout
    >>> s = random_holdout(log, test_fraction=0.2, seed=42)  # doctest: +SKIP
    >>> r = evaluate(model, s.train, s.test, ks=(100,), exclude_seen=False)  # doctest: +SKIP
    >>> r.metrics["Accuracy@100"]  # doctest: +SKIP
    """
    cutoffs = check_ks(ks)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size={batch_size!r} is invalid; use an integer >= 1")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} is invalid; use batch_size >= 1")
    score = getattr(scorer, "score", None)
    if not callable(score):
        raise TypeError(
            f"{type(scorer).__name__} has no score(histories, candidates, *, times=..., "
            "users=...) method; see embedrec.eval.Scorer"
        )
    pass_users = _accepts_users(score)
    if not pass_users:
        logger.debug(
            "%s.score takes no users= argument; scoring from histories alone",
            type(scorer).__name__,
        )
    if not _same_keys(train.item_keys, test.item_keys):
        raise ValueError(
            "train and test have different item key tables; split one Interactions with "
            "embedrec.eval (leave_last_out, temporal_split, random_holdout) so codes agree"
        )
    if not _same_keys(train.user_keys, test.user_keys):
        raise ValueError(
            "train and test have different user key tables; split one Interactions with "
            "embedrec.eval (leave_last_out, temporal_split, random_holdout) so codes agree"
        )
    catalogue = np.flatnonzero(train.item_counts() > 0)  # (n_candidates,) item codes
    if catalogue.size == 0:
        raise ValueError("train has no events, so there is no catalogue to rank")
    pos = np.full(train.n_items, -1, dtype=np.int64)  # item code -> candidate column
    pos[catalogue] = np.arange(catalogue.size)
    cand_keys = train.item_keys[catalogue]

    off = train.user_offsets()
    has_train = np.diff(off) > 0
    has_test = np.bincount(test.user, minlength=test.n_users) > 0
    wanted = np.ones(train.n_users, dtype=bool)
    if users is not None:
        if isinstance(users, (str, bytes)):
            raise TypeError(f"users must be a sequence of user keys; use users=[{users!r}]")
        code_of = {key: code for code, key in enumerate(train.user_keys.tolist())}
        wanted_keys = list(users)
        missing = [key for key in wanted_keys if key not in code_of]
        if missing:
            raise KeyError(f"{len(missing)} user key(s) not in the log: {missing}")
        wanted[:] = False
        wanted[[code_of[key] for key in wanted_keys]] = True
    eval_users = np.flatnonzero(has_test & has_train & wanted)
    n_skipped = int(np.count_nonzero(has_test & ~has_train & wanted))
    if eval_users.size == 0:
        raise ValueError(
            f"no user has both training and test events ({n_skipped} test users have no "
            "training history); check the split, e.g. a temporal split whose test users are "
            "all new"
        )

    # relevant items: each evaluated user's distinct test items (codes, catalogue or not)
    row_of = np.full(train.n_users, -1, dtype=np.int64)
    row_of[eval_users] = np.arange(eval_users.size)
    sel = row_of[test.user] >= 0
    event_rows = row_of[test.user[sel]]  # one per test event of an evaluated user
    event_items = test.item[sel].astype(np.int64)
    pairs = np.unique(event_rows * train.n_items + event_items)
    rel_items = pairs % train.n_items
    rel_offsets = np.zeros(eval_users.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(pairs // train.n_items, minlength=eval_users.size), out=rel_offsets[1:])
    n_not_in_catalogue = int(np.count_nonzero(pos[rel_items] < 0))

    k_max = cutoffs[-1]
    top = np.full((eval_users.size, min(k_max, catalogue.size)), -1, dtype=np.int64)
    name = type(scorer).__name__
    bar = Progress(int(eval_users.size), "evaluating", "users", enabled=progress)
    try:
        for start in range(0, eval_users.size, batch_size):
            batch = eval_users[start : start + batch_size]
            hist_codes = [train.item[off[u] : off[u + 1]] for u in batch]
            histories: list[Any] = [train.item_keys[c] for c in hist_codes]
            times = [train.time[off[u] : off[u + 1]] for u in batch]
            if pass_users:
                raw = np.asarray(
                    score(histories, cand_keys, times=times, users=train.user_keys[batch])
                )
            else:
                raw = np.asarray(score(histories, cand_keys, times=times))
            expected = (batch.size, catalogue.size)
            if raw.shape != expected:
                raise ValueError(
                    f"{name}.score returned shape {raw.shape}; expected (n_histories, "
                    f"n_candidates) = {expected}"
                )
            scores = raw.astype(np.float32)  # a copy: masking must not touch the scorer's
            if np.isnan(scores).any():
                raise ValueError(
                    f"{name}.score returned {int(np.isnan(scores).sum())} NaN scores; return "
                    "-inf for candidates it cannot score"
                )
            if exclude_seen:
                rows = np.repeat(np.arange(batch.size), [c.size for c in hist_codes])
                scores[rows, pos[np.concatenate(hist_codes)]] = -np.inf
            cols = top_k_exact(scores, k_max)
            top[start : start + batch.size] = np.where(cols >= 0, catalogue[cols], -1)
            bar.update(int(batch.size))
    finally:
        bar.close()

    hits = hit_matrix(top, rel_items, rel_offsets)
    n_relevant = np.diff(rel_offsets)
    # event-level accuracy: each test event (repeats included) is a hit when its item is in
    # the user's top K; micro-averaged over events, linearised per user (see EvalResult)
    ranks = event_ranks(top, event_rows, event_items)
    n_events = np.bincount(event_rows, minlength=eval_users.size).astype(np.int64)
    mean_events = float(n_events.mean())  # >= 1: every evaluated user has a test event
    metrics: dict[str, float] = {}
    per_user: dict[str, npt.NDArray[np.float64]] = {}
    for k in cutoffs:
        for metric, values in metrics_from_hits(hits, n_relevant, k).items():
            per_user[f"{metric}@{k}"] = values
            metrics[f"{metric}@{k}"] = float(values.mean())
        event_hits = np.bincount(event_rows, weights=ranks < k, minlength=eval_users.size)
        accuracy = float(event_hits.sum() / n_events.sum())
        metrics[f"Accuracy@{k}"] = accuracy
        per_user[f"Accuracy@{k}"] = accuracy + (event_hits - accuracy * n_events) / mean_events
        metrics[f"Coverage@{k}"] = coverage(top, k, int(catalogue.size))
    return EvalResult(
        metrics=metrics,
        n_users=int(eval_users.size),
        n_skipped_users=n_skipped,
        n_test_items_not_in_catalogue=n_not_in_catalogue,
        n_candidates=int(catalogue.size),
        per_user=per_user,
        user_keys=train.user_keys[eval_users],
        ks=cutoffs,
        test_events=n_events,
    )

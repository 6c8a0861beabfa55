"""The offline next-item protocol: full ranking over the catalogue, seen items excluded.

Any model is evaluated through one method, ``score(histories, candidates, times=...)``
(the :class:`Scorer` protocol): Item2Vec, the baselines, and later models all go through
this same code, so their numbers are comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..data.interactions import Interactions
from ..progress import Progress
from .metrics import coverage, hit_matrix, ranking_metrics


class Scorer(Protocol):
    """Anything that scores candidate items for user histories (higher is better)."""

    def score(
        self,
        histories: Sequence[Sequence[Any]],
        candidates: npt.NDArray[Any],
        *,
        times: Sequence[npt.NDArray[np.float64]] | None = None,
    ) -> npt.NDArray[np.float32]:
        """(n_histories, n_candidates) scores; ``-inf`` for candidates it cannot score."""
        ...


@dataclass(frozen=True)
class EvalResult:
    """Metrics of one evaluation.

    Attributes
    ----------
    metrics : dict
        Means over the evaluated users, e.g. ``{"HR@10": 0.21, "NDCG@10": 0.11, ...}``, plus
        ``Coverage@K``.
    n_users : int
        Users evaluated (at least one test event and one training event).
    n_skipped_users : int
        Users with test events but no training history (not scored).
    n_test_items_not_in_catalogue : int
        Relevant test items that never occur in training: they count as relevant but can never
        be recommended.
    n_candidates : int
        Catalogue size (items with a training event).
    per_user : dict
        ``{"HR@10": (n_users,) float64, ...}`` for confidence intervals and paired tests.
    user_keys : ndarray
        The evaluated users, aligned with ``per_user`` rows.
    """

    metrics: dict[str, float]
    n_users: int
    n_skipped_users: int
    n_test_items_not_in_catalogue: int
    n_candidates: int
    per_user: dict[str, npt.NDArray[np.float64]] = field(repr=False)
    user_keys: npt.NDArray[Any] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (means, counts, and a 95% normal interval of each mean)."""
        ci = {
            name: 1.96 * float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else None
            for name, v in self.per_user.items()
        }
        return {
            "metrics": dict(self.metrics),
            "ci95": ci,
            "n_users": self.n_users,
            "n_skipped_users": self.n_skipped_users,
            "n_test_items_not_in_catalogue": self.n_test_items_not_in_catalogue,
            "n_candidates": self.n_candidates,
        }

    def table(self) -> str:
        """The metrics as a two-column text table."""
        return compare({"value": self})


def compare(results: dict[str, EvalResult]) -> str:
    """Several results side by side: one row per metric, one column per result."""
    names = list(results)
    metrics = list(dict.fromkeys(m for r in results.values() for m in r.metrics))
    head = ["metric", *names]
    rows = [
        [m, *(f"{results[n].metrics[m]:.4f}" if m in results[n].metrics else "-" for n in names)]
        for m in metrics
    ]
    rows.append(["users", *(str(results[n].n_users) for n in names)])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = [f"{{:<{widths[0]}}}", *(f"{{:>{w}}}" for w in widths[1:])]
    return "\n".join(
        "  ".join(f.format(c) for f, c in zip(fmt, r, strict=True)) for r in [head, *rows]
    )


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    out = tuple(ks)
    if not out:
        raise ValueError("ks is empty; give at least one cut-off, e.g. ks=(10,)")
    for k in out:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k={k!r} is invalid; every cut-off must be an integer >= 1")
    return tuple(sorted(set(int(k) for k in out)))


def top_k_exact(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """(n, min(k, n_cols)) column indices of the largest scores per row, best first.

    Ties go to the lower column index, also at the cut-off; ``-inf`` entries come back as
    -1 (padding).
    """
    n, m = scores.shape
    k = min(k, m)
    if k == 0:
        return np.empty((n, 0), dtype=np.int64)
    kth = np.partition(scores, m - k, axis=1)[:, m - k]  # the k-th largest value
    above = scores > kth[:, None]
    need = k - above.sum(axis=1)
    tie = scores == kth[:, None]
    take = above | (tie & (np.cumsum(tie, axis=1) <= need[:, None]))
    cols = np.nonzero(take)[1].reshape(n, k)  # row-major: ascending column per row
    vals = np.take_along_axis(scores, cols, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    cols[np.take_along_axis(vals, order, axis=1) == -np.inf] = -1
    return cols


def evaluate(
    scorer: Scorer,
    train: Interactions,
    test: Interactions,
    *,
    ks: Sequence[int] = (10,),
    batch_size: int = 1024,
    users: Sequence[Any] | None = None,
    exclude_seen: bool = True,
    progress: bool = False,
) -> EvalResult:
    """Score every evaluated user's full ranking over the catalogue against their test items.

    Parameters
    ----------
    scorer
        Has ``score(histories, candidates, times=...)`` (:class:`Scorer`).
    train
        The events the model was fitted on: they define the catalogue (every item with a
        training event), each user's history (item keys in time order, with their times) and
        the items excluded from that user's ranking.
    test
        The held-out events, with the same key tables as ``train`` (a :class:`Split`'s parts).
    ks
        Cut-offs; HR, Recall, NDCG, MRR and Coverage are reported at each.
    batch_size
        Users scored per ``score`` call (memory: ``batch_size * n_candidates`` floats).
    users
        Optional user keys to restrict the evaluation to.
    exclude_seen
        Mask each user's training items out of their ranking.
    progress
        Show a progress bar.

    Returns
    -------
    EvalResult

    Raises
    ------
    ValueError
        Mismatched key tables, an empty catalogue or no evaluable user, bad ``ks``, or a
        scorer returning the wrong shape or NaN.
    """
    cutoffs = _check_ks(ks)
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} is invalid; use batch_size >= 1")
    if train.item_keys is not test.item_keys and not np.array_equal(
        train.item_keys, test.item_keys
    ):
        raise ValueError(
            "train and test have different item key tables; split one Interactions with "
            "embedrec.eval.split so their codes agree"
        )
    if train.n_users != test.n_users or (
        train.user_keys is not test.user_keys
        and not np.array_equal(train.user_keys, test.user_keys)
    ):
        raise ValueError(
            "train and test have different user key tables; split one Interactions with "
            "embedrec.eval.split so their codes agree"
        )
    counts = train.item_counts()
    catalogue = np.flatnonzero(counts > 0)
    if catalogue.size == 0:
        raise ValueError("the training events are empty, so there is no catalogue to rank")
    pos = np.full(train.n_items, -1, dtype=np.int64)
    pos[catalogue] = np.arange(catalogue.size)
    cand_keys = train.item_keys[catalogue]

    off = train.user_offsets()
    toff = test.user_offsets()
    has_train = np.diff(off) > 0
    has_test = np.diff(toff) > 0
    wanted = np.ones(train.n_users, dtype=bool)
    if users is not None:
        k2u = {k: i for i, k in enumerate(train.user_keys.tolist())}
        wanted[:] = False
        missing = [u for u in users if u not in k2u]
        if missing:
            raise KeyError(f"{len(missing)} unknown user key(s), e.g. {missing[:5]}")
        wanted[[k2u[u] for u in users]] = True
    eval_users = np.flatnonzero(has_test & has_train & wanted)
    n_skipped = int(np.count_nonzero(has_test & ~has_train & wanted))
    if eval_users.size == 0:
        raise ValueError(
            "no user has both training and test events; check the split (e.g. a temporal "
            "split whose test users are all new)"
        )

    # relevant items per evaluated user: distinct test items, as catalogue positions
    rel_lists = [np.unique(test.item[toff[u] : toff[u + 1]]) for u in eval_users]
    n_rel = np.array([r.size for r in rel_lists], dtype=np.int64)
    rel_codes = np.concatenate(rel_lists)
    not_in_cat = int(np.count_nonzero(pos[rel_codes] < 0))
    # out-of-catalogue items stay in n_rel (they count against recall) but can never be hit
    rel_pos = pos[rel_codes]
    in_cat = rel_pos >= 0
    rel_owner = np.repeat(np.arange(eval_users.size), n_rel)
    rel_off = np.zeros(eval_users.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(rel_owner[in_cat], minlength=eval_users.size), out=rel_off[1:])

    k_max = cutoffs[-1]
    top = np.full((eval_users.size, min(k_max, catalogue.size)), -1, dtype=np.int64)
    bar = Progress(int(eval_users.size), "evaluating", "users", enabled=progress)
    try:
        for start in range(0, eval_users.size, batch_size):
            batch = eval_users[start : start + batch_size]
            hist_codes = [train.item[off[u] : off[u + 1]] for u in batch]
            histories: list[Any] = [train.item_keys[c] for c in hist_codes]
            times = [train.time[off[u] : off[u + 1]] for u in batch]
            scores = np.array(scorer.score(histories, cand_keys, times=times), dtype=np.float32)
            if scores.shape != (batch.size, catalogue.size):
                raise ValueError(
                    f"{type(scorer).__name__}.score returned shape {scores.shape}; expected "
                    f"(n_histories, n_candidates) = {(batch.size, catalogue.size)}"
                )
            if np.isnan(scores).any():
                raise ValueError(
                    f"{type(scorer).__name__}.score returned NaN scores; use -inf for "
                    "candidates it cannot score"
                )
            if exclude_seen:
                rows = np.repeat(np.arange(batch.size), [c.size for c in hist_codes])
                scores[rows, pos[np.concatenate(hist_codes)]] = -np.inf
            top[start : start + batch.size] = top_k_exact(scores, k_max)
            bar.update(int(batch.size))
    finally:
        bar.close()

    hits = hit_matrix(top, rel_pos[in_cat], rel_off)
    metrics: dict[str, float] = {}
    per_user: dict[str, npt.NDArray[np.float64]] = {}
    for k in cutoffs:
        for name, values in ranking_metrics(hits, n_rel, k).items():
            per_user[f"{name}@{k}"] = values
            metrics[f"{name}@{k}"] = float(values.mean())
        metrics[f"Coverage@{k}"] = coverage(top, k, int(catalogue.size))
    return EvalResult(
        metrics=metrics,
        n_users=int(eval_users.size),
        n_skipped_users=n_skipped,
        n_test_items_not_in_catalogue=not_in_cat,
        n_candidates=int(catalogue.size),
        per_user=per_user,
        user_keys=train.user_keys[eval_users],
    )

"""Retrieval losses of the two-tower model and the item-frequency estimators of logQ correction.

Four losses share one module, :class:`RetrievalLoss`:

* ``"softmax"``: in-batch sampled softmax (Yi et al., RecSys 2019, "Sampling-Bias-Corrected
  Neural Modeling for Large Corpus Item Recommendations"): every other positive of the batch is
  a negative of a row, optionally with extra negative columns appended; logQ correction and
  accidental-hit masking.
* ``"mixed"``: mixed negative sampling (Yang et al., WWW 2020 companion, "Mixed Negative Sampling
  for Learning Two-tower Neural Networks in Recommendations"): in-batch columns plus a shared
  set of uniformly sampled items.
* ``"dssm"``: the original DSSM objective (Huang et al., CIKM 2013): a softmax, smoothed by
  ``gamma``, of cosine similarities over the positive and each row's own negatives.
* ``"bce"``: sigmoid binary cross-entropy on the positive (label 1) and each row's own
  negatives (label 0).

:func:`sampled_softmax_loss` is the softmax maths on a ready score matrix.
:class:`CountFrequency` (known counts) and :class:`StreamingFrequencyEstimator` (Yi et al. 2019,
Algorithm 2) give the ``log q`` of the correction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CountFrequency",
    "LossKind",
    "RetrievalLoss",
    "StreamingFrequencyEstimator",
    "sampled_softmax_loss",
]

LossKind = Literal["softmax", "mixed", "dssm", "bce"]
Reduction = Literal["mean", "sum", "none"]
_KINDS: tuple[str, ...] = get_args(LossKind)
_REDUCTIONS: tuple[str, ...] = get_args(Reduction)


def _check_positive(owner: str, field: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{owner}: {field}={value!r} must be a number > 0")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}: {field}={value!r} is invalid; use a finite {field} > 0")


def _check_ids(name: str, ids: Tensor, shape: tuple[int, ...], ref: str) -> None:
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer ids, got dtype {ids.dtype}")
    if tuple(ids.shape) != shape:
        raise ValueError(f"{name} has shape {tuple(ids.shape)} but {ref} needs shape {shape}")


def _reduce(per_row: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_row.mean()
    if reduction == "sum":
        return per_row.sum()
    return per_row


def sampled_softmax_loss(
    scores: Tensor,
    pos_ids: Tensor,
    col_ids: Tensor,
    *,
    temperature: float = 0.05,
    log_q: Tensor | None = None,
    remove_accidental_hits: bool = True,
    reduction: Reduction = "mean",
) -> Tensor:
    """Sampled softmax cross-entropy on an in-batch score matrix.

    Column ``j`` of ``scores`` is item ``col_ids[j]``; the positive of row ``i`` is column ``i``
    (the in-batch layout: the first ``B`` columns are the batch's positives, the remaining
    ``C - B`` columns are extra negatives). Per row ``i``::

        logits[i, j] = scores[i, j] / temperature - log_q[j]          (logQ correction)
        logits[i, j] = finfo.min   if j != i and col_ids[j] == pos_ids[i]   (accidental hit)
        loss[i]      = -log softmax(logits[i])[i]

    Subtracting ``log q_j`` (Yi et al. 2019, eq. 3) removes the advantage popular items get from
    appearing more often as negatives. A masked column gets the most negative finite value of the
    dtype (not ``-inf``), so its probability and gradient are exactly zero and nothing turns NaN.

    Parameters
    ----------
    scores : (B, C) float tensor, C >= B
        Raw similarities (query . item).
    pos_ids : (B,) int tensor
        Item id of each row's positive.
    col_ids : (C,) int tensor
        Item id of each column (normally ``cat([pos_ids, neg_ids])``).
    temperature : float > 0
        Logits are ``scores / temperature``.
    log_q : (C,) float tensor or None
        Log sampling probability of each column's item, on one scale for all columns
        (see :class:`RetrievalLoss`); None disables the correction.
    remove_accidental_hits : bool
        Mask columns other than ``i`` that hold row ``i``'s positive item.
    reduction : {"mean", "sum", "none"}
        "none" returns the (B,) per-row losses.

    Returns
    -------
    Tensor
        Scalar (mean or sum) or (B,) per-row losses.

    Raises
    ------
    ValueError
        Mismatched shapes (both named), ``temperature <= 0`` or an unknown ``reduction``.

    Examples
    --------
    >>> import torch
    >>> s = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    >>> ids = torch.tensor([3, 4])
    >>> round(float(sampled_softmax_loss(s, ids, ids, temperature=1.0)), 4)
    0.1269
    """
    _check_positive("sampled_softmax_loss", "temperature", temperature)
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"sampled_softmax_loss: reduction={reduction!r} is invalid; use one of {_REDUCTIONS}"
        )
    if scores.dim() != 2 or scores.shape[1] < scores.shape[0] or scores.shape[0] < 1:
        raise ValueError(
            f"scores has shape {tuple(scores.shape)}; need (B, C) with 1 <= B <= C "
            "(row i's positive is column i)"
        )
    b, c = int(scores.shape[0]), int(scores.shape[1])
    _check_ids("pos_ids", pos_ids, (b,), f"scores of shape {(b, c)}")
    _check_ids("col_ids", col_ids, (c,), f"scores of shape {(b, c)}")
    logits = scores / temperature
    if log_q is not None:
        if tuple(log_q.shape) != (c,):
            raise ValueError(
                f"log_q has shape {tuple(log_q.shape)} but scores of shape {(b, c)} "
                f"need one log q per column, shape {(c,)}"
            )
        logits = logits - log_q.to(device=logits.device, dtype=logits.dtype).unsqueeze(0)
    if remove_accidental_hits:
        hit = pos_ids.to(col_ids.device).unsqueeze(1) == col_ids.unsqueeze(0)  # (B, C)
        own = torch.arange(b, device=hit.device)
        hit[own, own] = False
        logits = logits.masked_fill(hit.to(logits.device), torch.finfo(logits.dtype).min)
    target = torch.arange(b, device=logits.device)
    per_row = F.cross_entropy(logits, target, reduction="none")
    return _reduce(per_row, reduction)


class RetrievalLoss(nn.Module):
    """The training loss of a two-tower model, on tower outputs.

    Parameters
    ----------
    kind : {"softmax", "mixed", "dssm", "bce"}
        * ``"softmax"``: ``logits = query @ [pos; neg].T / temperature``, shape (B, B + M): the
          batch's positives plus any extra negatives ``neg`` (M, d); target = the diagonal.
          See :func:`sampled_softmax_loss` for logQ and accidental hits.
        * ``"mixed"``: the same softmax, where ``neg`` (M, d) (M >= 1, required) are items drawn
          uniformly from the catalogue and shared by all rows (Yang et al. 2020).
        * ``"dssm"``: per row, ``P(pos) = exp(g cos(q, pos)) / sum_{x in {pos, neg_1..N}}
          exp(g cos(q, x))`` with ``g = dssm_gamma`` and ``neg`` (B, N, d) the row's own
          negatives; ``loss = -log P(pos)``, mean over rows. ``temperature`` is not used
          (``gamma`` plays its role on cosines).
        * ``"bce"``: sigmoid binary cross-entropy with logits ``(query . x) / temperature``
          (plain dot products of the given vectors, so l2-normalised towers give cosine),
          label 1 for ``x = pos`` and 0 for each of the row's N negatives ``neg`` (B, N, d);
          mean over all ``B * (N + 1)`` terms (minus masked accidental hits).
    temperature : float > 0
        Divides the dot products of ``softmax``, ``mixed`` and ``bce``.
    logq : bool
        Subtract ``log q`` of each column's item (softmax and mixed only; ignored by dssm and
        bce). When set, ``forward`` needs ``log_q_pos`` (and ``log_q_neg`` when ``neg`` is given).
    remove_accidental_hits : bool
        Softmax/mixed: mask columns other than the row's own that hold the row's positive item.
        dssm/bce: drop negatives whose id equals the row's positive id. Needs ``neg_ids`` when
        ``neg`` is given.
    num_negatives : int >= 0
        Expected negatives count (mixed: M shared items; dssm/bce: N per row), checked against
        ``neg``; 0 accepts any count.
    dssm_gamma : float > 0
        Smoothing factor of the dssm softmax.

    Notes
    -----
    **Scale of log q (mixed negative sampling).** The correction compares columns, so all of
    them must use one scale. embedrec uses "expected number of times the item is drawn into
    this step's columns":

    * in-batch columns: an item with sampling frequency ``q_i`` (count / total, see
      :class:`CountFrequency`) is drawn ``B * q_i`` times in expectation in a batch of ``B``
      positives, so ``log_q_pos = log(q_i) + log(B)``; the streaming estimate of
      :class:`StreamingFrequencyEstimator` (probability the item is in a batch) is already
      on this scale for items that appear at most about once per batch;
    * uniform columns: M items drawn uniformly from ``n_items`` give each item
      ``M / n_items`` expected draws, so ``log_q_neg = log(M / n_items)`` for every one.

    A constant shift of *all* columns does not change the softmax, so only this common scale
    matters. ``logq=True`` with the needed ``log_q_*`` missing raises ``ValueError`` rather
    than silently training uncorrected.

    Examples
    --------
    >>> import torch
    >>> loss = RetrievalLoss("softmax", temperature=0.1, logq=False)
    >>> q, p = torch.eye(3), torch.eye(3)
    >>> float(loss(q, p, torch.tensor([0, 1, 2]))) < 1e-3
    True
    """

    def __init__(
        self,
        kind: LossKind = "softmax",
        *,
        temperature: float = 0.05,
        logq: bool = True,
        remove_accidental_hits: bool = True,
        num_negatives: int = 0,
        dssm_gamma: float = 10.0,
    ) -> None:
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"RetrievalLoss: kind={kind!r} is invalid; use one of {_KINDS}")
        _check_positive("RetrievalLoss", "temperature", temperature)
        _check_positive("RetrievalLoss", "dssm_gamma", dssm_gamma)
        if isinstance(num_negatives, bool) or not isinstance(num_negatives, int | np.integer):
            raise TypeError(f"RetrievalLoss: num_negatives={num_negatives!r} must be an int >= 0")
        if num_negatives < 0:
            raise ValueError(
                f"RetrievalLoss: num_negatives={num_negatives} is invalid; use num_negatives >= 0 "
                "(0 accepts any number of negatives)"
            )
        self.kind: LossKind = kind
        self.temperature = float(temperature)
        self.logq = bool(logq)
        self.remove_accidental_hits = bool(remove_accidental_hits)
        self.num_negatives = int(num_negatives)
        self.dssm_gamma = float(dssm_gamma)

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind!r}, temperature={self.temperature}, logq={self.logq}, "
            f"remove_accidental_hits={self.remove_accidental_hits}, "
            f"num_negatives={self.num_negatives}, dssm_gamma={self.dssm_gamma}"
        )

    def forward(
        self,
        query: Tensor,
        pos: Tensor,
        pos_ids: Tensor,
        *,
        neg: Tensor | None = None,
        neg_ids: Tensor | None = None,
        log_q_pos: Tensor | None = None,
        log_q_neg: Tensor | None = None,
    ) -> Tensor:
        """Mean loss of one batch.

        Parameters
        ----------
        query : (B, d) float tensor
            User-tower outputs.
        pos : (B, d) float tensor
            Item-tower outputs of each row's positive.
        pos_ids : (B,) int tensor
            Item ids of the positives.
        neg : (M, d) for softmax/mixed, (B, N, d) for dssm/bce, or None
            Negative item vectors.
        neg_ids : (M,) for softmax/mixed, (B, N) or (B * N,) for dssm/bce, or None
            Item ids of ``neg``; needed when ``remove_accidental_hits`` and ``neg`` is given.
        log_q_pos : (B,) float tensor or None
            Log q of each in-batch column's item (= each row's positive); softmax/mixed with
            ``logq``.
        log_q_neg : (M,) float tensor or None
            Log q of each extra column's item; softmax/mixed with ``logq`` and ``neg``.

        Returns
        -------
        Tensor
            Scalar mean loss.

        Raises
        ------
        ValueError
            A shape mismatch (both shapes named), a missing ``neg`` (mixed, dssm, bce), missing
            ``neg_ids`` or missing ``log_q_*`` when the settings need them.
        """
        if query.dim() != 2:
            raise ValueError(f"query has shape {tuple(query.shape)}; need (B, d)")
        b, d = int(query.shape[0]), int(query.shape[1])
        if tuple(pos.shape) != (b, d):
            raise ValueError(
                f"pos has shape {tuple(pos.shape)} but query has shape {(b, d)}; "
                "need one positive item vector per query row"
            )
        _check_ids("pos_ids", pos_ids, (b,), f"query of shape {(b, d)}")
        if b < 1:
            raise ValueError("query has 0 rows; need a batch of at least one row")
        if self.kind in ("softmax", "mixed"):
            return self._softmax(query, pos, pos_ids, neg, neg_ids, log_q_pos, log_q_neg)
        return self._per_row(query, pos, pos_ids, neg, neg_ids)

    def _softmax(
        self,
        query: Tensor,
        pos: Tensor,
        pos_ids: Tensor,
        neg: Tensor | None,
        neg_ids: Tensor | None,
        log_q_pos: Tensor | None,
        log_q_neg: Tensor | None,
    ) -> Tensor:
        b, d = int(query.shape[0]), int(query.shape[1])
        if neg is None and self.kind == "mixed":
            raise ValueError(
                "RetrievalLoss(kind='mixed') needs neg: (M, d) uniformly sampled item vectors "
                "(and neg_ids, log_q_neg); use kind='softmax' for in-batch negatives only"
            )
        m = 0
        if neg is not None:
            if neg.dim() != 2 or int(neg.shape[1]) != d:
                raise ValueError(
                    f"neg has shape {tuple(neg.shape)} but query has shape {(b, d)}; "
                    f"kind={self.kind!r} needs neg of shape (M, {d}) shared by all rows"
                )
            m = int(neg.shape[0])
            if self.kind == "mixed" and m < 1:
                raise ValueError("RetrievalLoss(kind='mixed') got neg with 0 rows; need M >= 1")
            if self.num_negatives and m != self.num_negatives:
                raise ValueError(
                    f"neg has shape {tuple(neg.shape)} but num_negatives={self.num_negatives}; "
                    f"pass ({self.num_negatives}, {d}) or construct with num_negatives=0"
                )
        items = pos if neg is None else torch.cat([pos, neg.to(pos.dtype)], dim=0)
        scores = query @ items.T  # (B, B + M)
        if neg_ids is not None:
            if neg is None:
                raise ValueError("neg_ids was given without neg; pass both or neither")
            _check_ids("neg_ids", neg_ids, (m,), f"neg of shape {tuple(neg.shape)}")
            col_ids = torch.cat([pos_ids, neg_ids.to(device=pos_ids.device, dtype=pos_ids.dtype)])
        elif m and self.remove_accidental_hits:
            raise ValueError(
                "remove_accidental_hits=True needs neg_ids, the item ids of neg; pass neg_ids "
                "or construct RetrievalLoss with remove_accidental_hits=False"
            )
        else:
            # ids of extra columns are only read for accidental hits, which are off here
            col_ids = torch.cat([pos_ids, torch.full_like(pos_ids[:1].expand(m), -1)])
        log_q = None
        if self.logq:
            if log_q_pos is None or (m and log_q_neg is None):
                missing = "log_q_pos" if log_q_pos is None else "log_q_neg"
                raise ValueError(
                    f"RetrievalLoss(kind={self.kind!r}, logq=True) needs {missing}: the log "
                    "sampling probability of each column's item (CountFrequency.log_q or "
                    "StreamingFrequencyEstimator.log_q; for uniform negatives "
                    "log(M / n_items)); pass it or construct with logq=False"
                )
            if tuple(log_q_pos.shape) != (b,):
                raise ValueError(
                    f"log_q_pos has shape {tuple(log_q_pos.shape)} but pos_ids has shape "
                    f"{(b,)}; need one log q per in-batch column"
                )
            parts = [log_q_pos.to(scores.dtype)]
            if m:
                assert log_q_neg is not None
                if tuple(log_q_neg.shape) != (m,):
                    raise ValueError(
                        f"log_q_neg has shape {tuple(log_q_neg.shape)} but neg has shape "
                        f"{(m, d)}; need one log q per negative, shape {(m,)}"
                    )
                parts.append(log_q_neg.to(device=scores.device, dtype=scores.dtype))
            log_q = torch.cat([parts[0].to(scores.device), *parts[1:]])
        return sampled_softmax_loss(
            scores,
            pos_ids,
            col_ids,
            temperature=self.temperature,
            log_q=log_q,
            remove_accidental_hits=self.remove_accidental_hits,
        )

    def _per_row(
        self,
        query: Tensor,
        pos: Tensor,
        pos_ids: Tensor,
        neg: Tensor | None,
        neg_ids: Tensor | None,
    ) -> Tensor:
        b, d = int(query.shape[0]), int(query.shape[1])
        if neg is None:
            raise ValueError(
                f"RetrievalLoss(kind={self.kind!r}) needs neg: (B, N, d) = ({b}, N, {d}) "
                "sampled negatives per row"
            )
        if neg.dim() != 3 or int(neg.shape[0]) != b or int(neg.shape[2]) != d:
            raise ValueError(
                f"neg has shape {tuple(neg.shape)} but query has shape {(b, d)}; "
                f"kind={self.kind!r} needs neg of shape ({b}, N, {d})"
            )
        n = int(neg.shape[1])
        if n < 1:
            raise ValueError(f"neg has shape {tuple(neg.shape)}; need N >= 1 negatives per row")
        if self.num_negatives and n != self.num_negatives:
            raise ValueError(
                f"neg has shape {tuple(neg.shape)} but num_negatives={self.num_negatives}; "
                f"pass ({b}, {self.num_negatives}, {d}) or construct with num_negatives=0"
            )
        keep: Tensor | None = None  # (B, N) True where a negative counts
        if self.remove_accidental_hits:
            if neg_ids is None:
                raise ValueError(
                    "remove_accidental_hits=True needs neg_ids, the item ids of neg; pass "
                    "neg_ids or construct RetrievalLoss with remove_accidental_hits=False"
                )
            if tuple(neg_ids.shape) == (b * n,):
                neg_ids = neg_ids.reshape(b, n)
            _check_ids("neg_ids", neg_ids, (b, n), f"neg of shape {tuple(neg.shape)}")
            keep = (neg_ids.to(pos_ids.device) != pos_ids.unsqueeze(1)).to(query.device)
        neg = neg.to(query.dtype)
        if self.kind == "dssm":
            qn = F.normalize(query, dim=-1)
            pos_cos = (qn * F.normalize(pos, dim=-1)).sum(-1, keepdim=True)  # (B, 1)
            neg_cos = torch.einsum("bd,bnd->bn", qn, F.normalize(neg, dim=-1))  # (B, N)
            logits = self.dssm_gamma * torch.cat([pos_cos, neg_cos], dim=1)
            if keep is not None:
                full = torch.cat([torch.ones_like(keep[:, :1]), keep], dim=1)
                logits = logits.masked_fill(~full, torch.finfo(logits.dtype).min)
            target = torch.zeros(b, dtype=torch.long, device=logits.device)
            return F.cross_entropy(logits, target)
        # bce
        pos_logit = (query * pos).sum(-1, keepdim=True) / self.temperature  # (B, 1)
        neg_logit = torch.einsum("bd,bnd->bn", query, neg) / self.temperature  # (B, N)
        logits = torch.cat([pos_logit, neg_logit], dim=1)
        labels = torch.zeros_like(logits)
        labels[:, 0] = 1.0
        terms = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        if keep is None:
            return terms.mean()
        weight = torch.cat([torch.ones_like(keep[:, :1]), keep], dim=1).to(terms.dtype)
        return (terms * weight).sum() / weight.sum()


def _as_counts(counts: npt.ArrayLike | Tensor | Sequence[int]) -> npt.NDArray[np.float64]:
    if isinstance(counts, Tensor):
        arr = counts.detach().cpu().numpy()
    else:
        arr = np.asarray(counts)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"CountFrequency: counts must be numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


class CountFrequency:
    """Item sampling probabilities from known item counts: ``q_i = count_i / total``.

    An item with count 0 (never seen in training, yet it can be a column) gets the floor
    ``q = 0.5 / total``: half of the rarest possible observed item, so its ``log q`` stays finite
    and it is corrected as "rarer than anything seen". With zero counts present the ``q`` sum to
    slightly more than 1; only differences of ``log q`` between columns matter to the softmax.

    Parameters
    ----------
    counts : (n_items,) non-negative numbers (numpy array, tensor or sequence)
        Occurrences of each item id ``0 .. n_items - 1`` as a positive.

    Raises
    ------
    ValueError
        Counts that are not 1-D, negative, not finite, or all zero.

    Examples
    --------
    >>> import torch
    >>> f = CountFrequency([3, 1, 0])
    >>> [round(v, 4) for v in f.log_q(torch.tensor([0, 2])).exp().tolist()]
    [0.75, 0.125]
    """

    def __init__(self, counts: npt.ArrayLike | Tensor | Sequence[int]) -> None:
        arr = _as_counts(counts)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(
                f"CountFrequency: counts has shape {arr.shape}; need (n_items,) with n_items >= 1"
            )
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            bad = arr[~np.isfinite(arr) | (arr < 0)][:5].tolist()
            raise ValueError(
                f"CountFrequency: counts must be finite and >= 0; got {bad}; clip or fix them"
            )
        total = float(arr.sum())
        if total <= 0:
            raise ValueError(
                "CountFrequency: all counts are 0; need at least one positive count "
                "(or train with logq disabled)"
            )
        q = np.where(arr > 0, arr, 0.5) / total
        self.total = total
        self.log_q_table: Tensor = torch.from_numpy(np.log(q)).to(torch.float32)

    @property
    def num_items(self) -> int:
        """Number of item ids covered (``len(counts)``)."""
        return int(self.log_q_table.shape[0])

    @property
    def device(self) -> torch.device:
        """Device of the stored table."""
        return self.log_q_table.device

    def to(self, device: torch.device | str) -> CountFrequency:
        """Move the stored table to ``device`` (in place) and return ``self``."""
        self.log_q_table = self.log_q_table.to(device)
        return self

    def log_q(self, ids: Tensor) -> Tensor:
        """Log sampling probability of each id.

        Parameters
        ----------
        ids : int tensor of any shape, values in ``[0, num_items)``

        Returns
        -------
        Tensor
            float32, same shape and device as ``ids``.

        Raises
        ------
        IndexError
            An id outside ``[0, num_items)``.
        """
        _check_int_tensor("ids", ids)
        if ids.numel():
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0 or hi >= self.num_items:
                raise IndexError(
                    f"CountFrequency.log_q: ids span [{lo}, {hi}] but counts cover "
                    f"[0, {self.num_items - 1}]; build CountFrequency with counts for every item"
                )
        return self.log_q_table[ids.to(self.device)].to(ids.device)


def _check_int_tensor(name: str, ids: Tensor) -> None:
    if not isinstance(ids, Tensor):
        raise TypeError(f"{name} must be a torch integer tensor, got {type(ids).__name__}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer ids, got dtype {ids.dtype}")


# Multiplicative hash modulo the Mersenne prime 2**31 - 1 (Park-Miller constant). id mod P and
# the multiplier are both < 2**31, so their product fits in int64 without overflow; the map is a
# bijection on [0, P), then folded onto the buckets.
_HASH_P = 2**31 - 1
_HASH_A = 48271


class StreamingFrequencyEstimator:
    """Streaming item-frequency estimate of Yi et al. 2019 (Algorithm 2).

    Two hashed arrays: ``A[h]`` the last step bucket ``h`` was seen, ``B[h]`` the estimated
    number of steps between its sightings. When id ``y`` (bucket ``h``) is seen at step ``t``::

        B[h] <- (1 - alpha) * B[h] + alpha * (t - A[h])
        A[h] <- t

    and ``q = 1 / B``: the probability that the item appears in one step's batch (about its
    expected count per batch for items that appear at most once per batch).

    * **First sighting.** With the stream's first step ``t0``, an item first seen at step ``t``
      gets ``B = t - t0 + 1`` directly (no averaging with an empty history). For an item drawn
      with probability ``p`` per step, ``t - t0`` is geometric with mean ``(1 - p) / p``, so this
      first estimate of the gap ``1 / p`` is unbiased; later sightings average in.
    * **Duplicates.** Each bucket is updated at most once per step: ids are reduced to their
      unique buckets (sorted, so the result is deterministic), and a bucket already updated at
      this step (several ``update`` calls with one step) is skipped.
    * **Hash.** ``h = ((id mod P) * 48271 mod P) mod num_buckets`` with ``P = 2**31 - 1``.
      Colliding ids share an estimate (both look more frequent); keep ``num_buckets`` well above
      the catalogue size.
    * **Unseen ids** get ``B =`` the steps elapsed so far (``t_last - t0 + 1``): "at most once in
      the stream". ``B`` is clamped to ``>= 1``, so ``log q`` lies in ``[-log(elapsed), 0]``.
    * **Distributed training.** Nothing is synchronised: each rank estimates from its own
      stream of batches (with ``step`` the global step, every rank sees the same ``q`` scale).

    Parameters
    ----------
    num_buckets : int >= 1
        Size of the hash arrays (float64 + int64 each, 16 bytes per bucket).
    alpha : float in (0, 1]
        Learning rate of the moving average of gaps (about ``1 / alpha`` sightings of memory).

    Examples
    --------
    >>> import torch
    >>> est = StreamingFrequencyEstimator(num_buckets=64, alpha=0.5)
    >>> for t in range(40):  # item 1 every other step: gap 2, q = 0.5
    ...     est.update(torch.tensor([1] if t % 2 == 0 else [2]), t)
    >>> round(float(est.log_q(torch.tensor([1])).exp()), 3)
    0.5
    """

    def __init__(self, num_buckets: int = 2**20, alpha: float = 0.01) -> None:
        if isinstance(num_buckets, bool) or not isinstance(num_buckets, int | np.integer):
            raise TypeError(
                f"StreamingFrequencyEstimator: num_buckets={num_buckets!r} must be an int >= 1"
            )
        if num_buckets < 1:
            raise ValueError(
                f"StreamingFrequencyEstimator: num_buckets={num_buckets} is invalid; use "
                "num_buckets >= 1 (well above the number of items)"
            )
        if isinstance(alpha, bool) or not isinstance(alpha, int | float):
            raise TypeError(f"StreamingFrequencyEstimator: alpha={alpha!r} must be a number")
        if not (0.0 < alpha <= 1.0):
            raise ValueError(
                f"StreamingFrequencyEstimator: alpha={alpha!r} is invalid; use 0 < alpha <= 1"
            )
        self.num_buckets = int(num_buckets)
        self.alpha = float(alpha)
        # -1 marks a bucket never seen
        self.last_step: Tensor = torch.full((self.num_buckets,), -1, dtype=torch.int64)
        self.gap: Tensor = torch.zeros(self.num_buckets, dtype=torch.float64)
        self.first_step: int | None = None
        self.current_step: int | None = None

    @property
    def device(self) -> torch.device:
        """Device of the hash arrays."""
        return self.gap.device

    def to(self, device: torch.device | str) -> StreamingFrequencyEstimator:
        """Move the hash arrays to ``device`` (in place) and return ``self``."""
        self.last_step = self.last_step.to(device)
        self.gap = self.gap.to(device)
        return self

    def bucket(self, ids: Tensor) -> Tensor:
        """Hash bucket of each id (int64, same shape, on the estimator's device)."""
        _check_int_tensor("ids", ids)
        x = torch.remainder(ids.to(device=self.device, dtype=torch.int64), _HASH_P)
        return torch.remainder(torch.remainder(x * _HASH_A, _HASH_P), self.num_buckets)

    def update(self, ids: Tensor, step: int) -> None:
        """Record that ``ids`` were seen at global step ``step``.

        Parameters
        ----------
        ids : int tensor of any shape
            Item ids of this step (duplicates count once).
        step : int >= 0
            Global training step; must not decrease between calls.

        Raises
        ------
        ValueError
            A negative or decreasing ``step``.
        """
        if isinstance(step, bool) or not isinstance(step, int | np.integer):
            raise TypeError(f"step={step!r} must be an int >= 0")
        step = int(step)
        if step < 0:
            raise ValueError(f"step={step} is invalid; use the global step, >= 0")
        if self.current_step is not None and step < self.current_step:
            raise ValueError(
                f"step={step} is before the last update's step {self.current_step}; steps "
                "must not decrease (pass the global step counter)"
            )
        if self.first_step is None:
            self.first_step = step
        self.current_step = step
        h = torch.unique(self.bucket(ids).reshape(-1))
        if h.numel() == 0:
            return
        last = self.last_step[h]
        fresh = last != step
        h, last = h[fresh], last[fresh]
        seen = last >= 0
        gap_now = (step - last).to(torch.float64)
        first = torch.full_like(gap_now, float(step - self.first_step + 1))
        ema = (1.0 - self.alpha) * self.gap[h] + self.alpha * gap_now
        self.gap[h] = torch.where(seen, ema, first)
        self.last_step[h] = step

    def log_q(self, ids: Tensor) -> Tensor:
        """``log(1 / B)`` of each id's bucket.

        Parameters
        ----------
        ids : int tensor of any shape

        Returns
        -------
        Tensor
            float32, same shape and device as ``ids``, values in ``[-log(elapsed steps), 0]``.

        Raises
        ------
        RuntimeError
            Called before any ``update``.
        """
        if self.first_step is None or self.current_step is None:
            raise RuntimeError(
                "StreamingFrequencyEstimator.log_q was called before any update(); call "
                "update(ids, step) with each batch's item ids first"
            )
        h = self.bucket(ids)
        elapsed = float(self.current_step - self.first_step + 1)
        b = torch.where(self.last_step[h] >= 0, self.gap[h], torch.full_like(self.gap[h], elapsed))
        return (-torch.log(b.clamp(min=1.0))).to(device=ids.device, dtype=torch.float32)

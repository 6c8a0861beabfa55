"""Plain-NumPy twin of the EGES / GES step (``embedrec.kernels.eges``), in float64 with the
exact sigmoid, written for clarity, not speed."""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def eges_hidden_ref(rows: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax weights ``p`` (F,) of the logits and ``H = p @ rows``.

    ``rows`` (F, dim) are the side vectors of the node's known fields, ``logits`` (F,) their
    attention logits (all zero for GES, which makes ``H`` the plain mean).
    """
    e = np.exp(logits - logits.max())
    p = e / e.sum()
    return p, p @ rows


def eges_loss_ref(
    rows: np.ndarray, logits: np.ndarray, z_out: np.ndarray, labels: np.ndarray
) -> float:
    """``-sum_o log sigmoid(+-H . Z_o)``: + for label 1, - for label 0."""
    _, h = eges_hidden_ref(rows, logits)
    s = z_out @ h
    return float(-np.log(sigmoid(np.where(labels > 0.5, s, -s))).sum())


def eges_step_ref(
    rows: np.ndarray,
    logits: np.ndarray,
    z_out: np.ndarray,
    labels: np.ndarray,
    lr: float,
    update_attention: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One SGD step on :func:`eges_loss_ref`; returns (rows, logits, z_out, loss) after it.

    ``g_o = lr (label_o - sigmoid(H . Z_o))``; ``grad = sum_o g_o Z_o = -lr dL/dH``;
    ``Z_o += g_o H``; ``rows_j += p_j grad``; ``logits_j += p_j (rows_j - H) . grad`` (GES
    leaves the logits alone). Duplicate output rows are not merged: pass distinct rows.
    """
    rows = np.asarray(rows, dtype=np.float64)
    logits = np.asarray(logits, dtype=np.float64)
    z_out = np.asarray(z_out, dtype=np.float64)
    p, h = eges_hidden_ref(rows, logits)
    loss = eges_loss_ref(rows, logits, z_out, labels)
    g = lr * (labels - sigmoid(z_out @ h))
    grad = g @ z_out
    new_logits = logits + p * ((rows - h) @ grad) if update_attention else logits.copy()
    new_rows = rows + p[:, None] * grad[None, :]
    new_z = z_out + g[:, None] * h[None, :]
    return new_rows, new_logits, new_z, loss


def eges_logit_grad_ref(
    rows: np.ndarray, logits: np.ndarray, z_out: np.ndarray, labels: np.ndarray
) -> np.ndarray:
    """Analytic ``dL/da_j = p_j (rows_j - H) . dL/dH`` in float64."""
    p, h = eges_hidden_ref(rows, logits)
    delta = -((labels - sigmoid(z_out @ h)) @ z_out)  # dL/dH
    return np.asarray(p * ((rows - h) @ delta))

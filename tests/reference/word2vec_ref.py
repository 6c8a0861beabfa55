"""Plain-NumPy / pure-Python twins of the word2vec kernels, written for clarity, not speed."""

from __future__ import annotations

import heapq
import itertools

import numpy as np


def huffman_lengths_ref(counts: list[int]) -> list[int]:
    """Code length of each symbol in a Huffman code built with ``heapq``."""
    n = len(counts)
    if n == 1:
        return [0]
    tie = itertools.count()
    heap = [(c, next(tie), [i]) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    lengths = [0] * n
    while len(heap) > 1:
        c1, _, s1 = heapq.heappop(heap)
        c2, _, s2 = heapq.heappop(heap)
        for i in s1 + s2:
            lengths[i] += 1
        heapq.heappush(heap, (c1 + c2, next(tie), s1 + s2))
    return lengths


def keep_probability_ref(count: float, total: float, sample: float) -> float:
    """word2vec.c: P(keep) = (sqrt(count / (sample * total)) + 1) * (sample * total) / count."""
    t = sample * total
    return min(1.0, (np.sqrt(count / t) + 1.0) * t / count)


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def logistic_step_ref(
    v_in: np.ndarray, w_out: np.ndarray, labels: np.ndarray, lr: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """One mini-batch logistic step with exact sigmoid.

    ``v_in`` (n_in, dim), ``w_out`` (n_out, dim), ``labels`` (n_out,). Returns the input-side
    gradients (n_in, dim), the updated output rows, and the summed loss. All scores use the
    vectors as they were before the step.
    """
    scores = v_in @ w_out.T
    g = lr * (labels[None, :] - sigmoid(scores))
    loss = float(-np.log(sigmoid(np.where(labels[None, :] > 0.5, scores, -scores))).sum())
    return g @ w_out, w_out + g.T @ v_in, loss


def train_shard_ref(
    tokens: np.ndarray,
    offsets: np.ndarray,
    w_in: np.ndarray,
    w_out: np.ndarray,
    *,
    cbow: bool,
    cbow_mean: bool,
    window: int,
    update: str,
    paths: list[tuple[np.ndarray, np.ndarray]] | None,
    lr: float,
) -> tuple[float, int]:
    """Twin of ``kernels.train.train_shard`` where nothing is random: every token kept, no
    window shrinking, no basket, a fixed learning rate, and as targets either the Huffman
    path (``paths[w] = (rows, codes)``) or, for negative sampling with ``negative=0``, the
    center alone (label 1). ``w_in`` / ``w_out`` (float64) are updated in place; returns
    (summed loss, examples).

    Skip-gram ``update="batch"``: the window's context rows ``X`` against the center's output
    rows ``Z`` as one mini-batch, ``G = lr (labels - sigmoid(X Z^T))``, ``Z += G^T X``,
    ``X += G Z`` (all from the values before the step); "exact" / "sequential" (the same
    without noise draws): one context row after another. CBOW: ``h`` the mean (or sum) of
    the context rows, ``g = lr (labels - sigmoid(Z h))``, ``Z += g h``, each context row
    ``+= g Z``.
    """
    loss = 0.0
    examples = 0
    for s in range(len(offsets) - 1):
        sent = tokens[offsets[s] : offsets[s + 1]]
        n = len(sent)
        for i in range(n):
            ctx = [
                int(sent[j]) for j in range(max(0, i - window), min(n, i + window + 1)) if j != i
            ]
            if not ctx:
                continue
            center = int(sent[i])
            if paths is None:
                rows, labels = np.array([center]), np.array([1.0])
            else:
                rows, codes = paths[center]
                labels = 1.0 - codes.astype(np.float64)
            z = w_out[rows]
            if cbow:
                h = w_in[ctx].sum(axis=0)
                if cbow_mean:
                    h = h / len(ctx)
                scores = z @ h
                g = lr * (labels - sigmoid(scores))
                loss += float(-np.log(sigmoid(np.where(labels > 0.5, scores, -scores))).sum())
                grad = g @ z
                np.add.at(w_out, rows, np.outer(g, h))
                for c in ctx:
                    w_in[c] += grad
                examples += 1
            elif update == "batch":
                x = w_in[ctx]
                scores = x @ z.T
                g = lr * (labels[None, :] - sigmoid(scores))
                loss += float(
                    -np.log(sigmoid(np.where(labels[None, :] > 0.5, scores, -scores))).sum()
                )
                np.add.at(w_out, rows, g.T @ x)
                np.add.at(w_in, ctx, g @ z)
                examples += len(ctx)
            else:
                for c in ctx:
                    z = w_out[rows]
                    x = w_in[c].copy()
                    scores = z @ x
                    g = lr * (labels - sigmoid(scores))
                    loss += float(-np.log(sigmoid(np.where(labels > 0.5, scores, -scores))).sum())
                    w_in[c] += g @ z
                    np.add.at(w_out, rows, np.outer(g, x))
                    examples += 1
    return loss, examples

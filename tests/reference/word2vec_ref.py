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

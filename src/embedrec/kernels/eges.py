"""EGES / GES kernels: skip-gram with negative sampling whose input vector is built from
side information (Wang et al., KDD 2018, "Billion-scale Commodity Embedding for E-commerce
Recommendation in Alibaba", "Enhanced Graph Embedding with Side Information").

Node ``v`` has ``F = n + 1`` side-information values: its own ID (field 0) and ``n`` others
(category, brand, ...). Every value of every field owns one row of a single stacked matrix
``w_side`` (field ``j``'s table ``W_j`` is a block of rows), and ``side_rows[v, j]`` is the row
of ``v``'s value in field ``j``, or ``-1`` when the value is unknown. The input vector is

    H_v = sum_j exp(a_vj) W_j[s_vj] / sum_j exp(a_vj)        (j over the known fields)

with one learned attention logit ``a_vj`` per node and field (``attn``, shape ``(n_nodes, F)``).
GES is the same with ``a`` frozen at zero, i.e. the plain mean of the known fields. The output
(context) vectors ``w_out`` and the loss are word2vec's: for a context node ``u`` and noise
nodes ``u'``, ``L = -log sigmoid(H_v . Z_u) - sum log sigmoid(-H_v . Z_u')``. With
``delta = dL/dH_v`` and softmax weights ``p_vj``:

    dL/dW_j[s_vj] = p_vj delta
    dL/da_vj      = p_vj (W_j[s_vj] - H_v) . delta             (the softmax derivative)

A training *step* takes one center node with all the output rows of its window (each context
node followed by its own noise draws): ``H_v`` is built once, every output row is scored
against it, the output rows are updated, and the summed input gradient flows back to the side
rows and the attention logits. (The paper updates pair by pair; one step per window builds
``H_v`` once per center instead of once per pair, the mini-batching that the Word2Vec engine
uses for skip-gram, Ji et al. 2016.) Shards of walks run in Python threads on shared weights
(Hogwild, Recht et al. 2011); every kernel releases the GIL.
"""

import numpy as np
from numba import njit

from .sentences import draw_window, longest_sentence, sentence_lr, subsample_sentence
from .sgns import batch_update, fill_targets

#: positions in ``eges_train_shard``'s int64 parameter array (see :func:`eges_params`)
E_BEGIN, E_END, E_WINDOW, E_SHRINK, E_NEGATIVE, E_ATTENTION = 0, 1, 2, 3, 4, 5
N_EGES_PARAMS = 6


def eges_params(*, s_begin, s_end, window, shrink_windows, negative, update_attention):
    """``eges_train_shard``'s int64 parameter array, from keywords (checked)."""
    values = (s_begin, s_end, window, shrink_windows, negative, update_attention)
    p = np.array([int(v) for v in values], dtype=np.int64)
    if not (0 <= p[E_BEGIN] <= p[E_END]) or p[E_WINDOW] < 1 or p[E_NEGATIVE] < 0:
        raise ValueError(f"bad EGES shard parameters {values}")
    return p


@njit(cache=True, nogil=True, fastmath=True)
def eges_hidden(side_rows, w_side, attn, v, weights, hidden):
    """Softmax weights of node ``v``'s known fields and its input vector ``H_v``.

    ``weights[j] = exp(a_vj) / sum_k exp(a_vk)`` over the fields with ``side_rows[v, j] >= 0``
    (0 for unknown fields); ``hidden[0] = sum_j weights[j] w_side[side_rows[v, j]]``. Returns
    the number of known fields (0 leaves ``hidden[0]`` zero).

    ``weights`` is float32 scratch of at least ``F``; ``hidden`` of ``(1, dim)``.
    """
    n_fields = side_rows.shape[1]
    dim = w_side.shape[1]
    top = np.float64(0.0)
    known = 0
    for j in range(n_fields):
        if side_rows[v, j] >= 0:
            a = np.float64(attn[v, j])
            if known == 0 or a > top:
                top = a
            known += 1
    for d in range(dim):
        hidden[0, d] = 0.0
    if known == 0:
        for j in range(n_fields):
            weights[j] = 0.0
        return 0
    total = 0.0
    for j in range(n_fields):
        if side_rows[v, j] >= 0:
            # shifting by the largest logit keeps exp() finite for any logits
            e = np.exp(np.float64(attn[v, j]) - top)
            weights[j] = e
            total += e
        else:
            weights[j] = 0.0
    for j in range(n_fields):
        weights[j] = np.float32(weights[j] / total)
        r = side_rows[v, j]
        if r >= 0:
            wj = weights[j]
            for d in range(dim):
                hidden[0, d] += wj * w_side[r, d]
    return known


@njit(cache=True, nogil=True, fastmath=True)
def eges_backprop(side_rows, w_side, attn, update_attention, v, weights, hidden, grad):
    """Send the input-side step ``grad[0]`` (``= -lr dL/dH_v``) back to ``v``'s side rows.

    ``a_vj += weights[j] (W_j[s_vj] - H_v) . grad`` for every known field (only with
    ``update_attention``; computed from the rows before they move), then
    ``W_j[s_vj] += weights[j] grad``. ``weights`` and ``hidden`` are those of
    :func:`eges_hidden` for the same rows.
    """
    n_fields = side_rows.shape[1]
    dim = w_side.shape[1]
    if update_attention:
        for j in range(n_fields):
            r = side_rows[v, j]
            if r >= 0:
                s = np.float32(0.0)
                for d in range(dim):
                    s += (w_side[r, d] - hidden[0, d]) * grad[0, d]
                attn[v, j] += weights[j] * s
    for j in range(n_fields):
        r = side_rows[v, j]
        if r >= 0:
            wj = weights[j]
            for d in range(dim):
                w_side[r, d] += wj * grad[0, d]


@njit(cache=True, nogil=True)
def eges_update(
    side_rows,
    w_side,
    attn,
    update_attention,
    v,
    w_out,
    out_rows,
    labels,
    n_out,
    lr,
    sig_table,
    logsig_table,
    weights,
    hidden,
    g_buf,
    grad_buf,
):
    """One EGES (``update_attention=True``) or GES step for center ``v``; returns the loss.

    Scores ``H_v`` against ``w_out[out_rows[:n_out]]`` with binary ``labels``, applies
    ``Z_o += g_o H_v`` with ``g_o = lr (label_o - sigmoid(H_v . Z_o))`` (word2vec's tabulated
    sigmoid, :func:`.sgns.logistic_grad`) and back-propagates ``sum_o g_o Z_o`` through
    :func:`eges_backprop`. All scores use the vectors as they were before the step. Returns
    the summed logistic loss (float64).

    Scratch: ``weights`` float32 ``(F,)``; ``hidden`` and ``grad_buf`` float32 ``(1, dim)``;
    ``g_buf`` float32 ``(1, >= n_out)``.
    """
    if eges_hidden(side_rows, w_side, attn, v, weights, hidden) == 0:
        return 0.0
    zero_row = np.zeros(1, dtype=np.int32)
    loss = batch_update(
        hidden,
        w_out,
        zero_row,
        1,
        out_rows,
        labels,
        n_out,
        lr,
        sig_table,
        logsig_table,
        g_buf,
        grad_buf,
    )
    eges_backprop(side_rows, w_side, attn, update_attention, v, weights, hidden, grad_buf)
    return loss


@njit(cache=True, nogil=True)
def eges_train_shard(corpus, weights, side_rows, tables, params, alphas, state):
    """Train one shard's walks once; return (loss, examples, effective, raw nodes).

    ``corpus = (tokens, offsets)``; ``weights = (w_side, attn, w_out)``; ``tables`` as the
    Word2Vec driver's (:mod:`.train`; ``keep_u32``, the noise alias table and the sigmoid
    tables are read); ``params`` from :func:`eges_params`; ``alphas = [alpha_begin,
    alpha_end]``.

    For every kept position ``i`` of a walk (frequent nodes subsampled by ``keep_u32``, as
    word2vec), the center ``v = walk[i]`` predicts each node ``u`` within ``b`` positions
    (``b = window``, or uniform in ``1..window`` with ``shrink_windows``): ``u`` with label 1
    followed by ``negative`` draws from the noise alias table with label 0 (a draw equal to
    ``u`` is dropped). The whole window is one :func:`eges_update`. ``examples`` counts the
    (center, context) pairs. The learning rate falls linearly from ``alpha_begin`` to
    ``alpha_end`` over the shard's raw nodes, as in the Word2Vec driver.
    """
    tokens, offsets = corpus
    w_side, attn, w_out = weights
    keep_u32, neg_prob_u32, neg_alias, codes, points, code_lens, sig_table, logsig_table = tables
    s_begin = params[E_BEGIN]
    s_end = params[E_END]
    window = params[E_WINDOW]
    shrink_windows = params[E_SHRINK] != 0
    negative = params[E_NEGATIVE]
    update_attention = params[E_ATTENTION] != 0
    alpha_begin = alphas[0]
    alpha_end = alphas[1]

    dim = w_side.shape[1]
    n_fields = side_rows.shape[1]
    raw_total = offsets[s_end] - offsets[s_begin]
    buf = np.empty(longest_sentence(offsets, s_begin, s_end), dtype=np.int32)
    max_out = 2 * window * (negative + 1)
    out_rows = np.empty(max_out, dtype=np.int32)
    labels = np.empty(max_out, dtype=np.float32)
    g_buf = np.empty((1, max_out), dtype=np.float32)
    grad_buf = np.empty((1, dim), dtype=np.float32)
    hidden = np.empty((1, dim), dtype=np.float32)
    weights_buf = np.empty(n_fields, dtype=np.float32)

    loss = 0.0
    examples = 0
    effective = 0
    raw_done = 0
    for s in range(s_begin, s_end):
        start = offsets[s]
        stop = offsets[s + 1]
        lr = sentence_lr(alpha_begin, alpha_end, raw_done, raw_total)
        raw_done += stop - start
        n = subsample_sentence(tokens, start, stop, keep_u32, state, buf)
        effective += n
        for i in range(n):
            b = draw_window(window, shrink_windows, state)
            lo = max(0, i - b)
            hi = min(n, i + b + 1)
            n_out = 0
            n_ctx = 0
            for j in range(lo, hi):
                if j != i:
                    n_out += fill_targets(
                        buf[j],
                        False,
                        negative,
                        neg_prob_u32,
                        neg_alias,
                        codes,
                        points,
                        code_lens,
                        state,
                        out_rows[n_out:],
                        labels[n_out:],
                    )
                    n_ctx += 1
            if n_ctx == 0:
                continue
            loss += eges_update(
                side_rows,
                w_side,
                attn,
                update_attention,
                buf[i],
                w_out,
                out_rows,
                labels,
                n_out,
                lr,
                sig_table,
                logsig_table,
                weights_buf,
                hidden,
                g_buf,
                grad_buf,
            )
            examples += n_ctx
    return loss, examples, effective, raw_done

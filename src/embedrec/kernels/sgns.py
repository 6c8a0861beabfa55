"""Logistic-loss updates shared by negative sampling and hierarchical softmax.

Both losses score an input vector against a set of output rows with binary labels:
negative sampling uses (center, 1) plus ``negative`` noise rows with label 0
(Mikolov et al. 2013, eq. 4); hierarchical softmax uses the inner nodes on the center's
Huffman path with label ``1 - code``. For label ``y`` and score ``s = <v_in, v_out>`` the
update is ``g = lr * (y - sigmoid(s))``, ``v_in += g v_out`` and ``v_out += g v_in``; the loss
is ``-log sigmoid(s)`` for ``y = 1`` and ``-log sigmoid(-s)`` for ``y = 0``.

:func:`fill_targets` lists the output rows and labels of one prediction; with several
Hogwild threads, :func:`remap_private` / :func:`sync_private` keep the most contended output
rows in a copy private to each thread.
"""

import numpy as np
from numba import njit

from .sampling import alias_draw, alias_draw_segment

MAX_EXP = 6.0
TABLE_SIZE = 1024


def sigmoid_tables() -> tuple[np.ndarray, np.ndarray]:
    """Tabulate sigmoid and log-sigmoid on ``[-MAX_EXP, MAX_EXP]`` (word2vec.c's EXP_TABLE).

    Entry ``i`` holds the value at the bucket centre ``x_i = (i + 0.5) * 2 MAX_EXP / TABLE_SIZE
    - MAX_EXP``.
    """
    x = (np.arange(TABLE_SIZE, dtype=np.float64) + 0.5) * (2 * MAX_EXP / TABLE_SIZE) - MAX_EXP
    sig = 1.0 / (1.0 + np.exp(-x))
    return sig.astype(np.float32), np.log(sig).astype(np.float32)


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def logistic_grad(score, label, lr, sig_table, logsig_table):
    """Return ``(g, loss)`` for one score: ``g = lr (label - sigmoid(score))``.

    Outside ``[-MAX_EXP, MAX_EXP]`` the sigmoid saturates to 0 or 1 as in word2vec.c and the
    loss uses the asymptote ``-log sigmoid(x) ~ -x``. Bucket centres are symmetric
    (``x_i = -x_{T-1-i}``), so ``log sigmoid(-x)`` is the mirrored entry: one index serves both.
    """
    if score >= MAX_EXP:
        if label > 0.5:
            return np.float32(0.0), 0.0
        return -lr, score
    if score <= -MAX_EXP:
        if label > 0.5:
            return lr, -score
        return np.float32(0.0), 0.0
    idx = int((score + MAX_EXP) * (TABLE_SIZE / (2.0 * MAX_EXP)))
    f = sig_table[idx]
    if label > 0.5:
        return lr * (np.float32(1.0) - f), -np.float64(logsig_table[idx])
    return -lr * f, -np.float64(logsig_table[TABLE_SIZE - 1 - idx])


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def dot4(w_in, r, w_out, o0, o1, o2, o3):
    """The scores of input row ``r`` against four output rows, in one sweep over ``r``."""
    s0 = np.float32(0.0)
    s1 = np.float32(0.0)
    s2 = np.float32(0.0)
    s3 = np.float32(0.0)
    for d in range(w_in.shape[1]):
        x = w_in[r, d]
        s0 += x * w_out[o0, d]
        s1 += x * w_out[o1, d]
        s2 += x * w_out[o2, d]
        s3 += x * w_out[o3, d]
    return s0, s1, s2, s3


@njit(cache=True, nogil=True, fastmath=True)
def batch_update(
    w_in,
    w_out,
    in_rows,
    n_in,
    out_rows,
    labels,
    n_out,
    lr,
    sig_table,
    logsig_table,
    g_buf,
    grad_buf,
):
    """Score ``n_in`` input rows against ``n_out`` shared output rows; update the output rows.

    This is the mini-batched form of Ji et al. (2016): the ``n_in x n_out`` scores are a small
    matrix product ``W_in[in] W_out[out]^T``; with ``n_in = 1`` it is exactly the per-pair
    word2vec update. Output rows are read once per batch instead of once per pair. Updates
    are applied after all scores are computed. The input-side gradients are left in
    ``grad_buf[:n_in]`` for the caller to apply (skip-gram adds row ``i`` to ``w_in[in_rows[i]]``;
    CBOW spreads the hidden row's gradient over the context words). Returns the summed loss
    (float64).

    ``g_buf`` is float32 scratch of at least (n_in, n_out); ``grad_buf`` of (n_in, dim).
    """
    dim = w_in.shape[1]
    loss = 0.0
    # scores, four output rows at a time so each input element is loaded once per block
    for i in range(n_in):
        r = in_rows[i]
        j = 0
        while j + 4 <= n_out:
            s0, s1, s2, s3 = dot4(
                w_in, r, w_out, out_rows[j], out_rows[j + 1], out_rows[j + 2], out_rows[j + 3]
            )
            g_buf[i, j] = s0
            g_buf[i, j + 1] = s1
            g_buf[i, j + 2] = s2
            g_buf[i, j + 3] = s3
            j += 4
        while j < n_out:
            o = out_rows[j]
            s = np.float32(0.0)
            for d in range(dim):
                s += w_in[r, d] * w_out[o, d]
            g_buf[i, j] = s
            j += 1
        for j in range(n_out):
            g, lo = logistic_grad(g_buf[i, j], labels[j], lr, sig_table, logsig_table)
            g_buf[i, j] = g
            loss += lo
    # input gradients: grad[i] = sum_j g[i, j] w_out[o_j], four terms per sweep
    for i in range(n_in):
        j = 0
        if n_out >= 4:
            g0 = g_buf[i, 0]
            g1 = g_buf[i, 1]
            g2 = g_buf[i, 2]
            g3 = g_buf[i, 3]
            o0 = out_rows[0]
            o1 = out_rows[1]
            o2 = out_rows[2]
            o3 = out_rows[3]
            for d in range(dim):
                grad_buf[i, d] = (
                    g0 * w_out[o0, d] + g1 * w_out[o1, d] + g2 * w_out[o2, d] + g3 * w_out[o3, d]
                )
            j = 4
        else:
            for d in range(dim):
                grad_buf[i, d] = 0.0
        while j + 4 <= n_out:
            g0 = g_buf[i, j]
            g1 = g_buf[i, j + 1]
            g2 = g_buf[i, j + 2]
            g3 = g_buf[i, j + 3]
            o0 = out_rows[j]
            o1 = out_rows[j + 1]
            o2 = out_rows[j + 2]
            o3 = out_rows[j + 3]
            for d in range(dim):
                grad_buf[i, d] += (
                    g0 * w_out[o0, d] + g1 * w_out[o1, d] + g2 * w_out[o2, d] + g3 * w_out[o3, d]
                )
            j += 4
        while j < n_out:
            g = g_buf[i, j]
            o = out_rows[j]
            for d in range(dim):
                grad_buf[i, d] += g * w_out[o, d]
            j += 1
    # output updates: w_out[o_j] += sum_i g[i, j] w_in[r_i], four inputs per sweep
    for j in range(n_out):
        o = out_rows[j]
        i = 0
        while i + 4 <= n_in:
            g0 = g_buf[i, j]
            g1 = g_buf[i + 1, j]
            g2 = g_buf[i + 2, j]
            g3 = g_buf[i + 3, j]
            r0 = in_rows[i]
            r1 = in_rows[i + 1]
            r2 = in_rows[i + 2]
            r3 = in_rows[i + 3]
            for d in range(dim):
                w_out[o, d] += (
                    g0 * w_in[r0, d] + g1 * w_in[r1, d] + g2 * w_in[r2, d] + g3 * w_in[r3, d]
                )
            i += 4
        while i < n_in:
            g = g_buf[i, j]
            r = in_rows[i]
            for d in range(dim):
                w_out[o, d] += g * w_in[r, d]
            i += 1
    return loss


@njit(cache=True, nogil=True, fastmath=True)
def apply_rows(w_in, in_rows, n_in, grad_buf):
    """``w_in[in_rows[i]] += grad_buf[i]`` for ``i < n_in``."""
    dim = w_in.shape[1]
    for i in range(n_in):
        r = in_rows[i]
        for d in range(dim):
            w_in[r, d] += grad_buf[i, d]


@njit(cache=True, nogil=True, fastmath=True)
def apply_rows_same(w_in, in_rows, n_in, grad_buf):
    """``w_in[in_rows[i]] += grad_buf[0]`` for ``i < n_in`` (CBOW's context update)."""
    dim = w_in.shape[1]
    for i in range(n_in):
        r = in_rows[i]
        for d in range(dim):
            w_in[r, d] += grad_buf[0, d]


@njit(cache=True, nogil=True, fastmath=True)
def pair_update(w_in, w_out, r, out_rows, labels, n_out, lr, sig_table, logsig_table, g_buf, grad):
    """One input row ``r`` against ``n_out`` output rows, updates applied: the per-pair step.

    The same arithmetic as :func:`batch_update` with ``n_in = 1`` followed by
    :func:`apply_rows`, fused the way word2vec.c fuses it: the scores of four output rows come
    from one sweep over the input row, and one more sweep both accumulates the input
    gradient (from the output rows before their update) and updates those rows. Within a
    block of four the rows are scored and updated together (as :func:`batch_update` does);
    blocks, and the rows after the last whole block, follow one another as in word2vec.c.
    A trailing row whose gradient is exactly zero (saturated sigmoid) is skipped. Returns
    the summed loss.

    ``g_buf`` is float32 scratch of at least ``n_out``; ``grad`` of ``dim``.
    """
    dim = w_in.shape[1]
    loss = 0.0
    for d in range(dim):
        grad[d] = 0.0
    j = 0
    while j + 4 <= n_out:
        o0 = out_rows[j]
        o1 = out_rows[j + 1]
        o2 = out_rows[j + 2]
        o3 = out_rows[j + 3]
        s0, s1, s2, s3 = dot4(w_in, r, w_out, o0, o1, o2, o3)
        g0, l0 = logistic_grad(s0, labels[j], lr, sig_table, logsig_table)
        g1, l1 = logistic_grad(s1, labels[j + 1], lr, sig_table, logsig_table)
        g2, l2 = logistic_grad(s2, labels[j + 2], lr, sig_table, logsig_table)
        g3, l3 = logistic_grad(s3, labels[j + 3], lr, sig_table, logsig_table)
        loss += l0 + l1 + l2 + l3
        if o0 != o1 and o0 != o2 and o0 != o3 and o1 != o2 and o1 != o3 and o2 != o3:
            for d in range(dim):
                x = w_in[r, d]
                a0 = w_out[o0, d]
                a1 = w_out[o1, d]
                a2 = w_out[o2, d]
                a3 = w_out[o3, d]
                grad[d] += g0 * a0 + g1 * a1 + g2 * a2 + g3 * a3
                w_out[o0, d] = a0 + g0 * x
                w_out[o1, d] = a1 + g1 * x
                w_out[o2, d] = a2 + g2 * x
                w_out[o3, d] = a3 + g3 * x
        else:
            # a noise draw repeated within the block: gradient from the rows as they were,
            # then the (summed) row updates, as batch_update does
            for d in range(dim):
                grad[d] += (
                    g0 * w_out[o0, d] + g1 * w_out[o1, d] + g2 * w_out[o2, d] + g3 * w_out[o3, d]
                )
            g_buf[0] = g0
            g_buf[1] = g1
            g_buf[2] = g2
            g_buf[3] = g3
            for k in range(4):
                o = out_rows[j + k]
                g = g_buf[k]
                for d in range(dim):
                    w_out[o, d] += g * w_in[r, d]
        j += 4
    while j < n_out:
        o = out_rows[j]
        s = np.float32(0.0)
        for d in range(dim):
            s += w_in[r, d] * w_out[o, d]
        g, lo = logistic_grad(s, labels[j], lr, sig_table, logsig_table)
        loss += lo
        if g != 0.0:
            for d in range(dim):
                a = w_out[o, d]
                grad[d] += g * a
                w_out[o, d] = a + g * w_in[r, d]
        j += 1
    for d in range(dim):
        w_in[r, d] += grad[d]
    return loss


@njit(cache=True, nogil=True)
def fill_targets(
    center,
    use_hs,
    negative,
    neg_prob_u32,
    neg_alias,
    codes,
    points,
    code_lens,
    state,
    out_rows,
    labels,
):
    """Output rows and labels for predicting ``center``; returns their number.

    Negative sampling: the center (label 1) then ``negative`` noise draws (label 0), a draw
    equal to the center being dropped as in word2vec.c. Hierarchical softmax: the center's
    Huffman path, label ``1 - code``.
    """
    if use_hs:
        n = code_lens[center]
        for j in range(n):
            out_rows[j] = points[center, j]
            labels[j] = 1.0 - codes[center, j]
        return n
    out_rows[0] = center
    labels[0] = 1.0
    n = 1
    for _ in range(negative):
        w = alias_draw(neg_prob_u32, neg_alias, state)
        if w != center:
            out_rows[n] = w
            labels[n] = 0.0
            n += 1
    return n


@njit(cache=True, nogil=True)
def fill_session_targets(
    center,
    glob,
    group_negative,
    key_group,
    group_offsets,
    group_items,
    group_prob_u32,
    group_alias,
    state,
    out_rows,
    labels,
):
    """The extra output rows and labels of one center (Grbovic and Cheng, KDD 2018); returns
    their number.

    The session's global context item ``glob`` (e.g. the item it converted on; ``-1``: none)
    with label 1, unless it is the center itself; then ``group_negative`` noise draws from the
    center's group (``key_group[center]``; ``-1``: none) with label 0, drawn from that group's
    alias table in ``group_prob_u32`` / ``group_alias`` (columns local to the group, items
    ``group_items[group_offsets[g]:group_offsets[g + 1]]``); a draw equal to the center or to
    ``glob`` is dropped, as :func:`fill_targets` drops a noise draw equal to the center.
    """
    n = 0
    if glob >= 0 and glob != center:
        out_rows[0] = glob
        labels[0] = 1.0
        n = 1
    if group_negative > 0 and key_group.shape[0] > 0:
        g = key_group[center]
        if g >= 0:
            lo = group_offsets[g]
            size = group_offsets[g + 1] - lo
            if size > 1:
                for _ in range(group_negative):
                    col = alias_draw_segment(group_prob_u32, group_alias, lo, size, state)
                    w = group_items[lo + col]
                    if w != center and w != glob:
                        out_rows[n] = w
                        labels[n] = 0.0
                        n += 1
    return n


@njit(cache=True, nogil=True)
def remap_private(out_rows, n_out, priv_lo, priv_hi, priv_base):
    """Send output rows in ``[priv_lo, priv_hi)`` to this thread's private copy of them."""
    for j in range(n_out):
        o = out_rows[j]
        if o >= priv_lo and o < priv_hi:
            out_rows[j] = priv_base + (o - priv_lo)


@njit(cache=True, nogil=True)
def sync_private(w_out, priv_lo, priv_hi, priv_base, snap):
    """Merge a private copy into the shared rows and refresh it.

    ``shared += private - snap`` keeps what other threads wrote meanwhile; then the private
    copy and ``snap`` both take the merged rows.
    """
    dim = w_out.shape[1]
    for t in range(priv_hi - priv_lo):
        r = priv_lo + t
        p = priv_base + t
        for d in range(dim):
            v = w_out[r, d] + (w_out[p, d] - snap[t, d])
            w_out[r, d] = v
            w_out[p, d] = v
            snap[t, d] = v

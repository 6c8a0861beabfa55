"""The word2vec training driver: one call trains one shard of sentences.

A shard is a contiguous run of sentences of the encoded corpus (int32 tokens, int64
offsets). Shards are independent units of work: each has its own RNG state and its own
learning-rate segment, and calls release the GIL (``nogil``) so that Python threads train
shards concurrently on the shared weight matrices (Hogwild, Recht et al. 2011).
"""

import numpy as np
from numba import njit

from . import SHARE_BATCH, SHARE_NONE
from .rng import _S32, rng_below, rng_next
from .sampling import alias_draw
from .sgns import apply_rows, apply_rows_same, batch_update, pair_update

_ALWAYS = np.uint64(1) << np.uint64(32)


@njit(cache=True, nogil=True)
def subsample_sentence(tokens, start, stop, keep_u32, state, buf):
    """Copy the kept tokens of ``tokens[start:stop]`` into ``buf``; return how many.

    A token ``w`` is kept when 32 random bits fall below ``keep_u32[w]`` (P(keep) * 2**32).
    """
    n = 0
    for t in range(start, stop):
        w = tokens[t]
        k = keep_u32[w]
        if k >= _ALWAYS or (rng_next(state) >> _S32) < k:
            buf[n] = w
            n += 1
    return n


@njit(cache=True, nogil=True)
def shuffle_prefix(buf, n, state):
    """Fisher-Yates shuffle of ``buf[:n]`` in place."""
    for i in range(n - 1, 0, -1):
        j = rng_below(state, i + 1)
        t = buf[i]
        buf[i] = buf[j]
        buf[j] = t


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


@njit(cache=True, nogil=True, fastmath=True)
def train_shard(
    tokens,
    offsets,
    s_begin,
    s_end,
    w_in,
    w_out,
    keep_u32,
    cbow,
    cbow_mean,
    window,
    shrink_windows,
    basket,
    use_hs,
    negative,
    neg_prob_u32,
    neg_alias,
    codes,
    points,
    code_lens,
    share_mode,
    priv_lo,
    priv_hi,
    priv_base,
    alpha_begin,
    alpha_end,
    sig_table,
    logsig_table,
    state,
):
    """Train sentences ``s_begin..s_end`` once; return (loss, examples, effective, raw words).

    Skip-gram predicts each center from each context word in its (dynamic) window.
    ``share_mode`` says how a window's pairs use the center's output rows (the center plus
    its negatives, or its Huffman path): ``SHARE_NONE`` draws negatives for every pair and
    updates pair after pair (exact word2vec.c/gensim order); ``SHARE_BATCH`` draws them once
    per center and updates the window's pairs as one mini-batch (Ji et al. 2016);
    ``SHARE_SEQUENTIAL`` draws them once per center and updates pair after pair, so each pair
    sees the previous pair's update as in word2vec.c while the rows stay in cache. CBOW
    predicts the center from the mean (or sum) of the context vectors.

    With ``basket`` each sentence is a set (Barkan & Koenigstein's Item2Vec): its kept items
    are shuffled, and a set of at most ``2 * window + 1`` items is one context, every item
    predicting from all the others; a longer set is windowed (fixed ``window``) over the
    shuffled order, so each item sees ``2 * window`` random members per epoch at bounded
    cost. The learning rate falls linearly from
    ``alpha_begin`` to ``alpha_end`` over the shard's raw words.

    Output rows ``priv_lo <= o < priv_hi`` (the most contended ones: the most frequent words
    for negative sampling, the inner nodes next to the Huffman root, which every path
    crosses) are read and written in rows ``priv_base...`` of ``w_out``, a copy private to the
    calling thread, and merged into the shared rows after every sentence. With
    ``priv_hi == priv_lo`` every update goes straight to the shared rows.
    """
    dim = w_in.shape[1]
    raw_total = offsets[s_end] - offsets[s_begin]
    max_len = 0
    for s in range(s_begin, s_end):
        ln = offsets[s + 1] - offsets[s]
        if ln > max_len:
            max_len = ln
    buf = np.empty(max_len, dtype=np.int32)
    max_out = max(negative + 1, codes.shape[1])
    ctx = np.empty(2 * window, dtype=np.int32)
    out_rows = np.empty(max_out, dtype=np.int32)
    labels = np.empty(max_out, dtype=np.float32)
    g_buf = np.empty((2 * window, max_out), dtype=np.float32)
    grad_buf = np.empty((2 * window, dim), dtype=np.float32)
    hidden = np.empty((1, dim), dtype=np.float32)
    zero_row = np.zeros(1, dtype=np.int32)

    n_priv = priv_hi - priv_lo
    snap = np.empty((max(n_priv, 0), dim), dtype=np.float32)
    for t in range(n_priv):
        for d in range(dim):
            v = w_out[priv_lo + t, d]
            w_out[priv_base + t, d] = v
            snap[t, d] = v

    loss = 0.0
    examples = 0
    effective = 0
    raw_done = 0
    for s in range(s_begin, s_end):
        start = offsets[s]
        stop = offsets[s + 1]
        frac = raw_done / raw_total if raw_total > 0 else 0.0
        lr = np.float32(alpha_begin + (alpha_end - alpha_begin) * frac)
        raw_done += stop - start
        n = subsample_sentence(tokens, start, stop, keep_u32, state, buf)
        effective += n
        whole = False
        if basket:
            shuffle_prefix(buf, n, state)
            whole = n <= 2 * window + 1
        for i in range(n):
            b = window
            if whole:
                b = n
            elif shrink_windows and not basket:
                b = window - rng_below(state, window)
            lo = max(0, i - b)
            hi = min(n, i + b + 1)
            n_in = 0
            for j in range(lo, hi):
                if j != i:
                    ctx[n_in] = buf[j]
                    n_in += 1
            if n_in == 0:
                continue
            center = buf[i]
            n_out = 0
            if cbow:
                for d in range(dim):
                    hidden[0, d] = 0.0
                for c in range(n_in):
                    r = ctx[c]
                    for d in range(dim):
                        hidden[0, d] += w_in[r, d]
                if cbow_mean:
                    inv = np.float32(1.0) / np.float32(n_in)
                    for d in range(dim):
                        hidden[0, d] *= inv
                n_out = fill_targets(
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
                )
                if n_priv > 0:
                    remap_private(out_rows, n_out, priv_lo, priv_hi, priv_base)
                loss += batch_update(
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
                # every context word gets the hidden row's whole gradient, for the mean as in
                # word2vec.c and gensim, and for the sum (where it is the exact gradient)
                apply_rows_same(w_in, ctx, n_in, grad_buf)
                examples += 1
            else:
                # skip-gram: one draw of output rows per center when shared, else per pair
                for c in range(n_in):
                    if c == 0 or share_mode == SHARE_NONE:
                        n_out = fill_targets(
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
                        )
                        if n_priv > 0:
                            remap_private(out_rows, n_out, priv_lo, priv_hi, priv_base)
                    if share_mode == SHARE_BATCH:
                        break
                    loss += pair_update(
                        w_in,
                        w_out,
                        ctx[c],
                        out_rows,
                        labels,
                        n_out,
                        lr,
                        sig_table,
                        logsig_table,
                        g_buf[0],
                        grad_buf[0],
                    )
                if share_mode == SHARE_BATCH:
                    loss += batch_update(
                        w_in,
                        w_out,
                        ctx,
                        n_in,
                        out_rows,
                        labels,
                        n_out,
                        lr,
                        sig_table,
                        logsig_table,
                        g_buf,
                        grad_buf,
                    )
                    apply_rows(w_in, ctx, n_in, grad_buf)
                examples += n_in
        if n_priv > 0:
            sync_private(w_out, priv_lo, priv_hi, priv_base, snap)
    return loss, examples, effective, raw_done

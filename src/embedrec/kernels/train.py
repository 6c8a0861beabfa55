"""The word2vec training driver: one call trains one shard of sentences.

A shard is a contiguous run of sentences of the encoded corpus (int32 tokens, int64
offsets). Shards are independent units of work: each has its own RNG state and its own
learning-rate segment, and calls release the GIL (``nogil``) so that Python threads train
shards concurrently on the shared weight matrices (Hogwild, Recht et al. 2011). The window
arithmetic lives in :mod:`.skipgram` and :mod:`.cbow`; the per-sentence steps in
:mod:`.sentences`.

``train_shard`` takes its inputs grouped: ``corpus = (tokens, offsets)``, ``weights = (w_in,
w_out)``, ``tables = (keep_u32, neg_prob_u32, neg_alias, codes, points, code_lens, sig,
logsig)``, an int64 parameter array built by :func:`shard_params` (by keyword, so no two
integers can trade places), a float64 ``alphas = [alpha_begin, alpha_end]`` and
``session = (sentence_global, key_group, group_offsets, group_items, group_prob_u32,
group_alias)``, the arrays of Airbnb's skip-gram extensions (:func:`no_session` when unused).
"""

import numpy as np
from numba import njit

from .cbow import cbow_sentence
from .sentences import (
    longest_sentence,
    sentence_lr,
    shuffle_prefix,
    subsample_sentence,
)
from .sgns import sync_private
from .skipgram import skipgram_sentence

#: positions in ``train_shard``'s int64 parameter array (see :func:`shard_params`)
P_BEGIN, P_END, P_CBOW, P_CBOW_MEAN, P_WINDOW, P_SHRINK, P_BASKET = 0, 1, 2, 3, 4, 5, 6
P_HS, P_NEGATIVE, P_SHARE, P_PRIV_LO, P_PRIV_HI, P_PRIV_BASE = 7, 8, 9, 10, 11, 12
P_GROUP_NEG = 13
N_PARAMS = 14


def no_session():
    """``train_shard``'s ``session`` argument when neither global context nor groups are
    used: empty arrays of the right dtypes (one compiled signature either way)."""
    return (
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.int32),
        np.zeros(1, dtype=np.int64),
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.uint64),
        np.zeros(0, dtype=np.int32),
    )


def shard_params(
    *,
    s_begin,
    s_end,
    cbow,
    cbow_mean,
    window,
    shrink_windows,
    basket,
    use_hs,
    negative,
    share_mode,
    priv_lo=0,
    priv_hi=0,
    priv_base=0,
    group_negative=0,
):
    """``train_shard``'s int64 parameter array, from keywords (checked, so a slip fails here
    and not as silent garbage inside the kernel).

    Parameters
    ----------
    s_begin, s_end : the shard's sentences ``s_begin..s_end``
    cbow, cbow_mean : CBOW (else skip-gram); CBOW averages (else sums) the context
    window, shrink_windows : window half-width; draw it per center in ``1..window``
    basket : every sentence is a shuffled set (Item2Vec's ``mode="set"``)
    use_hs, negative : hierarchical softmax (else ``negative`` noise draws per prediction)
    share_mode : ``SHARE_NONE`` / ``SHARE_BATCH`` / ``SHARE_SEQUENTIAL`` (skip-gram)
    priv_lo, priv_hi, priv_base : output rows ``priv_lo..priv_hi`` live in this thread's
        private copy at row ``priv_base`` (``priv_hi == priv_lo``: none)
    group_negative : skip-gram negatives drawn from each center's group (see ``session``)
    """
    p = np.empty(N_PARAMS, dtype=np.int64)
    values = {
        P_BEGIN: s_begin,
        P_END: s_end,
        P_CBOW: cbow,
        P_CBOW_MEAN: cbow_mean,
        P_WINDOW: window,
        P_SHRINK: shrink_windows,
        P_BASKET: basket,
        P_HS: use_hs,
        P_NEGATIVE: negative,
        P_SHARE: share_mode,
        P_PRIV_LO: priv_lo,
        P_PRIV_HI: priv_hi,
        P_PRIV_BASE: priv_base,
        P_GROUP_NEG: group_negative,
    }
    for i, v in values.items():
        p[i] = int(v)
    if not (0 <= p[P_BEGIN] <= p[P_END]) or p[P_WINDOW] < 1 or p[P_NEGATIVE] < 0:
        raise ValueError(f"bad shard parameters {values}")
    if not (0 <= p[P_SHARE] <= 2) or not (0 <= p[P_PRIV_LO] <= p[P_PRIV_HI]) or p[P_GROUP_NEG] < 0:
        raise ValueError(f"bad shard parameters {values}")
    return p


@njit(cache=True, nogil=True, fastmath=True)
def train_shard(corpus, weights, tables, params, alphas, state, session):
    """Train one shard's sentences once; return (loss, examples, effective, raw words).

    Skip-gram predicts each center from each context word in its (dynamic) window
    (:func:`.skipgram.skipgram_sentence`, with the parameter ``share_mode``); CBOW predicts the
    center from the mean (or sum) of the context vectors (:func:`.cbow.cbow_sentence`).

    With ``basket`` each sentence is a set (Barkan & Koenigstein's Item2Vec): its kept items
    are shuffled, and a set of at most ``2 * window + 1`` items is one context, every item
    predicting from all the others; a longer set is windowed (fixed ``window``) over the
    shuffled order, so each item sees ``2 * window`` random members per epoch at bounded
    cost. The learning rate falls linearly from ``alphas[0]`` to ``alphas[1]`` over the shard's
    raw words.

    Output rows ``priv_lo <= o < priv_hi`` (the most contended ones: the most frequent words
    for negative sampling, the inner nodes next to the Huffman root, which every path
    crosses) are read and written in rows ``priv_base...`` of ``w_out``, a copy private to the
    calling thread, and merged into the shared rows after every sentence. With
    ``priv_hi == priv_lo`` every update goes straight to the shared rows.

    Skip-gram only: ``session`` holds Airbnb's extensions (Grbovic and Cheng, KDD 2018).
    ``sentence_global[s]`` is sentence ``s``'s global context item (``-1``: none; an empty
    array: none anywhere), predicted from every center of the sentence; ``key_group[w]`` is
    key ``w``'s group (``-1``: none; empty: no groups), whose items ``group_items[
    group_offsets[g]:group_offsets[g + 1]]`` give ``params[P_GROUP_NEG]`` extra negatives per
    center from the alias tables ``group_prob_u32`` / ``group_alias`` (see
    :func:`.sampling.build_segment_alias`).
    """
    tokens, offsets = corpus
    w_in, w_out = weights
    keep_u32, neg_prob_u32, neg_alias, codes, points, code_lens, sig_table, logsig_table = tables
    sentence_global = session[0]
    s_begin = params[P_BEGIN]
    s_end = params[P_END]
    cbow = params[P_CBOW] != 0
    cbow_mean = params[P_CBOW_MEAN] != 0
    window = params[P_WINDOW]
    shrink_windows = params[P_SHRINK] != 0
    basket = params[P_BASKET] != 0
    use_hs = params[P_HS] != 0
    negative = params[P_NEGATIVE]
    share_mode = params[P_SHARE]
    priv_lo = params[P_PRIV_LO]
    priv_hi = params[P_PRIV_HI]
    priv_base = params[P_PRIV_BASE]
    group_negative = params[P_GROUP_NEG]
    has_global = sentence_global.shape[0] > 0
    alpha_begin = alphas[0]
    alpha_end = alphas[1]

    dim = w_in.shape[1]
    raw_total = offsets[s_end] - offsets[s_begin]
    buf = np.empty(longest_sentence(offsets, s_begin, s_end), dtype=np.int32)
    max_out = max(negative + 1, codes.shape[1], group_negative + 1)
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
        lr = sentence_lr(alpha_begin, alpha_end, raw_done, raw_total)
        raw_done += stop - start
        n = subsample_sentence(tokens, start, stop, keep_u32, state, buf)
        effective += n
        whole = False
        if basket:
            shuffle_prefix(buf, n, state)
            whole = n <= 2 * window + 1
        shrink = shrink_windows and not basket
        glob = sentence_global[s] if has_global else np.int32(-1)
        # one sentence per step, inlined here by numba (see skipgram_sentence)
        if cbow:
            lo_, ex = cbow_sentence(
                w_in,
                w_out,
                buf,
                n,
                window,
                shrink,
                whole,
                cbow_mean,
                use_hs,
                negative,
                neg_prob_u32,
                neg_alias,
                codes,
                points,
                code_lens,
                sig_table,
                logsig_table,
                priv_lo,
                priv_hi,
                priv_base,
                lr,
                state,
                ctx,
                out_rows,
                labels,
                g_buf,
                grad_buf,
                hidden,
                zero_row,
            )
        else:
            lo_, ex = skipgram_sentence(
                w_in,
                w_out,
                buf,
                n,
                window,
                shrink,
                whole,
                use_hs,
                negative,
                neg_prob_u32,
                neg_alias,
                codes,
                points,
                code_lens,
                sig_table,
                logsig_table,
                share_mode,
                priv_lo,
                priv_hi,
                priv_base,
                lr,
                state,
                ctx,
                out_rows,
                labels,
                g_buf,
                grad_buf,
                glob,
                group_negative,
                session,
            )
        loss += lo_
        examples += ex
        if n_priv > 0:
            sync_private(w_out, priv_lo, priv_hi, priv_base, snap)
    return loss, examples, effective, raw_done

"""The skip-gram kernel: each center of a sentence predicted from each word of its window.

Mikolov et al. 2013 (eq. 4 for negative sampling): every context word ``c`` of the window is
an input row scored against the center's output rows (the center with label 1 and its noise
draws with label 0, or its Huffman path). ``share_mode`` says how the window's pairs use
those rows (:data:`embedrec.kernels.SHARE_NONE` / ``SHARE_BATCH`` / ``SHARE_SEQUENTIAL``).
"""

from numba import njit

from . import SHARE_BATCH, SHARE_NONE
from .sentences import draw_window
from .sgns import (
    apply_rows,
    batch_update,
    fill_session_targets,
    fill_targets,
    pair_update,
    remap_private,
)


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def skipgram_sentence(
    w_in,
    w_out,
    buf,
    n,
    window,
    shrink_windows,
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
):
    """Train every center of the kept sentence ``buf[:n]``; returns (loss, examples).

    Center ``i`` sees the words within ``b`` positions: ``b = window``, drawn in ``1..window``
    with ``shrink_windows``, or the whole sentence with ``whole`` (a small basket). Its
    context rows are scored against its output rows according to ``share_mode``:
    ``SHARE_NONE`` draws the output rows for every pair and updates pair after pair (exact
    word2vec.c/gensim order); ``SHARE_BATCH`` draws them once and updates the window's pairs
    as one mini-batch, ``W_out[rows] += G^T W_in[ctx]`` with ``G = lr (labels -
    sigmoid(W_in[ctx] W_out[rows]^T))`` (Ji et al. 2016); ``SHARE_SEQUENTIAL`` draws them once
    and updates pair after pair, so each pair sees the previous pair's update as in
    word2vec.c. ``examples`` counts the (center, context) pairs.

    The targets come from :func:`.sgns.fill_targets` (its tables), output rows in
    ``[priv_lo, priv_hi)`` go to the private block at ``priv_base``
    (:func:`.sgns.remap_private`); ``ctx``, ``out_rows``, ``labels``, ``g_buf``, ``grad_buf``
    are scratch. The kernel runs a whole sentence, not one center, and numba inlines it into
    :func:`.train.train_shard` (``inline="always"``): every array argument of a numba call
    costs two reference-count updates, too many to pay per center (a per-center kernel
    measured 25-50% slower), and the call itself, once per sentence, still cost Item2Vec
    about 6% with two workers (benchmarks/README.md, "Engine refactor").

    Airbnb's two extensions (Grbovic and Cheng, KDD 2018) add one more update per center,
    its input row against :func:`.sgns.fill_session_targets`'s rows: the sentence's global
    context item ``glob`` (``-1``: none) as a positive, and ``group_negative`` negatives drawn
    from the center's group (``session``: :func:`.train.train_shard`'s tuple of group tables,
    its ``key_group`` empty for no groups; CPython passes a call of more than 30 arguments as
    one tuple, which numba cannot inline, so they travel grouped). ``examples`` then also counts
    the centers that got such an update.
    """
    loss = 0.0
    examples = 0
    for i in range(n):
        center = buf[i]
        if glob >= 0 or group_negative > 0:
            n_x = fill_session_targets(
                center,
                glob,
                group_negative,
                session[1],
                session[2],
                session[3],
                session[4],
                session[5],
                state,
                out_rows,
                labels,
            )
            if n_x > 0:
                if priv_hi > priv_lo:
                    remap_private(out_rows, n_x, priv_lo, priv_hi, priv_base)
                loss += pair_update(
                    w_in,
                    w_out,
                    center,
                    out_rows,
                    labels,
                    n_x,
                    lr,
                    sig_table,
                    logsig_table,
                    g_buf[0],
                    grad_buf[0],
                )
                examples += 1
        b = n if whole else draw_window(window, shrink_windows, state)
        lo = max(0, i - b)
        hi = min(n, i + b + 1)
        n_in = 0
        for j in range(lo, hi):
            if j != i:
                ctx[n_in] = buf[j]
                n_in += 1
        if n_in == 0:
            continue
        n_out = 0
        # one draw of output rows per center when shared, else per pair
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
                if priv_hi > priv_lo:
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
    return loss, examples

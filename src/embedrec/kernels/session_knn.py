"""Session-kNN kernels: SKNN, V-SKNN, STAN and V-STAN scores for a batch of prefixes.

The training index comes in as CSR arrays (built by :mod:`embedrec.models.session_knn`):

- ``item_indptr`` int64 ``(n_items + 1,)``, ``item_sessions`` int32 and ``item_positions``
  int32 ``(n_pairs,)``: the sessions holding each item, ascending, with the item's *last*
  1-based position in that session;
- ``session_indptr`` int64 ``(n_sessions + 1,)``, ``session_items`` int32 and
  ``session_positions`` int32 ``(n_pairs,)``: the distinct items of each session with their last
  1-based position (``session_indptr`` differences are the distinct counts ``|N|``);
- ``session_time`` float64 ``(n_sessions,)``: each session's last event time;
- ``session_rank`` int32 ``(n_sessions,)``: recency rank (0 = the session with the latest last
  event; equal times rank the lower session first);
- ``idf`` float64 ``(n_items,)``: ``ln(n_sessions / n_events(i))``.

Prefixes come in CSR too (``prefix_items`` int32, ``prefix_offsets`` int64, ``prefix_times``
float64) and ``out`` ``(n_prefixes, n_items)`` float32 is filled in place. Per prefix of
length ``l`` (positions ``c = 1..l``; an item repeated in the prefix counts at its last
position):

1. candidates: the union, over the prefix's items, of the sessions holding them (a stamp array
   over sessions builds it without clearing, and each candidate gets a slot in short
   per-candidate arrays, grown on demand, so a thread's scratch is 8 bytes per session);
2. if there are more than ``sample_size`` (``0``: no limit), keep the ``sample_size`` most
   recent by last event time (ties: lower session first);
3. similarity of each candidate (see the drivers), then the ``k`` most similar with a
   similarity > 0 (ties: lower session first; a neighbour with similarity 0 would add
   nothing);
4. item scores accumulated from the neighbours' distinct items.

Prefixes run in parallel over ``n_blocks`` interleaved blocks (``prange``), each with its own
scratch arrays; every prefix is computed by one thread in a fixed order, so the result does not
depend on the number of threads. Scores are accumulated in float64 and stored as float32.
"""

import numpy as np
from numba import njit, prange

#: similarity codes of :func:`score_sknn_batch`
SIM_JACCARD, SIM_COSINE, SIM_VEC = 0, 1, 2
#: position weight / score decay codes of :func:`score_sknn_batch`
DECAY_SAME, DECAY_DIV, DECAY_LINEAR, DECAY_QUADRATIC, DECAY_LOG = 0, 1, 2, 3, 4

#: the add_reminders rule lifts reminders to just above the score at this 0-based rank
REMINDER_RANK = 16
#: items of the prefix that get SKNN's remind bonus or V-SKNN's add_reminders lift
REMINDER_COUNT = 3


# --------------------------------------------------------------------------------------------
# weights


@njit(cache=True, nogil=True)
def position_weight(code, c, length):
    """V-SKNN weight of the prefix item whose last position is ``c`` (1-based) of ``length``.

    same 1; div ``c/l``; linear ``max(0, 1 - 0.1 (l - c))``; quadratic ``(c/l)^2``;
    log ``1/log10(l - c + 1.7)``.
    """
    if code == DECAY_DIV:
        return c / length
    if code == DECAY_LINEAR:
        return max(0.0, 1.0 - 0.1 * (length - c))
    if code == DECAY_QUADRATIC:
        r = c / length
        return r * r
    if code == DECAY_LOG:
        return 1.0 / np.log10(length - c + 1.7)
    return 1.0


@njit(cache=True, nogil=True)
def score_decay(code, step):
    """V-SKNN ``weighting_score`` decay of a neighbour whose most recent shared prefix item is
    ``step`` positions from the end (1 = the last item).

    same 1; div ``1/step``; linear ``max(0, 1 - 0.1 step)``; quadratic ``1/step^2``;
    log ``1/log10(step + 1.7)``.
    """
    if code == DECAY_DIV:
        return 1.0 / step
    if code == DECAY_LINEAR:
        return max(0.0, 1.0 - 0.1 * step)
    if code == DECAY_QUADRATIC:
        return 1.0 / (step * step)
    if code == DECAY_LOG:
        return 1.0 / np.log10(step + 1.7)
    return 1.0


# --------------------------------------------------------------------------------------------
# per-prefix steps


@njit(cache=True, nogil=True)
def dedupe_prefix(prefix, item_stamp, stamp, item_last, item_count, distinct):
    """Distinct items of ``prefix`` into ``distinct``, ordered by last occurrence (oldest
    first); returns their number.

    Marks each with ``item_stamp[i] = stamp`` and sets ``item_last[i]`` (1-based last position)
    and ``item_count[i]`` (occurrences).
    """
    n = 0
    for p in range(prefix.shape[0] - 1, -1, -1):
        i = prefix[p]
        if item_stamp[i] != stamp:
            item_stamp[i] = stamp
            item_last[i] = p + 1
            item_count[i] = 1
            distinct[n] = i
            n += 1
        else:
            item_count[i] += 1
    # found newest first: reverse so that sums run oldest first
    for a in range(n // 2):
        b = n - 1 - a
        t = distinct[a]
        distinct[a] = distinct[b]
        distinct[b] = t
    return n


@njit(cache=True, nogil=True)
def candidate_bound(distinct, n_distinct, item_indptr, n_sessions):
    """An upper bound on the number of candidates: the summed posting lengths of the prefix's
    distinct items (at most ``n_sessions``)."""
    total = 0
    for j in range(n_distinct):
        i = distinct[j]
        total += item_indptr[i + 1] - item_indptr[i]
    return min(total, n_sessions)


@njit(cache=True, nogil=True)
def gather_candidates(
    distinct,
    weights,
    n_distinct,
    item_last,
    item_indptr,
    item_sessions,
    item_positions,
    session_stamp,
    session_slot,
    stamp,
    cand,
    acc,
    last_shared,
    pstar,
):
    """Union of the sessions holding the prefix's distinct items into ``cand``; returns its size.

    A session ``s`` seen for the first time in this prefix (``session_stamp[s] != stamp``)
    takes the next slot ``j`` (``session_slot[s]``), so the candidate arrays need no clearing
    and stay as short as the union. Per slot: ``acc[j]`` = the summed weights of the shared
    items (distinct items in order); ``last_shared[j]`` = the largest prefix position (1-based)
    of a shared item; ``pstar[j]`` = the largest position in ``s`` of a shared item (STAN's p*).
    """
    n = 0
    for d in range(n_distinct):
        i = distinct[d]
        w = weights[d]
        c = item_last[i]
        for e in range(item_indptr[i], item_indptr[i + 1]):
            s = item_sessions[e]
            if session_stamp[s] != stamp:
                session_stamp[s] = stamp
                session_slot[s] = n
                cand[n] = s
                acc[n] = 0.0
                last_shared[n] = 0
                pstar[n] = 0
                n += 1
            j = session_slot[s]
            acc[j] += w
            if c > last_shared[j]:
                last_shared[j] = c
            q = item_positions[e]
            if q > pstar[j]:
                pstar[j] = q
    return n


@njit(cache=True, nogil=True)
def keep_most_recent(cand, acc, last_shared, pstar, n_cand, session_rank, sample_size):
    """Keep the ``sample_size`` candidates with the lowest recency rank, compacting the
    candidate arrays in place (order kept); returns the new count. ``sample_size=0`` keeps
    all."""
    if sample_size <= 0 or n_cand <= sample_size:
        return n_cand
    ranks = np.empty(n_cand, dtype=np.int32)
    for j in range(n_cand):
        ranks[j] = session_rank[cand[j]]
    # ranks are distinct, so exactly sample_size ranks are <= the sample_size-th smallest
    cut = np.partition(ranks, sample_size - 1)[sample_size - 1]
    n = 0
    for j in range(n_cand):
        if session_rank[cand[j]] <= cut:
            cand[n] = cand[j]
            acc[n] = acc[j]
            last_shared[n] = last_shared[j]
            pstar[n] = pstar[j]
            n += 1
    return n


@njit(cache=True, nogil=True)
def select_top_k(cand, sims, n_cand, k, chosen):
    """Positions (into ``cand``) of the ``k`` largest similarities > 0, into ``chosen``; ties at
    the cut go to the lower session. Returns how many were chosen."""
    n_pos = 0
    for j in range(n_cand):
        if sims[j] > 0.0:
            n_pos += 1
    if n_pos <= k:
        n = 0
        for j in range(n_cand):
            if sims[j] > 0.0:
                chosen[n] = j
                n += 1
        return n
    vals = np.empty(n_pos, dtype=np.float64)
    n = 0
    for j in range(n_cand):
        if sims[j] > 0.0:
            vals[n] = sims[j]
            n += 1
    cut = np.partition(vals, n_pos - k)[n_pos - k]  # the k-th largest
    n = 0
    n_tied = 0
    for j in range(n_cand):
        if sims[j] > cut:
            chosen[n] = j
            n += 1
        elif sims[j] == cut:
            n_tied += 1
    tied_sessions = np.empty(n_tied, dtype=np.int64)
    tied_pos = np.empty(n_tied, dtype=np.int64)
    t = 0
    for j in range(n_cand):
        if sims[j] == cut:
            tied_sessions[t] = cand[j]
            tied_pos[t] = j
            t += 1
    order = np.argsort(tied_sessions)
    for t in range(k - n):
        chosen[n] = tied_pos[order[t]]
        n += 1
    return n


@njit(cache=True, nogil=True)
def prefixes_per_block(n_prefixes, n_blocks):
    """Most prefixes in one of ``n_blocks`` interleaved blocks (prefix ``j`` is in block
    ``j % n_blocks``)."""
    return (n_prefixes + n_blocks - 1) // n_blocks


# --------------------------------------------------------------------------------------------
# drivers


@njit(cache=True, nogil=True, parallel=True)
def score_sknn_batch(
    item_indptr,
    item_sessions,
    item_positions,
    session_indptr,
    session_items,
    session_rank,
    idf,
    prefix_items,
    prefix_offsets,
    k,
    sample_size,
    similarity,
    weighting,
    weighting_score,
    idf_weighting,
    remind,
    push_reminders,
    add_reminders,
    remind_bonus,
    n_blocks,
    out,
):
    """SKNN (Jannach & Ludewig 2017) and V-SKNN (Ludewig & Jannach 2018) scores into ``out``.

    With ``w_i`` = ``position_weight(weighting, c_i, l)`` (1 for SKNN), ``S`` the prefix's
    distinct items and ``N`` a candidate's: ``acc = sum_{i in S & N} w_i`` and

    - ``SIM_JACCARD``: ``acc / (|S| + |N| - acc)`` (SKNN, weights 1: ``|S&N| / |S or N|``);
    - ``SIM_COSINE``: ``acc / (sqrt(sum_{i in S} w_i^2) sqrt(|N|))`` (SKNN: ``|S&N| /
      sqrt(|S| |N|)``);
    - ``SIM_VEC``: ``acc / |S|`` (V-SKNN's default).

    Each of the ``k`` neighbours ``n`` adds ``sim * score_decay(weighting_score, step) *
    (1 + idf_weighting * idf[i])`` (the idf factor only when ``idf_weighting > 0``) to every
    ``i`` in ``n``, where ``step = l - q + 1`` and ``q`` is the last prefix position of an item in
    ``n``; prefix items are skipped unless ``remind``. Then ``push_reminders`` multiplies each
    prefix item's score by (its count in the prefix + 1); ``add_reminders`` lifts the
    ``REMINDER_COUNT`` most recent distinct prefix items with a score > 0 that score below the
    17th best score to that score + 1e-4; ``remind_bonus`` (SKNN's ``remind``) sets, for the last
    three prefix events ``e`` (oldest first, ``c = 1..3``), ``score(e) = (score(e) + 5) * 5 +
    c / 100``.
    """
    n_prefixes = prefix_offsets.shape[0] - 1
    n_items = out.shape[1]
    n_sessions = session_indptr.shape[0] - 1
    per_block = prefixes_per_block(n_prefixes, n_blocks)
    for b in prange(n_blocks):
        item_stamp = np.zeros(n_items, dtype=np.int64)
        item_last = np.zeros(n_items, dtype=np.int64)
        item_count = np.zeros(n_items, dtype=np.int64)
        session_stamp = np.zeros(n_sessions, dtype=np.int32)
        session_slot = np.empty(n_sessions, dtype=np.int32)
        # per-candidate scratch, grown on demand: cand, last_shared, pstar, chosen / acc, sims
        ints = np.empty((4, 16), dtype=np.int32)
        floats = np.empty((2, 16), dtype=np.float64)
        row = np.empty(n_items, dtype=np.float64)
        for r in range(per_block):
            p = b + r * n_blocks
            if p >= n_prefixes:
                break
            stamp = r + 1
            prefix = prefix_items[prefix_offsets[p] : prefix_offsets[p + 1]]
            length = prefix.shape[0]
            row[:] = 0.0
            distinct = np.empty(length, dtype=np.int64)
            nd = dedupe_prefix(prefix, item_stamp, stamp, item_last, item_count, distinct)
            weights = np.empty(nd, dtype=np.float64)
            sumw2 = 0.0
            for j in range(nd):
                w = position_weight(weighting, item_last[distinct[j]], length)
                weights[j] = w
                sumw2 += w * w
            need = candidate_bound(distinct, nd, item_indptr, n_sessions)
            if need > ints.shape[1]:
                cap = min(max(need, 2 * ints.shape[1]), n_sessions)
                ints = np.empty((4, cap), dtype=np.int32)
                floats = np.empty((2, cap), dtype=np.float64)
            cand, last_shared, pstar, chosen = ints[0], ints[1], ints[2], ints[3]
            acc, sims = floats[0], floats[1]
            n_cand = gather_candidates(
                distinct,
                weights,
                nd,
                item_last,
                item_indptr,
                item_sessions,
                item_positions,
                session_stamp,
                session_slot,
                stamp,
                cand,
                acc,
                last_shared,
                pstar,
            )
            n_cand = keep_most_recent(
                cand, acc, last_shared, pstar, n_cand, session_rank, sample_size
            )
            norm = np.sqrt(sumw2)
            for j in range(n_cand):
                s = cand[j]
                size_n = session_indptr[s + 1] - session_indptr[s]
                if similarity == SIM_JACCARD:
                    sims[j] = acc[j] / (nd + size_n - acc[j])
                elif similarity == SIM_COSINE:
                    sims[j] = acc[j] / (norm * np.sqrt(size_n)) if norm > 0.0 else 0.0
                else:
                    sims[j] = acc[j] / nd
            n_sel = select_top_k(cand, sims, n_cand, k, chosen)
            for t in range(n_sel):
                j = chosen[t]
                s = cand[j]
                v = sims[j] * score_decay(weighting_score, length - last_shared[j] + 1)
                for e in range(session_indptr[s], session_indptr[s + 1]):
                    i = session_items[e]
                    if not remind and item_stamp[i] == stamp:
                        continue
                    if idf_weighting > 0.0:
                        row[i] += v * (1.0 + idf_weighting * idf[i])
                    else:
                        row[i] += v
            if push_reminders:
                for j in range(nd):
                    i = distinct[j]
                    row[i] *= item_count[i] + 1
            if add_reminders and n_items > REMINDER_RANK:
                cut = np.partition(row.copy(), n_items - 1 - REMINDER_RANK)[
                    n_items - 1 - REMINDER_RANK
                ]
                lifted = 0
                for j in range(nd - 1, -1, -1):
                    if lifted == REMINDER_COUNT:
                        break
                    i = distinct[j]
                    if row[i] > 0.0:
                        lifted += 1
                        if row[i] < cut:
                            row[i] = cut + 1e-4
            if remind_bonus:
                m = min(REMINDER_COUNT, length)
                for c in range(1, m + 1):
                    i = prefix[length - m + c - 1]
                    row[i] = (row[i] + 5.0) * 5.0 + c / 100.0
            for i in range(n_items):
                out[p, i] = row[i]


@njit(cache=True, nogil=True, parallel=True)
def score_stan_batch(
    item_indptr,
    item_sessions,
    item_positions,
    session_indptr,
    session_items,
    session_positions,
    session_time,
    session_rank,
    idf,
    prefix_items,
    prefix_offsets,
    prefix_times,
    k,
    sample_size,
    lambda_spw,
    lambda_snh,
    lambda_inh,
    lambda_ipw,
    lambda_idf,
    remind,
    n_blocks,
    out,
):
    """STAN (Garg et al. 2019) and V-STAN (Ludewig, Latifi & Jannach 2021) scores into ``out``.

    Prefix weights ``w_i = exp((c_i - l) / lambda_spw)`` (``c_i`` the item's last position).
    Similarity of a candidate ``n`` with last event time ``t_n``:
    ``sum_{i in S & N} w_i / (sqrt(sum_{i in S} w_i^2) sqrt(|N|)) * exp(-(now - t_n) /
    lambda_snh)``, with ``lambda_snh`` in seconds and ``now`` = the later of the prefix's last
    event time and the newest sampled candidate's time (see below). Each of the ``k``
    neighbours adds, to every distinct ``i`` in ``n`` (prefix items only if ``remind``),
    ``sim * exp(-|pos_n(i) - p*| / lambda_inh)``, where ``pos_n(i)`` is the last position of
    ``i`` in ``n`` and ``p*`` the largest position in ``n`` of an item in ``S``. V-STAN
    multiplies this by ``exp((q - l) / lambda_ipw)`` (``q`` the last prefix position of an item
    in ``n``; skipped when ``lambda_ipw == 0``) and by ``1 + lambda_idf * idf[i]`` (skipped when
    ``lambda_idf == 0``).

    ``now`` never precedes a neighbour: a neighbour newer than the prefix (prefixes older than
    the training data, or times that are positions) would get a recency factor above 1, which
    overflows for large gaps. Clamping multiplies all of a prefix's scores by one constant, so
    its ranking is unchanged.
    """
    n_prefixes = prefix_offsets.shape[0] - 1
    n_items = out.shape[1]
    n_sessions = session_indptr.shape[0] - 1
    per_block = prefixes_per_block(n_prefixes, n_blocks)
    for b in prange(n_blocks):
        item_stamp = np.zeros(n_items, dtype=np.int64)
        item_last = np.zeros(n_items, dtype=np.int64)
        item_count = np.zeros(n_items, dtype=np.int64)
        session_stamp = np.zeros(n_sessions, dtype=np.int32)
        session_slot = np.empty(n_sessions, dtype=np.int32)
        # per-candidate scratch, grown on demand: cand, last_shared, pstar, chosen / acc, sims
        ints = np.empty((4, 16), dtype=np.int32)
        floats = np.empty((2, 16), dtype=np.float64)
        row = np.empty(n_items, dtype=np.float64)
        for r in range(per_block):
            p = b + r * n_blocks
            if p >= n_prefixes:
                break
            stamp = r + 1
            lo = prefix_offsets[p]
            hi = prefix_offsets[p + 1]
            prefix = prefix_items[lo:hi]
            length = prefix.shape[0]
            row[:] = 0.0
            if length == 0:
                for i in range(n_items):
                    out[p, i] = 0.0
                continue
            distinct = np.empty(length, dtype=np.int64)
            nd = dedupe_prefix(prefix, item_stamp, stamp, item_last, item_count, distinct)
            weights = np.empty(nd, dtype=np.float64)
            sumw2 = 0.0
            for j in range(nd):
                w = np.exp((item_last[distinct[j]] - length) / lambda_spw)
                weights[j] = w
                sumw2 += w * w
            need = candidate_bound(distinct, nd, item_indptr, n_sessions)
            if need > ints.shape[1]:
                cap = min(max(need, 2 * ints.shape[1]), n_sessions)
                ints = np.empty((4, cap), dtype=np.int32)
                floats = np.empty((2, cap), dtype=np.float64)
            cand, last_shared, pstar, chosen = ints[0], ints[1], ints[2], ints[3]
            acc, sims = floats[0], floats[1]
            n_cand = gather_candidates(
                distinct,
                weights,
                nd,
                item_last,
                item_indptr,
                item_sessions,
                item_positions,
                session_stamp,
                session_slot,
                stamp,
                cand,
                acc,
                last_shared,
                pstar,
            )
            n_cand = keep_most_recent(
                cand, acc, last_shared, pstar, n_cand, session_rank, sample_size
            )
            now = prefix_times[hi - 1]
            for j in range(n_cand):
                t = session_time[cand[j]]
                if t > now:
                    now = t
            norm = np.sqrt(sumw2)
            for j in range(n_cand):
                s = cand[j]
                size_n = session_indptr[s + 1] - session_indptr[s]
                recency = np.exp(-(now - session_time[s]) / lambda_snh)
                sims[j] = acc[j] / (norm * np.sqrt(size_n)) * recency
            n_sel = select_top_k(cand, sims, n_cand, k, chosen)
            for t in range(n_sel):
                j = chosen[t]
                s = cand[j]
                v = sims[j]
                if lambda_ipw > 0.0:
                    v = v * np.exp((last_shared[j] - length) / lambda_ipw)
                ps = pstar[j]
                for e in range(session_indptr[s], session_indptr[s + 1]):
                    i = session_items[e]
                    if not remind and item_stamp[i] == stamp:
                        continue
                    x = v * np.exp(-abs(session_positions[e] - ps) / lambda_inh)
                    if lambda_idf > 0.0:
                        x = x * (1.0 + lambda_idf * idf[i])
                    row[i] += x
            for i in range(n_items):
                out[p, i] = row[i]

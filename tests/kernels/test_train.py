"""The Word2Vec shard driver (``kernels.train.train_shard``): known answers on tiny corpora,
its NumPy twin, and the keyword-built parameter array."""

import numpy as np
import pytest

from embedrec.kernels import SHARE_BATCH, SHARE_NONE, SHARE_SEQUENTIAL
from embedrec.kernels.huffman import build_huffman
from embedrec.kernels.rng import seed_state
from embedrec.kernels.sampling import alias_thresholds, build_segment_alias
from embedrec.kernels.sgns import sigmoid_tables
from embedrec.kernels.train import P_PRIV_HI, P_WINDOW, no_session, shard_params, train_shard
from tests.reference.word2vec_ref import train_shard_ref

SIG, LOGSIG = sigmoid_tables()
ALWAYS = np.uint64(1 << 32)  # keep threshold: every token kept


def _tables(n, codes=None, points=None, lens=None):
    """(keep, neg_prob, neg_alias, codes, points, code_lens, sig, logsig) for ``n`` keys."""
    if codes is None:
        codes = np.zeros((n, 0), np.uint8)
        points = np.zeros((n, 0), np.int32)
        lens = np.zeros(n, np.int32)
    keep = np.full(n, ALWAYS, np.uint64)
    # one-column noise table (never drawn here: negative=0 or hierarchical softmax)
    neg_prob = np.full(n, ALWAYS, np.uint64)
    neg_alias = np.arange(n, dtype=np.int32)
    return (keep, neg_prob, neg_alias, codes, points, lens, SIG, LOGSIG)


def _run(tokens, offsets, w_in, w_out, tables, *, lr, session=None, **kw):
    params = dict(
        s_begin=0,
        s_end=len(offsets) - 1,
        cbow=False,
        cbow_mean=True,
        window=1,
        shrink_windows=False,
        basket=False,
        use_hs=False,
        negative=0,
        share_mode=SHARE_NONE,
    )
    params.update(kw)
    return train_shard(
        (np.asarray(tokens, np.int32), np.asarray(offsets, np.int64)),
        (w_in, w_out),
        tables,
        shard_params(**params),
        np.array([lr, lr], np.float64),
        seed_state(1, 0, 0),
        no_session() if session is None else session,
    )


def test_one_skipgram_sentence_of_two_words_by_hand():
    # sentence [a, b], window 1, negative sampling with negative=0 (the center alone, label 1)
    # and lr = 0.1: two pairs, updated in turn.
    # center a, context b: x = w_in[b] = [0.1, 0.2], z = w_out[a] = [0.2, 0.4]
    #   score 0.02 + 0.08 = 0.1 -> sigmoid 0.524979 -> g = 0.1 (1 - 0.524979) = 0.0475021
    #   w_out[a] += g x = [0.204750, 0.409500]; w_in[b] += g z = [0.109500, 0.219000]
    #   loss -log 0.524979 = 0.644397
    # center b, context a: x = w_in[a] = [0.5, -0.25], z = w_out[b] = [-0.3, 0.1]
    #   score -0.15 - 0.025 = -0.175 -> sigmoid 0.456361 -> g = 0.0543639
    #   w_out[b] += g x = [-0.272818, 0.086409]; w_in[a] += g z = [0.483691, -0.244564]
    #   loss -log 0.456361 = 0.784462; total 1.428859
    w_in = np.array([[0.5, -0.25], [0.1, 0.2]], np.float32)
    w_out = np.array([[0.2, 0.4], [-0.3, 0.1]], np.float32)
    loss, examples, effective, raw = _run([0, 1], [0, 2], w_in, w_out, _tables(2), lr=0.1)
    assert (examples, effective, raw) == (2, 2, 2)
    # the sigmoid table has buckets of width 12/1024: |error| < 1.5e-3 on sigmoid
    np.testing.assert_allclose(w_in, [[0.483691, -0.244564], [0.109500, 0.219000]], atol=3e-4)
    np.testing.assert_allclose(w_out, [[0.204750, 0.409500], [-0.272818, 0.086409]], atol=3e-4)
    assert loss == pytest.approx(1.428859, abs=5e-3)


def _session(sentence_global=(), key_group=(), offsets=(0,), items=(), weights=()):
    prob, alias = build_segment_alias(
        np.asarray(weights, np.float64), np.asarray(offsets, np.int64)
    )
    return (
        np.asarray(sentence_global, np.int32),
        np.asarray(key_group, np.int32),
        np.asarray(offsets, np.int64),
        np.asarray(items, np.int32),
        alias_thresholds(prob),
        alias,
    )


def test_global_context_by_hand():
    # sentence [b] alone has no (center, context) pair; its global context a is predicted from
    # b: input w_in[b] = [0.1, 0.2] against output w_out[a] = [0.2, 0.4], label 1, lr = 0.1:
    # the numbers of the first pair above: g = 0.0475021, w_out[a] = [0.204750, 0.409500],
    # w_in[b] = [0.109500, 0.219000], loss 0.644397
    w_in = np.array([[0.5, -0.25], [0.1, 0.2]], np.float32)
    w_out = np.array([[0.2, 0.4], [-0.3, 0.1]], np.float32)
    loss, examples, _, _ = _run(
        [1], [0, 1], w_in, w_out, _tables(2), lr=0.1, session=_session(sentence_global=[0])
    )
    assert examples == 1
    np.testing.assert_allclose(w_in, [[0.5, -0.25], [0.109500, 0.219000]], atol=3e-4)
    np.testing.assert_allclose(w_out, [[0.204750, 0.409500], [-0.3, 0.1]], atol=3e-4)
    assert loss == pytest.approx(0.644397, abs=5e-3)
    # a sentence whose global context is its own only item learns nothing
    before = (w_in.copy(), w_out.copy())
    _, examples, _, _ = _run(
        [1], [0, 1], w_in, w_out, _tables(2), lr=0.1, session=_session(sentence_global=[1])
    )
    assert examples == 0
    np.testing.assert_array_equal(w_in, before[0])
    np.testing.assert_array_equal(w_out, before[1])


def test_in_group_negative_by_hand():
    # sentence [b]; a and b form one group in which b has weight 0, so the one in-group
    # negative of center b is a (label 0): score 0.1, sigmoid 0.524979, g = 0.1 (0 - 0.524979)
    # = -0.0524979; w_out[a] += g [0.1, 0.2] = [0.194750, 0.389500]; w_in[b] += g [0.2, 0.4]
    # = [0.089500, 0.179001]; loss -log(1 - 0.524979) = 0.744396
    w_in = np.array([[0.5, -0.25], [0.1, 0.2]], np.float32)
    w_out = np.array([[0.2, 0.4], [-0.3, 0.1]], np.float32)
    session = _session(key_group=[0, 0], offsets=[0, 2], items=[0, 1], weights=[1.0, 0.0])
    loss, examples, _, _ = _run(
        [1], [0, 1], w_in, w_out, _tables(2), lr=0.1, session=session, group_negative=1
    )
    assert examples == 1
    np.testing.assert_allclose(w_in, [[0.5, -0.25], [0.089500, 0.179001]], atol=3e-4)
    np.testing.assert_allclose(w_out, [[0.194750, 0.389500], [-0.3, 0.1]], atol=3e-4)
    assert loss == pytest.approx(0.744396, abs=5e-3)


def test_no_session_arrays_change_nothing():
    # the empty session tuple and a tuple that names no global item and draws no in-group
    # negative train bit for bit alike
    tokens, offsets = _corpus()
    runs = []
    for session in (None, _session(sentence_global=[-1] * 4, key_group=[-1, -1, -1])):
        rng = np.random.default_rng(0)
        w_in = rng.random((3, 4), dtype=np.float32)
        w_out = rng.random((3, 4), dtype=np.float32)
        _run(tokens, offsets, w_in, w_out, _tables(3), lr=0.05, session=session, window=2)
        runs.append((w_in, w_out))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_one_cbow_center_by_hand():
    # sentence [a, b, c], window 1, CBOW mean, negative=0, lr = 0.1; the first center a has
    # the one context b: h = w_in[b] = [0.1, 0.2] against w_out[a] = [0.2, 0.4], the same
    # numbers as above: g = 0.0475021, w_out[a] = [0.204750, 0.409500], w_in[b] += g w_out[a]
    w_in = np.array([[0.5, -0.25], [0.1, 0.2], [0.0, 0.0]], np.float32)
    w_out = np.array([[0.2, 0.4], [0.0, 0.0], [0.0, 0.0]], np.float32)
    first = [0, 1]  # a sentence [a, b] trains center a then center b
    _run(first, [0, 2], w_in, w_out, _tables(3), lr=0.1, cbow=True)
    # center b (context a, h = [0.5, -0.25]) saw w_out[b] = 0: g = 0.05, w_in[a] unchanged
    # (w_out[b] was zero), w_out[b] = 0.05 h = [0.025, -0.0125]
    np.testing.assert_allclose(w_out[0], [0.204750, 0.409500], atol=3e-4)
    np.testing.assert_allclose(w_out[1], [0.025, -0.0125], atol=3e-4)
    np.testing.assert_allclose(w_in[1], [0.109500, 0.219000], atol=3e-4)
    np.testing.assert_allclose(w_in[0], [0.5, -0.25], atol=1e-7)


def _corpus():
    # three words over four sentences (one of a single token: no pair)
    tokens = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0, 1, 2], np.int32)
    offsets = np.array([0, 3, 6, 7, 11], np.int64)
    return tokens, offsets


@pytest.mark.parametrize(
    "cbow,share_mode",
    [(False, SHARE_NONE), (False, SHARE_BATCH), (False, SHARE_SEQUENTIAL), (True, SHARE_NONE)],
)
@pytest.mark.parametrize("use_hs", [False, True])
@pytest.mark.parametrize("window", [1, 2])
def test_train_shard_matches_numpy_twin(cbow, share_mode, use_hs, window):
    tokens, offsets = _corpus()
    rng = np.random.default_rng(window * 10 + share_mode)
    dim = 5
    w_in = ((rng.random((3, dim)) - 0.5) / dim * 8).astype(np.float32)
    n_out = 2 if use_hs else 3
    w_out = ((rng.random((n_out, dim)) - 0.5) / dim * 8).astype(np.float32)
    paths = None
    tables = _tables(3)
    if use_hs:
        codes, points, lens = build_huffman(np.bincount(tokens, minlength=3).astype(np.int64))
        tables = _tables(3, codes, points, lens)
        paths = [(points[w, : lens[w]], codes[w, : lens[w]]) for w in range(3)]
    init = w_in.astype(np.float64)
    ref_in, ref_out = w_in.astype(np.float64), w_out.astype(np.float64)
    update = {SHARE_NONE: "exact", SHARE_BATCH: "batch", SHARE_SEQUENTIAL: "sequential"}
    ref_loss, ref_examples = train_shard_ref(
        tokens,
        offsets,
        ref_in,
        ref_out,
        cbow=cbow,
        cbow_mean=True,
        window=window,
        update=update[share_mode],
        paths=paths,
        lr=0.05,
    )
    loss, examples, effective, raw = _run(
        tokens,
        offsets,
        w_in,
        w_out,
        tables,
        lr=0.05,
        cbow=cbow,
        window=window,
        use_hs=use_hs,
        share_mode=share_mode,
    )
    assert (examples, effective, raw) == (ref_examples, 11, 11)
    np.testing.assert_allclose(w_in, ref_in, atol=1e-3)
    np.testing.assert_allclose(w_out, ref_out, atol=1e-3)
    assert loss == pytest.approx(ref_loss, rel=2e-2)
    assert np.abs(ref_in - init).max() > 1e-2  # the check is not vacuous: vectors moved


def test_shard_params_are_keyword_only_and_checked():
    p = shard_params(
        s_begin=0,
        s_end=3,
        cbow=False,
        cbow_mean=True,
        window=5,
        shrink_windows=True,
        basket=False,
        use_hs=False,
        negative=5,
        share_mode=SHARE_BATCH,
        priv_lo=0,
        priv_hi=64,
        priv_base=100,
    )
    assert p.dtype == np.int64 and p[P_WINDOW] == 5 and p[P_PRIV_HI] == 64
    with pytest.raises(TypeError):
        shard_params(0, 3)  # positional integers could trade places unnoticed
    with pytest.raises(ValueError, match="bad shard parameters"):
        shard_params(
            s_begin=0,
            s_end=3,
            cbow=False,
            cbow_mean=True,
            window=0,
            shrink_windows=True,
            basket=False,
            use_hs=False,
            negative=5,
            share_mode=SHARE_BATCH,
        )

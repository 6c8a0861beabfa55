"""The session protocol: hand-derived metrics, prefixes, repeats, the split and its filters."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedrec.data.interactions import Interactions, Sequences
from embedrec.data.sessions import (
    SessionSplit,
    align_items,
    session_filter,
    session_split,
    sessionize,
)
from embedrec.eval.sessions import (
    compare_sessions,
    evaluate_sessions,
    paired_difference,
    prediction_values,
)


class FixedLists:
    """A session recommender answering fixed ranked lists (keys), looked up by the prefix's
    key tuple; records the prefixes it was asked."""

    def __init__(self, keys, lists, counts=None):
        self.item_keys_ = np.asarray(keys, dtype=object)
        self.lists = lists
        self.item_counts_ = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.seen = []

    def recommend_next(self, prefixes, k):
        code = {key: i for i, key in enumerate(self.item_keys_.tolist())}
        out = np.full((len(prefixes), k), -1, dtype=np.int64)
        for p in range(len(prefixes)):
            a, b = prefixes.offsets[p], prefixes.offsets[p + 1]
            pref = tuple(self.item_keys_[prefixes.items[a:b]].tolist())
            self.seen.append(pref)
            ranked = [code[x] for x in self.lists[pref]][:k]
            out[p, : len(ranked)] = ranked
        return out


def log(sessions, times=None):
    """A session log from lists of item keys (session ids 0, 1, ...)."""
    users = [s for s, items in enumerate(sessions) for _ in items]
    items = [i for items in sessions for i in items]
    t = times if times is not None else list(range(len(items)))
    return Interactions.from_arrays(users, items, t)


def test_metrics_by_hand_every_position():
    # one test session a, b, a, c: three predictions
    #   prefix (a,)      -> target b; list [b, c, a] -> rank 1
    #   prefix (a, b)    -> target a; list [c, a, b] -> rank 2 (a repeat)
    #   prefix (a, b, a) -> target c; list [a, b, d] -> miss at k=3
    # HR@1 = 1/3, HR@3 = 2/3; MRR@3 = (1 + 1/2 + 0) / 3 = 0.5; MRR@1 = 1/3
    # NDCG@3 = (1/log2(2) + 1/log2(3) + 0) / 3
    # Coverage@1: {b, c, a} shown at rank 1 over 4 items = 3/4; Coverage@3: all 4 = 1
    # Popularity@1 with counts a=4, b=2, c=1, d=1 (max 4): (b .5 + c .25 + a 1) / 3
    # Popularity@3: lists {a,b,c} (1 + .5 + .25)/3, same, {a,b,d} (1 + .5 + .25)/3
    model = FixedLists(
        ["a", "b", "c", "d"],
        {("a",): ["b", "c", "a"], ("a", "b"): ["c", "a", "b"], ("a", "b", "a"): ["a", "b", "d"]},
        counts=[4, 2, 1, 1],
    )
    r = evaluate_sessions(model, log([["a", "b", "a", "c"]]), ks=(1, 3))
    assert model.seen == [("a",), ("a", "b"), ("a", "b", "a")]
    m = r.metrics
    assert r.n_predictions == 3 and r.n_sessions == 1
    assert m["HR@1"] == pytest.approx(1 / 3) and m["HR@3"] == pytest.approx(2 / 3)
    assert m["MRR@1"] == pytest.approx(1 / 3) and m["MRR@3"] == pytest.approx(0.5)
    assert m["NDCG@3"] == pytest.approx((1 + 1 / np.log2(3)) / 3)
    assert m["Coverage@1"] == pytest.approx(0.75) and m["Coverage@3"] == pytest.approx(1.0)
    assert m["Popularity@1"] == pytest.approx((0.5 + 0.25 + 1) / 3)
    assert m["Popularity@3"] == pytest.approx(1.75 / 3)
    assert r.ranks.tolist() == [1, 2, 0]
    # the repeat target (a after a, b) is the second prediction
    assert r.by_kind["repeat"]["n"] == 1 and r.by_kind["repeat"]["MRR@3"] == pytest.approx(0.5)
    assert r.by_kind["new"]["n"] == 2 and r.by_kind["new"]["HR@3"] == pytest.approx(0.5)
    assert r.by_position[1]["HR@3"] == 1.0 and r.by_position[3]["HR@3"] == 0.0


def test_last_position_only_and_micro_average_over_sessions():
    # sessions (a, b, c) and (b, a): "last" predicts c after (a, b) and a after (b,)
    # "all": 2 + 1 = 3 predictions, averaged over predictions, not sessions
    lists = {("a",): ["b"], ("a", "b"): ["d"], ("b",): ["a"]}
    model = FixedLists(["a", "b", "c", "d"], lists)
    last = evaluate_sessions(model, log([["a", "b", "c"], ["b", "a"]]), ks=(1,), positions="last")
    assert last.n_predictions == 2 and last.metrics["HR@1"] == pytest.approx(0.5)
    every = evaluate_sessions(model, log([["a", "b", "c"], ["b", "a"]]), ks=(1,))
    # hits: (a,)->b yes, (a,b)->c no, (b,)->a yes: 2/3 (a per-session mean would be 3/4)
    assert every.n_predictions == 3 and every.metrics["HR@1"] == pytest.approx(2 / 3)
    # each prediction's test session
    assert every.sessions.tolist() == [0, 0, 1] and last.sessions.tolist() == [0, 1]


def test_prediction_values_by_hand():
    ranks = np.array([1, 2, 0, 4, 11])
    assert prediction_values(ranks, "HR@10").tolist() == [1, 1, 0, 1, 0]
    assert prediction_values(ranks, "MRR@10").tolist() == [1, 0.5, 0, 0.25, 0]
    ndcg = prediction_values(ranks, "NDCG@10")
    assert ndcg == pytest.approx([1, 1 / np.log2(3), 0, 1 / np.log2(5), 0])
    for m in ("HR@10", "MRR@10", "NDCG@10"):  # their mean is the evaluator's figure
        r = evaluate_sessions(
            FixedLists(["a", "b", "c"], {("a",): ["b"], ("a", "b"): ["a", "c"]}),
            log([["a", "b", "c"], ["a", "c"]]),
            ks=(10,),
        )
        assert prediction_values(r.ranks, m).mean() == pytest.approx(r.metrics[m])
    with pytest.raises(ValueError, match="Recall@10"):
        prediction_values(ranks, "Recall@10")


def _two_models():
    """Two fixed-list models over sessions (a, b, c), (b, c), (c, a, b, a): 6 predictions."""
    keys = ["a", "b", "c"]
    first = {("a",): ["b"], ("a", "b"): ["c"], ("b",): ["a", "c"], ("c",): ["a"],
             ("c", "a"): ["b"], ("c", "a", "b"): ["b", "c", "a"]}  # fmt: skip
    second = {("a",): ["c", "b"], ("a", "b"): ["a"], ("b",): ["c"], ("c",): ["b", "a"],
              ("c", "a"): ["b"], ("c", "a", "b"): ["a"]}  # fmt: skip
    test = log([["a", "b", "c"], ["b", "c"], ["c", "a", "b", "a"]])
    return (
        evaluate_sessions(FixedLists(keys, first), test, ks=(5,)),
        evaluate_sessions(FixedLists(keys, second), test, ks=(5,)),
    )


def test_paired_difference_by_hand():
    a, b = _two_models()
    # reciprocal ranks, session by session:
    #   a: (1, 1), (1/2), (1, 1, 1/3)     b: (1/2, 0), (1), (1/2, 1, 1)
    #   differences: (1/2, 1), (-1/2), (1/2, 0, -2/3)
    assert a.ranks.tolist() == [1, 1, 2, 1, 1, 3] and b.ranks.tolist() == [2, 0, 1, 2, 1, 1]
    gain, se = paired_difference(a, b, "MRR@5")
    d = [0.5, 1.0, -0.5, 0.5, 0.0, -2 / 3]
    assert gain == pytest.approx(sum(d) / 6)
    # clustered by session: sums D = (3/2, -1/2, -1/6), sizes (2, 1, 3)
    mean = sum(d) / 6
    resid = [1.5 - 2 * mean, -0.5 - mean, -1 / 6 - 3 * mean]
    assert se == pytest.approx(np.sqrt(3 / 2 * sum(r * r for r in resid)) / 6)
    back, se_back = paired_difference(b, a, "MRR@5")
    assert back == pytest.approx(-gain) and se_back == pytest.approx(se)
    hr, _ = paired_difference(a, b, "HR@5")
    assert hr == pytest.approx(1 / 6)  # b misses once, a never


def test_paired_difference_refuses_results_of_other_predictions():
    a, _ = _two_models()
    other = evaluate_sessions(FixedLists(["a", "b"], {("a",): ["b"]}), log([["a", "b"]]), ks=(5,))
    with pytest.raises(ValueError, match="same test sessions"):
        paired_difference(a, other)
    with pytest.raises(ValueError, match="up to 5"):
        paired_difference(a, a, "MRR@20")


def test_unknown_items_are_dropped_from_prefixes_and_miss_as_targets():
    # the model does not know "x": prefix (a, x) is asked as (a,), target x always misses
    model = FixedLists(["a", "b"], {("a",): ["b", "a"]})
    r = evaluate_sessions(model, log([["a", "x", "b"]]), ks=(2,))
    assert model.seen == [("a",), ("a",)]
    assert r.n_unknown_targets == 1
    assert r.ranks.tolist() == [0, 1]


def test_short_sessions_give_no_prediction_and_bad_arguments_are_named():
    model = FixedLists(["a", "b"], {("a",): ["b"]})
    with pytest.raises(ValueError, match="no test session has two events"):
        evaluate_sessions(model, log([["a"], ["b"]]))
    with pytest.raises(ValueError, match="positions='first' is invalid"):
        evaluate_sessions(model, log([["a", "b"]]), positions="first")
    with pytest.raises(ValueError, match="k=0 is invalid"):
        evaluate_sessions(model, log([["a", "b"]]), ks=(0,))
    with pytest.raises(TypeError, match="Interactions session log"):
        evaluate_sessions(model, [["a", "b"]])


def test_wrong_shape_from_a_model_is_an_error_naming_it():
    class Broken(FixedLists):
        def recommend_next(self, prefixes, k):
            return np.zeros((len(prefixes) + 1, k), dtype=np.int64)

    with pytest.raises(ValueError, match=r"Broken\.recommend_next returned shape"):
        evaluate_sessions(Broken(["a", "b"], {}), log([["a", "b"]]))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=8), min_size=1, max_size=6))
def test_prefixes_are_exactly_the_session_heads(sessions):
    """Every prediction's prefix is the session's first j items and the target item j."""
    if all(len(s) < 2 for s in sessions):
        return
    keys = list(range(6))

    class Echo:
        item_keys_ = np.array(keys, dtype=np.int64)
        item_counts_ = np.ones(6, dtype=np.int64)

        def recommend_next(self, prefixes, k):
            for p in range(len(prefixes)):
                a, b = prefixes.offsets[p], prefixes.offsets[p + 1]
                self.asked.append(prefixes.items[a:b].tolist())
            # rank the prefix's last item first
            out = np.full((len(prefixes), k), -1, dtype=np.int64)
            out[:, 0] = prefixes.items[prefixes.offsets[1:] - 1]
            return out

    model = Echo()
    model.asked = []
    inter = log(sessions)
    r = evaluate_sessions(model, inter, ks=(1,))
    seqs = inter.sequences().to_lists()
    want = [s[:j] for s in seqs for j in range(1, len(s))]
    assert model.asked == want
    hits = [s[j] == s[j - 1] for s in seqs for j in range(1, len(s))]
    assert r.metrics["HR@1"] == pytest.approx(np.mean(hits))


def test_compare_sessions_table():
    model = FixedLists(["a", "b"], {("a",): ["b"]})
    r = evaluate_sessions(model, log([["a", "b"]]), ks=(1,))
    text = compare_sessions({"x": r, "y": r})
    assert "HR@1" in text and "predictions" in text and text.count("1.0000") >= 2
    assert r.to_dict()["metrics"]["HR@1"] == 1.0


# ---------------------------------------------------------------------- the split


def test_session_filter_is_one_pass_in_session_rec_order():
    # session 0: a b (len 2); session 1: c (len 1, dropped first); session 2: a b c c c
    # after dropping session 1: support a=2, b=2, c=3 -> with min_item_support=3 a, b go
    # then session 0 is empty, session 2 is c c c (len 3, kept)
    inter = log([["a", "b"], ["c"], ["a", "b", "c", "c", "c"]])
    out = session_filter(inter, min_session_length=2, min_item_support=3)
    assert out.item_keys[out.item].tolist() == ["c", "c", "c"]
    assert out.user_keys[out.user].tolist() == [2, 2, 2]


def test_session_split_by_last_day_drops_unseen_test_items_and_short_sessions():
    day = 86400.0
    # training sessions end long before the last day; test session 3 holds "z", unseen in
    # training: removing it leaves (a,) -> dropped; session 4 (a, b, z) -> (a, b) kept
    sessions = [["a", "b"], ["a", "b"], ["b", "a"], ["a", "z"], ["a", "b", "z"]]
    times = [0, 1, 10, 11, 20, 21, 5 * day, 5 * day + 1, 5 * day + 2, 5 * day + 3, 5 * day + 4]
    split = session_split(log(sessions, times), test_days=1.0, min_item_support=1)
    tr, te = split.train, split.test
    assert sorted(set(tr.user_keys[tr.user].tolist())) == [0, 1, 2]
    assert te.user_keys[te.user].tolist() == [4, 4]
    assert te.item_keys[te.item].tolist() == ["a", "b"]
    frac = session_split(
        log(sessions, times), test_days=None, test_fraction=0.4, min_item_support=1
    )
    assert sorted(set(frac.test.user_keys[frac.test.user].tolist())) == [4]
    with pytest.raises(ValueError, match="exactly one of test_days"):
        session_split(log(sessions, times), test_days=1.0, test_fraction=0.2)
    with pytest.raises(ValueError, match="min_item_support=0 is invalid"):
        session_split(log(sessions, times), min_item_support=0)
    with pytest.raises(ValueError, match="both sides hold sessions"):
        session_split(log(sessions, times), test_days=100.0, min_item_support=1)


def test_sessionize_cuts_at_gaps_and_drops_bounces():
    # user u: t=0 a, 10 b, 5000 c, 5001 d, 5100 e ; gap 1800 -> (a b) (c d e)
    inter = Interactions.from_arrays(["u"] * 5, list("abcde"), [0, 10, 5000, 5001, 5100])
    s = sessionize(inter, gap=1800)
    assert s.sequences().to_lists() == [["a", "b"], ["c", "d", "e"]]
    # min_dwell=5: c is followed by d after 1 s -> dropped; e (last, unknown dwell) stays
    s2 = sessionize(inter, gap=1800, min_dwell=5)
    assert s2.sequences().to_lists() == [["a", "b"], ["d", "e"]]
    assert sessionize(inter, gap=1800, min_length=3).sequences().to_lists() == [["c", "d", "e"]]
    with pytest.raises(ValueError, match="gap=-1 is invalid"):
        sessionize(inter, gap=-1)


def test_from_parts_aligns_item_tables():
    a = log([["a", "b"]])
    b = log([["b", "c"]])
    a2, b2 = align_items(a, b)
    assert a2.item_keys.tolist() == b2.item_keys.tolist() == ["a", "b", "c"]
    assert b2.item_keys[b2.item].tolist() == ["b", "c"]
    split = SessionSplit.from_parts(a, b)
    assert "1 training items" not in repr(split) and "2 training items" in repr(split)
    with pytest.raises(TypeError, match="same key type"):
        align_items(a, Interactions.from_arrays([0, 0], [1, 2]))


def test_sequences_input_is_accepted():
    model = FixedLists(["a", "b"], {("a",): ["b"]})
    seqs = log([["a", "b"]]).sequences()
    assert isinstance(seqs, Sequences)
    assert evaluate_sessions(model, seqs, ks=(1,)).metrics["HR@1"] == 1.0


def test_yoochoose_sample_protocol_counts(shared_data):
    """session-rec's prepared YOOCHOOSE sample: 13,568 test events in 3,416 sessions give
    10,152 predictions, all test items known in training (SOURCE.md's figures)."""
    from embedrec.data import datasets

    d = shared_data.require("yoochoose-100k-sample")
    split = SessionSplit.from_parts(
        datasets.yoochoose(d, split="train_full"), datasets.yoochoose(d, split="test")
    )
    seen = np.bincount(split.train.item, minlength=split.train.n_items) > 0
    assert seen[split.test.item].all()

    class Pop:
        item_keys_ = split.train.item_keys
        item_counts_ = split.train.item_counts()

        def recommend_next(self, prefixes, k):
            top = np.argsort(-self.item_counts_, kind="stable")[:k]
            return np.repeat(top[None], len(prefixes), axis=0)

    r = evaluate_sessions(Pop(), split, ks=(20,))
    assert r.n_predictions == 10152 and r.n_sessions == 3416
    assert 0.3 < r.by_kind["repeat"]["n"] / r.n_predictions < 0.4

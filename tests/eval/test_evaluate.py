"""The evaluation protocol: known answers, exclusion, catalogue, skipped users, baselines."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedrec.data.interactions import Interactions
from embedrec.eval import (
    EvalResult,
    Popularity,
    RandomScorer,
    compare,
    evaluate,
    leave_last_out,
    temporal_split,
)
from embedrec.eval.evaluate import top_k_exact

L3 = np.log2(3.0)


class TableScorer:
    """Scores candidates from a fixed key -> score table (the same for every user), recording
    what it was asked."""

    def __init__(self, table):
        self.table = table
        self.histories = []
        self.times = []
        self.candidates = []

    def score(self, histories, candidates, *, times=None):
        self.histories += [list(h) for h in histories]
        self.times += [list(t) for t in times]
        self.candidates.append(candidates.tolist())
        row = np.array([self.table.get(c, -np.inf) for c in candidates.tolist()], np.float32)
        return np.tile(row, (len(histories), 1))


def _split():
    # u1: a b c | d   (d has no training event anywhere: not in the catalogue)
    # u2: a c | b
    # u3: e | a
    # u4: f           (one event < min_train + n_test: all train, not evaluated)
    log = Interactions.from_arrays(
        ["u1", "u1", "u1", "u1", "u2", "u2", "u2", "u3", "u3", "u4"],
        ["a", "b", "c", "d", "a", "c", "b", "e", "a", "f"],
        [1, 2, 3, 4, 1, 2, 3, 1, 2, 1],
    )
    return leave_last_out(log, n_valid=0)


def test_known_answer():
    s = _split()
    sc = TableScorer({"d": 9.0, "b": 5.0, "a": 4.0, "c": 3.0, "f": 2.0, "e": 1.0})
    r = evaluate(sc, s.train, s.test, ks=(2, 1))
    # catalogue a b c e f (d only in test); after removing seen items:
    #   u1 (saw a b c): f e         test d -> miss
    #   u2 (saw a c):   b f e       test b -> hit at rank 0
    #   u3 (saw e):     b a c f     test a -> hit at rank 1
    assert sc.candidates == [["a", "b", "c", "e", "f"]]
    assert sc.histories == [["a", "b", "c"], ["a", "c"], ["e"]]  # keys, in time order
    assert sc.times == [[1, 2, 3], [1, 2], [1]]
    assert (r.n_users, r.n_skipped_users, r.n_candidates) == (3, 0, 5)
    assert r.n_test_items_not_in_catalogue == 1
    assert r.ks == (1, 2)
    m = r.metrics
    assert m["HR@1"] == pytest.approx(1 / 3)  # u2 only
    assert m["HR@2"] == pytest.approx(2 / 3)  # u2 and u3
    assert m["Recall@2"] == pytest.approx(2 / 3)  # one test item each: = HR
    assert m["NDCG@2"] == pytest.approx((0 + 1 + 1 / L3) / 3)
    assert m["MRR@2"] == pytest.approx((0 + 1 + 1 / 2) / 3)
    assert m["Coverage@1"] == pytest.approx(2 / 5)  # {f, b}
    assert m["Coverage@2"] == pytest.approx(4 / 5)  # {f, e, b, a}
    assert r.user_keys.tolist() == ["u1", "u2", "u3"]
    assert r.per_user["MRR@2"].tolist() == [0.0, 1.0, 0.5]
    # one test event per user: event-level accuracy equals HR
    assert m["Accuracy@2"] == pytest.approx(2 / 3) and m["Accuracy@1"] == pytest.approx(1 / 3)
    assert r.test_events.tolist() == [1, 1, 1] and r.n_test_events == 3
    assert list(m) == [
        *("HR@1", "Recall@1", "NDCG@1", "MRR@1", "Accuracy@1", "Coverage@1"),
        *("HR@2", "Recall@2", "NDCG@2", "MRR@2", "Accuracy@2", "Coverage@2"),
    ]


def test_exclude_seen_masks_training_items():
    s = _split()
    # the scorer prefers items the users have already seen
    sc = TableScorer({"a": 9.0, "c": 8.0, "e": 7.0, "b": 5.0, "f": 0.0})
    r = evaluate(sc, s.train, s.test, ks=(1,))
    # u1 (a b c seen) -> e: miss; u2 (a c seen) -> e: miss; u3 (e seen) -> a: hit
    assert r.per_user["HR@1"].tolist() == [0.0, 0.0, 1.0]
    kept = evaluate(sc, s.train, s.test, ks=(1,), exclude_seen=False)
    # a comes first for everyone: only u3 (test a) hits
    assert kept.per_user["HR@1"].tolist() == [0.0, 0.0, 1.0]
    assert kept.metrics["Coverage@1"] == pytest.approx(1 / 5)  # {a}
    assert r.metrics["Coverage@1"] == pytest.approx(2 / 5)  # {e, a}
    # a user who has seen the whole catalogue gets no recommendation at all
    log = Interactions.from_arrays(["u", "u", "u", "v"], ["a", "b", "a", "b"], [1, 2, 3, 1])
    s2 = leave_last_out(log, n_valid=0)
    r2 = evaluate(TableScorer({"a": 1.0, "b": 2.0}), s2.train, s2.test, ks=(1,))
    assert r2.metrics["HR@1"] == 0.0 and r2.metrics["Coverage@1"] == 0.0
    r3 = evaluate(TableScorer({"a": 1.0, "b": 0.0}), s2.train, s2.test, exclude_seen=False)
    assert r3.metrics["HR@10"] == 1.0  # re-consumption is allowed when asked


def test_items_absent_from_training_are_never_candidates():
    s = _split()
    # a scorer that would love "d" never sees it: d has no training event
    sc = TableScorer({"d": 100.0, "a": 1.0})
    r = evaluate(sc, s.train, s.test, ks=(10,))
    assert all("d" not in c for c in sc.candidates)
    assert r.per_user["HR@10"][0] == 0.0  # u1's only test item is d
    assert r.n_test_items_not_in_catalogue == 1
    # -inf means "cannot score": only a is ever recommended (to u3; u1 and u2 saw it)
    assert r.per_user["HR@10"].tolist() == [0.0, 0.0, 1.0]
    assert r.metrics["Coverage@10"] == pytest.approx(1 / 5)


def test_users_without_history_are_skipped_and_counted():
    # v's only event is after the cut: a test user without a training event
    log = Interactions.from_arrays(["u", "u", "w", "w", "v"], ["a", "b", "a", "c", "c"])
    s = temporal_split(log, test_fraction=0.4, valid_fraction=0.0)
    assert sorted(s.test.user_keys[s.test.user].tolist()) == ["v", "w"]
    r = evaluate(Popularity().fit(s.train), s.train, s.test, ks=(1,))
    assert (r.n_users, r.n_skipped_users) == (1, 1)
    assert r.user_keys.tolist() == ["w"]
    # restricting to the skipped user leaves nobody: a clear error
    with pytest.raises(ValueError, match="no user has both training and test events"):
        evaluate(Popularity().fit(s.train), s.train, s.test, users=["v"])


def test_users_argument():
    s = _split()
    sc = TableScorer({"b": 5.0, "a": 4.0})
    r = evaluate(sc, s.train, s.test, users=["u3", "u4"])
    assert r.user_keys.tolist() == ["u3"]  # u4 has no test event
    with pytest.raises(KeyError, match=r"\['nobody'\]"):
        evaluate(sc, s.train, s.test, users=["u1", "nobody"])


def test_popularity_ranks_the_most_popular_unseen_item_first():
    # 5 "fan" users saw hot then warm; the 4 test users saw one cold item, then hot
    fans = [(f"f{i}", it) for i in range(5) for it in ("hot", "warm")]
    testers = [(f"t{i}", it) for i in range(4) for it in (f"cold{i}", "hot")]
    users, items = zip(*(fans + testers), strict=True)
    log = Interactions.from_arrays(users, items)
    s = leave_last_out(log, n_valid=0, min_train=1)
    # fans: 2 events -> train hot, test warm; testers: train cold_i, test hot
    # training counts: hot 5, cold_i 1, warm 0 (all warm events are tests)
    r = evaluate(Popularity().fit(s.train), s.train, s.test, ks=(1,))
    # testers: hot first -> hit.  fans: saw hot; warm is not in the catalogue -> miss
    assert r.n_users == 9
    assert r.per_user["HR@1"].tolist() == [0.0] * 5 + [1.0] * 4
    assert r.n_test_items_not_in_catalogue == 5
    assert r.metrics["MRR@1"] == pytest.approx(4 / 9)
    rnd = evaluate(RandomScorer(0), s.train, s.test, ks=(1,))
    assert rnd.metrics["HR@1"] < r.metrics["HR@1"]


def test_popularity_beats_random_on_a_skewed_log():
    rng = np.random.default_rng(0)
    items = rng.zipf(1.5, size=20000) % 200
    users = rng.integers(0, 500, size=20000)
    log = Interactions.from_arrays(users, items, rng.random(20000))
    s = leave_last_out(log, n_valid=0)
    pop = evaluate(Popularity().fit(s.train), s.train, s.test, ks=(10,))
    rnd = evaluate(RandomScorer(0), s.train, s.test, ks=(10,))
    assert pop.metrics["HR@10"] > 3 * rnd.metrics["HR@10"]


def test_batch_size_does_not_change_the_result():
    rng = np.random.default_rng(2)
    log = Interactions.from_arrays(rng.integers(0, 40, 600), rng.integers(0, 30, 600))
    s = leave_last_out(log)
    pop = Popularity().fit(s.train_full)
    a = evaluate(pop, s.train_full, s.test, ks=(5, 10), batch_size=1)
    b = evaluate(pop, s.train_full, s.test, ks=(5, 10), batch_size=7)
    c = evaluate(pop, s.train_full, s.test, ks=(5, 10))
    assert a.metrics == b.metrics == c.metrics
    for name in a.per_user:
        assert np.array_equal(a.per_user[name], c.per_user[name])


def test_random_scorer_is_reproducible():
    cands = np.arange(50)
    a = RandomScorer(7).score([[1], [2]], cands)
    b = RandomScorer(7).score([[1], [2]], cands)
    assert a.dtype == np.float32 and a.shape == (2, 50)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, RandomScorer(8).score([[1], [2]], cands))
    with pytest.raises(ValueError, match="seed=-1 is invalid"):
        RandomScorer(-1)


def test_random_baseline_hits_at_chance():
    """Random scores rank the held-out item uniformly among the m unseen candidates, so
    HR@K = K / m and MRR@K = H_K / m (H_K the K-th harmonic number), per user independently.

    Tolerance: 4 standard errors of the mean over 4000 users (a false failure about once in
    16000 seeds; the seed is fixed, so the test is deterministic).
    """
    n_users, n_items, k = 4000, 400, 10
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(n_users), 2)
    items = np.concatenate([rng.choice(n_items, 2, replace=False) for _ in range(n_users)])
    # one extra user who saw every item, so the catalogue is all 400 items
    users = np.concatenate([users, np.full(n_items + 1, -1)])
    items = np.concatenate([items, np.arange(n_items), [0]])
    log = Interactions.from_arrays(users, items)
    s = leave_last_out(log, n_valid=0)
    r = evaluate(RandomScorer(5), s.train, s.test, ks=(k,), users=list(range(n_users)))
    m = n_items - 1  # each user has seen one item, distinct from their test item
    assert r.n_candidates == n_items
    for name, expected in (
        ("HR@10", k / m),
        ("MRR@10", sum(1 / j for j in range(1, k + 1)) / m),
    ):
        se = r.per_user[name].std(ddof=1) / np.sqrt(r.n_users)
        assert abs(r.metrics[name] - expected) < 4 * se, (name, r.metrics[name], expected)
    again = evaluate(RandomScorer(5), s.train, s.test, ks=(k,), users=list(range(n_users)))
    assert again.metrics == r.metrics


def test_top_k_exact_breaks_ties_by_index():
    scores = np.array([[1, 3, 3, 3, 0], [-np.inf, 2, -np.inf, 2, 2]], dtype=np.float32)
    assert top_k_exact(scores, 2).tolist() == [[1, 2], [1, 3]]
    assert top_k_exact(scores, 5)[1].tolist() == [1, 3, 4, -1, -1]
    assert top_k_exact(scores, 9).shape == (2, 5)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda m: st.lists(
            st.lists(st.sampled_from([-np.inf, 0.0, 1.0, 2.0, np.inf]), min_size=m, max_size=m),
            min_size=1,
            max_size=5,
        )
    ),
    st.integers(1, 8),
)
def test_top_k_exact_matches_a_stable_sort(rows, k):
    scores = np.array(rows, dtype=np.float32)
    got = top_k_exact(scores, k)
    for row, out in zip(scores, got, strict=True):
        order = sorted(range(row.size), key=lambda j: (-row[j], j))[: min(k, row.size)]
        assert out.tolist() == [j if row[j] > -np.inf else -1 for j in order]


def test_result_reports():
    s = _split()
    sc = TableScorer({"d": 9.0, "b": 5.0, "a": 4.0, "c": 3.0, "f": 2.0, "e": 1.0})
    r = evaluate(sc, s.train, s.test, ks=(1, 2))
    d = json.loads(json.dumps(r.to_dict()))
    assert d["metrics"]["HR@2"] == pytest.approx(2 / 3)
    assert d["n_users"] == 3 and d["n_test_items_not_in_catalogue"] == 1
    # per-user HR@2 = (0, 1, 1): std 0.577 -> 1.96 * 0.577 / sqrt(3) = 0.653
    assert d["ci95"]["HR@2"] == pytest.approx(1.96 * np.std([0, 1, 1], ddof=1) / np.sqrt(3))
    table = r.table()
    assert "HR@2" in table and "0.6667" in table and "skipped users" in table
    pop = evaluate(Popularity().fit(s.train), s.train, s.test, ks=(1,))
    both = compare({"table": r, "popularity": pop})
    head, *rows = both.splitlines()
    assert head.split() == ["metric", "table", "popularity"]
    assert [row.split()[-1] for row in rows if row.startswith("HR@2")] == ["-"]
    assert isinstance(r, EvalResult)
    with pytest.raises(ValueError, match="results is empty"):
        compare({})


def test_bad_input_is_named():
    s = _split()

    class WrongShape:
        def score(self, histories, candidates, *, times=None):
            return np.zeros((len(histories), 2), np.float32)

    with pytest.raises(ValueError, match=r"returned shape \(3, 2\); expected .* = \(3, 5\)"):
        evaluate(WrongShape(), s.train, s.test)

    class Nan:
        def score(self, histories, candidates, *, times=None):
            return np.full((len(histories), len(candidates)), np.nan, np.float32)

    with pytest.raises(ValueError, match="NaN scores; return -inf"):
        evaluate(Nan(), s.train, s.test)
    pop = Popularity().fit(s.train)
    with pytest.raises(ValueError, match="k=0 is invalid"):
        evaluate(pop, s.train, s.test, ks=(0,))
    with pytest.raises(ValueError, match=r"use ks=\(10,\)"):
        evaluate(pop, s.train, s.test, ks=10)
    with pytest.raises(ValueError, match="ks is empty"):
        evaluate(pop, s.train, s.test, ks=())
    with pytest.raises(ValueError, match="batch_size=0 is invalid"):
        evaluate(pop, s.train, s.test, batch_size=0)
    with pytest.raises(TypeError, match="has no score"):
        evaluate(object(), s.train, s.test)
    other = Interactions.from_arrays(["u1"], ["zzz"])
    with pytest.raises(ValueError, match="different item key tables"):
        evaluate(pop, s.train, other)
    with pytest.raises(RuntimeError, match="not fitted"):
        evaluate(Popularity(), s.train, s.test)
    empty = s.train.subset(np.zeros(len(s.train), bool))
    with pytest.raises(ValueError, match="no catalogue"):
        evaluate(pop, empty, s.test)

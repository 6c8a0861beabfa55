"""The evaluation protocol: known answers, exclusion, catalogue, baselines."""

import numpy as np
import pytest

from embedrec.data.interactions import Interactions
from embedrec.eval import Popularity, RandomScorer, evaluate, leave_last_out
from embedrec.eval.evaluate import top_k_exact


class FixedScorer:
    """Scores candidates by a fixed table key -> score, the same for every user."""

    def __init__(self, table):
        self.table = table
        self.seen_histories = []

    def score(self, histories, candidates, *, times=None):
        self.seen_histories += [list(h) for h in histories]
        row = np.array([self.table.get(c, -np.inf) for c in candidates.tolist()], np.float32)
        return np.tile(row, (len(histories), 1))


def _split():
    """Train: u1 a, b, c; u2 a, c; u3 d, e. Test: u1 d; u2 b."""
    log = Interactions.from_arrays(
        ["u1", "u1", "u1", "u2", "u2", "u3", "u3", "u1", "u2"],
        ["a", "b", "c", "a", "c", "d", "e", "d", "b"],
        [1, 2, 3, 1, 2, 1, 2, 9, 9],
    )
    test = log.time == 9
    return log.subset(~test), log.subset(test)


def test_known_answer():
    train, test = _split()
    # order d > b > a > c > e. u1 has seen a, b, c -> ranking d, e: its test d at rank 0.
    # u2 has seen a, c -> ranking d, b, e: its test b at rank 1 -> NDCG 1/log2(3), MRR 1/2.
    sc = FixedScorer({"d": 5.0, "b": 4.0, "a": 3.0, "c": 2.0, "e": 1.0})
    r = evaluate(sc, train, test, ks=(1, 2))
    assert r.n_users == 2 and r.n_skipped_users == 0 and r.n_candidates == 5
    assert r.metrics["HR@1"] == 0.5
    assert r.metrics["HR@2"] == 1.0
    assert r.metrics["NDCG@2"] == pytest.approx((1 + 1 / np.log2(3)) / 2)
    assert r.metrics["MRR@2"] == pytest.approx(0.75)
    assert r.metrics["Coverage@1"] == pytest.approx(1 / 5)  # d for both
    assert r.metrics["Coverage@2"] == pytest.approx(3 / 5)  # d, e, b
    # histories arrive in time order, as keys
    assert sc.seen_histories == [["a", "b", "c"], ["a", "c"]]


def test_exclude_seen_and_catalogue():
    train, test = _split()
    # the scorer loves a (seen by both users) and an item that is not in the catalogue
    sc = FixedScorer({"a": 9.0, "zzz": 99.0, "b": 1.0, "d": 0.5})
    r = evaluate(sc, train, test, ks=(1,))
    assert r.metrics["HR@1"] == 1.0  # u1: a, b seen -> d; u2: a seen -> b
    kept = evaluate(sc, train, test, ks=(1,), exclude_seen=False)
    assert kept.metrics["HR@1"] == 0.0  # a comes first for everyone


def test_items_only_in_test_are_counted_and_never_hit():
    log = Interactions.from_arrays(
        ["u", "u", "v", "v", "v"], ["a", "b", "b", "a", "new"], [1, 2, 1, 2, 3]
    )
    s = leave_last_out(log, n_valid=0)  # tests: u -> b, v -> new; catalogue {a, b}
    r = evaluate(Popularity().fit(s.train), s.train, s.test, ks=(10,))
    assert r.n_test_items_not_in_catalogue == 1
    assert r.metrics["HR@10"] == 0.5  # u hits b; v's "new" can never be recommended


def test_users_without_history_are_skipped_and_counted():
    log = Interactions.from_arrays(["u", "u", "v"], ["a", "b", "c"], [1, 2, 1])
    train = log.subset(np.array([True, False, False]))
    test = log.subset(np.array([False, True, True]))
    r = evaluate(Popularity().fit(train), train, test, ks=(1,))
    assert r.n_users == 1 and r.n_skipped_users == 1


def test_popularity_wins_on_a_popularity_log():
    rng = np.random.default_rng(0)
    items = rng.zipf(1.5, size=20000) % 200
    users = rng.integers(0, 500, size=20000)
    log = Interactions.from_arrays(users, items, rng.random(20000))
    s = leave_last_out(log, n_valid=0)
    pop = evaluate(Popularity().fit(s.train), s.train, s.test, ks=(10,))
    rnd = evaluate(RandomScorer(0), s.train, s.test, ks=(10,))
    assert pop.metrics["HR@10"] > 3 * rnd.metrics["HR@10"]


def test_random_baseline_hits_at_chance():
    """HR@K of random scores over m unseen candidates is K/m (one test item per user)."""
    n_users, n_items = 2000, 400
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(n_users), 2)
    items = np.concatenate([rng.choice(n_items, 2, replace=False) for _ in range(n_users)])
    # make every item appear in training: one extra user who saw everything
    users = np.concatenate([users, np.full(n_items, -1), [-1]])
    items = np.concatenate([items, np.arange(n_items), [0]])
    log = Interactions.from_arrays(users, items, np.arange(users.size, dtype=float))
    s = leave_last_out(log, n_valid=0)
    r = evaluate(RandomScorer(5), s.train, s.test, ks=(10,), users=list(range(n_users)))
    expected = 10 / (n_items - 1)  # each user has seen one item
    se = np.sqrt(expected * (1 - expected) / n_users)
    assert abs(r.metrics["HR@10"] - expected) < 4 * se
    again = evaluate(RandomScorer(5), s.train, s.test, ks=(10,), users=list(range(n_users)))
    assert again.metrics == r.metrics


def test_top_k_exact_breaks_ties_by_index():
    scores = np.array([[1, 3, 3, 3, 0], [-np.inf, 2, -np.inf, 2, 2]], dtype=np.float32)
    assert top_k_exact(scores, 2).tolist() == [[1, 2], [1, 3]]
    assert top_k_exact(scores, 5)[1].tolist() == [1, 3, 4, -1, -1]


def test_bad_scorer_output():
    train, test = _split()

    class Bad:
        def score(self, histories, candidates, *, times=None):
            return np.zeros((len(histories), 2), np.float32)

    with pytest.raises(ValueError, match=r"returned shape \(2, 2\); expected"):
        evaluate(Bad(), train, test)

    class Nan:
        def score(self, histories, candidates, *, times=None):
            return np.full((len(histories), len(candidates)), np.nan, np.float32)

    with pytest.raises(ValueError, match="NaN"):
        evaluate(Nan(), train, test)
    with pytest.raises(ValueError, match="k=0 is invalid"):
        evaluate(Popularity().fit(train), train, test, ks=(0,))

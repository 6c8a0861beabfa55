"""Event-level top-K accuracy (TFRS ``factorized_top_k/top_K_categorical_accuracy``): known
answers, micro vs per-user averaging, repeats and train/test overlap, its interval, and a
brute-force check under the TFRS protocol (random 80/20 holdout, seen items not excluded)."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedrec.data.interactions import Interactions
from embedrec.eval import evaluate, random_holdout
from embedrec.eval.metrics import event_ranks


class TableScorer:
    """The same fixed key -> score table for every user."""

    def __init__(self, table):
        self.table = table

    def score(self, histories, candidates, *, times=None, users=None):
        row = np.array([self.table.get(c, -np.inf) for c in candidates.tolist()], np.float32)
        return np.tile(row, (len(histories), 1))


def _log(events):
    """(user, item, is_test) triples -> (train, test) sharing one set of key tables."""
    users, items, is_test = zip(*events, strict=True)
    log = Interactions.from_arrays(users, items, np.arange(len(users), dtype=np.float64))
    # rows are sorted by (user, time) and times follow the input order: the mask lines up
    mask = np.array(is_test)[np.lexsort((np.arange(len(users)), np.array(users)))]
    return log.subset(~mask), log.subset(mask)


def _three_users():
    # train: u1 {a, c}, u2 {b, d}, u3 {e}  -> catalogue a b c d e
    # test:  u1: a (1 event), u2: a c e (3 events), u3: b a c d (4 events)
    return _log(
        [
            ("u1", "a", False),
            ("u1", "c", False),
            ("u1", "a", True),
            ("u2", "b", False),
            ("u2", "d", False),
            ("u2", "a", True),
            ("u2", "c", True),
            ("u2", "e", True),
            ("u3", "e", False),
            ("u3", "b", True),
            ("u3", "a", True),
            ("u3", "c", True),
            ("u3", "d", True),
        ]
    )


SCORES = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 2.0, "e": 1.0}


def test_accuracy_is_micro_averaged_over_events():
    train, test = _three_users()
    r = evaluate(TableScorer(SCORES), train, test, ks=(1, 2), exclude_seen=False)
    # seen items kept: everyone's list is a, b, c, ...
    # K=2 (top a b): u1 a -> 1/1 hit; u2 a c e -> 1/3; u3 b a c d -> 2/4
    #   micro: (1 + 1 + 2) / (1 + 3 + 4) = 4/8 = 0.5
    #   per-user mean would be (1 + 1/3 + 1/2) / 3 = 11/18 = 0.611 (not what TFRS reports)
    # K=1 (top a): 1 + 1 + 1 hits of 8 events = 3/8
    m = r.metrics
    assert m["Accuracy@2"] == pytest.approx(4 / 8)
    assert m["Accuracy@1"] == pytest.approx(3 / 8)
    assert r.test_events.tolist() == [1, 3, 4] and r.n_test_events == 8
    # the per-user metrics weigh users equally: HR@2 = 1 for all; Recall@2 = hits /
    # min(|R_u|, 2) = 1/1, 1/2, 2/2 -> 5/6
    assert m["HR@2"] == 1.0
    assert m["Recall@2"] == pytest.approx(5 / 6)
    # linearised rows A + (h_u - A n_u) / mean(n), A = 0.5, mean(n) = 8/3:
    #   u1: 0.5 + (1 - 0.5) * 3/8 = 0.6875; u2: 0.5 + (1 - 1.5) * 3/8 = 0.3125; u3: 0.5
    np.testing.assert_allclose(r.per_user["Accuracy@2"], [0.6875, 0.3125, 0.5], rtol=1e-12)
    assert r.per_user["Accuracy@2"].mean() == pytest.approx(m["Accuracy@2"], rel=1e-12)


def test_accuracy_interval_is_the_clustered_ratio_interval():
    train, test = _three_users()
    r = evaluate(TableScorer(SCORES), train, test, ks=(2,), exclude_seen=False)
    # residuals h_u - A n_u = 0.5, -0.5, 0: sum of squares 0.5, / (U - 1) = 0.25, sqrt 0.5;
    # half-width 1.96 * 0.5 / (mean(n) * sqrt(U)) = 1.96 * 0.5 / (8/3 * sqrt 3) = 0.21218
    expected = 1.96 * 0.5 / (8 / 3 * np.sqrt(3))
    ci = r.ci95()
    assert ci["Accuracy@2"] == pytest.approx(expected, rel=1e-12)
    assert ci["Accuracy@2"] == pytest.approx(0.21218, abs=1e-5)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["metrics"]["Accuracy@2"] == 0.5
    assert d["ci95"]["Accuracy@2"] == pytest.approx(expected, rel=1e-12)
    assert d["n_test_events"] == 8
    rows = {line.split()[0]: line.split()[-1] for line in r.table().splitlines()}
    assert rows["Accuracy@2"] == "0.5000"
    assert "test events" in r.table() and r.table().splitlines()[-2].split()[-1] == "8"


def test_repeated_test_events_and_test_items_seen_in_training():
    # u1 train a b, test a (a repeat of a training event) and c twice (a repeated test event)
    # u2 train c, test b.  Catalogue a b c; scores a 3 > b 2 > c 1.
    train, test = _log(
        [
            ("u1", "a", False),
            ("u1", "b", False),
            ("u1", "a", True),
            ("u1", "c", True),
            ("u1", "c", True),
            ("u2", "c", False),
            ("u2", "b", True),
        ]
    )
    sc = TableScorer({"a": 3.0, "b": 2.0, "c": 1.0})
    kept = evaluate(sc, train, test, ks=(1, 2), exclude_seen=False)
    # seen kept (TFRS): everyone's list is a, b, c.
    #   K=1: u1 events a (hit), c, c -> 1 of 3; u2 b -> 0.  4 events: 1/4
    #   K=2: u1 a hit, c c miss -> 1; u2 b hit -> 1.  2/4
    assert kept.test_events.tolist() == [3, 1]
    assert kept.metrics["Accuracy@1"] == pytest.approx(1 / 4)
    assert kept.metrics["Accuracy@2"] == pytest.approx(2 / 4)
    # HR counts distinct relevant items: u1 R = {a, c} hit at K=1, u2 {b} miss -> 1/2
    assert kept.metrics["HR@1"] == pytest.approx(1 / 2)
    excluded = evaluate(sc, train, test, ks=(1, 2), exclude_seen=True)
    # seen masked: u1 (saw a b) gets only c; u2 (saw c) gets a, b
    #   the test event a of u1 is masked: a miss at every K, whatever the model does
    #   K=1: u1 c, c hit (2 of 3), u2 b miss -> 2/4;  K=2: u1 2 of 3, u2 b hit -> 3/4
    assert excluded.metrics["Accuracy@1"] == pytest.approx(2 / 4)
    assert excluded.metrics["Accuracy@2"] == pytest.approx(3 / 4)


def test_test_items_outside_the_catalogue_and_skipped_users():
    # z has no training event: u1's test event z is a miss that counts in the denominator;
    # u3 has no training event: skipped, its events count nowhere
    train, test = _log(
        [
            ("u1", "a", False),
            ("u1", "a", True),
            ("u1", "z", True),
            ("u2", "b", False),
            ("u2", "a", True),
            ("u3", "a", True),
        ]
    )
    r = evaluate(TableScorer({"a": 1.0, "b": 0.0}), train, test, ks=(1,), exclude_seen=False)
    # u1: a hit, z miss; u2: a hit -> 2/3
    assert (r.n_users, r.n_skipped_users, r.n_test_events) == (2, 1, 3)
    assert r.metrics["Accuracy@1"] == pytest.approx(2 / 3)


def test_event_ranks_known_answer_and_errors():
    top = [[2, 0, -1], [1, 3, 0]]
    # user 0: item 2 at 0, item 0 at 1, item 1 absent -> width 3
    # user 1: item 0 at 2, item 3 at 1 (twice: repeats are repeated)
    got = event_ranks(top, [0, 0, 0, 1, 1, 1], [2, 0, 1, 0, 3, 3])
    assert got.tolist() == [0, 1, 3, 2, 1, 1]
    assert event_ranks([[-1, -1]], [0], [0]).tolist() == [2]
    assert event_ranks(np.zeros((2, 0), np.int64), [1], [0]).tolist() == [0]
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        event_ranks(top, [2], [0])
    with pytest.raises(ValueError, match="negative codes"):
        event_ranks(top, [0], [-1])
    with pytest.raises(ValueError, match="one entry per event"):
        event_ranks(top, [0, 1], [0])


class MatrixScorer:
    """A user-ID model: score of (user, item) is a fixed table entry (distinct per row)."""

    def __init__(self, scores, user_keys, item_keys):
        self.scores = scores
        self.user_row = {k: j for j, k in enumerate(user_keys.tolist())}
        self.item_col = {k: j for j, k in enumerate(item_keys.tolist())}

    def score(self, histories, candidates, *, times=None, users=None):
        rows = [self.user_row[u] for u in np.asarray(users).tolist()]
        cols = [self.item_col[c] for c in candidates.tolist()]
        return self.scores[np.ix_(rows, cols)]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    exclude_seen=st.booleans(),
    k=st.integers(1, 12),
    batch_size=st.integers(1, 9),
)
def test_accuracy_matches_a_brute_force_loop_under_the_tfrs_split(
    seed, exclude_seen, k, batch_size
):
    rng = np.random.default_rng(seed)
    n_users, n_items, n_events = 15, 12, 160
    # repeats of (user, item) happen (160 events over 180 pairs), as in real logs
    log = Interactions.from_arrays(
        rng.integers(0, n_users, n_events), rng.integers(0, n_items, n_events)
    )
    s = random_holdout(log, test_fraction=0.2, seed=seed)
    table = np.stack([rng.permutation(n_items) for _ in range(log.n_users)]).astype(np.float32)
    sc = MatrixScorer(table, log.user_keys, log.item_keys)
    r = evaluate(sc, s.train, s.test, ks=(k,), exclude_seen=exclude_seen, batch_size=batch_size)

    catalogue = np.flatnonzero(s.train.item_counts() > 0)
    hits = events = 0
    for u in range(log.n_users):
        seen = set(s.train.item[s.train.user == u].tolist())
        tests = s.test.item[s.test.user == u].tolist()
        if not seen or not tests:
            continue
        ranked = sorted(catalogue.tolist(), key=lambda i: -table[u, i])
        if exclude_seen:
            ranked = [i for i in ranked if i not in seen]
        top = set(ranked[:k])
        hits += sum(i in top for i in tests)
        events += len(tests)
    assert r.n_test_events == events
    assert r.metrics[f"Accuracy@{k}"] == pytest.approx(hits / events, rel=1e-12)

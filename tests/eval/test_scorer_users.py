"""The ``users=`` argument of the Scorer protocol: passed aligned with the histories, in every
batch, to scorers that declare it; old-style scorers without it keep working."""

import inspect

import numpy as np
import pytest

from embedrec.data.interactions import Interactions
from embedrec.eval import Popularity, RandomScorer, evaluate, leave_last_out
from embedrec.models.item2vec import Item2Vec


def _split():
    # u1: a b | c    u2: b | a    u3: c a | b    u4: a | c   (leave-last-out: last event is test)
    log = Interactions.from_arrays(
        ["u1", "u1", "u1", "u2", "u2", "u3", "u3", "u3", "u4", "u4"],
        ["a", "b", "c", "b", "a", "c", "a", "b", "a", "c"],
        [1, 2, 3, 1, 2, 1, 2, 3, 1, 2],
    )
    return leave_last_out(log, n_valid=0)


class FavouriteScorer:
    """A user-ID model: each user's favourite item scores 1, everything else 0. It can only
    work when it is told whose history it scores."""

    def __init__(self, favourite):
        self.favourite = favourite
        self.calls = []

    def score(self, histories, candidates, *, times=None, users=None):
        assert users is not None, "evaluate must pass users="
        self.calls.append(([list(h) for h in histories], list(users)))
        cands = candidates.tolist()
        return np.array(
            [[1.0 if c == self.favourite[u] else 0.0 for c in cands] for u in users],
            dtype=np.float32,
        )


def test_users_are_passed_aligned_with_histories_in_every_batch():
    s = _split()
    sc = FavouriteScorer({"u1": "c", "u2": "b", "u3": "b", "u4": "b"})
    r = evaluate(sc, s.train, s.test, ks=(1,), batch_size=3)
    # 4 users in batches of 3 and 1; each user key sits next to that user's own history
    assert [len(users) for _, users in sc.calls] == [3, 1]
    histories = [h for hs, _ in sc.calls for h in hs]
    users = [u for _, us in sc.calls for u in us]
    assert users == ["u1", "u2", "u3", "u4"]
    assert histories == [["a", "b"], ["b"], ["c", "a"], ["a"]]
    # catalogue a b c; seen items masked, then the favourite (score 1) wins, ties by order:
    #   u1 fav c -> c = test c: hit     u2 fav b (seen) -> a = test a: hit
    #   u3 fav b -> b = test b: hit     u4 fav b -> b, test c: miss
    assert r.per_user["HR@1"].tolist() == [1.0, 1.0, 1.0, 0.0]


def test_old_style_scorer_without_users_still_works():
    s = _split()

    class Old:
        def __init__(self):
            self.n_calls = 0

        def score(self, histories, candidates, *, times=None):  # written before users=
            self.n_calls += 1
            return Popularity().fit(s.train).score(histories, candidates)

    old = Old()
    r_old = evaluate(old, s.train, s.test, ks=(1, 2))
    r_new = evaluate(Popularity().fit(s.train), s.train, s.test, ks=(1, 2))
    assert old.n_calls == 1
    assert r_old.metrics == r_new.metrics


def test_kwargs_and_positional_users_parameters_receive_users():
    s = _split()
    seen = {}

    class Kwargs:
        def score(self, histories, candidates, **kwargs):
            seen["kwargs"] = (sorted(kwargs), list(kwargs["users"]))
            return np.zeros((len(histories), len(candidates)), np.float32)

    class Positional:
        def score(self, histories, candidates, times=None, users=None):
            seen["positional"] = list(users)
            return np.zeros((len(histories), len(candidates)), np.float32)

    evaluate(Kwargs(), s.train, s.test)
    evaluate(Positional(), s.train, s.test)
    assert seen["kwargs"] == (["times", "users"], ["u1", "u2", "u3", "u4"])
    assert seen["positional"] == ["u1", "u2", "u3", "u4"]


def test_users_follow_the_users_restriction():
    s = _split()
    sc = FavouriteScorer({"u2": "b", "u4": "c"})
    r = evaluate(sc, s.train, s.test, ks=(1,), users=["u4", "u2"])
    assert sc.calls[0][1] == ["u2", "u4"]  # code order, aligned with r.user_keys
    assert r.user_keys.tolist() == ["u2", "u4"]
    # u2: fav b seen -> a = test a: hit; u4: fav c = test c: hit
    assert r.per_user["HR@1"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("cls", [Popularity, RandomScorer, Item2Vec])
def test_library_scorers_accept_users_keyword(cls):
    param = inspect.signature(cls.score).parameters["users"]
    assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is None


def test_baselines_ignore_users():
    s = _split()
    pop = Popularity().fit(s.train)
    cands = s.train.item_keys
    assert np.array_equal(
        pop.score([["a"], ["b"]], cands, users=["u1", "u2"]), pop.score([["a"], ["b"]], cands)
    )
    a = RandomScorer(4).score([["a"]], cands, users=["u1"])
    assert np.array_equal(a, RandomScorer(4).score([["a"]], cands))

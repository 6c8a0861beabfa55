"""tune_item2vec: trial 0 is the base config, the best is never worse on validation."""

import json

import numpy as np
import pytest

from embedrec.data.interactions import Interactions
from embedrec.models import Item2VecConfig
from embedrec.tune import metric_k, sample_users, tune_item2vec


def _log(n_users=200, seed=0):
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for u in range(n_users):
        c = u % 4
        for t, j in enumerate(rng.choice(12, size=6, replace=False)):
            users.append(u)
            items.append(f"c{c}_{j}")
            times.append(float(t))
    return Interactions.from_arrays(users, items, times)


def test_trials_and_best():
    base = Item2VecConfig(dim=8, epochs=5, workers=1)
    space = {"window": (1, 2, 3), "ns_exponent": (0.0, 0.75), "epochs": (2, 5)}
    res = tune_item2vec(
        _log(),
        base=base,
        space=space,
        max_trials=4,
        budget_seconds=120,
        metric="HR@5",
        progress=False,
    )
    assert len(res.trials) == 4
    assert res.trials[0]["params"] == {k: getattr(base, k) for k in space}
    best = max(t["metrics"]["HR@5"] for t in res.trials)
    assert res.best["metrics"]["HR@5"] == best >= res.trials[0]["metrics"]["HR@5"]
    for k, v in res.best["params"].items():
        assert getattr(res.best_config, k) == v
    assert res.best_config.dim == 8  # fields outside the space come from base
    json.dumps(res.to_dict())
    assert "HR@5" in res.table()


def test_budget_stops_the_search():
    res = tune_item2vec(
        _log(), base=Item2VecConfig(dim=8, epochs=2, workers=1), budget_seconds=1e-6, progress=False
    )
    assert len(res.trials) == 1  # trial 0 always runs


def test_user_sample_is_seeded():
    log = _log()
    a, b = sample_users(log, 0.25, seed=3), sample_users(log, 0.25, seed=3)
    assert np.array_equal(a.user, b.user)
    assert len(np.unique(a.user)) == 50


def test_bad_arguments():
    with pytest.raises(ValueError, match="metric='F1@10' is invalid"):
        metric_k("F1@10")
    assert metric_k("NDCG@20") == 20
    with pytest.raises(ValueError, match="unknown Item2VecConfig fields"):
        tune_item2vec(_log(), space={"colour": (1,)}, progress=False)
    with pytest.raises(ValueError, match="user_fraction=0 is invalid"):
        sample_users(_log(), 0, seed=0)

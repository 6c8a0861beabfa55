"""tune_session_embed: validation only, the best trial's values, the model it builds."""

import pytest

from embedrec.data.interactions import Interactions
from embedrec.data.synthetic import session_log
from embedrec.models.session_embed import SessionEmbed
from embedrec.tune import SESSION_SCORING, SESSION_SPACE, tune_session_embed


def test_tuning_scores_the_defaults_first_and_builds_the_best_model():
    inter = Interactions.from_arrays(*session_log(500, 40, seed=3))
    sessions = inter.user_keys[inter.user]
    train = inter.subset(sessions < 420)
    valid = inter.subset(sessions >= 420)
    res = tune_session_embed(train, valid, max_trials=2, budget_seconds=1e9, progress=False)
    assert len(res.trials) == 2
    first = res.trials[0]["params"]
    assert first == {
        "dim": 64,
        "window": 3,
        "negative": 10,
        "ns_exponent": 0.5,
        "update_budget": 10_000_000,
    }
    for t in res.trials:
        assert set(t["params"]) == set(SESSION_SPACE)
        assert all(t["scoring"][k] in v for k, v in SESSION_SCORING.items())
    best = max(res.trials, key=lambda t: t["metrics"]["MRR@20"])
    assert res.best_params == best["params"] and res.best_scoring == best["scoring"]
    model = res.model(workers=1)
    assert isinstance(model, SessionEmbed) and model.config.calibrate is False
    assert model.config.temperature == best["scoring"]["temperature"]
    assert model.embedder_config["dim"] == best["params"]["dim"]


def test_bad_metric_and_embedder_arguments_are_refused():
    inter = Interactions.from_arrays(*session_log(50, 10, seed=1))
    with pytest.raises(ValueError, match="metric='AUC' is invalid"):
        tune_session_embed(inter, inter, metric="AUC", max_trials=1)
    with pytest.raises(ValueError, match="not both"):
        SessionEmbed(embedder=object(), embedder_config={"dim": 8})
    with pytest.raises(ValueError, match="update_budget"):
        SessionEmbed(embedder_config={"epochs": 3})

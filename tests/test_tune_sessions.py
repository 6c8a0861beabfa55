"""tune_session_embed: validation only, the best trial's values, the model it builds."""

import numpy as np
import pytest

from embedrec.data.interactions import Interactions
from embedrec.data.synthetic import session_log
from embedrec.models.session_embed import SessionEmbed, SessionEmbedConfig
from embedrec.tune import SESSION_SCORING, SESSION_SPACE, SIGNIFICANCE_Z, tune_session_embed


def test_tuning_scores_the_defaults_first_and_builds_the_best_model():
    inter = Interactions.from_arrays(*session_log(500, 40, seed=3))
    sessions = inter.user_keys[inter.user]
    train = inter.subset(sessions < 420)
    valid = inter.subset(sessions >= 420)
    res = tune_session_embed(
        train,
        valid,
        max_trials=2,
        budget_seconds=1e9,
        progress=False,
        compare_defaults=False,
        final="validation",
    )
    assert len(res.trials) == 2 and res.calibrate is False and res.finals is None
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
    # the re-ranker fitted on validation is kept only where it won on half of it
    # (as plain numbers: the linear weights or the MLP's arrays)
    from embedrec.models.session_rerank import reranker_state

    if res.reranker_weights is None:
        assert model.reranker is None
    else:
        assert reranker_state(model.reranker) == res.reranker_weights


def test_the_reranker_weights_of_a_result_go_into_the_model_it_builds():
    from embedrec.models.session_rerank import FEATURES
    from embedrec.tune import SessionTuneResult

    params = {"dim": 8, "window": 2, "negative": 5, "ns_exponent": 0.5}
    scoring = {"half_life": 1.0, "temperature": 1.0, "transition_weight": 0.3}
    weights = [1.0] + [0.0] * (len(FEATURES) - 1)
    res = SessionTuneResult([], {**params, "update_budget": 10_000}, scoring, "MRR@20", weights)
    model = res.model(workers=1)
    assert model.reranker.weights_.tolist() == weights
    assert model.config.update_budget == 10_000 and model.config.calibrate is False
    inter = Interactions.from_arrays(*session_log(60, 10, seed=2))
    fitted = model.fit(inter)
    assert fitted.reranker_ is model.reranker
    # without weights (rerank=False, or it lost on validation): no re-ranker
    plain = SessionTuneResult([], {**params, "update_budget": 10_000}, scoring, "MRR@20")
    assert plain.model().reranker is None


def test_bad_metric_and_embedder_arguments_are_refused():
    inter = Interactions.from_arrays(*session_log(50, 10, seed=1))
    with pytest.raises(ValueError, match="metric='AUC' is invalid"):
        tune_session_embed(inter, inter, metric="AUC", max_trials=1)
    with pytest.raises(ValueError, match="not both"):
        SessionEmbed(embedder=object(), embedder_config={"dim": 8})
    with pytest.raises(ValueError, match="update_budget"):
        SessionEmbed(embedder_config={"epochs": 3})


def test_an_mlp_reranker_of_a_result_goes_into_the_model_it_builds():
    from embedrec.models.session_rerank import MLPReranker, reranker_state
    from embedrec.tune import SessionTuneResult

    rng = np.random.default_rng(0)
    mlp = MLPReranker(hidden=3)
    mlp.hidden_weights_ = rng.normal(size=mlp.hidden_weights_.shape)
    mlp.output_weights_ = np.array([0.5, -1.0, 2.0])
    state = reranker_state(mlp)
    params = {"dim": 8, "window": 2, "negative": 5, "ns_exponent": 0.5, "update_budget": 10_000}
    scoring = {"half_life": 1.0, "temperature": 1.0, "transition_weight": 0.3}
    model = SessionTuneResult([], params, scoring, "MRR@20", state).model(workers=1)
    assert isinstance(model.reranker, MLPReranker)
    np.testing.assert_array_equal(model.reranker.hidden_weights_, mlp.hidden_weights_)
    np.testing.assert_array_equal(model.reranker.output_weights_, mlp.output_weights_)


def test_a_result_round_trips_through_json_and_bad_ones_are_refused_by_name():
    import json

    from embedrec.models.session_rerank import FEATURES, reranker_state
    from embedrec.tune import SessionTuneResult

    params = {"dim": 8, "window": 2, "negative": 5, "ns_exponent": 0.5, "update_budget": 10_000}
    scoring = {"half_life": 2.0, "temperature": 0.7, "transition_weight": 0.6}
    weights = [1.0] + [0.5] * (len(FEATURES) - 1)
    trial = {"trial": 0, "params": params, "scoring": scoring, "metrics": {"MRR@20": 0.25}}
    res = SessionTuneResult([{**trial, "seconds": 1.5}], params, scoring, "MRR@20", weights)
    back = SessionTuneResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert back == res
    model = back.model(workers=1)
    assert model.config.half_life == 2.0 and model.config.transition_weight == 0.6
    assert reranker_state(model.reranker) == weights
    assert "0.2500" in res.table() and "half_life" in res.table().splitlines()[0]
    with pytest.raises(ValueError, match="not a session tuning result"):
        SessionTuneResult.from_dict({"metric": "MRR@20"})
    bad = res.to_dict()
    del bad["best_scoring"]["temperature"]
    with pytest.raises(ValueError, match="temperature"):
        SessionTuneResult.from_dict(bad)
    bad = {**res.to_dict(), "best_params": {**params, "window": 0}}
    with pytest.raises(ValueError, match="window"):
        SessionTuneResult.from_dict(bad)
    bad = {**res.to_dict(), "best_scoring": {**scoring, "transition_weight": 2.0}}
    with pytest.raises(ValueError, match="transition_weight"):
        SessionTuneResult.from_dict(bad)
    with pytest.raises(ValueError, match="re-save"):
        SessionTuneResult.from_dict({**res.to_dict(), "reranker": [1.0, 2.0]})


@pytest.mark.slow
def test_the_defaults_replace_a_tuned_model_that_does_not_beat_them_on_the_unfitted_half():
    from embedrec.models.session_base import as_sessions
    from embedrec.models.session_embed import check_half
    from embedrec.tune import SessionTuneResult

    inter = Interactions.from_arrays(*session_log(700, 40, seed=4))
    sessions = inter.user_keys[inter.user]
    train, valid = inter.subset(sessions < 560), inter.subset(sessions >= 560)
    res = tune_session_embed(train, valid, max_trials=1, progress=False, final="validation")
    check = res.check
    assert check is not None
    assert check["sessions"] == len(check_half(as_sessions(valid))) == 70
    assert 0 < check["tuned"] < 1 and 0 < check["defaults"] < 1
    assert res.defaults_won == (check["defaults"] >= check["tuned"])
    off = tune_session_embed(
        train, valid, max_trials=1, progress=False, compare_defaults=False, final="validation"
    )
    assert off.check is None and off.defaults_won is False
    # a result whose defaults won builds the defaults: calibrating, its own re-ranker
    won = SessionTuneResult(res.trials, res.best_params, res.best_scoring, "MRR@20", None, True)
    model = won.model(workers=1)
    assert model.config == SessionEmbed().config and model.reranker is None
    assert model.embedder_config == {"workers": 1, "seed": 1}
    assert SessionTuneResult.from_dict(won.to_dict()).defaults_won is True


# ------------------------------------------------------------------ final="pipeline"
DEFAULTS = {"dim": 64, "window": 3, "negative": 10, "ns_exponent": 0.5, "update_budget": 10_000_000}


def _small_split(seed=3):
    inter = Interactions.from_arrays(*session_log(300, 30, seed=seed))
    sessions = inter.user_keys[inter.user]
    return inter.subset(sessions < 250), inter.subset(sessions >= 250)


def _params(model):
    """The searched fields of a SessionEmbed (its embedding and update budget)."""
    return {
        **{k: model.embedder_config[k] for k in SESSION_SPACE if k != "update_budget"},
        "update_budget": model.config.update_budget,
    }


def _planted_scores(monkeypatch, rank_of):
    """evaluate_sessions replaced by planted ranks of the clicked items: every prediction of
    a model gets the rank ``rank_of(its searched fields)`` (an int, or an array of one rank
    per prediction), so which finalist must win is known. Records the models fitted."""
    import dataclasses

    import embedrec.eval.sessions as es

    real = es.evaluate_sessions
    fitted = []

    def fake(model, test, **kw):
        fitted.append(model)
        r = real(model, test, **kw)
        ranks = np.broadcast_to(np.asarray(rank_of(_params(model))), r.ranks.shape).copy()
        mrr = float(es.prediction_values(ranks, "MRR@20").mean())
        return dataclasses.replace(r, ranks=ranks, metrics={**r.metrics, "MRR@20": mrr})

    monkeypatch.setattr(es, "evaluate_sessions", fake)
    return fitted


def _code(params):
    """A different number for each point of SESSION_SPACE (its value indices, base 5)."""
    return sum(list(v).index(params[k]) * 5**i for i, (k, v) in enumerate(SESSION_SPACE.items()))


@pytest.mark.slow
def test_pipeline_finals_fit_the_whole_pipeline_and_the_best_of_them_is_built(monkeypatch):
    train, valid = _small_split()
    # planted ranks of the whole pipeline: one for each embedding, all better than the
    # defaults' on every prediction (so the gain is far beyond the noise)
    # (ranks within the top 20 that MRR@20 counts; two finalists may share one: the first of
    # equals wins, in the code as in max() below)
    rank = lambda p: 20 if p == DEFAULTS else 1 + _code(p) % 18  # noqa: E731
    figure = lambda p: 1 / rank(p)  # noqa: E731
    fitted = _planted_scores(monkeypatch, rank)
    res = tune_session_embed(
        train, valid, max_trials=4, budget_seconds=1e9, progress=False, finalists=2
    )
    # the finalists: the two best trials of the search (by the bare mixture) other than the
    # defaults, then the defaults
    ranked = [t["params"] for t in sorted(res.trials, key=lambda t: -t["metrics"]["MRR@20"])]
    expect = [*[p for p in ranked if p != DEFAULTS][:2], DEFAULTS]
    assert [f["params"] for f in res.finals] == expect
    assert [f["defaults"] for f in res.finals] == [False, False, True]
    assert [f["MRR@20"] for f in res.finals] == pytest.approx([figure(p) for p in expect])
    # each final is the self-calibrating pipeline with that trial's embedding
    assert [_params(m) for m in fitted] == expect
    assert all(m.config.calibrate and m.config.rerank for m in fitted)
    # the best final is the result
    best = max(expect[:2], key=figure)
    assert res.best_params == best and res.defaults_won is False
    assert res.best_scoring == next(t["scoring"] for t in res.trials if t["params"] == best)
    n_valid = float(len(set(valid.user.tolist())))
    assert res.check == pytest.approx(
        {
            "sessions": n_valid,
            "tuned": figure(best),
            "defaults": 1 / 20,
            "gain": figure(best) - 1 / 20,
            "standard_error": 0.0,
        }
    )
    model = res.model(workers=1)
    assert model.config == SessionEmbedConfig(update_budget=best["update_budget"])
    assert _params(model) == best
    assert model.embedder_config["workers"] == 1 and model.embedder_config["seed"] == 1


@pytest.mark.slow
def test_pipeline_finals_keep_the_defaults_on_a_tie_and_when_they_are_best(monkeypatch):
    train, valid = _small_split(seed=5)
    _planted_scores(monkeypatch, lambda p: 3)  # every finalist ties
    res = tune_session_embed(train, valid, max_trials=2, progress=False, finalists=1)
    assert len(res.finals) == 2 and res.defaults_won is True
    assert res.best_params == DEFAULTS
    assert res.model(workers=1).config == SessionEmbed().config
    _planted_scores(monkeypatch, lambda p: 2 if p == DEFAULTS else 5)
    res = tune_session_embed(train, valid, max_trials=2, progress=False, finalists=1)
    assert res.defaults_won is True and res.best_params == DEFAULTS
    assert res.check is not None and res.check["defaults"] == 0.5
    assert res.check["tuned"] == pytest.approx(0.2)
    assert res.check["gain"] == pytest.approx(-0.3)
    # without the defaults among the finalists, the best other finalist is the result
    res = tune_session_embed(
        train, valid, max_trials=2, progress=False, finalists=1, compare_defaults=False
    )
    assert len(res.finals) == 1 and not res.finals[0]["defaults"]
    assert res.defaults_won is False and res.check is None
    assert res.best_params == res.finals[0]["params"]


@pytest.mark.slow
def test_pipeline_finals_keep_the_defaults_when_the_gain_is_within_the_noise(monkeypatch):
    from embedrec.eval.sessions import paired_difference

    train, valid = _small_split(seed=6)
    n = int(np.maximum(np.bincount(valid.user) - 1, 0).sum())  # predictions
    base = np.tile([1, 3, 0, 2], n // 4 + 1)[:n]
    # a tuned embedding better on one prediction only: ahead on average, within the noise
    one = base.copy()
    one[np.flatnonzero(base == 3)[0]] = 1
    # one better on every fourth prediction (rank 3 -> 1): far beyond the noise
    many = np.where(base == 3, 1, base)
    for tuned_ranks, replaced in ((one, False), (many, True)):
        fitted = _planted_scores(monkeypatch, lambda p, t=tuned_ranks: base if p == DEFAULTS else t)
        res = tune_session_embed(train, valid, max_trials=2, progress=False, finalists=1)
        assert len(fitted) == 2 and res.check is not None
        assert res.check["tuned"] > res.check["defaults"]
        assert res.defaults_won is (not replaced)
        # the rule: a gain of SIGNIFICANCE_Z standard errors (clustered by session) or more
        import embedrec.eval.sessions as es

        tuned_r = es.evaluate_sessions(fitted[0], valid, ks=(20,))
        default_r = es.evaluate_sessions(fitted[1], valid, ks=(20,))
        gain, se = paired_difference(tuned_r, default_r)
        assert res.check["gain"] == pytest.approx(gain)
        assert res.check["standard_error"] == pytest.approx(se)
        assert (gain > SIGNIFICANCE_Z * se) is replaced


def test_a_pipeline_result_round_trips_and_builds_a_calibrating_model():
    import json

    from embedrec.tune import SessionTuneResult

    params = {"dim": 8, "window": 2, "negative": 5, "ns_exponent": 0.0, "update_budget": 10_000}
    scoring = {"half_life": 1.0, "temperature": 1.4, "transition_weight": 0.3}
    finals = [{"params": params, "defaults": False, "MRR@20": 0.41}]
    res = SessionTuneResult(
        [], params, scoring, "MRR@20", check=None, calibrate=True, finals=finals
    )
    back = SessionTuneResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert back == res
    model = back.model(workers=1, seed=7)
    assert model.config.calibrate and model.config.rerank and model.reranker is None
    assert model.config.update_budget == 10_000 and model.config.temperature == 1.0
    assert model.embedder_config == {
        "dim": 8,
        "window": 2,
        "negative": 5,
        "ns_exponent": 0.0,
        "workers": 1,
        "seed": 7,
    }
    # a result written before final="pipeline" has no "calibrate": the validation values
    old = {k: v for k, v in res.to_dict().items() if k not in ("calibrate", "finals")}
    assert SessionTuneResult.from_dict(old).model().config.calibrate is False
    with pytest.raises(ValueError, match="calibrate"):
        SessionTuneResult.from_dict({**res.to_dict(), "calibrate": "yes"})


def test_bad_final_arguments_are_refused():
    inter = Interactions.from_arrays(*session_log(50, 10, seed=1))
    with pytest.raises(ValueError, match="final='best' is invalid"):
        tune_session_embed(inter, inter, final="best", max_trials=1)
    with pytest.raises(ValueError, match="finalists=0 is invalid"):
        tune_session_embed(inter, inter, finalists=0, max_trials=1)

"""Random-search tuning of Item2Vec on a validation split, within a time budget.

Caselles-Dupré et al. 2018 found that ``ns_exponent``, the window, subsampling and the
number of epochs move recommendation quality by up to 10x between datasets; Chamberlain et
al. 2020 show that tuning on a sample of the users keeps most of the gain. :func:`tune_item2vec`
samples users, splits their histories leave-last-out (validation = each user's last event),
always scores the starting configuration first (so the best trial is never worse than it on
validation), then draws random configurations until the budget is spent: half of the draws
pick every field at random (exploration), the other half change one or two fields of the
best configuration so far (a random local search, which finds improvements near good
defaults far more often than independent draws in a 8-dimensional space).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .data.interactions import Interactions
from .eval.evaluate import evaluate
from .eval.split import leave_last_out
from .models.item2vec import Item2Vec, Item2VecConfig

logger = logging.getLogger("embedrec")

#: the searched values
DEFAULT_SPACE: dict[str, Sequence[Any]] = {
    "mode": ("window", "set"),
    "ns_exponent": (-0.5, 0.0, 0.25, 0.5, 0.75, 1.0),
    "window": (2, 3, 5, 8, 12),
    "sample": (0.0, 1e-4, 1e-3),
    "epochs": (10, 20, 40, 80),
    "dim": (32, 64, 128),
    "negative": (5, 10, 20),
    "half_life": (1.0, 2.0, 3.0, 5.0, 10.0),
}


@dataclass(frozen=True)
class TuneResult:
    """Every trial (config fields that varied, the validation metrics, seconds) and the best.

    Attributes
    ----------
    trials : list of dict
        One dict per trial, in the order run: ``{"trial", "params", "metrics", "seconds"}``.
    best_config : Item2VecConfig
        The configuration with the highest ``metric`` on the validation split.
    metric : str
        The metric trials were ranked by, e.g. ``"NDCG@10"``.
    n_users : int
        Users in the tuning sample.
    """

    trials: list[dict[str, Any]]
    best_config: Item2VecConfig
    metric: str
    n_users: int

    @property
    def best(self) -> dict[str, Any]:
        """The best trial."""
        return max(self.trials, key=lambda t: t["metrics"][self.metric])

    def table(self) -> str:
        """The trials as a text table, best first."""
        names = sorted({k for t in self.trials for k in t["params"]})
        return _trials_table(self.trials, self.metric, {"params": names})

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "n_users": self.n_users,
            "best_config": self.best_config.to_dict(),
            "trials": self.trials,
        }


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _trials_table(
    trials: Sequence[Mapping[str, Any]], metric: str, groups: Mapping[str, Sequence[str]]
) -> str:
    """Search trials as a text table, best ``metric`` first: the trial number, the values
    of each ``groups`` entry (a trial field -> its column names), the metrics, the seconds."""
    columns = [(field, n) for field, names in groups.items() for n in names]
    metrics = list(trials[0]["metrics"]) if trials else []
    head = ["trial", *(n for _, n in columns), *metrics, "seconds"]
    rows = [
        [
            str(t["trial"]),
            *(_fmt(t[field].get(n, "")) for field, n in columns),
            *(f"{t['metrics'][m]:.4f}" for m in metrics),
            f"{t['seconds']:.1f}",
        ]
        for t in sorted(trials, key=lambda t: -t["metrics"][metric])
    ]
    return _aligned(head, rows)


def _aligned(head: list[str], rows: list[list[str]]) -> str:
    """A text table: the header and the rows, each column right-aligned."""
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]
    )


def sample_users(inter: Interactions, fraction: float, seed: int) -> Interactions:
    """The events of a seeded random ``fraction`` of the users (key tables kept)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"user_fraction={fraction!r} is invalid; use 0 < user_fraction <= 1")
    if fraction >= 1:
        return inter
    active = np.flatnonzero(np.bincount(inter.user, minlength=inter.n_users) > 0)
    rng = np.random.default_rng(seed)
    n = max(1, round(fraction * active.size))
    chosen = np.zeros(inter.n_users, dtype=bool)
    chosen[rng.choice(active, size=n, replace=False)] = True
    return inter.subset(chosen[inter.user])


def tune_item2vec(
    inter: Interactions,
    *,
    base: Item2VecConfig | None = None,
    space: Mapping[str, Sequence[Any]] | None = None,
    budget_seconds: float = 300.0,
    max_trials: int | None = None,
    user_fraction: float | None = None,
    metric: str = "NDCG@10",
    seed: int = 0,
    progress: bool = True,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> TuneResult:
    """Random search over Item2Vec hyper-parameters, scored on a leave-last-out validation split.

    Parameters
    ----------
    inter
        The training interactions (never the test events).
    base
        Starting configuration (default: the shipped defaults); it is always trial 0, and
        every draw changes only the fields in ``space``.
    space
        Field -> candidate values (default :data:`DEFAULT_SPACE`).
    budget_seconds
        No trial starts once the elapsed time plus the slowest trial so far would pass it.
    max_trials
        Optional cap on the number of trials (including trial 0).
    user_fraction
        Share of users to tune on. ``None``: all users up to 5,000, else enough for 5,000
        users but at least 10%.
    metric
        Ranking metric maximised on validation: ``HR@k``, ``NDCG@k``, ``Recall@k`` or
        ``MRR@k``, e.g. ``"NDCG@10"``.
    seed
        Seeds the user sample and the draws.
    on_trial
        Called with each finished trial's dict.
    """
    k = metric_k(metric)
    base = base if base is not None else Item2VecConfig()
    space = dict(DEFAULT_SPACE if space is None else space)
    fields = {f.name for f in dataclasses.fields(Item2VecConfig)}
    bad = sorted(set(space) - fields)
    if bad:
        raise ValueError(
            f"unknown Item2VecConfig fields in space: {bad}; allowed: {sorted(fields)}"
        )
    if not (budget_seconds > 0 and math.isfinite(budget_seconds)):
        raise ValueError(f"budget_seconds={budget_seconds!r} is invalid; use a number > 0")
    n_active = int(np.count_nonzero(np.bincount(inter.user, minlength=inter.n_users)))
    if user_fraction is None:
        user_fraction = 1.0 if n_active <= 5000 else max(0.1, 5000 / n_active)
    sample = sample_users(inter, user_fraction, seed)
    split = leave_last_out(sample, n_valid=0, n_test=1)
    train, valid = split.train, split.test
    if len(valid) == 0:
        raise ValueError(
            "no user has enough events for a validation split; tuning needs users with >= 2 events"
        )
    rng = np.random.default_rng(seed)
    t_start = time.perf_counter()
    slowest = 0.0
    trials: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    while True:
        if max_trials is not None and len(trials) >= max_trials:
            break
        if trials and time.perf_counter() - t_start + slowest > budget_seconds:
            break
        if not trials:
            params = {name: getattr(base, name) for name in space}
        elif rng.random() < 0.5:
            params = {name: _draw(values, rng) for name, values in space.items()}
        else:
            params = dict(max(trials, key=lambda t: t["metrics"][metric])["params"])
            names = list(space)
            n_change = min(len(names), 1 + int(rng.random() < 0.5))
            for j in rng.choice(len(names), size=n_change, replace=False):
                params[names[j]] = _draw(space[names[j]], rng)
            key = tuple(sorted(params.items()))
            if key in seen and len(seen) < _space_size(space):
                continue
        seen.add(tuple(sorted(params.items())))
        cfg = dataclasses.replace(base, **params)
        t0 = time.perf_counter()
        model = Item2Vec(cfg).fit(train, progress=False)
        res = evaluate(model, train, valid, ks=(k,))
        dt = time.perf_counter() - t0
        slowest = max(slowest, dt)
        trial: dict[str, Any] = {
            "trial": len(trials),
            "params": params,
            "metrics": dict(res.metrics),
            "seconds": dt,
        }
        if metric not in trial["metrics"]:
            raise ValueError(f"metric={metric!r} is not computed; use one of {list(res.metrics)}")
        trials.append(trial)
        if progress:
            logger.info(
                "trial %d: %s=%.4f in %.1fs %s",
                trial["trial"],
                metric,
                res.metrics[metric],
                dt,
                params,
            )
        if on_trial is not None:
            on_trial(trial)
    best = max(trials, key=lambda t: t["metrics"][metric])
    return TuneResult(
        trials=trials,
        best_config=dataclasses.replace(base, **best["params"]),
        metric=metric,
        n_users=int(np.count_nonzero(np.bincount(sample.user, minlength=sample.n_users))),
    )


def metric_k(metric: str) -> int:
    """The cut-off of a metric name: ``"NDCG@10"`` -> 10."""
    name, _, k = metric.partition("@")
    if name not in ("HR", "NDCG", "Recall", "MRR") or not k.isdigit() or int(k) < 1:
        raise ValueError(
            f"metric={metric!r} is invalid; use HR@k, NDCG@k, Recall@k or MRR@k, e.g. NDCG@10"
        )
    return int(k)


def _draw(values: Sequence[Any], rng: np.random.Generator) -> Any:
    v = values[int(rng.integers(len(values)))]
    return v.item() if isinstance(v, np.generic) else v


def _space_size(space: Mapping[str, Sequence[Any]]) -> int:
    n = 1
    for values in space.values():
        n *= max(len(values), 1)
    return n


# ---------------------------------------------------------------------- sessions
#: the searched embedding fields of :func:`tune_session_embed` (Item2Vec's; the passes follow
#: ``update_budget``, see :meth:`SessionEmbedConfig.epochs_for`)
SESSION_SPACE: dict[str, Sequence[Any]] = {
    "dim": (32, 64, 128),
    "window": (2, 3, 5),
    "negative": (5, 10, 20),
    "ns_exponent": (0.0, 0.5, 0.75, 1.0),
    "update_budget": (5_000_000, 10_000_000, 20_000_000),
}
#: how many standard errors (clustered by session) the best tuned pipeline must beat the
#: defaults by on the validation sessions to replace them (:func:`tune_session_embed`'s
#: finals): about a one-sided 2.5% test, which also covers choosing the best of the finalists
SIGNIFICANCE_Z = 1.96
#: the scoring grid scored for every fitted embedding (cheap: no refit)
SESSION_SCORING: dict[str, Sequence[float]] = {
    "half_life": (0.5, 1.0, 2.0),
    "temperature": (0.7, 1.0, 1.4),
    "transition_weight": (0.0, 0.3, 0.6),
}


@dataclass(frozen=True)
class SessionTuneResult:
    """Trials of :func:`tune_session_embed` and the best configuration.

    Attributes
    ----------
    trials : list of dict
        ``{"trial", "params", "scoring", "metrics", "seconds"}`` per trial, in the order run
        (each with its best scoring values).
    best_params : dict
        The embedding fields of the best trial (``dim``, ``window``, ..., ``update_budget``).
    best_scoring : dict
        Its ``half_life``, ``temperature`` and ``transition_weight``.
    metric : str
    reranker_weights : list of float, dict or None
        The re-ranker (:mod:`embedrec.models.session_rerank`, as
        :func:`~embedrec.models.session_rerank.reranker_state` writes it: the linear
        one's weight list or the MLP's dict of arrays) fitted on the
        best trial's validation predictions, or ``None`` when it did not raise MRR@20
        on the held-out half of them (or ``rerank=False``).
    defaults_won : bool
        The default :class:`~embedrec.models.session_embed.SessionEmbed` (fitted on the
        training sessions alone, calibrating itself) scored at least as well as the tuned
        one on the validation half that no re-ranker was fitted on: :meth:`model` then
        builds the defaults.
    check : dict or None
        That comparison: ``{"sessions", "tuned", "defaults"}`` (``metric`` on those
        validation sessions; with ``final="pipeline"`` all of them, ``tuned`` the best
        finalist other than the defaults, and also ``gain`` and ``standard_error``, of the
        paired difference).
    calibrate : bool
        ``True`` (``final="pipeline"``): the tuned embedding goes into the default,
        self-calibrating pipeline, which chooses its scoring values and re-ranker on its own
        training sessions when it is fitted (``best_scoring`` is then what the search found
        for the bare mixture, for the record). ``False`` (``final="validation"``, and
        results written before ``final`` existed): ``best_scoring`` and the re-ranker fitted
        on validation are used as they are.
    finals : list of dict or None
        With ``final="pipeline"``: each finalist's ``{"params", "defaults", metric}``, the
        whole pipeline fitted on the training sessions and scored on the validation ones.
    """

    trials: list[dict[str, Any]]
    best_params: dict[str, Any]
    best_scoring: dict[str, float]
    metric: str
    reranker_weights: list[float] | dict[str, Any] | None = None
    defaults_won: bool = False
    check: dict[str, float] | None = None
    calibrate: bool = False
    finals: list[dict[str, Any]] | None = None

    def model(self, *, workers: int | None = None, seed: int = 1) -> Any:
        """An unfitted :class:`~embedrec.models.session_embed.SessionEmbed` with the best
        configuration, or the defaults when they won (:attr:`defaults_won`); fit it on the
        training sessions (validation included). With :attr:`calibrate` it is the default
        pipeline over the tuned embedding (it calibrates itself when fitted); without, the
        scoring values and the re-ranker chosen on validation, no calibration."""
        from .models.session_embed import SessionEmbed, SessionEmbedConfig
        from .models.session_rerank import reranker_from_state

        if self.defaults_won:
            return SessionEmbed(embedder_config={"workers": workers, "seed": seed})
        p = dict(self.best_params)
        if self.calibrate:
            budget = int(p.pop("update_budget"))
            return SessionEmbed(
                SessionEmbedConfig(update_budget=budget),
                embedder_config={**p, "workers": workers, "seed": seed},
            )
        sc = self.best_scoring
        cfg = SessionEmbedConfig(
            calibrate=False,
            update_budget=int(p.pop("update_budget")),
            half_life=sc["half_life"],
            temperature=sc["temperature"],
            transition_weight=sc["transition_weight"],
        )
        reranker = None
        if self.reranker_weights is not None:
            reranker = reranker_from_state(self.reranker_weights)
        return SessionEmbed(
            cfg, embedder_config={**p, "workers": workers, "seed": seed}, reranker=reranker
        )

    def table(self) -> str:
        """The trials as a text table, best first (each with its best scoring values)."""
        groups = {"params": list(SESSION_SPACE), "scoring": list(SESSION_SCORING)}
        return _trials_table(self.trials, self.metric, groups)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the re-ranker as :func:`reranker_state` writes it), which
        :meth:`from_dict` reads back."""
        return {
            "kind": "session_embed_tune",
            "metric": self.metric,
            "best_params": dict(self.best_params),
            "best_scoring": dict(self.best_scoring),
            "reranker": self.reranker_weights,
            "defaults_won": self.defaults_won,
            "check": self.check,
            "calibrate": self.calibrate,
            "finals": self.finals,
            "trials": self.trials,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SessionTuneResult:
        """The result :meth:`to_dict` wrote (e.g. read from a JSON file).

        Raises
        ------
        ValueError
            Not such a result, or one whose values are out of range (named), before any
            model is built.
        """
        from .models.session_embed import SessionEmbedConfig
        from .models.session_rerank import reranker_from_state

        if not isinstance(d, Mapping) or d.get("kind") != "session_embed_tune":
            raise ValueError(
                "not a session tuning result (no kind 'session_embed_tune'); write one with "
                "`embedrec sessions tune --out FILE` or SessionTuneResult.to_dict()"
            )
        try:
            params, scoring = dict(d["best_params"]), dict(d["best_scoring"])
            metric, trials = str(d["metric"]), list(d.get("trials", []))
        except (KeyError, TypeError) as e:
            raise ValueError(f"the session tuning result lacks {e}; write it again") from None
        missing = [n for n in (*SESSION_SPACE, *SESSION_SCORING) if n not in {**params, **scoring}]
        if missing:
            raise ValueError(f"the session tuning result lacks {missing}; write it again")
        embed = {k: v for k, v in params.items() if k != "update_budget"}
        Item2VecConfig(**embed)  # unknown or bad fields fail here, by name
        SessionEmbedConfig(update_budget=params["update_budget"], **scoring)
        reranker = d.get("reranker")
        if reranker is not None:
            reranker_from_state(reranker)
        won = d.get("defaults_won", False)
        if not isinstance(won, bool):
            raise ValueError(f"the session tuning result's defaults_won is {won!r}; true or false")
        check = d.get("check")
        calibrate = d.get("calibrate", False)  # absent: written before final="pipeline"
        if not isinstance(calibrate, bool):
            raise ValueError(
                f"the session tuning result's calibrate is {calibrate!r}; true or false"
            )
        finals = d.get("finals")
        return cls(
            trials,
            params,
            scoring,
            metric,
            reranker_weights=reranker,
            defaults_won=won,
            check=None if check is None else {str(k): float(v) for k, v in dict(check).items()},
            calibrate=calibrate,
            finals=None if finals is None else [dict(f) for f in finals],
        )


def _pipeline_finals(
    train: Interactions,
    held: Any,
    trials: list[dict[str, Any]],
    defaults: dict[str, Any],
    *,
    metric: str,
    finalists: int,
    rerank: bool,
    compare_defaults: bool,
    seed: int,
    progress: bool,
) -> SessionTuneResult:
    """:func:`tune_session_embed`'s ``final="pipeline"``: the best ``finalists`` trials'
    embeddings (and the defaults) fitted as the whole self-calibrating pipeline on ``train``
    and scored on the validation sessions ``held``; the best of them is the result."""
    from .eval.sessions import evaluate_sessions, paired_difference
    from .models.session_embed import SessionEmbed, SessionEmbedConfig

    k = metric_k(metric)
    ranked = sorted(trials, key=lambda t: -t["metrics"][metric])
    chosen = [t for t in ranked if t["params"] != defaults][:finalists]
    if compare_defaults or not chosen:
        chosen.append(next(t for t in trials if t["params"] == defaults))
    finals: list[dict[str, Any]] = []
    results = []
    for trial in chosen:
        p = dict(trial["params"])
        cfg = SessionEmbedConfig(rerank=rerank, update_budget=int(p.pop("update_budget")))
        model = SessionEmbed(cfg, embedder_config={**p, "seed": seed + 1}).fit(train)
        result = evaluate_sessions(model, held, ks=(k,))
        results.append(result)
        value = float(result.metrics[metric])
        is_default = trial["params"] == defaults
        finals.append({"params": dict(trial["params"]), "defaults": is_default, metric: value})
        if progress:
            logger.info(
                "session tune final: %s%s, the whole pipeline: %s=%.4f",
                trial["params"],
                " (the defaults)" if is_default else "",
                metric,
                value,
            )
    tuned = [i for i, f in enumerate(finals) if not f["defaults"]]
    base = [i for i, f in enumerate(finals) if f["defaults"]]
    check = None
    if tuned and base:
        # the defaults stay unless the best other finalist beats them by more than the noise
        # of these validation sessions: a paired difference over the same predictions,
        # SIGNIFICANCE_Z standard errors (clustered by session) or more
        top = max(tuned, key=lambda i: finals[i][metric])
        gain, se = paired_difference(results[top], results[base[0]], metric)
        won = not (np.isfinite(se) and gain > SIGNIFICANCE_Z * se)
        winner = base[0] if won else top
        check = {
            "sessions": float(len(held)),
            "tuned": finals[top][metric],
            "defaults": finals[base[0]][metric],
            "gain": gain,
            "standard_error": se,
        }
        if progress:
            logger.info(
                "session tune: the best tuned pipeline %s the defaults by %.4f %s (standard "
                "error %.4f): %s",
                "beats" if gain > 0 else "trails",
                abs(gain),
                metric,
                se,
                "the defaults stay" if won else "the tuned embedding wins",
            )
    else:
        winner = max(range(len(finals)), key=lambda i: finals[i][metric])
    best = next(t for t in trials if t["params"] == finals[winner]["params"])
    return SessionTuneResult(
        trials,
        dict(best["params"]),
        dict(best["scoring"]),
        metric,
        defaults_won=finals[winner]["defaults"],
        check=check,
        calibrate=True,
        finals=finals,
    )


def tune_session_embed(
    train: Interactions,
    valid: Interactions,
    *,
    budget_seconds: float = 600.0,
    max_trials: int | None = None,
    metric: str = "MRR@20",
    seed: int = 0,
    progress: bool = True,
    rerank: bool = True,
    compare_defaults: bool = True,
    final: Literal["pipeline", "validation"] = "pipeline",
    finalists: int = 2,
) -> SessionTuneResult:
    """Random search of :class:`~embedrec.models.session_embed.SessionEmbed` on validation
    sessions: the session protocol (every position), never the test sessions.

    Each trial fits Item2Vec with one draw of :data:`SESSION_SPACE` on ``train`` (the first
    trial: the defaults; then half random draws, half one-field changes of the best so far),
    then scores the whole :data:`SESSION_SCORING` grid on ``valid`` without refitting. Stops
    when ``budget_seconds`` is spent (a started trial finishes) or after ``max_trials``.

    ``final="pipeline"`` (the default): the trials rank embeddings by the bare mixture, but
    the model that is served calibrates itself and re-ranks (what the defaults do), so the
    ``finalists`` best trials' embeddings, and with ``compare_defaults`` the defaults, are
    each fitted as that whole pipeline on ``train`` (``rerank``: with its re-ranker) and
    scored on all of ``valid``. The best of the others replaces the defaults only if it beats
    them by :data:`SIGNIFICANCE_Z` standard errors of the paired difference or more
    (:func:`~embedrec.eval.sessions.paired_difference`, clustered by session): a gain within
    the noise of the validation sessions keeps the defaults
    (:attr:`SessionTuneResult.defaults_won`). This costs ``finalists + 1`` pipeline fits
    after the budget. The tuner thus chooses what calibration cannot (the embedding), by
    the figure of the model it builds.

    ``final="validation"`` (the tuner before ``final`` existed): the scoring values are the
    best trial's, and with ``rerank`` the best trial's model then fits a re-ranker on half of
    the validation sessions, keeps it if it raises MRR@20 on the other half, and refits it
    on all of them (:func:`~embedrec.models.session_embed.fit_reranker_checked`). With
    ``rerank`` and ``compare_defaults``, the default ``SessionEmbed`` is then fitted on
    ``train`` (it calibrates itself on the latest fifth of it) and scored on the validation
    half that the tuned re-ranker was not fitted on, against the tuned model's order there
    (the re-ranker fitted on the other half, or none): if the defaults score at least as
    well, the result says so (``defaults_won``) and builds them. This costs one more fit
    after the budget.

    Either way a search that fits noise of one validation split does not replace the
    defaults unless the model it builds beats them on validation sessions.
    """
    from .data.sessions import align_items
    from .eval.sessions import evaluate_sessions
    from .models.session_base import as_sessions
    from .models.session_embed import (
        SessionEmbed,
        SessionEmbedConfig,
        check_half,
        fit_reranker_checked,
        search_scoring,
    )
    from .models.session_rerank import reranker_state

    k = metric_k(metric)
    if final not in ("pipeline", "validation"):
        raise ValueError(f"final={final!r} is invalid; use 'pipeline' or 'validation'")
    if isinstance(finalists, bool) or not isinstance(finalists, int) or finalists < 1:
        raise ValueError(f"finalists={finalists!r} is invalid; use an int >= 1")
    if metric.startswith("Recall@"):
        raise ValueError(
            f"metric={metric!r}: the session protocol has one next item, so use HR@{k} "
            "(the same figure), MRR@k or NDCG@k"
        )
    train, valid = align_items(train, valid)
    held = as_sessions(valid)
    rng = np.random.default_rng(seed)
    defaults = {
        "dim": 64,
        "window": 3,
        "negative": 10,
        "ns_exponent": 0.5,
        "update_budget": 10_000_000,
    }
    trials: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    best_model: SessionEmbed | None = None
    t_start = time.perf_counter()
    seen: set[tuple[Any, ...]] = set()
    while True:
        if max_trials is not None and len(trials) >= max_trials:
            break
        if trials and time.perf_counter() - t_start > budget_seconds:
            break
        if not trials:
            params = dict(defaults)
        elif rng.random() < 0.5 or best is None:
            params = {name: _draw(v, rng) for name, v in SESSION_SPACE.items()}
        else:
            params = dict(best["params"])
            for name in rng.choice(
                list(SESSION_SPACE), size=int(rng.integers(1, 3)), replace=False
            ):
                params[str(name)] = _draw(SESSION_SPACE[str(name)], rng)
        key = tuple(params[n] for n in SESSION_SPACE)
        if key in seen:
            if len(seen) >= _space_size(SESSION_SPACE):
                break
            continue
        seen.add(key)
        t0 = time.perf_counter()
        p = dict(params)
        cfg = SessionEmbedConfig(
            calibrate=False, rerank=False, update_budget=int(p.pop("update_budget"))
        )
        model = SessionEmbed(cfg, embedder_config={**p, "seed": seed + 1}).fit(train)

        def score(
            points: list[dict[str, float]], m: SessionEmbed = model
        ) -> dict[str, npt.NDArray[np.float64]]:
            return m._grid_metrics(held, points, k)

        top_scoring, top_metrics = search_scoring(score, metric, SESSION_SCORING, extend=False)
        top = top_metrics[metric]
        trial = {
            "trial": len(trials),
            "params": params,
            "scoring": top_scoring,
            "metrics": {n: v for n, v in top_metrics.items() if n.startswith(("HR", "MRR"))},
            "seconds": time.perf_counter() - t0,
        }
        trials.append(trial)
        if best is None or top > best["metrics"][metric]:
            best, best_model = trial, model
        if progress:
            logger.info(
                "session tune trial %d: %s %s %s=%.4f (%.0f s)",
                trial["trial"],
                params,
                top_scoring,
                metric,
                top,
                trial["seconds"],
            )
    assert best is not None and best_model is not None
    if final == "pipeline":
        return _pipeline_finals(
            train,
            held,
            trials,
            defaults,
            metric=metric,
            finalists=finalists,
            rerank=rerank,
            compare_defaults=compare_defaults,
            seed=seed,
            progress=progress,
        )
    weights: list[float] | dict[str, Any] | None = None
    won, check = False, None
    if rerank:
        best_model.scoring_ = dict(best["scoring"])
        rr, tuned_mrr = fit_reranker_checked(best_model, held)
        weights = None if rr is None else reranker_state(rr)
        part = check_half(held)
        if compare_defaults and np.isfinite(tuned_mrr) and len(part):
            default = SessionEmbed(embedder_config={"seed": seed + 1}).fit(train)
            default_mrr = evaluate_sessions(default, part, ks=(20,)).metrics["MRR@20"]
            won = bool(default_mrr >= tuned_mrr)
            check = {"sessions": float(len(part)), "tuned": tuned_mrr, "defaults": default_mrr}
            logger.info(
                "session tune: on the validation half no re-ranker was fitted on, MRR@20 "
                "tuned %.4f, defaults %.4f: %s",
                tuned_mrr,
                default_mrr,
                "the defaults win" if won else "the tuned model wins",
            )
    return SessionTuneResult(
        trials,
        dict(best["params"]),
        dict(best["scoring"]),
        metric,
        reranker_weights=weights,
        defaults_won=won,
        check=check,
    )

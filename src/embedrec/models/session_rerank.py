"""A learned re-ranking of :class:`~embedrec.models.session_embed.SessionEmbed`'s candidates.

The mixture ``g P_repeat + (1 - g) P_explore`` is a sound probability model, but its parts
are calibrated one by one, and the best trade-off between re-clicks and new items for the
*ranking* differs from data set to data set. The re-ranker takes the mixture's top
``N_CANDIDATES`` items of each prefix and orders them by a linear score of a few features
of the candidate and the prefix, fitted as a conditional logit (the softmax over a prefix's
candidates, i.e. the likelihood of the clicked one among them; McFadden 1974), on held-out
*training* sessions only. The features:

===================  ==================================================================
``log_mixture``      log of the mixture probability (weight 1 alone = the mixture's order)
``log_explore``      log of the explore probability (0 for session items)
``in_session``       the candidate is already in the session
``log_repeat``       log of its repeat probability (session items)
``gate``             the re-click gate's logit, for session items
``is_last``          the candidate is the latest click
``log_count``        log(1 + its clicks in the session)
``log_rules``        log(1 + the latest click's sequential-rule weight to it)
``popularity``       log(1 + its training clicks) / log(1 + the top item's)
``log_knn_new``      for items not in the session: ``log(v / max v + 0.001)``, ``v`` the
                     votes of the prefix's neighbour sessions found through session
                     vectors (:class:`~embedrec.models.session_vknn.SessionVectorKNN`)
``log_knn_session``  the same for the session's own items
``log_rules_prev``   log(1 + the sequential-rule weight to it of the click before the
                     latest one; 0 for a prefix of one click)
``last_cosine``      the cosine of its item vector with the latest click's (1 for the
                     latest click itself)
===================  ==================================================================

The neighbour votes enter through their log and separately for new and session items; the
raw votes in one feature gave nothing (benchmarks/README.md, "Session-based
recommendation"). The last two features give the re-ranker the latest click's own view of
each candidate next to the session vector's (``log_explore``) and the step before it.

:class:`MLPReranker` adds one hidden layer (ReLU) that reads the candidate's features and
the prefix's :data:`CONTEXT` (the gate's probability and the prefix length bucket): the
trade-off between a re-click and a new item depends on them jointly, which a linear score
cannot express (the prefix facts alone cancel in the softmax over its candidates). It is
fitted with the same listwise loss by Adam, starting from the linear solution, with an L2
penalty and early stopping on the last :attr:`MLPReranker.held_out` of its training
prefixes. Both kinds are saved as plain numbers (:func:`reranker_state`), never pickled.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: candidates re-ranked per prefix (the rest keep the mixture's order, below them)
N_CANDIDATES = 50
FEATURES = (
    "log_mixture",
    "log_explore",
    "in_session",
    "log_repeat",
    "gate",
    "is_last",
    "log_count",
    "log_rules",
    "popularity",
    "log_knn_new",
    "log_knn_session",
    "log_rules_prev",
    "last_cosine",
)
#: the features of linear re-rankers saved before the neighbour votes (the weights of the
#: later ones are 0 when such a save is read)
LEGACY_FEATURES = 9
#: the features of re-rankers saved before ``log_rules_prev`` and ``last_cosine``
VOTE_FEATURES = 11
#: facts of the prefix that :class:`MLPReranker`'s hidden layer reads with each candidate
CONTEXT = ("gate_probability", "length_2", "length_3", "length_4", "length_5_9", "length_10")
#: prefix-length bucket edges of :data:`CONTEXT` (lengths 1, 2, 3, 4, 5-9, 10+)
_LENGTH_EDGES = np.array([2, 3, 4, 5, 10])
_EPS = 1e-9


def candidates(mix: npt.NDArray[np.float32], c: int = N_CANDIDATES) -> npt.NDArray[np.int64]:
    """The ``min(c, n_items)`` highest-scoring columns of each row (unordered)."""
    c = min(c, mix.shape[1])
    if c == mix.shape[1]:
        return np.broadcast_to(np.arange(c, dtype=np.int64), mix.shape).copy()
    return np.argpartition(-mix, c - 1, axis=1)[:, :c].astype(np.int64)


def features(parts: Any, mix: npt.NDArray[np.float32], cand: npt.NDArray[np.int64]) -> Any:
    """``(n, C, len(FEATURES))`` float64 features of the candidates ``cand``."""
    rows = np.arange(cand.shape[0])[:, None]
    counts = parts.counts[rows, cand].astype(np.float64)
    inside = (counts > 0).astype(np.float64)
    beta = np.clip(parts.beta.astype(np.float64), 1e-6, 1 - 1e-6)
    gate = np.log(beta / (1.0 - beta))[:, None]
    pop = parts.item_counts.astype(np.float64)
    f = np.empty((*cand.shape, len(FEATURES)))
    f[..., 0] = np.log(mix[rows, cand].astype(np.float64) + _EPS)
    f[..., 1] = np.log(parts.explore[rows, cand].astype(np.float64) + _EPS) * (1.0 - inside)
    f[..., 2] = inside
    f[..., 3] = np.log(parts.repeat[rows, cand].astype(np.float64) + _EPS) * inside
    f[..., 4] = gate * inside
    f[..., 5] = cand == parts.last[:, None]
    f[..., 6] = np.log1p(counts)
    f[..., 7] = np.log1p(parts.trans[rows, cand].astype(np.float64))
    f[..., 8] = np.log1p(pop[cand]) / max(np.log1p(pop.max()), _EPS)
    knn = getattr(parts, "knn", None)
    if knn is None:
        f[..., 9:11] = 0.0
    else:
        top = np.maximum(knn.max(axis=1, keepdims=True).astype(np.float64), _EPS)
        votes = np.log(knn[rows, cand].astype(np.float64) / top + 1e-3)
        f[..., 9] = votes * (1.0 - inside)
        f[..., 10] = votes * inside
    prev_rules = getattr(parts, "prev_rules", None)
    f[..., 11] = 0.0 if prev_rules is None else np.log1p(prev_rules[rows, cand].astype(np.float64))
    unit = getattr(parts, "unit", None)
    if unit is None:
        f[..., 12] = 0.0
    else:
        last = parts.last
        cos = np.einsum("nd,ncd->nc", unit[np.maximum(last, 0)], unit[cand]).astype(np.float64)
        f[..., 12] = np.where(last[:, None] >= 0, cos, 0.0)
    return f


def context(parts: Any) -> npt.NDArray[np.float64]:
    """``(n, len(CONTEXT))`` float64 facts of each prefix: the gate's probability and the
    one-hot length bucket (length 1: all zeros)."""
    n = parts.beta.shape[0]
    length = parts.counts.sum(axis=1).astype(np.int64)
    c = np.zeros((n, len(CONTEXT)))
    c[:, 0] = parts.beta
    bucket = np.searchsorted(_LENGTH_EDGES, length, side="right")
    rows = np.flatnonzero(bucket > 0)
    c[rows, bucket[rows]] = 1.0
    return c


class Reranker:
    """Linear scores of :data:`FEATURES`, fitted by Newton steps on the conditional logit
    with a ridge pull towards the mixture's own order (weight 1 on ``log_mixture``)."""

    def __init__(self, ridge: float = 1.0, steps: int = 30) -> None:
        self.ridge = ridge
        self.steps = steps
        self.weights_ = np.zeros(len(FEATURES))
        self.weights_[0] = 1.0

    def fit(
        self,
        f: npt.NDArray[np.float64],
        target: npt.NDArray[np.int64],
        ctx: npt.NDArray[np.float64] | None = None,
    ) -> Reranker:
        """``f``: (n, C, d) features; ``target``: the clicked candidate's column (rows whose
        click is not among the candidates are left out); ``ctx``: (n, len(CONTEXT)) prefix
        facts (:func:`context`; the linear score does not read them)."""
        keep = target >= 0
        f, target = f[keep], target[keep]
        prior = self.weights_.copy()
        w = prior.copy()
        d = w.size
        if target.size == 0:
            return self
        rows = np.arange(target.size)

        def objective(v: npt.NDArray[np.float64]) -> float:
            s = f @ v
            top = s.max(axis=1, keepdims=True)
            lse = np.log(np.exp(s - top).sum(axis=1)) + top[:, 0]
            return float(
                (lse - s[rows, target]).sum() + 0.5 * self.ridge * ((v - prior) ** 2).sum()
            )

        loss = objective(w)
        for _ in range(self.steps):
            s = f @ w
            s -= s.max(axis=1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(axis=1, keepdims=True)
            mean = np.einsum("nc,ncd->nd", p, f)
            chosen = f[rows, target]
            grad = (chosen - mean).sum(axis=0) - self.ridge * (w - prior)
            centred = f - mean[:, None, :]
            hess = np.einsum("nc,ncd,nce->de", p, centred, centred) + self.ridge * np.eye(d)
            step = np.linalg.solve(hess, grad)
            # a full Newton step overshoots where the softmax saturates (small or nearly
            # separable data: the curvature vanishes there); halve it until the penalised
            # loss falls, so the fit never ends worse than where it started
            t = 1.0
            while t > 1e-6:
                trial = objective(w + t * step)
                if trial <= loss - 1e-4 * t * float(grad @ step):
                    break
                t *= 0.5
            else:
                break
            w = w + t * step
            loss = trial
            if np.abs(t * step).max() < 1e-7:
                break
        self.weights_ = w
        return self

    def score(
        self, f: npt.NDArray[np.float64], ctx: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """``(n, C)`` scores of the candidates with features ``f`` (``ctx`` unused here)."""
        out: npt.NDArray[np.float64] = f @ self.weights_
        return out

    def rescore(self, parts: Any, mix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores whose row order puts the candidates first, in the learned order, and the
        other items after them in the mixture's order."""
        cand = candidates(mix)
        s = self.score(features(parts, mix, cand), context(parts))
        s -= s.max(axis=1, keepdims=True)
        out = mix.astype(np.float32, copy=True)  # probabilities: all <= 1
        rows = np.arange(cand.shape[0])[:, None]
        out[rows, cand] = (1.0 + np.exp(s)).astype(np.float32)  # in (1, 2]
        return out


class MLPReranker(Reranker):
    """The linear score plus one hidden layer: ``f @ w + v @ relu(W x + b)``, where ``x`` is
    the candidate's features and its prefix's :data:`CONTEXT`, standardised (``mean_``,
    ``scale_``) with the statistics of the training candidates.

    :meth:`fit` first fits the linear part (:class:`Reranker`), then all weights by Adam on
    the conditional logit's loss plus ``l2 (|W|^2 + |v|^2)``, in mini-batches of prefixes.
    The last ``held_out`` share of the prefixes (sessions come in order, so these are other
    sessions) is kept out and the weights with its lowest loss are kept; training stops
    after ``patience`` passes without a better one. Deterministic for a given ``seed``.
    """

    def __init__(
        self,
        hidden: int = 32,
        l2: float = 0.01,
        lr: float = 0.01,
        max_epochs: int = 200,
        batch: int = 512,
        patience: int = 10,
        held_out: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.hidden, self.l2, self.lr = hidden, l2, lr
        self.max_epochs, self.batch, self.patience = max_epochs, batch, patience
        self.held_out, self.seed = held_out, seed
        d = len(FEATURES) + len(CONTEXT)
        self.mean_ = np.zeros(d)
        self.scale_ = np.ones(d)
        self.hidden_weights_ = np.zeros((d, hidden))
        self.hidden_bias_ = np.zeros(hidden)
        self.output_weights_ = np.zeros(hidden)

    def _inputs(
        self, f: npt.NDArray[np.float64], ctx: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        n, c, _ = f.shape
        x = np.concatenate([f, np.broadcast_to(ctx[:, None, :], (n, c, ctx.shape[1]))], axis=2)
        out: npt.NDArray[np.float64] = (x - self.mean_) / self.scale_
        return out

    def score(
        self, f: npt.NDArray[np.float64], ctx: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        x = self._inputs(f, ctx)
        h = np.maximum(x.reshape(-1, x.shape[2]) @ self.hidden_weights_ + self.hidden_bias_, 0.0)
        out: npt.NDArray[np.float64] = f @ self.weights_ + (h @ self.output_weights_).reshape(
            f.shape[:2]
        )
        return out

    def fit(
        self,
        f: npt.NDArray[np.float64],
        target: npt.NDArray[np.int64],
        ctx: npt.NDArray[np.float64] | None = None,
    ) -> MLPReranker:
        if ctx is None:
            raise ValueError("MLPReranker.fit needs ctx, the prefixes' context(parts)")
        super().fit(f, target)
        keep = target >= 0
        f, target, ctx = f[keep], target[keep], ctx[keep]
        n = target.size
        n_val = int(n * self.held_out)
        if n - n_val < 1 or n_val < 1:
            return self  # too few prefixes: the linear part alone (hidden weights 0)
        x_all = np.concatenate(
            [f, np.broadcast_to(ctx[:, None, :], (*f.shape[:2], ctx.shape[1]))], axis=2
        ).reshape(-1, f.shape[2] + ctx.shape[1])
        self.mean_ = x_all.mean(axis=0)
        self.scale_ = x_all.std(axis=0) + 1e-6
        x = ((x_all - self.mean_) / self.scale_).reshape(*f.shape[:2], -1)  # = _inputs(f, ctx)
        rng = np.random.default_rng(self.seed)
        d = x.shape[2]
        params = {
            "w": self.weights_.copy(),
            "W": rng.normal(scale=1.0 / np.sqrt(d), size=(d, self.hidden)),
            "b": np.zeros(self.hidden),
            "v": np.zeros(self.hidden),
        }
        moment = {k: np.zeros_like(v) for k, v in params.items()}
        second = {k: np.zeros_like(v) for k, v in params.items()}
        fit_rows, val_rows = np.arange(n - n_val), np.arange(n - n_val, n)

        def forward(
            xb: npt.NDArray[np.float64], fb: npt.NDArray[np.float64]
        ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
            """Scores (B, C) and pre-activations (B * C, hidden) of a batch's inputs."""
            pre = xb.reshape(-1, d) @ params["W"] + params["b"]
            h = np.maximum(pre, 0.0) @ params["v"]
            return fb @ params["w"] + h.reshape(fb.shape[:2]), pre

        def loss(idx: npt.NDArray[np.int64]) -> float:
            s = forward(x[idx], f[idx])[0]
            s -= s.max(axis=1, keepdims=True)
            picked = s[np.arange(idx.size), target[idx]]
            return float((np.log(np.exp(s).sum(axis=1)) - picked).mean())

        best, best_params, waited, step = loss(val_rows), dict(params), 0, 0
        for _ in range(self.max_epochs):
            rng.shuffle(fit_rows)
            for a in range(0, fit_rows.size, self.batch):
                idx = fit_rows[a : a + self.batch]
                xb, fb = x[idx], f[idx]
                s, pre = forward(xb, fb)
                s -= s.max(axis=1, keepdims=True)
                p = np.exp(s)
                p /= p.sum(axis=1, keepdims=True)
                p[np.arange(idx.size), target[idx]] -= 1.0
                # d loss / d score, one per (prefix, candidate) row; the sums over the
                # batch's rows below are matrix products (BLAS)
                g = (p / idx.size).reshape(-1)
                back = g[:, None] * params["v"] * (pre > 0)
                grads = {
                    "w": g @ fb.reshape(g.size, -1),
                    "W": xb.reshape(g.size, -1).T @ back + self.l2 * params["W"],
                    "b": back.sum(axis=0),
                    "v": g @ np.maximum(pre, 0.0) + self.l2 * params["v"],
                }
                step += 1
                for k, grad in grads.items():
                    moment[k] = 0.9 * moment[k] + 0.1 * grad
                    second[k] = 0.999 * second[k] + 0.001 * grad**2
                    m_hat = moment[k] / (1.0 - 0.9**step)
                    v_hat = second[k] / (1.0 - 0.999**step)
                    params[k] = params[k] - self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)
            current = loss(val_rows)
            if current < best - 1e-5:
                best, best_params, waited = current, dict(params), 0
            else:
                waited += 1
                if waited >= self.patience:
                    break
        self.weights_ = best_params["w"]
        self.hidden_weights_ = best_params["W"]
        self.hidden_bias_ = best_params["b"]
        self.output_weights_ = best_params["v"]
        return self


_MLP_ARRAYS = ("weights", "mean", "scale", "hidden_weights", "hidden_bias", "output_weights")


def _widen_mlp(arrays: dict[str, npt.NDArray[np.float64]]) -> dict[str, npt.NDArray[np.float64]]:
    """An MLP saved with the first :data:`VOTE_FEATURES` features, with zero weights (mean 0,
    scale 1) for the later ones, so that it scores as it did. Other shapes pass unchanged
    (and are refused by the shape check)."""
    extra = len(FEATURES) - VOTE_FEATURES
    at = VOTE_FEATURES  # the later features come before the context in the inputs
    out = dict(arrays)
    out["weights"] = np.concatenate([arrays["weights"], np.zeros(extra)])
    if arrays["mean"].ndim != 1 or arrays["hidden_weights"].ndim != 2:
        return out
    out["mean"] = np.insert(arrays["mean"], at, np.zeros(extra))
    out["scale"] = np.insert(arrays["scale"], at, np.ones(extra))
    out["hidden_weights"] = np.insert(arrays["hidden_weights"], [at] * extra, 0.0, axis=0)
    return out


def reranker_state(rr: Reranker) -> list[float] | dict[str, Any]:
    """A re-ranker as plain JSON numbers: the linear one as its weight list (the format
    saved since the first re-ranker), the MLP as a dict of named arrays (nested lists)."""
    if not isinstance(rr, MLPReranker):
        return [float(w) for w in rr.weights_]
    return {
        "kind": "mlp",
        "weights": rr.weights_.tolist(),
        "mean": rr.mean_.tolist(),
        "scale": rr.scale_.tolist(),
        "hidden_weights": rr.hidden_weights_.tolist(),
        "hidden_bias": rr.hidden_bias_.tolist(),
        "output_weights": rr.output_weights_.tolist(),
    }


def reranker_from_state(state: Any) -> Reranker:
    """The re-ranker :func:`reranker_state` wrote. One saved with fewer features (a linear
    one with :data:`LEGACY_FEATURES` or :data:`VOTE_FEATURES` weights, an MLP with
    :data:`VOTE_FEATURES`) gets weight 0 for the later ones and scores as it did.

    Raises
    ------
    ValueError
        When ``state`` is not one of those formats, has the wrong shapes or non-finite
        numbers; re-save the model with this version.
    """
    bad = "the manifest's state.reranker is invalid; re-save the model"
    d, k = len(FEATURES), len(FEATURES) + len(CONTEXT)
    try:
        if isinstance(state, list):
            w = np.asarray(state, dtype=np.float64)
            if w.shape in ((LEGACY_FEATURES,), (VOTE_FEATURES,)):  # saved before later features
                w = np.concatenate([w, np.zeros(d - w.size)])
            if w.shape != (d,) or not bool(np.isfinite(w).all()):
                raise ValueError(bad)
            rr = Reranker()
            rr.weights_ = w
            return rr
        if not isinstance(state, dict) or state.get("kind") != "mlp":
            kind = state.get("kind") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{bad} (unknown re-ranker kind {kind!r}: saved by a newer version?)")
        arrays = {name: np.asarray(state[name], dtype=np.float64) for name in _MLP_ARRAYS}
    except (KeyError, TypeError) as e:
        raise ValueError(f"{bad} ({e})") from None
    if arrays["weights"].shape == (VOTE_FEATURES,):
        arrays = _widen_mlp(arrays)
    h = arrays["hidden_bias"].shape[0] if arrays["hidden_bias"].ndim == 1 else -1
    shapes = {
        "weights": (d,),
        "mean": (k,),
        "scale": (k,),
        "hidden_weights": (k, h),
        "hidden_bias": (h,),
        "output_weights": (h,),
    }
    for name, a in arrays.items():
        if h < 1 or a.shape != shapes[name] or not bool(np.isfinite(a).all()):
            raise ValueError(f"{bad} (state.reranker.{name} has shape {a.shape})")
    if (arrays["scale"] <= 0).any():
        raise ValueError(f"{bad} (state.reranker.scale must be > 0)")
    mlp = MLPReranker(hidden=h)
    mlp.weights_, mlp.mean_, mlp.scale_ = arrays["weights"], arrays["mean"], arrays["scale"]
    mlp.hidden_weights_, mlp.hidden_bias_ = arrays["hidden_weights"], arrays["hidden_bias"]
    mlp.output_weights_ = arrays["output_weights"]
    return mlp

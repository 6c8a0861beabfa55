"""Rank fusion of session recommenders: :class:`SessionEnsemble`.

Two :class:`~embedrec.models.session_embed.SessionEmbed` models over different item vectors
(Item2Vec on the sessions as sentences, DeepWalk on the session graph) make different
mistakes, and fusing their rankings beats either: on YOOCHOOSE's validation split MRR@20
rose from 0.379 (Item2Vec) and 0.377 (DeepWalk) to 0.388 (benchmarks/README.md,
"Session-based recommendation"). Three Item2Vec seeds fused in the same way gave nothing,
so the gain is the second view of the data, not averaging.

The fusion is reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009): an item
scores ``sum over members of 1 / (k + rank)``, its rank (1 = best) in each member's list,
``k = 60`` as in the paper. It needs no weights and no calibration between the members'
scores, so nothing is fitted on top of them. Only each member's top :data:`DEPTH` items get
credit; the rest keep the first member's order, below them.

A save is one generation of the model directory, like every session model's: the members'
arrays under ``m0.``, ``m1.``, ... and their classes, configs and facts in the manifest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..data.interactions import Sequences
from .session_base import SessionModel

#: RRF's constant (Cormack et al. 2009): larger flattens the credit of the top ranks
RRF_K = 60.0
#: the items of each member's list that get credit; the others keep the first member's order
DEPTH = 200
#: the member classes a save may name (nothing else is instantiated from a manifest)
MEMBER_CLASSES = (
    "SessionEmbed",
    "SessionPop",
    "AssociationRules",
    "SequentialRules",
    "SKNN",
    "VSKNN",
    "STAN",
    "VSTAN",
)
_MEMBER_ARRAY = re.compile(r"m(\d+)\.(\w+)")


def default_members() -> list[SessionModel]:
    """``SessionEmbed()`` over Item2Vec and over DeepWalk vectors of the session graph."""
    from .session_embed import SessionEmbed
    from .walks import DeepWalk

    return [SessionEmbed(), SessionEmbed(embedder=DeepWalk())]


def rrf_scores(
    scores: Sequence[npt.NDArray[np.float32]], k: float = RRF_K, depth: int = DEPTH
) -> npt.NDArray[np.float32]:
    """Reciprocal rank fusion of ``(n, n_items)`` score matrices (higher first).

    Each item gets ``sum over matrices of 1 / (k + rank)`` for the matrices in whose top
    ``depth`` it is (rank 1 = best; equal scores rank the lower column first, as
    :func:`embedrec.index.topk.top_k` does). Items in no top ``depth`` score below all of
    those, in the first matrix's order.
    """
    if not scores:
        raise ValueError("rrf_scores needs at least one score matrix")
    n, n_items = scores[0].shape
    depth = min(depth, n_items)
    fused = np.zeros((n, n_items), dtype=np.float64)
    rows = np.arange(n)[:, None]
    credit = 1.0 / (k + np.arange(1, depth + 1, dtype=np.float64))
    for s in scores:
        if s.shape != (n, n_items):
            raise ValueError(f"score matrices of shapes {(n, n_items)} and {s.shape}")
        # the top `depth` columns in order (stable: lower column first among equals)
        order = np.argsort(-s.astype(np.float64), axis=1, kind="stable")[:, :depth]
        fused[rows, order] += credit
    # the rest: the first matrix's order, squeezed below the smallest credit given
    first = scores[0].astype(np.float64)
    lo, hi = first.min(axis=1, keepdims=True), first.max(axis=1, keepdims=True)
    tail = (first - lo) / np.maximum(hi - lo, 1e-300)  # in [0, 1]
    floor = 1.0 / (k + depth + 1.0)
    out = np.where(fused > 0, fused + floor, tail * floor)
    return out.astype(np.float32)


class SessionEnsemble(SessionModel):
    """Reciprocal rank fusion of session models fitted on the same sessions (see the
    module docstring).

    Parameters
    ----------
    members : list of unfitted session models, optional
        Default: :func:`default_members` (``SessionEmbed`` over Item2Vec and over DeepWalk).
        Each is fitted on the training sessions; fitting takes their summed time.
    k : float
        RRF's constant.

    Examples
    --------
    >>> from embedrec.models import SequentialRules, SessionPop
    >>> sessions = [["a", "b", "c"], ["a", "b", "d"], ["b", "c", "a"]] * 5
    >>> model = SessionEnsemble([SequentialRules(), SessionPop()]).fit(sessions)
    >>> model.recommend(["a", "b"], k=3).keys.tolist()  # c: SR's 1st, S-POP's 3rd; a: the reverse
    ['a', 'c', 'b']
    """

    def __init__(self, members: Sequence[SessionModel] | None = None, *, k: float = RRF_K) -> None:
        members = list(default_members() if members is None else members)
        if not members:
            raise ValueError("a SessionEnsemble needs at least one member model")
        for m in members:
            if type(m).__name__ not in MEMBER_CLASSES or not isinstance(m, SessionModel):
                raise ValueError(
                    f"{type(m).__name__} cannot be a SessionEnsemble member; use one of "
                    f"{', '.join(MEMBER_CLASSES)}"
                )
        if not np.isfinite(k) or k < 0:
            raise ValueError(f"k={k!r} is invalid; use a finite k >= 0 (RRF: 60)")
        self.members = members
        self.k = float(k)

    # ------------------------------------------------------------------ training, scoring
    def _fit(self, sessions: Sequences) -> None:
        import logging

        log = logging.getLogger(__name__)
        for i, m in enumerate(self.members):
            log.info("SessionEnsemble: fitting member %d (%s)", i, type(m).__name__)
            m.item_keys_, m.item_counts_ = self.item_keys_, self.item_counts_
            m._fit(sessions)

    def _score_prefixes(self, prefixes: Sequences) -> npt.NDArray[np.float32]:
        return rrf_scores([m._score_prefixes(prefixes) for m in self.members], self.k)

    # ------------------------------------------------------------------ persistence
    def _state(self) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
        arrays: dict[str, npt.NDArray[Any]] = {}
        specs = []
        for i, m in enumerate(self.members):
            a, facts = m._state()
            arrays.update({f"m{i}.{name}": v for name, v in a.items()})
            config = getattr(m, "config", None)
            specs.append(
                {
                    "class": type(m).__name__,
                    "config": None if config is None else config.to_dict(),
                    "state": facts,
                    "arrays": sorted(a),
                }
            )
        return arrays, {"k": self.k, "members": specs}

    @classmethod
    def _array_names(cls, listed: set[str] | None) -> list[str]:
        # the members' arrays are named in the manifest (m0.input_vectors, ...)
        if listed is None:
            raise ValueError("the manifest lists no arrays; re-save the model")
        bad = sorted(n for n in listed if n != "item_counts" and not _MEMBER_ARRAY.fullmatch(n))
        if bad:
            raise ValueError(f"the manifest lists arrays {bad} that no member has; re-save")
        return sorted(n for n in listed if n != "item_counts")

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]], facts: dict[str, Any]) -> None:
        from . import session_embed, session_knn, session_rules

        bad = "the manifest's state.members is invalid; re-save the model"
        specs = facts.get("members")
        k = facts.get("k", RRF_K)
        if not isinstance(specs, list) or not specs or not isinstance(k, (int, float)):
            raise ValueError(bad)
        members: list[SessionModel] = []
        for i, spec in enumerate(specs):
            name = spec.get("class") if isinstance(spec, dict) else None
            if name not in MEMBER_CLASSES:
                raise ValueError(f"{bad} (member {i} is {name!r}; members are {MEMBER_CLASSES})")
            assert isinstance(spec, dict) and isinstance(name, str)
            cls = next(
                getattr(mod, name)
                for mod in (session_embed, session_knn, session_rules)
                if hasattr(mod, name)
            )
            names = spec.get("arrays")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{bad} (member {i} lists no arrays)")
            missing = [n for n in names if f"m{i}.{n}" not in arrays]
            if missing:
                raise ValueError(f"{bad} (member {i}'s arrays {missing} are missing)")
            try:
                config = cls.config_class.from_dict(spec["config"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{bad} (member {i} has no valid config: {exc})") from None
            m = cls(config)
            m.item_keys_, m.item_counts_ = self.item_keys_, self.item_counts_
            m._set_state({n: arrays[f"m{i}.{n}"] for n in names}, dict(spec.get("state") or {}))
            members.append(m)
        self.members = members
        self.k = float(k)

"""What the service serves: one loaded artifact directory and the queries it answers.

:func:`load_artifact` reads a model directory once (embeddings, the Item2Vec or session model
when there is one, the user tower of a two-tower model, and a similarity index: ``DIR/index/``
when saved, else built in memory) into an immutable :class:`ServedArtifact`. A session
recommender without item vectors (S-POP, AR, SR, SKNN, V-SKNN, STAN, V-STAN) is served too:
it has no embeddings and no index, and answers every query through its own
``recommend`` / ``score_next`` (a session is a history). The HTTP layer
(:mod:`embedrec.service.app`) only parses requests and formats answers; every query runs
here, on NumPy (a two-tower user tower too: no torch), so it can be tested without a server
and compared one to one with the library's own calls.

Nothing here writes to the artifact directory: the service is read-only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from .._io import MANIFEST, read_manifest
from ..keys import Key, KeyType, key_type_of, parse_key
from ..models.registry import SESSION_CLASSES, load_embeddings, read_embeddings, read_model
from ..models.session_base import SessionModel
from ..models.session_embed import SessionEmbed
from ..vectors import Embeddings

if TYPE_CHECKING:
    from ..index import Index
    from ..models.item2vec import Item2Vec
    from ..models.two_tower.serving import UserTowerRuntime

__all__ = [
    "NoKnownKeyError",
    "NoVectorsError",
    "Ranked",
    "Recommendation",
    "ServedArtifact",
    "load_artifact",
]

logger = logging.getLogger("embedrec")

IndexSource = Literal["loaded", "built"]

#: the directory inside a model directory where ``embedrec index`` saves an index
INDEX_DIR = "index"
#: tries at reading one whole generation while saves retire generations under the reader
_LOAD_ATTEMPTS = 5
#: integer-looking text, at most 30 digits (int() of a very long digit string raises in 3.11+)


class NoKnownKeyError(LookupError):
    """A query (a history) has no key the model knows, so there is nothing to compute."""


class NoVectorsError(LookupError):
    """A query for item vectors to a model that has none (a session baseline)."""


@dataclass(frozen=True)
class Ranked:
    """Keys and scores of one ranked answer, best first (plain Python lists, JSON-ready)."""

    keys: list[Key]
    scores: list[float]


@dataclass(frozen=True)
class Recommendation:
    """A ranked answer for a history, the history keys the model did not know, whether the
    answer is the model's popularity fallback (a history with no known key), and, for a
    two-tower request that named a user, whether that user is known (else ``None``)."""

    ranked: Ranked
    unknown: list[Key]
    fallback: bool
    known_user: bool | None = None


@dataclass(frozen=True)
class _UserQuery:
    """A two-tower request through the user tower: its vector and what to exclude."""

    vector: npt.NDArray[np.float32]  # (dim,)
    unknown: list[Key]  # history keys outside the catalogue
    seen: list[Key]  # the history's known keys, or a known user's stored history
    known_user: bool | None


@dataclass(frozen=True)
class ServedArtifact:
    """One loaded artifact: immutable, so a reload builds a new one and swaps the reference.

    Attributes
    ----------
    path : Path
        The directory (or word2vec-format file) it was read from.
    model_class : str
        ``manifest.json``'s ``class`` (``"word2vec-format"`` for a file).
    manifest : dict
        The manifest (empty for a word2vec-format file).
    embeddings : Embeddings or None
        The vectors that ``/v1/similar`` and ``/v1/embedding`` serve; ``None`` for a session
        recommender without item vectors (then :attr:`index` is ``None`` too).
    model : Item2Vec, SessionModel or None
        The Item2Vec or session model, which ``/v1/recommend`` and ``/v1/score`` go through
        (its own user vectors or session scores); ``None`` for other artifacts, which use the
        mean of the history's unit vectors and the index (or, for a two-tower model, the user
        tower).
    index : Index or None
        The similarity index over :attr:`embeddings`; ``None`` without embeddings.
    index_source : {"loaded", "built"} or None
        Whether the index came from ``DIR/index/`` or was built at load time; ``None``
        without an index.
    load_seconds : float
        Wall time of :func:`load_artifact`.
    loaded_at : datetime
        When loading finished (UTC).
    generation : int
        0 for the artifact served at start, incremented by every successful reload (the
        reload order's number on every worker of a multi-worker service).
    user_tower : UserTowerRuntime or None
        A two-tower model's user tower (run in numpy, no torch): ``/v1/recommend`` and
        ``/v1/score`` turn a user key, raw side features and/or a history into the query
        vector with it; ``None`` for other artifacts.
    artifact_generation : str or None
        The generation of the artifact's own store that was read (``"gen-000003"``: what its
        ``CURRENT`` pointer named when loading began); ``None`` for a flat directory or a
        word2vec-format file.
    item_keys : list of keys
        The served items (set at construction): the vectors' keys, or the item table of a
        model without vectors.
    key_type : {"str", "int"}
        Their type (set at construction).

    Raises
    ------
    ValueError
        Neither vectors nor a session model, or vectors without an index (or the reverse).
    """

    path: Path
    model_class: str
    manifest: dict[str, Any]
    embeddings: Embeddings | None
    model: Item2Vec | SessionModel | None
    index: Index | None
    index_source: IndexSource | None
    load_seconds: float
    loaded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    generation: int = 0
    user_tower: UserTowerRuntime | None = None
    artifact_generation: str | None = None
    item_keys: list[Key] = field(init=False, repr=False, compare=False)
    key_type: KeyType = field(init=False, repr=False, compare=False)
    _rows: dict[Key, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the key table is built here, at load time, never lazily by a request
        emb = self.embeddings
        if (emb is None) != (self.index is None):
            raise ValueError(
                "an artifact needs both item vectors and their index, or neither (a session "
                "model without vectors)"
            )
        if emb is not None:
            keys, key_type, rows = emb.keys, emb.key_type, emb.key_to_index
        elif isinstance(self.model, SessionModel):
            keys = self.model.item_keys_.tolist()
            key_type = key_type_of(keys)
            rows = {key: i for i, key in enumerate(keys)}
        else:
            raise ValueError(
                f"{self.model_class} has no item vectors and is not a session recommender; "
                "there is nothing to serve"
            )
        object.__setattr__(self, "item_keys", keys)
        object.__setattr__(self, "key_type", key_type)
        object.__setattr__(self, "_rows", rows)

    # ------------------------------------------------------------------ description
    @property
    def config(self) -> dict[str, Any]:
        """The model's configuration (``{}`` when the artifact has none)."""
        # every model class has a config; the session base class does not declare one
        model_cfg = getattr(self.model, "config", None)
        if model_cfg is not None:
            return dict(model_cfg.to_dict())
        cfg = self.manifest.get("config")
        return dict(cfg) if isinstance(cfg, dict) else {}

    @property
    def index_kind(self) -> str | None:
        """Kind of :attr:`index` (``"exact"``, ``"hnsw"``, ``"ivf-flat"``, ``"ivf-pq"``);
        ``None`` without one."""
        return None if self.index is None else self.index.kind

    @property
    def index_params(self) -> dict[str, Any]:
        """The index's (JSON-able) parameters (``{}`` without one)."""
        return {} if self.index is None else dict(self.index.params)

    @property
    def strategy(self) -> str:
        """How ``/v1/recommend`` and ``/v1/score`` turn a history into scores."""
        if isinstance(self.model, SessionEmbed):
            return (
                "session: a re-click / new-item mixture over the item vectors "
                f"({self.model.scoring_})"
            )
        if isinstance(self.model, SessionModel):
            return (
                f"session: {self.model_class}'s next-item scores after the history (the "
                "session so far); a history with no known key gets the most popular items"
            )
        if self.model is not None:
            cfg = self.model.config
            return f"item2vec: user_vector={cfg.user_vector}, scoring={cfg.scoring}"
        emb, _ = self.require_vectors()
        if self.user_tower is not None:
            inputs = ", ".join(f"{f.name} ({f.kind})" for f in self.user_tower.features)
            return f"two-tower: the user tower over {inputs}; {emb.metric} via the index"
        return f"mean of the history's unit vectors, {emb.metric} via the index"

    @property
    def similar_strategy(self) -> str:
        """How ``/v1/similar`` ranks the neighbours of a key."""
        if self.embeddings is None:
            return (
                f"session: {self.model_class}'s next items after the one-item session [key] "
                "(the model has no item vectors), the key itself excluded"
            )
        return f"{self.embeddings.metric} of the item vectors via the {self.index_kind} index"

    # ------------------------------------------------------------------ keys
    def parse_key(self, raw: str | int) -> Key:
        """The model's form of a request key.

        With int keys, integer-looking text (``"42"``) becomes an int; with str keys, an int
        becomes its text. Anything else is returned unchanged (and is then unknown).

        Examples
        --------
        >>> art = _toy_artifact([1, 2])
        >>> art.parse_key("2"), art.parse_key("x")
        (2, 'x')
        """
        return parse_key(raw, self.key_type)

    def parse_keys(self, raws: Sequence[str | int]) -> list[Key]:
        """:meth:`parse_key` of each element."""
        return [self.parse_key(r) for r in raws]

    def parse_user(self, raw: str | int) -> Key:
        """A request's user key in the two-tower model's user key type (as :meth:`parse_key`
        does for items); unchanged for other artifacts, which take no user."""
        if self.user_tower is None:
            return raw
        return parse_key(raw, self.user_tower.user_key_type)

    def _indices(self, keys: Sequence[Key]) -> npt.NDArray[np.int64]:
        get = self._rows.get
        return np.fromiter((get(k, -1) for k in keys), dtype=np.int64, count=len(keys))

    def require_vectors(self) -> tuple[Embeddings, Index]:
        """The item vectors and their index.

        Raises
        ------
        NoVectorsError
            The model has none (a session baseline).
        """
        if self.embeddings is None or self.index is None:
            raise NoVectorsError(
                f"model class {self.model_class} has no item vectors; /v1/embedding serves "
                "vector models only (so does POST /v1/embeddings); this model answers "
                "/v1/similar, /v1/recommend and /v1/score"
            )
        return self.embeddings, self.index

    # ------------------------------------------------------------------ queries
    def similar(self, keys: Sequence[Key], k: int) -> list[Ranked | None]:
        """The ``k`` nearest keys of each key through the index (the key itself excluded);
        ``None`` for an unknown key. Fewer than ``k`` when the catalogue is smaller.

        A session model without item vectors answers with its next items after the one-item
        session ``[key]`` (its ``recommend([key], k, exclude_seen=True)``).
        """
        idx = self._indices(keys)
        out: list[Ranked | None] = [None] * len(keys)
        if self.embeddings is None and isinstance(self.model, SessionModel):
            for j, (key, i) in enumerate(zip(keys, idx.tolist(), strict=True)):
                if i >= 0:
                    rec = self.model.recommend([key], k, exclude_seen=True)
                    (out[j],) = _rows(rec.keys[None, :], rec.scores[None, :])
            return out
        _, index = self.require_vectors()
        known = [key for key, i in zip(keys, idx.tolist(), strict=True) if i >= 0]
        if not known:
            return out
        res = index.search_keys(known, k)
        rows = iter(_rows(res.keys, res.scores))
        for j, i in enumerate(idx.tolist()):
            if i >= 0:
                out[j] = next(rows)
        return out

    def recommend(
        self,
        history: Sequence[Key] | None,
        k: int,
        *,
        exclude_seen: bool = True,
        times: Sequence[float] | None = None,
        user: Key | None = None,
        features: Mapping[str, Any] | None = None,
    ) -> Recommendation:
        """Top-``k`` items for a history (or, for a two-tower model, a user and features).

        Item2Vec goes through :meth:`Item2Vec.recommend_users` (its user-vector strategy and
        scoring; a history with no known key gets its popularity fallback). A session model
        (with or without item vectors) goes through its own ``recommend`` (the history is the
        session so far; ``times`` reach the time-aware models; a history with no known key,
        or an empty one, gets its most popular items: ``fallback``). A two-tower model
        runs its user tower on ``user``, ``features`` and ``history`` (the semantics of
        ``TwoTower.recommend``: see :meth:`_user_query`) and searches the index with the
        result. Other models search the index with the mean of the known history keys' unit
        vectors.

        Raises
        ------
        NoKnownKeyError
            A model without a user tower or its own recommender, and no known history key.
        ValueError
            ``user`` or ``features`` for a model without a user tower; no history for one
            without; an empty history for a model that recommends by the mean of the
            history's vectors; bad ``times`` (wrong length, or missing where the model needs
            them); bad raw feature values.
        """
        if self.user_tower is not None:
            _, index = self.require_vectors()
            self._check_times(times, history)
            uq = self._user_query(history, user, features)
            exclude = [uq.seen] if exclude_seen and uq.seen else None
            res = index.search(uq.vector[None, :], k, exclude=exclude)
            (ranked,) = _rows(res.keys, res.scores)
            return Recommendation(ranked, uq.unknown, False, uq.known_user)
        history = self._require_history(history, user, features)
        idx = self._indices(history)
        unknown = [key for key, i in zip(history, idx.tolist(), strict=True) if i < 0]
        self._check_times(times, history)
        if isinstance(self.model, SessionModel):
            # the model ignores unknown keys itself; dropping them (and their times) here
            # gives the same answer and keeps keys of another type out of its key checks
            known, known_times = _known_part(history, idx, times)
            srec = self.model.recommend(known, k, times=known_times, exclude_seen=exclude_seen)
            (ranked,) = _rows(srec.keys[None, :], srec.scores[None, :])
            return Recommendation(ranked, unknown, fallback=bool((idx < 0).all()))
        if self.model is not None:
            rec = self.model.recommend_users(
                [list(history)],
                k,
                exclude_seen=exclude_seen,
                times=None if times is None else [np.asarray(times, dtype=np.float64)],
            )
            (ranked,) = _rows(rec.keys, rec.scores)
            return Recommendation(ranked, unknown, fallback=bool((idx < 0).all()))
        _, index = self.require_vectors()
        q = self._mean_unit(idx, history)
        known_keys = [key for key, i in zip(history, idx.tolist(), strict=True) if i >= 0]
        res = index.search(q[None, :], k, exclude=[known_keys] if exclude_seen else None)
        (ranked,) = _rows(res.keys, res.scores)
        return Recommendation(ranked, unknown, fallback=False)

    def score(
        self,
        history: Sequence[Key] | None,
        candidates: Sequence[Key],
        *,
        times: Sequence[float] | None = None,
        user: Key | None = None,
        features: Mapping[str, Any] | None = None,
    ) -> tuple[list[float | None], list[Key], bool]:
        """Score of each candidate for a history: ``None`` for an unknown candidate.

        Item2Vec: :meth:`Item2Vec.score` (its scoring; popularity for a history with no known
        key). A session model: its ``score_next`` (popularity for a history with no known
        key). Two-tower: the cosine (or dot, by the metric) of the user tower's vector (of
        ``user``, ``features`` and ``history``, as in :meth:`recommend`) and each candidate.
        Other models: the cosine (or dot) of the mean of the history's unit vectors and each
        candidate. Always the score ``/v1/recommend`` ranks by.

        Returns
        -------
        scores : list of float or None, one per candidate
        unknown : list of the unknown history keys
        fallback : bool, whether the scores are the popularity fallback

        Raises
        ------
        NoKnownKeyError
            A model without a user tower or its own scoring, and no known history key.
        ValueError
            As :meth:`recommend`.
        """
        cidx = self._indices(candidates)
        if self.user_tower is not None:
            self._check_times(times, history)
            uq = self._user_query(history, user, features)
            s = self._similarity(cidx, uq.vector)
            vals = np.where(cidx >= 0, s, np.nan).tolist()
            return [v if np.isfinite(v) else None for v in vals], uq.unknown, False
        history = self._require_history(history, user, features)
        idx = self._indices(history)
        unknown = [key for key, i in zip(history, idx.tolist(), strict=True) if i < 0]
        self._check_times(times, history)
        if isinstance(self.model, SessionModel):
            known, known_times = _known_part(history, idx, times)
            known_candidates, _ = _known_part(candidates, cidx, None)
            s = np.full(len(candidates), np.nan, dtype=np.float32)
            s[cidx >= 0] = self.model.score_next(known, known_candidates, times=known_times)
            fallback = bool((idx < 0).all())
        elif self.model is not None:
            s = self.model.score(
                [list(history)],
                list(candidates),
                times=None if times is None else [np.asarray(times, dtype=np.float64)],
            )[0]
            fallback = bool((idx < 0).all())
        else:
            s = self._similarity(cidx, self._mean_unit(idx, history))
            fallback = False
        vals = np.where(cidx >= 0, s, np.nan).tolist()
        return [v if np.isfinite(v) else None for v in vals], unknown, fallback

    def _similarity(self, cidx: npt.NDArray[np.int64], q: Any) -> Any:
        """Cosine (or dot, by the metric) of ``q`` and the rows ``cidx`` (``-1``: any value)."""
        emb, _ = self.require_vectors()
        safe = np.where(cidx >= 0, cidx, 0)
        if emb.metric == "cosine":
            q = q / np.float32(max(float(np.linalg.norm(q)), 1e-30))
            return emb.unit_vectors[safe] @ q
        return emb.vectors[safe] @ q

    @staticmethod
    def _check_times(times: Sequence[float] | None, history: Sequence[Key] | None) -> None:
        if times is None:
            return
        if history is None:
            raise ValueError("times were given without a history; send one time per history key")
        if len(times) != len(history):
            raise ValueError(
                f"times has {len(times)} entries but the history has {len(history)} keys; "
                "give one time per history key"
            )

    def _require_history(
        self, history: Sequence[Key] | None, user: Key | None, features: Mapping[str, Any] | None
    ) -> Sequence[Key]:
        """The history of a request to a model without a user tower (which needs one and
        takes no user or features)."""
        if user is not None or features is not None:
            given = " and ".join(
                name for name, v in (("user", user), ("features", features)) if v is not None
            )
            raise ValueError(
                f"{given} can only be given to a TwoTower model (it has a user tower); this "
                f"service serves a model of class {self.model_class}, which recommends from the "
                "history alone: send 'history' only"
            )
        if history is None:
            raise ValueError(
                f"history is required: a model of class {self.model_class} recommends from the "
                "items of the history (only TwoTower models take a user key or features instead)"
            )
        return history

    def _user_query(
        self,
        history: Sequence[Key] | None,
        user: Key | None,
        features: Mapping[str, Any] | None,
    ) -> _UserQuery:
        """The user tower's vector for one request, with ``TwoTower.recommend``'s semantics.

        * ``user``: a known user brings their stored side features (and, without a history,
          their stored history); an unknown key is the cold-start user, the encoder's
          default row (every feature missing), not an error.
        * ``features``: raw side features by column; they replace the user's stored ones
          (a field left out is missing).
        * ``history``: the items fed to the tower and excluded (keys outside the catalogue
          are the unknown row and are reported); ``None`` uses a known user's stored history,
          which is then what is excluded; ``[]`` is an empty history.
        """
        rt = self.user_tower
        assert rt is not None
        if history is None and user is None and features is None:
            raise ValueError(
                "give at least one of 'user' (a user key), 'features' (raw user features, "
                "see GET /v1/info) or 'history' (item keys; [] for none)"
            )
        if features is not None:
            rt.check_features(features)
        q = rt.user_vectors(
            None if history is None else [list(history)],
            users=None if user is None else [user],
            features=None if features is None else [features],
        )[0]
        if not np.isfinite(q).all():
            raise ValueError(
                "the user tower's output is not finite for these inputs; a numeric feature "
                "is far outside the range the model was trained on: send a realistic value"
            )
        known_user = None if user is None else rt.knows_user(user)
        if history is not None:
            idx = self._indices(history)
            unknown = [key for key, i in zip(history, idx.tolist(), strict=True) if i < 0]
            seen = [key for key, i in zip(history, idx.tolist(), strict=True) if i >= 0]
        else:
            unknown, seen = [], rt.stored_history(user)
        return _UserQuery(q, unknown, seen, known_user)

    def vectors(self, keys: Sequence[Key]) -> list[list[float] | None]:
        """The stored vector of each key; ``None`` for an unknown key.

        Raises
        ------
        NoVectorsError
            The model has no item vectors (a session baseline).
        """
        emb, _ = self.require_vectors()
        idx = self._indices(keys)
        rows = emb.vectors[np.where(idx >= 0, idx, 0)].tolist()
        return [row if i >= 0 else None for row, i in zip(rows, idx.tolist(), strict=True)]

    def _mean_unit(self, idx: npt.NDArray[np.int64], history: Sequence[Key]) -> Any:
        """Mean of the known history keys' unit vectors, ``(dim,)`` float32."""
        if len(history) == 0:
            raise ValueError(
                f"the history is empty; a {self.model_class} model needs at least one known "
                "key (only Item2Vec and session models answer an empty history, with popular items)"
            )
        known = idx[idx >= 0]
        if known.size == 0:
            shown = ", ".join(repr(h) for h in list(history)[:5])
            more = ", ..." if len(history) > 5 else ""
            raise NoKnownKeyError(
                f"none of the {len(history)} history keys is known to the model ({shown}{more}); "
                "give at least one known key"
            )
        emb, _ = self.require_vectors()
        return emb.unit_vectors[known].mean(axis=0)


def _known_part(
    keys: Sequence[Key], idx: npt.NDArray[np.int64], times: Sequence[float] | None
) -> tuple[list[Key], list[float] | None]:
    """The keys with a row (``idx >= 0``), and their times."""
    keep = (idx >= 0).tolist()
    known = [key for key, ok in zip(keys, keep, strict=True) if ok]
    if times is None:
        return known, None
    return known, [float(t) for t, ok in zip(times, keep, strict=True) if ok]


def _rows(keys: npt.NDArray[Any], scores: npt.NDArray[np.float32]) -> list[Ranked]:
    """Rows of an ``(n, k)`` result as :class:`Ranked`, dropping padding (non-finite scores)."""
    out = []
    for krow, srow in zip(np.atleast_2d(keys), np.atleast_2d(scores), strict=True):
        keep = np.isfinite(srow)
        out.append(Ranked(krow[keep].tolist(), srow[keep].astype(np.float64).tolist()))
    return out


# ---------------------------------------------------------------------------------- loading
_Read = tuple[
    str,
    dict[str, Any],
    "Embeddings | None",
    "Item2Vec | SessionModel | None",
    "UserTowerRuntime | None",
]


def _read_embeddings(path: Path) -> _Read:
    """What one generation directory (or a word2vec-format file) serves, through the model
    registry: its class, manifest and vectors (``None`` for a session recommender without
    any), plus the Item2Vec or session model (which recommends and scores itself) or a
    two-tower model's user tower (numpy only: no torch)."""
    if path.is_file():
        return "word2vec-format", {}, load_embeddings(path), None, None
    manifest = read_manifest(path)
    kind = str(manifest.get("class"))
    if kind == "Item2Vec" or kind in SESSION_CLASSES:
        model = read_model(path)
        return kind, manifest, getattr(model, "embeddings_", None), model, None
    emb = read_embeddings(path)
    tower = None
    if kind == "TwoTower":
        # numpy only: serving a two-tower model does not need the torch extra
        from ..models.two_tower.serving import UserTowerRuntime

        tower = UserTowerRuntime.load(path)
        if tower.output_dim != emb.dim or tower.item_keys.tolist() != emb.keys:
            raise ValueError(
                f"{path}: the user tower ({tower.output_dim}-d) does not match the item "
                f"vectors ({len(emb)} x {emb.dim}); the directory is corrupt, re-save the model"
            )
    return kind, manifest, emb, None, tower


def _index_for(
    path: Path, emb: Embeddings, kind: str | None, params: dict[str, Any]
) -> tuple[Index, IndexSource]:
    from ..index import build_index, load_index

    saved = path / INDEX_DIR
    if kind is None and path.is_dir() and (saved / MANIFEST).is_file():
        index = load_index(saved)
        if index.dim != emb.dim or index.metric != emb.metric or index.keys != emb.keys:
            raise ValueError(
                f"{saved} holds an index of {len(index)} x {index.dim} ({index.metric}) that "
                f"does not match the model's {len(emb)} x {emb.dim} ({emb.metric}) vectors and "
                "keys; it was built for other vectors: rebuild it with `embedrec index`, or "
                "serve with --index KIND to build one at start"
            )
        return index, "loaded"
    if kind is not None and (saved / MANIFEST).is_file():
        logger.info("building the asked %r index; the saved %s is not used", kind, saved)
    return build_index(emb, kind=kind or "exact", **params), "built"


def load_artifact(
    path: str | Path,
    *,
    index_kind: str | None = None,
    index_params: dict[str, Any] | None = None,
    generation: int = 0,
) -> ServedArtifact:
    """Load a model directory for serving (read-only: nothing is written to it).

    Parameters
    ----------
    path : path
        A Word2Vec, Item2Vec, TwoTower, Embeddings or session model directory (SessionEmbed,
        or a baseline without item vectors: SessionPop, AssociationRules, SequentialRules,
        SKNN, VSKNN, STAN, VSTAN), any directory with ``manifest.json``, ``keys.json`` and
        ``vectors.npy``, or a word2vec-format file.
    index_kind : str, optional
        ``None`` loads ``path/index/`` when present, else builds an exact index; a kind always
        builds that index at load time. A model without item vectors has no index (and
        ``index_kind`` is not used).
    index_params : dict, optional
        Keyword arguments of :func:`embedrec.index.build_index`.
    generation : int, default 0
        Stored on the result (reloads count up).

    Returns
    -------
    ServedArtifact

    Raises
    ------
    FileNotFoundError, NotADirectoryError, ValueError
        A missing or corrupt artifact, or a saved index that does not match the vectors.
    """
    from ..artifacts import resolve_artifact

    t0 = time.perf_counter()
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"model directory {p} does not exist; check the path")
    for attempt in range(_LOAD_ATTEMPTS):
        # resolve the generation pointer once and read every file from that one generation
        directory, gen_name = (p, None) if p.is_file() else resolve_artifact(p)
        try:
            model_class, manifest, emb, model, user_tower = _read_embeddings(directory)
            index: Index | None = None
            source: IndexSource | None = None
            if emb is not None:
                if len(emb) == 0:
                    raise ValueError(f"{p} holds no vectors; there is nothing to serve")
                emb.unit_vectors  # noqa: B018 - computed now, not lazily by concurrent requests
                index, source = _index_for(directory, emb, index_kind, dict(index_params or {}))
            elif index_kind is not None:
                logger.info("%s has no item vectors: no %r index", model_class, index_kind)
            break
        except (OSError, ValueError):
            # a save published a newer generation and retired ours while we read it: read again
            if (
                gen_name is None
                or attempt + 1 == _LOAD_ATTEMPTS
                or resolve_artifact(p)[1] == gen_name
            ):
                raise
            logger.info(
                "%s moved on from %s while loading; reading the new generation", p, gen_name
            )
    seconds = time.perf_counter() - t0
    art = ServedArtifact(
        path=p,
        model_class=model_class,
        manifest=manifest,
        embeddings=emb,
        model=model,
        index=index,
        index_source=source,
        load_seconds=seconds,
        generation=generation,
        user_tower=user_tower,
        artifact_generation=gen_name,
    )
    shape = (
        f"{len(art.item_keys)} items, no item vectors"
        if emb is None
        else f"{len(emb)} keys x {emb.dim} dims, {art.index_kind} index {source}"
    )
    logger.info("loaded %s %s: %s, in %.2fs", model_class, p, shape, seconds)
    return art


def _toy_artifact(keys: list[Key]) -> ServedArtifact:
    """A tiny artifact for doctests (exact index over one-hot vectors)."""
    from ..index import build_index

    emb = Embeddings(keys, np.eye(len(keys), dtype=np.float32))
    return ServedArtifact(Path("."), "Embeddings", {}, emb, None, build_index(emb), "built", 0.0)

"""What every session recommender shares: training sessions in, next items out.

A *session* is a short, time-ordered run of item events of one visitor (a click session, a
basket, a listening session); a *prefix* is the session so far. A session recommender ranks
the whole catalogue for what comes next after a prefix: the baselines of session-based
recommendation (:mod:`.session_rules`: S-POP, AR, SR; :mod:`.session_knn`: SKNN, V-SKNN,
STAN, V-STAN) and the embedding models with a session scoring rule
(:mod:`.session_embed`).

Subclasses implement two methods over item *codes* (rows of ``item_keys_``):

- ``_fit(sessions)`` learns from a :class:`~embedrec.data.interactions.Sequences` whose codes
  index ``self.item_keys_`` (set before the call, with ``self.item_counts_``);
- ``_score_prefixes(prefixes)`` returns an ``(n_prefixes, n_items)`` float32 score matrix,
  one row per prefix (a ``Sequences`` in the same code table; ``times`` are the prefix events'
  times).

The base class turns that into :meth:`SessionModel.recommend_next` (codes, the evaluator's
entry point, :func:`embedrec.eval.sessions.evaluate_sessions`) and :meth:`SessionModel.recommend`
(keys: "a session is a history"). Ranking goes through :func:`embedrec.index.topk.top_k`, so
equal scores rank the lower code first, and items with score 0 fill the list when fewer items
have a positive score (as in session-rec, which ranks every training item).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from .._io import make_manifest, read_manifest, read_npy, write_json, write_npy
from ..artifacts import (
    check_savable,
    load_consistent,
    publish_artifact,
    read_json,
    verify_artifact,
)
from ..data.interactions import Interactions, Sequences
from ..index.topk import check_k, top_k
from ..keys import key_array, key_type_of, keys_array, normalise_keys, plain
from .item2vec import Recommendations

#: prefixes scored at once by :meth:`SessionModel.recommend_next` (bounds the score matrix)
SCORE_BLOCK_CELLS = 1 << 23

_M = TypeVar("_M", bound="SessionModel")

SessionInput = Interactions | Sequences | Iterable[Sequence[Hashable]]


def as_sessions(data: SessionInput) -> Sequences:
    """Training sessions as :class:`Sequences`.

    An :class:`Interactions` log is cut per user key (each user key is one session: read the
    log with the session id as the user column); ``Sequences`` are taken as they are; any other
    iterable is a list of item-key sequences in time order (times are then positions).
    """
    if isinstance(data, Sequences):
        return data
    if isinstance(data, Interactions):
        return data.sequences()
    if isinstance(data, (str, bytes)):
        raise TypeError(
            "sessions must be an Interactions log, Sequences or a list of item-key lists, "
            f"not a {type(data).__name__}; read a file with embedrec.data.read_interactions"
        )
    lists = [list(s) for s in data]
    flat = [k for s in lists for k in s]
    if not flat:
        raise ValueError("no session has an item; nothing to learn from")
    users = np.repeat(np.arange(len(lists), dtype=np.int64), [len(s) for s in lists])
    times = np.concatenate([np.arange(len(s), dtype=np.float64) for s in lists if s])
    return Interactions.from_arrays(users, key_array(flat), times).sequences()


def recode(sessions: Sequences, item_keys: npt.NDArray[Any]) -> tuple[Sequences, int]:
    """``sessions`` with codes into ``item_keys`` (unknown items dropped) and the number of
    events dropped."""
    if sessions.item_keys is item_keys or (
        len(sessions.item_keys) == len(item_keys) and bool(np.all(sessions.item_keys == item_keys))
    ):
        return sessions, 0
    lookup = {k: i for i, k in enumerate(item_keys.tolist())}
    table = np.array([lookup.get(k, -1) for k in sessions.item_keys.tolist()], dtype=np.int64)
    codes = table[sessions.items] if sessions.items.size else np.zeros(0, dtype=np.int64)
    keep = codes >= 0
    lengths = np.add.reduceat(keep, sessions.offsets[:-1]) if keep.size else None
    offsets = np.zeros(len(sessions) + 1, dtype=np.int64)
    if lengths is not None:
        # reduceat repeats the value at an empty segment's start: zero the empty ones
        lengths = np.where(np.diff(sessions.offsets) > 0, lengths, 0)
        np.cumsum(lengths, out=offsets[1:])
    out = Sequences(
        items=codes[keep].astype(np.int32),
        offsets=offsets,
        user=sessions.user,
        item_keys=item_keys,
        times=sessions.times[keep],
        user_keys=sessions.user_keys,
    )
    return out, int((~keep).sum())


def compact_items(sessions: Sequences) -> Sequences:
    """``sessions`` on a table of the items that occur in them (in the order of their
    codes in ``sessions.item_keys``)."""
    used = np.unique(sessions.items)
    if used.size == len(sessions.item_keys):
        return sessions
    remap = np.full(len(sessions.item_keys), -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return Sequences(
        items=remap[sessions.items].astype(np.int32),
        offsets=sessions.offsets,
        user=sessions.user,
        item_keys=sessions.item_keys[used],
        times=sessions.times,
        user_keys=sessions.user_keys,
    )


class SessionModel:
    """Base of the session recommenders (see the module docstring)."""

    #: item keys; code ``i`` is ``item_keys_[i]``
    item_keys_: npt.NDArray[Any]
    #: training events per item code
    item_counts_: npt.NDArray[np.int64]

    def fit(self: _M, data: SessionInput, *, progress: bool = False) -> _M:
        """Learn from training sessions (:func:`as_sessions` lists the accepted inputs).

        ``progress`` is accepted for symmetry with the embedding models; the baselines train
        in seconds and log nothing.
        """
        sessions = as_sessions(data)
        if sessions.items.size == 0:
            raise ValueError("the training sessions hold no event; nothing to learn from")
        # a compact table of the items that occur (a log's table may hold filtered-out keys)
        sessions = compact_items(sessions)
        self.item_keys_ = sessions.item_keys
        self.item_counts_ = np.bincount(sessions.items, minlength=len(sessions.item_keys)).astype(
            np.int64
        )
        self._fit(sessions)
        return self

    # ------------------------------------------------------------------ to implement
    def _fit(self, sessions: Sequences) -> None:
        raise NotImplementedError

    def _score_prefixes(self, prefixes: Sequences) -> npt.NDArray[np.float32]:
        raise NotImplementedError

    # ------------------------------------------------------------------ persistence
    def _state(self) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
        """What a save holds besides the config and the item table: numeric arrays (by
        name) and JSON-able facts."""
        raise NotImplementedError

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]], facts: dict[str, Any]) -> None:
        raise NotImplementedError

    #: the arrays a save of this class holds (checked before anything is read)
    _ARRAYS: tuple[str, ...] = ()
    #: arrays added to the format later: read when the manifest lists them, absent from
    #: older saves (``_set_state`` then does without them)
    _LATER_ARRAYS: tuple[str, ...] = ()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model as a new generation of the directory ``path``
        (:mod:`embedrec.artifacts`): manifest.json, items.json, item_counts.npy and the
        model's arrays (``.npy``, never pickle). An interrupted save leaves the previous one
        intact."""
        keys = self._fitted()
        arrays, facts = self._state()
        arrays = {"item_counts": self.item_counts_, **arrays}
        for name, arr in arrays.items():
            check_savable(np.asarray(arr), name)
        config = getattr(self, "config", None)
        with publish_artifact(path) as tmp:
            write_json(tmp / "items.json", [plain(k) for k in keys.tolist()])
            for name, arr in arrays.items():
                write_npy(tmp / f"{name}.npy", np.ascontiguousarray(arr))
            write_json(
                tmp / "manifest.json",
                make_manifest(
                    type(self).__name__,
                    config=None if config is None else config.to_dict(),
                    n_items=len(keys),
                    key_type=key_type_of(keys.tolist()),
                    arrays=sorted(arrays),
                    state=facts,
                ),
            )

    @classmethod
    def load(cls: type[_M], path: str | os.PathLike[str]) -> _M:
        """Load a directory written by :meth:`save`; ``ValueError`` if it is corrupt or holds
        another class."""
        return load_consistent(path, cls._load_generation)

    @classmethod
    def _load_generation(cls: type[_M], directory: Path) -> _M:
        manifest = read_manifest(directory, cls.__name__)
        listed = manifest.get("arrays")
        listed = set(listed) if isinstance(listed, list) else set(cls._LATER_ARRAYS)
        names = ["item_counts", *cls._ARRAYS, *(n for n in cls._LATER_ARRAYS if n in listed)]
        verify_artifact(directory, manifest, ["items.json", *(f"{n}.npy" for n in names)])
        config_cls = getattr(cls, "config_class", None)
        maker: Any = cls
        try:
            config = config_cls.from_dict(manifest["config"]) if config_cls else None
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{directory}/manifest.json has no valid config ({exc})") from exc
        model: _M = maker(config) if config_cls else maker()
        raw = read_json(directory / "items.json")
        if not isinstance(raw, list) or not all(
            isinstance(k, (str, int)) and not isinstance(k, bool) for k in raw
        ):
            raise ValueError(
                f"{directory}/items.json is not a list of str or int keys; re-save the model"
            )
        model.item_keys_ = keys_array(raw, key_type_of(raw))
        arrays = {n: read_npy(directory / f"{n}.npy") for n in names}
        counts = arrays.pop("item_counts")
        if counts.shape != (len(raw),):
            raise ValueError(
                f"{directory}: item_counts.npy has shape {counts.shape} for {len(raw)} items; "
                "the directory is corrupt, re-save the model"
            )
        model.item_counts_ = counts.astype(np.int64)
        model._set_state(arrays, dict(manifest.get("state") or {}))
        return model

    # ------------------------------------------------------------------ queries
    @property
    def n_items(self) -> int:
        return int(self._fitted().shape[0])

    def _fitted(self) -> npt.NDArray[Any]:
        keys: npt.NDArray[Any] | None = getattr(self, "item_keys_", None)
        if keys is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call .fit(sessions)")
        return keys

    def score_prefixes(self, prefixes: Sequences) -> npt.NDArray[np.float32]:
        """``(n_prefixes, n_items)`` float32 scores of every item after each prefix (codes of
        this model's table; :func:`recode` maps others). Higher ranks first."""
        keys = self._fitted()
        if prefixes.item_keys is not keys:
            prefixes, _ = recode(prefixes, keys)
        return self._score_prefixes(prefixes)

    def recommend_next(self, prefixes: Sequences, k: int) -> npt.NDArray[np.int64]:
        """``(n_prefixes, min(k, n_items))`` item codes, best first, for each prefix.

        ``prefixes`` must use this model's code table (``prefixes.item_keys is
        self.item_keys_``; :func:`recode` maps other tables). Equal scores rank the lower code
        first; an empty prefix gets the most popular items.
        """
        keys = self._fitted()
        k = check_k(k)
        if prefixes.item_keys is not keys:
            prefixes, _ = recode(prefixes, keys)
        n = len(prefixes)
        width = min(k, len(keys))
        out = np.empty((n, width), dtype=np.int64)
        block = max(1, SCORE_BLOCK_CELLS // max(len(keys), 1))
        pop = self.item_counts_.astype(np.float32)
        lengths = prefixes.lengths()
        for a in range(0, n, block):
            b = min(n, a + block)
            sub = prefixes.rows(a, b)
            scores = self._score_prefixes(sub)
            empty = lengths[a:b] == 0
            if empty.any():
                scores[empty] = pop
            out[a:b] = top_k(scores, width, drop_inf=False)[0]
        return out

    def score_next(
        self,
        history: Sequence[Hashable],
        candidates: Sequence[Hashable],
        *,
        times: Sequence[float] | None = None,
    ) -> npt.NDArray[np.float32]:
        """The score :meth:`recommend` ranks by, of each candidate after the session
        ``history``; NaN for a candidate the model does not know."""
        scores = self._history_scores(history, times)[0]
        lookup = self._key_lookup()
        cands, _ = normalise_keys(list(candidates)) if len(candidates) else ([], "str")
        rows = np.array([lookup.get(c, -1) for c in cands], dtype=np.int64)
        out = np.full(rows.size, np.nan, dtype=np.float32)
        out[rows >= 0] = scores[rows[rows >= 0]]
        return out

    def _key_lookup(self) -> dict[Any, int]:
        lookup: dict[Any, int] | None = getattr(self, "_lookup", None)
        if lookup is None or len(lookup) != len(self._fitted()):
            lookup = {key: i for i, key in enumerate(self.item_keys_.tolist())}
            self._lookup = lookup
        return lookup

    def _history_scores(
        self, history: Sequence[Hashable], times: Sequence[float] | None
    ) -> npt.NDArray[np.float32]:
        """``(1, n_items)`` scores after ``history`` (popularity for no known key)."""
        keys = self._fitted()
        hist, _ = normalise_keys(list(history)) if len(history) else ([], "str")
        lookup = self._key_lookup()
        codes = [lookup.get(h, -1) for h in hist]
        if times is not None and len(times) != len(hist):
            raise ValueError(f"times has {len(times)} entries but history has {len(hist)}")
        t = (
            np.asarray(times, dtype=np.float64)
            if times is not None
            else np.arange(len(hist), dtype=np.float64)
        )
        known = np.array([c >= 0 for c in codes], dtype=bool)
        items = np.array([c for c in codes if c >= 0], dtype=np.int32)
        if not items.size:
            return self.item_counts_.astype(np.float32)[None, :].copy()
        prefix = Sequences(
            items=items,
            offsets=np.array([0, items.size], dtype=np.int64),
            user=np.zeros(1, dtype=np.int32),
            item_keys=keys,
            times=t[known],
        )
        return self._score_prefixes(prefix)

    def recommend(
        self,
        history: Sequence[Hashable],
        k: int = 10,
        *,
        times: Sequence[float] | None = None,
        exclude_seen: bool = False,
    ) -> Recommendations:
        """The next items after the session ``history`` (item keys, oldest first).

        ``times`` (seconds, one per history event) matter to the time-aware models (STAN,
        V-STAN); without them positions stand in. Unknown keys are ignored and listed in
        ``unknown``; a history with no known key gets the most popular items. Repeats are
        allowed (``exclude_seen=False``): in click sessions the next item is often one seen
        before.
        """
        keys = self._fitted()
        k = check_k(k)
        hist, _ = normalise_keys(list(history)) if len(history) else ([], "str")
        lookup = self._key_lookup()
        unknown = [h for h in hist if h not in lookup]
        scores = self._history_scores(hist, times)
        items = np.array([lookup[h] for h in hist if h in lookup], dtype=np.int64)
        if exclude_seen and items.size:
            scores[0, items] = -np.inf
        cols, vals = top_k(scores, min(k, len(keys)))
        cols, vals = cols[0], vals[0]
        ok = cols >= 0
        return Recommendations(keys[cols[ok]], vals[ok].astype(np.float32), unknown)


def check_array(
    arr: npt.NDArray[Any], name: str, kind: str, shape: tuple[int | None, ...]
) -> npt.NDArray[Any]:
    """A loaded array of the expected dtype kind (``"i"``, ``"f"``) and shape (``None``: any
    length), else ``ValueError``."""
    ok = arr.dtype.kind == kind or (kind == "i" and arr.dtype.kind == "u")
    ok = ok and arr.ndim == len(shape)
    ok = ok and all(
        want is None or got == want for got, want in zip(arr.shape, shape, strict=False)
    )
    if not ok:
        raise ValueError(
            f"{name}.npy has dtype {arr.dtype} and shape {arr.shape}, expected kind {kind!r} "
            f"and shape {shape}; the directory is corrupt, re-save the model"
        )
    if kind == "f" and not bool(np.isfinite(arr).all()):
        raise ValueError(f"{name}.npy holds NaN or infinite values; re-save the model")
    return arr


def check_csr(
    indptr: npt.NDArray[Any], indices: npt.NDArray[Any], n_rows: int, n_cols: int, name: str
) -> None:
    """A loaded CSR structure that the kernels may index without bounds checks."""
    check_array(indptr, f"{name} indptr", "i", (n_rows + 1,))
    check_array(indices, f"{name} indices", "i", (None,))
    if (
        indptr[0] != 0
        or indptr[-1] != indices.size
        or bool(np.any(np.diff(indptr) < 0))
        or (indices.size and (int(indices.min()) < 0 or int(indices.max()) >= n_cols))
    ):
        raise ValueError(f"{name} is not a valid sparse structure; re-save the model")


def csr_arrays(matrix: Any, name: str) -> dict[str, npt.NDArray[Any]]:
    """A square float32 CSR matrix as the arrays a save holds (``{name}_data``, ...)."""
    return {
        f"{name}_data": matrix.data,
        f"{name}_indices": matrix.indices,
        f"{name}_indptr": matrix.indptr,
    }


def csr_from_arrays(arrays: dict[str, npt.NDArray[Any]], name: str, n: int) -> Any:
    """The ``(n, n)`` float32 CSR matrix saved by :func:`csr_arrays`, checked first."""
    import scipy.sparse as sps

    indptr, indices = arrays[f"{name}_indptr"], arrays[f"{name}_indices"]
    check_csr(indptr, indices, n, n, name)
    data = check_array(arrays[f"{name}_data"], f"{name}_data", "f", (indices.size,))
    return sps.csr_array(
        (data.astype(np.float32), indices.astype(np.int32), indptr.astype(np.int64)),
        shape=(n, n),
    )

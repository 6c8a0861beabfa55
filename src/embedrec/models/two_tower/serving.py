"""The user tower of a saved :class:`~embedrec.models.two_tower.model.TwoTower`, without torch.

:class:`UserTowerRuntime` reads a directory written by ``TwoTower.save`` (the user tower's
config from ``manifest.json``, ``user_encoder.json``, the weights in ``user_tower.npz``, the
user keys and their stored histories) and computes user vectors with
:func:`~embedrec.models.two_tower.infer.numpy_tower_forward`. It is what ``embedrec serve``
runs for a two-tower model, so the service needs numpy and pyarrow but not the ``torch``
extra: this module imports only :mod:`~embedrec.models.two_tower.spec`,
:mod:`~embedrec.models.two_tower.encoder` and :mod:`~embedrec.models.two_tower.infer`
(never ``model``, ``train``, ``towers`` or ``losses``).

:meth:`UserTowerRuntime.user_vectors` has the semantics of ``TwoTower.user_vectors`` and
equals it to float32 round-off (1e-5): a known user's stored side features, the encoder's
default row for an unknown (or no) user, raw ``features`` that replace a row's side features,
and the given history or, without one, the known user's stored history.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..._io import read_manifest, read_npy
from ...artifacts import load_consistent, read_json, verify_artifact
from ...keys import key_array, plain
from .encoder import TowerEncoder
from .infer import numpy_tower_forward
from .spec import FeatureKind, FeatureSpec, TowerConfig

__all__ = ["UserFeature", "UserTowerRuntime"]

logger = logging.getLogger("embedrec")

MODEL_CLASS = "TwoTower"
#: kinds whose raw value a request gives in its ``features`` object (the others come from the
#: user key or the history)
RECORD_KINDS: tuple[FeatureKind, ...] = ("categorical", "multi_categorical", "numeric")
#: the files of a TwoTower directory the user tower reads
RUNTIME_FILES = (
    "keys.json",
    "user_keys.json",
    "user_items.npy",
    "user_offsets.npy",
    "user_encoder.json",
    "user_tower.npz",
)
_SCALARS = (str, int, float, bool, np.integer, np.floating, np.bool_)


def _n_rows(*parts: Sequence[Any] | None) -> int:
    sizes = {len(p) for p in parts if p is not None}
    if not sizes:
        raise ValueError("give histories, users or features (at least one)")
    if len(sizes) > 1:
        raise ValueError(
            f"histories, users and features have different lengths {sorted(sizes)}; give "
            "one entry per request in each"
        )
    return sizes.pop()


def encode_user_requests(
    encoder: TowerEncoder,
    static: Mapping[str, npt.NDArray[Any]],
    user_index: Mapping[Any, int],
    items_of: Callable[[int], npt.NDArray[Any]],
    *,
    histories: Sequence[Sequence[Hashable]] | None = None,
    users: Sequence[Hashable | None] | None = None,
    features: Sequence[Mapping[str, Any] | None] | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """Encoded user-tower inputs for a batch of requests (one row each).

    The one place the request semantics live (``TwoTower.user_vectors`` and
    :meth:`UserTowerRuntime.user_vectors` both call it): a known user takes their stored
    side features (``static``: every user's encoded features in code order plus one last
    row for an unknown user); a ``features`` mapping replaces the row's side features (with
    ``"key"`` defaulting to the user key); a given history is encoded from item keys, and
    without one a known user's stored history (``items_of(code)``, item codes) is used.
    """
    n = _n_rows(histories, users, features)
    codes = np.full(n, -1, dtype=np.int64)
    if users is not None:
        for j, u in enumerate(users):
            if u is not None:
                codes[j] = user_index.get(plain(u), -1)
    feats = {k: v[codes] for k, v in static.items()}  # -1: the default row
    if features is not None:
        rows = [j for j, f in enumerate(features) if f is not None]
        if rows:
            recs = []
            for j in rows:
                rec = dict(features[j] or {})
                if "key" not in rec and users is not None and users[j] is not None:
                    rec["key"] = users[j]
                recs.append(rec)
            for name, arr in encoder.encode_records(recs).items():
                if name in feats:
                    feats[name][rows] = arr
    hist = [f for f in encoder.config.features if f.kind == "history"]
    if hist:
        if histories is None:
            bag = encoder.encode_histories([items_of(c) for c in codes.tolist()], codes=True)
        else:
            bag = encoder.encode_histories([np.asarray(list(h)) for h in histories])
        feats[hist[0].name] = bag
    return feats


@dataclass(frozen=True)
class UserFeature:
    """One input of the user tower, as a client sees it.

    Attributes
    ----------
    name : str
        The feature's name in the config.
    kind : str
        ``FeatureSpec.kind``.
    column : str or None
        The field of a ``features`` record that holds the raw value (categorical,
        multi-categorical, numeric); ``None`` for kinds read from elsewhere.
    source : {"user", "history", "features"}
        Where a request gives it: the user key (``id``, ``pretrained``), the history, or the
        ``features`` object (under ``column``).
    """

    name: str
    kind: FeatureKind
    column: str | None
    source: Literal["user", "history", "features"]

    @classmethod
    def of(cls, spec: FeatureSpec) -> UserFeature:
        if spec.kind in RECORD_KINDS:
            return cls(spec.name, spec.kind, spec.source_column, "features")
        if spec.kind == "history":
            return cls(spec.name, spec.kind, None, "history")
        return cls(spec.name, spec.kind, None, "user")


class UserTowerRuntime:
    """A saved two-tower model's user tower, run in numpy.

    Build it with :meth:`load`. Immutable after loading, so one instance may serve
    concurrent requests.

    Attributes
    ----------
    path : Path
        The model directory.
    config : TowerConfig
        The user tower's config.
    encoder : TowerEncoder
        The user tower's encoder (``user_encoder.json``).
    weights : dict of str -> ndarray
        ``user_tower.npz`` (with the shared item table of the history feature).
    metric : {"cosine", "dot"}
        The model's similarity (``cosine`` when both towers L2-normalise).
    user_keys : ndarray
        The known users in code order (int64, or object of str).
    item_keys : ndarray
        The item catalogue in code order (the keys of the item embeddings).

    Examples
    --------
    >>> rt = UserTowerRuntime.load("art/")  # doctest: +SKIP
    >>> rt.user_vectors([["a", "b"]], users=[42]).shape  # doctest: +SKIP
    (1, 64)
    """

    def __init__(
        self,
        *,
        path: Path,
        config: TowerConfig,
        encoder: TowerEncoder,
        weights: dict[str, npt.NDArray[Any]],
        metric: Literal["cosine", "dot"],
        user_keys: npt.NDArray[Any],
        item_keys: npt.NDArray[Any],
        user_items: npt.NDArray[np.int32],
        user_offsets: npt.NDArray[np.int64],
    ) -> None:
        # Internal: use UserTowerRuntime.load.
        self.path = path
        self.config = config
        self.encoder = encoder
        self.weights = weights
        self.metric = metric
        self.user_keys = user_keys
        self.item_keys = item_keys
        self._user_items = user_items
        self._user_offsets = user_offsets
        self._user_index = {plain(k): i for i, k in enumerate(user_keys.tolist())}
        hist = [f for f in config.features if f.kind == "history"]
        self._history: FeatureSpec | None = hist[0] if hist else None
        static = encoder.encode_entities()
        default = encoder.encode_records([{}])
        # every known user's static features plus one last row for an unknown user (index -1)
        self._static = {
            k: np.concatenate([v, default[k].astype(v.dtype)])
            for k, v in static.items()
            if k in default
        }
        self.features = tuple(UserFeature.of(f) for f in config.features)
        self._fields = {
            name: f
            for f in config.features
            if f.kind in RECORD_KINDS
            for name in dict.fromkeys((f.source_column, f.name))
        }

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> UserTowerRuntime:
        """Read the user tower of a directory written by ``TwoTower.save``.

        Parameters
        ----------
        path : path
            The model directory.

        Returns
        -------
        UserTowerRuntime

        Raises
        ------
        FileNotFoundError, NotADirectoryError
            No such directory.
        ValueError
            Not a TwoTower directory, or a missing or corrupt file (the message names it), or
            weights that do not fit the config.
        """
        return load_consistent(path, cls._load_generation)

    @classmethod
    def _load_generation(cls, p: Path) -> UserTowerRuntime:
        manifest = read_manifest(p, MODEL_CLASS)
        verify_artifact(p, manifest, RUNTIME_FILES)
        cfg = manifest.get("config")
        try:
            if not isinstance(cfg, Mapping) or not isinstance(cfg.get("user"), Mapping):
                raise TypeError("config.user is not a table")
            config = TowerConfig.from_dict(cfg["user"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{p}/manifest.json has no valid user tower config ({exc}); re-save"
            ) from exc
        metric = manifest.get("metric")
        if metric not in ("cosine", "dot"):
            raise ValueError(f"{p}/manifest.json has metric={metric!r}; expected 'cosine' or 'dot'")
        encoder = TowerEncoder.from_dict(_read_json(p / "user_encoder.json"))
        if encoder.config != config:
            raise ValueError(
                f"{p}/user_encoder.json was fitted for another user tower than the manifest's "
                "config; re-save the model"
            )
        user_keys = key_array(_read_json_list(p / "user_keys.json"))
        item_keys = key_array(_read_json_list(p / "keys.json"))
        items = read_npy(p / "user_items.npy")
        offsets = read_npy(p / "user_offsets.npy")
        if (
            items.ndim != 1
            or offsets.ndim != 1
            or not np.issubdtype(items.dtype, np.integer)
            or not np.issubdtype(offsets.dtype, np.integer)
            or len(offsets) != len(user_keys) + 1
            or (len(offsets) and (offsets[0] != 0 or offsets[-1] != len(items)))
            or bool((np.diff(offsets) < 0).any())
        ):
            raise ValueError(
                f"{p}: user_items.npy / user_offsets.npy do not match user_keys.json; re-save"
            )
        if len(items) and (int(items.min()) < 0 or int(items.max()) >= len(item_keys)):
            raise ValueError(f"{p}: user_items.npy holds item codes outside keys.json; re-save")
        weights = _read_npz(p / "user_tower.npz")
        rt = cls(
            path=p,
            config=config,
            encoder=encoder,
            weights=weights,
            metric=metric,
            user_keys=user_keys,
            item_keys=item_keys,
            user_items=items.astype(np.int32),
            user_offsets=offsets.astype(np.int64),
        )
        try:  # the weights must fit the config: fail now, not on the first request
            out = rt.user_vectors(users=[None])
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ValueError(
                f"{p}/user_tower.npz does not fit the saved user tower config ({exc}); re-save"
            ) from exc
        if out.shape[1] != config.output_dim:
            raise ValueError(
                f"{p}/user_tower.npz gives {out.shape[1]}-d user vectors, the config "
                f"output_dim={config.output_dim}; re-save"
            )
        return rt

    # ------------------------------------------------------------------ description
    @property
    def output_dim(self) -> int:
        """Width of the user vectors."""
        return self.config.output_dim

    @property
    def n_users(self) -> int:
        """Number of known users."""
        return len(self.user_keys)

    @property
    def user_key_type(self) -> Literal["int", "str"]:
        """``"int"`` when the user keys are integers, else ``"str"``."""
        return "int" if self.user_keys.dtype == np.int64 else "str"

    @property
    def has_history(self) -> bool:
        """Whether the user tower reads a history of items."""
        return self._history is not None

    @property
    def record_fields(self) -> tuple[str, ...]:
        """The fields a ``features`` record may hold: the columns (and names) of the
        categorical, multi-categorical and numeric features."""
        return tuple(self._fields)

    def knows_user(self, user: Hashable | None) -> bool:
        """Whether ``user`` is a known user key."""
        return user is not None and plain(user) in self._user_index

    def _code(self, user: Hashable | None) -> int:
        return -1 if user is None else self._user_index.get(plain(user), -1)

    def stored_history_codes(self, user: Hashable | None) -> npt.NDArray[np.int64]:
        """Item codes of a known user's stored history, oldest first (empty for others)."""
        return self._items_of(self._code(user))

    def _items_of(self, code: int) -> npt.NDArray[np.int64]:
        if code < 0:
            return np.zeros(0, dtype=np.int64)
        lo, hi = self._user_offsets[code], self._user_offsets[code + 1]
        return self._user_items[lo:hi].astype(np.int64)

    def stored_history(self, user: Hashable | None) -> list[Any]:
        """Item keys of a known user's stored history (the training items ``TwoTower``
        excludes for a user given by key alone), oldest first; ``[]`` for an unknown user."""
        return [plain(k) for k in self.item_keys[self.stored_history_codes(user)].tolist()]

    # ------------------------------------------------------------------ requests
    def check_features(self, features: Mapping[str, Any]) -> None:
        """Check a raw ``features`` record before encoding it (the service's request check).

        Every field must be the column of a categorical, multi-categorical or numeric user
        feature; categorical values are one scalar (or None), multi-categorical values a list
        of scalars or a separator-joined string, numeric values a number (or None).

        Raises
        ------
        ValueError
            An unknown field or a value of the wrong type; the message names the field, the
            value and what is allowed.
        """
        if not isinstance(features, Mapping):
            raise ValueError(
                f"features must be an object of raw values by column, got {type(features).__name__}"
            )
        unknown = [name for name in features if name not in self._fields]
        if unknown:
            hint = (
                "; give the user key as 'user', not inside 'features'" if "key" in unknown else ""
            )
            allowed = list(self._fields) or "none: this user tower has no side features"
            raise ValueError(
                f"unknown user feature field(s) {unknown}; this model reads {allowed}{hint}"
            )
        for name, value in features.items():
            spec = self._fields[name]
            if spec.kind == "categorical":
                ok = value is None or isinstance(value, _SCALARS)
                want = "one value (a string, number or boolean) or null"
            elif spec.kind == "multi_categorical":
                ok = value is None or isinstance(value, _SCALARS)
                if isinstance(value, (list, tuple)):
                    ok = all(v is None or isinstance(v, _SCALARS) for v in value)
                want = (
                    f"a list of values, one value or a {spec.separator!r}-separated string "
                    "(or null)"
                )
            else:
                ok = value is None or (
                    isinstance(value, (int, float, np.integer, np.floating))
                    and not isinstance(value, (bool, np.bool_))
                )
                want = "a number or null"
            if not ok:
                shown = repr(value)
                shown = shown if len(shown) <= 80 else shown[:80] + "..."
                raise ValueError(
                    f"user feature {spec.name!r} ({spec.kind}, field {name!r}) got {shown}; "
                    f"give {want}"
                )

    def user_vectors(
        self,
        histories: Sequence[Sequence[Hashable]] | None = None,
        *,
        users: Sequence[Hashable | None] | None = None,
        features: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> npt.NDArray[np.float32]:
        """The user tower's output for each request, ``(n, output_dim)`` float32.

        The semantics (and, to 1e-5, the numbers) of ``TwoTower.user_vectors``.

        Parameters
        ----------
        histories : sequence of item-key sequences, optional
            Items each user interacted with, oldest first (unknown keys are the unknown
            row). None: each known user's stored history (empty for other users).
        users : sequence of user keys (or None), optional
            Known users take their stored side features; unknown keys and None take the
            encoder's default row (every feature missing: the cold-start user).
        features : sequence of mappings (or None), optional
            Raw side-feature values by column; a mapping replaces the row's side features
            (absent fields are missing), and ``features[i]["key"]`` (default: the user key)
            sets the ``id`` feature.

        Returns
        -------
        ndarray
            ``(n, output_dim)`` float32.

        Raises
        ------
        ValueError
            None of the three given, or their lengths differ; a bad raw value.
        """
        feats = encode_user_requests(
            self.encoder,
            self._static,
            self._user_index,
            self._items_of,
            histories=histories,
            users=users,
            features=features,
        )
        return numpy_tower_forward(self.config, self.weights, feats)


def _read_json(path: Path) -> Any:
    try:
        return read_json(path)
    except FileNotFoundError:
        raise ValueError(
            f"{path} is missing: the two-tower directory is incomplete; re-save it"
        ) from None


def _read_json_list(path: Path) -> list[Any]:
    raw = _read_json(path)
    if not isinstance(raw, list) or not all(
        isinstance(k, (str, int)) and not isinstance(k, bool) for k in raw
    ):
        raise ValueError(f"{path} must hold a JSON list of str or int keys; re-save the model")
    return raw


def _read_npz(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Arrays of a weights file, read without pickle."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: np.array(z[k]) for k in z.files}
    except FileNotFoundError:
        raise ValueError(
            f"{path} is missing: the two-tower directory is incomplete; re-save it"
        ) from None
    except (ValueError, OSError, MemoryError, EOFError) as exc:
        raise ValueError(f"{path} is not a valid weights file ({exc}); re-save the model") from exc

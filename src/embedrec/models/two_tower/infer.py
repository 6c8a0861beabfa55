"""A tower's forward pass in plain numpy (no torch): what the HTTP service runs.

:func:`numpy_tower_forward` computes exactly what ``Tower.eval()`` computes (to float32
round-off, within 1e-5) from the tower's weights: embedding lookups, masked bag pooling,
concatenation in the order of ``TowerConfig.features``, the MLP and the L2 normalisation.
:func:`tower_weights` (the one function here that imports torch, lazily) turns a trained
``Tower`` into those weights.

The weight names are the tower's ``state_dict`` keys:

* ``tables.<feature>.weight``: the ``(rows, dim)`` embedding table of every ``id``,
  ``categorical``, ``multi_categorical``, ``pretrained`` and ``history`` feature (the user
  tower's ``history`` entry is the item tower's ``id`` table);
* ``mlp.linear<i>.weight`` / ``.bias``: hidden layer ``i`` (``(out, in)``, ``(out,)``);
* ``mlp.norm<i>.weight`` / ``.bias`` (``norm="layer"`` or ``"batch"``) and
  ``mlp.norm<i>.running_mean`` / ``.running_var`` (``norm="batch"``);
* ``mlp.out.weight`` / ``.bias``: the output layer.

The input checks (:func:`~embedrec.models.two_tower.spec.check_features`) and the shape rules
live in :mod:`~embedrec.models.two_tower.spec`, which ``Tower.forward`` reads too, so both
raise the same errors for the same bad input (this module re-exports them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.special import erf

from .spec import (
    BAG_KINDS,
    L2_EPS,
    NORM_EPS,
    TowerConfig,
    check_features,
    expected_width,
    feature_names,
    table_key,
)

if TYPE_CHECKING:  # pragma: no cover
    from .towers import Tower

__all__ = [
    "BAG_KINDS",
    "L2_EPS",
    "NORM_EPS",
    "check_features",
    "expected_width",
    "feature_names",
    "numpy_tower_forward",
    "table_key",
    "tower_weights",
]


def _check_rows(name: str, idx: npt.NDArray[Any], rows: int) -> None:
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(
            f"feature {name!r} holds rows of dtype {idx.dtype}; use integer rows (int64), "
            "as TowerEncoder produces"
        )
    if idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= rows:
        bad = lo if lo < 0 else hi
        raise IndexError(
            f"feature {name!r} holds row {bad}, outside its table of {rows} rows "
            f"(0..{rows - 1}); encode it with the TowerEncoder fitted for this model"
        )


def _weight(weights: Mapping[str, npt.NDArray[Any]], key: str) -> npt.NDArray[np.float32]:
    try:
        w = weights[key]
    except KeyError:
        raise KeyError(
            f"weights lack {key!r}; pass tower_weights(tower) of a Tower built from this "
            f"TowerConfig (the weights hold {sorted(weights)[:12]}...)"
        ) from None
    return np.asarray(w, dtype=np.float32)


def _pool(
    table: npt.NDArray[np.float32],
    idx: npt.NDArray[np.int64],
    pooling: str,
    half_lives: tuple[float, ...] = (5.0,),
) -> npt.NDArray[np.float32]:
    """Pool the rows of a padded bag ``idx`` (n, L) over its non-zero entries -> (n, dim);
    recency pooling concatenates one pooled vector per half-life -> (n, k * dim)."""
    mask = idx != 0
    emb = table[idx]  # (n, L, dim)
    if pooling == "recency":
        age = np.arange(idx.shape[1] - 1, -1, -1, dtype=np.float32)
        out = []
        for half_life in half_lives:
            w = np.power(np.float32(0.5), age / np.float32(half_life))[None, :] * mask
            w = w.astype(np.float32)
            total = (emb * w[..., None]).sum(axis=1)
            out.append(total / np.maximum(w.sum(axis=1), 1e-12)[:, None])
        return np.asarray(np.concatenate(out, axis=1), dtype=np.float32)
    if pooling == "max":
        m = np.where(mask[..., None], emb, np.float32(-np.inf)).max(axis=1)
        pooled = np.where(mask.any(axis=1)[:, None], m, np.float32(0.0))
    else:
        pooled = (emb * mask[..., None].astype(np.float32)).sum(axis=1)
        if pooling == "mean":
            pooled = pooled / np.maximum(mask.sum(axis=1), 1).astype(np.float32)[:, None]
    return np.asarray(pooled, dtype=np.float32)


def _linear(
    x: npt.NDArray[np.float32], weights: Mapping[str, npt.NDArray[Any]], prefix: str
) -> npt.NDArray[np.float32]:
    w = _weight(weights, f"{prefix}.weight")
    b = _weight(weights, f"{prefix}.bias")
    if w.ndim != 2 or w.shape[1] != x.shape[1] or b.shape != (w.shape[0],):
        raise ValueError(
            f"weights {prefix}.weight {w.shape} / {prefix}.bias {b.shape} do not fit an input "
            f"of width {x.shape[1]}; the weights come from a tower with another TowerConfig"
        )
    return np.asarray(x @ w.T + b, dtype=np.float32)


def _activation(x: npt.NDArray[np.float32], kind: str) -> npt.NDArray[np.float32]:
    if kind == "relu":
        y = np.maximum(x, np.float32(0.0))
    elif kind == "gelu":
        # exact GELU, as torch's default nn.GELU(approximate="none")
        y = 0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))
    else:
        y = np.tanh(x)
    return np.asarray(y, dtype=np.float32)


def _norm(
    x: npt.NDArray[np.float32], weights: Mapping[str, npt.NDArray[Any]], prefix: str, kind: str
) -> npt.NDArray[np.float32]:
    gamma = _weight(weights, f"{prefix}.weight")
    beta = _weight(weights, f"{prefix}.bias")
    if kind == "layer":
        mean = x.mean(axis=1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=1, keepdims=True)  # biased, as LayerNorm
        y = (x - mean) / np.sqrt(var + np.float32(NORM_EPS))
    else:  # BatchNorm1d in eval mode: the running statistics
        mean = _weight(weights, f"{prefix}.running_mean")
        var = _weight(weights, f"{prefix}.running_var")
        y = (x - mean) / np.sqrt(var + np.float32(NORM_EPS))
    return np.asarray(y * gamma + beta, dtype=np.float32)


def numpy_tower_forward(
    config: TowerConfig,
    weights: Mapping[str, npt.NDArray[Any]],
    feats: Mapping[str, npt.NDArray[Any]],
) -> npt.NDArray[np.float32]:
    """The output of ``Tower.eval()`` on ``feats``, computed with numpy only.

    Parameters
    ----------
    config : TowerConfig
        The tower's config (the one the ``Tower`` was built from).
    weights : mapping of str -> ndarray
        The tower's ``state_dict`` as arrays (:func:`tower_weights`, or a saved
        ``user_tower.npz``); names as in this module's docstring.
    feats : mapping of str -> ndarray
        Encoded features (``TowerEncoder.encode_records`` / ``encode_histories``): ``(n,)``
        int64 rows for ``id``/``categorical``/``pretrained``, ``(n, max_values)`` int64 for
        ``multi_categorical``, ``(n, max_len)`` int64 for ``history``, ``(n,)`` float32 for
        ``numeric``. Extra keys are ignored.

    Returns
    -------
    ndarray
        ``(n, output_dim)`` float32; rows of unit L2 norm if ``config.l2_normalize`` (an
        all-zero row stays zero).

    Raises
    ------
    KeyError
        A feature or a weight is missing.
    ValueError
        A feature has the wrong shape, or the weights do not fit the config.
    TypeError
        Rows of a table feature are not integers.
    IndexError
        A row is outside its table.

    Examples
    --------
    >>> from embedrec.models.two_tower.spec import FeatureSpec, TowerConfig
    >>> cfg = TowerConfig(features=(FeatureSpec(name="item", kind="id"),), embedding_dim=2,
    ...                   hidden=(), output_dim=2)
    >>> w = {"tables.item.weight": np.array([[0, 0], [1, 0], [3, 4]], np.float32),
    ...      "mlp.out.weight": np.eye(2, dtype=np.float32),
    ...      "mlp.out.bias": np.zeros(2, np.float32)}
    >>> numpy_tower_forward(cfg, w, {"item": np.array([2, 0])}).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    arrays = {name: np.asarray(feats[name]) for name in feature_names(config) if name in feats}
    check_features(config, {**feats, **arrays})
    parts: list[npt.NDArray[np.float32]] = []
    for spec in config.features:
        x = arrays[spec.name]
        if spec.kind == "numeric":
            if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number):
                raise TypeError(
                    f"numeric feature {spec.name!r} has dtype {x.dtype}; use float32 values"
                )
            parts.append(x.astype(np.float32)[:, None])
            continue
        table = _weight(weights, table_key(spec.name))
        _check_rows(spec.name, x, table.shape[0])
        if spec.kind in BAG_KINDS:
            parts.append(_pool(table, x, spec.pooling, spec.half_lives))
        else:
            parts.append(table[x])
    h = np.concatenate(parts, axis=1).astype(np.float32, copy=False)
    for i in range(len(config.hidden)):
        h = _linear(h, weights, f"mlp.linear{i}")
        if config.norm != "none":
            h = _norm(h, weights, f"mlp.norm{i}", config.norm)
        h = _activation(h, config.activation)
    h = _linear(h, weights, "mlp.out")
    if config.l2_normalize:
        norm = np.linalg.norm(h, axis=1, keepdims=True)
        h = h / np.maximum(norm, np.float32(L2_EPS))
    return np.asarray(h, dtype=np.float32)


def tower_weights(tower: Tower) -> dict[str, npt.NDArray[Any]]:
    """The tower's ``state_dict`` (parameters and buffers) as numpy arrays on the CPU.

    Floating tensors become float32 arrays; integer buffers (BatchNorm's
    ``num_batches_tracked``) keep their integer dtype, so
    ``tower.load_state_dict({k: torch.from_numpy(v) ...})`` restores the tower exactly.
    The arrays are copies: training the tower further does not change them.
    """
    import torch  # noqa: F401  (torch is needed only here; the service never calls this)

    out: dict[str, npt.NDArray[Any]] = {}
    for key, value in tower.state_dict().items():
        t = value.detach().cpu()
        arr = t.float().numpy() if t.is_floating_point() else t.numpy()
        out[key] = np.array(arr, copy=True)
    return out

"""Shared pieces of the model configs: field checks, dict round trips, old-field upgrades.

Every model config is a frozen, ``kw_only`` dataclass that validates in ``__post_init__``.
The checks here raise one message shape, ``"{field}={value!r} is invalid; use {allowed}"``,
which the CLI rewrites to name the flag or the config file (``cli/_common.build_config``).
:class:`ConfigDict` gives a config ``to_dict`` / ``from_dict`` (unknown fields refused, fields
of older saves upgraded by :meth:`ConfigDict.upgrade`).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Collection
from typing import Any, TypeVar

_T = TypeVar("_T", bound="ConfigDict")


def invalid(name: str, value: Any, allowed: str) -> ValueError:
    """The one validation error: ``"{name}={value!r} is invalid; use {allowed}"``."""
    return ValueError(f"{name}={value!r} is invalid; use {allowed}")


def is_int(value: object) -> bool:
    """An ``int`` that is not a ``bool`` (``True`` is an int to Python, not to a config)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(
    name: str,
    value: Any,
    lo: int | None = None,
    hi: int | None = None,
    *,
    allowed: str | None = None,
) -> None:
    """Refuse anything but an integer in ``[lo, hi]`` (either bound may be None).

    ``allowed`` replaces the generated "an integer name>=lo" in the message.
    """
    if is_int(value) and (lo is None or value >= lo) and (hi is None or value <= hi):
        return
    if allowed is None:
        if lo is not None and hi is not None:
            allowed = f"an integer {lo} <= {name} <= {hi}"
        elif lo is not None:
            allowed = f"an integer {name}>={lo}"
        elif hi is not None:
            allowed = f"an integer {name}<={hi}"
        else:
            allowed = "an integer"
    raise invalid(name, value, allowed)


def check_float(
    name: str,
    value: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    allowed: str,
) -> None:
    """Refuse anything but a finite real number (int or float, not bool) above the bound:
    ``> gt`` and/or ``>= ge``."""
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (gt is None or value > gt)
        and (ge is None or value >= ge)
    )
    if not ok:
        raise invalid(name, value, allowed)


def check_choice(name: str, value: Any, choices: Collection[Any], allowed: str) -> None:
    """Refuse a value outside ``choices`` (a ``Literal``'s ``get_args``)."""
    if isinstance(value, bool) or value not in choices:
        raise invalid(name, value, allowed)


def check_bool(name: str, value: Any) -> None:
    """Refuse anything but ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise invalid(name, value, "True or False")


class ConfigDict:
    """Mixin of the model configs (frozen dataclasses): ``to_dict`` and ``from_dict``."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (what a saved manifest holds): a field holding a
        config (anything with ``to_dict``) nests as its dict, a tuple as a list."""
        return {
            f.name: _plain_value(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }

    @classmethod
    def upgrade(cls, d: dict[str, Any]) -> dict[str, Any]:
        """Map fields of an older save (or config file) to the current ones; override it."""
        return d

    @classmethod
    def from_dict(cls: type[_T], d: dict[str, Any]) -> _T:
        """The config of ``d`` (fields of older saves upgraded); unknown fields are refused."""
        d = cls.upgrade(dict(d))
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {unknown}; allowed: {sorted(names)}")
        return cls(**d)


def _plain_value(v: Any) -> Any:
    if hasattr(v, "to_dict"):
        return v.to_dict()
    if isinstance(v, (tuple, list)):
        return [_plain_value(x) for x in v]
    return v


def shared_fields(config: Any, target: type, *, exclude: Collection[str] = ()) -> dict[str, Any]:
    """The fields of ``config`` that ``target`` (a config class) also has, by name.

    How a model config hands its engine fields to :class:`~.word2vec.Word2VecConfig` without
    listing them again: ``Word2VecConfig(**shared_fields(self, Word2VecConfig), arch=...)``.
    """
    names = {f.name for f in dataclasses.fields(target)} - set(exclude)
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name in names}


def upgrade_window_update(d: dict[str, Any], *, auto_default: bool) -> dict[str, Any]:
    """Fold the old ``shared_negatives`` (and ``window_update``'s old two values) into the
    one ``window_update`` field.

    ``shared_negatives=False`` was the exact per-pair update ("exact"); ``True`` shared the
    draw and let ``window_update`` ("batch" or "sequential") say how. Word2Vec's
    ``shared_negatives=None`` meant "batch for negative sampling, exact for hierarchical
    softmax": with ``auto_default`` it becomes ``window_update=None``, which means the same.
    CBOW never read either field, so a CBOW save gets ``None``.
    """
    if "shared_negatives" not in d:
        return d
    shared = d.pop("shared_negatives")
    update = d.get("window_update", "batch")
    if d.get("arch") == "cbow":
        d["window_update"] = None
    elif shared is False:
        d["window_update"] = "exact"
    elif shared is None and auto_default:
        if update == "batch":
            d["window_update"] = None
        else:  # "sequential" applied to negative sampling only
            d["window_update"] = "exact" if d.get("loss") == "hs" else update
    else:
        d["window_update"] = update
    return d


def shared_negatives_shim(shared: Any, window_update: Any) -> Any:
    """The ``window_update`` that the deprecated ``shared_negatives`` argument stands for.

    ``False`` is "exact"; ``True`` keeps ``window_update`` ("batch" when it is None). Warns
    with a ``DeprecationWarning`` naming the replacement.
    """
    check_bool("shared_negatives", shared)
    new = "exact" if shared is False else window_update or "batch"
    warnings.warn(
        f"shared_negatives={shared} is deprecated; use window_update={new!r} "
        "('exact' draws per pair, 'batch' / 'sequential' share one draw per window)",
        DeprecationWarning,
        stacklevel=5,
    )
    return new

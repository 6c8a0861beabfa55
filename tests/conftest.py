"""Shared pytest fixtures."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

#: torch is an optional extra. The Python 3.10 and 3.12 CI lanes run without it (PyPI's torch
#: for them is a multi-GB CUDA build); there the files that import it at the top are not
#: collected, and the other torch tests call ``pytest.importorskip("torch")``. The 3.11 lane
#: installs torch and runs them all.
HAS_TORCH = importlib.util.find_spec("torch") is not None
collect_ignore_glob = (
    [] if HAS_TORCH else ["models/two_tower/test_losses.py", "models/two_tower/test_towers.py"]
)

_PathBase = type(Path())


class SharedData(_PathBase):  # type: ignore[valid-type,misc]
    """The shared data folder (``$EMBEDREC_DATA``, default ``<repo>/../shared/data``).

    It is a ``Path``; :meth:`require` returns a file or folder under it, skipping the test when it
    is missing, or failing it when the ``CI`` environment variable is set (CI must have the data).
    """

    def require(self, *parts: str) -> Path:
        path = Path(self, *parts)
        if not path.exists():
            msg = (
                f"shared data {path} is missing; set EMBEDREC_DATA to the folder that holds "
                "the shared data sets (see shared/data/README.md)"
            )
            if os.environ.get("CI"):
                pytest.fail(msg)
            pytest.skip(msg)
        return path


def _shared_root() -> Path:
    env = os.environ.get("EMBEDREC_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> SharedData:
    """Path of the shared data folder; use ``shared_data.require("word-eval", "x.txt")``."""
    return SharedData(_shared_root())

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
                f"data set file {path} is missing. Data tests read public data sets (MovieLens, "
                "YOOCHOOSE, Wikipedia text, graph benchmarks, ...) from one folder, "
                "$EMBEDREC_DATA (default: ../shared/data beside the checkout); embedrec ships "
                "none of them (their licences). Get each from its official source (README, "
                "'Tests'), or run the suite without them: pytest -m 'not data'"
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reads the shared data sets ``data``: ``-m 'not data'`` runs the
    suite without them."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)


@pytest.fixture(scope="session")
def shared_data() -> SharedData:
    """Path of the shared data folder; use ``shared_data.require("word-eval", "x.txt")``."""
    return SharedData(_shared_root())

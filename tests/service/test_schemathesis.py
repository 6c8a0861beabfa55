"""The HTTP contract checked by a tool nobody here wrote: schemathesis against real servers.

``schemathesis run --checks all`` (the CLI, in a subprocess) against ``embedrec serve`` on
loopback, once over a Word2Vec model (str keys, small caps), once over an Item2Vec model
(int keys, default caps) and once over a STAN model (a session baseline without item vectors:
its vector endpoints answer 404, its scores read ``times``). Every phase runs (the schema's
examples, the coverage phase with its boundary values, unsupported methods and missing parts,
and hypothesis fuzzing, positive and negative); every check runs, and the run must find
nothing: no 5xx, no status, header, content type or body the OpenAPI description does not
document, no schema-valid request refused and no schema-violating request accepted.

Two settings, both about rules JSON Schema cannot state (see ``schemathesis_hooks.py`` and
:data:`CONFIG`): positive cases keep ``times`` as long as ``history``, and a 413 (a batch
over the server's cap, which the description states as ``maxItems``) counts as a rejection.

Reproducible: a fixed seed, one worker, no example database. ``EMBEDREC_SCHEMATHESIS_EXAMPLES``
raises the examples per operation (the default, 150, keeps this file near 60 s on 2 cores).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Server

pytestmark = pytest.mark.slow

HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
EXAMPLES = int(os.environ.get("EMBEDREC_SCHEMATHESIS_EXAMPLES", 150))
SEED = 20240614
#: schemathesis's default statuses of a rejection, plus 413 (a batch over --max-batch or a
#: history over --max-history: the description states each cap as the array's maxItems)
CONFIG = """\
[checks.negative_data_rejection]
expected-statuses = ["400", "404", "405", "406", "409", "413", "415", "422"]
"""


def run_schemathesis(server: Server, tmp_path: Path) -> str:
    """``schemathesis run --checks all`` against ``server``; its output, once it found nothing."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--continue-on-failure",
        "--request-timeout",
        "10",
    ]
    if any(p.startswith("/admin") for p in server.get("/openapi.json").json()["paths"]):
        cmd += ["--exclude-path-regex", "^/admin"]  # reloads are not for clients to fuzz
    env = dict(os.environ, SCHEMATHESIS_HOOKS=str(HOOKS))
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-12000:]
    return out


def _cases(out: str) -> int:
    m = re.search(r"(\d+) generated, (\d+) passed", out)
    assert m is not None, out[-3000:]
    assert m.group(1) == m.group(2), m.group(0)
    return int(m.group(1))


@pytest.mark.parametrize("which", ["w2v_server", "i2v_server", "stan_server"])
def test_schemathesis_finds_nothing(which, request, tmp_path):
    server: Server = request.getfixturevalue(which)
    out = run_schemathesis(server, tmp_path)
    assert _cases(out) >= 8 * EXAMPLES // 2
    assert "Tested: 8" in out, out[-3000:]  # every operation but /admin ones
    # no 500 on the server (it logs "internal error <id>" with the traceback)
    log = server.log()
    assert "internal error" not in log, log[-5000:]

"""The HTTP contract checked by a tool nobody here wrote: schemathesis against real servers.

``schemathesis run --checks all`` (the CLI, in a subprocess) against ``embedrec serve`` on
loopback, once over a Word2Vec model (str keys, small caps), once over an Item2Vec model
(int keys, default caps) and once over a STAN model (a session baseline without item vectors:
its vector endpoints answer 404, its scores read ``times``), and once more over the admin
endpoints alone, with the admin token (reloads inside and out of the reload roots: see
:func:`test_schemathesis_finds_nothing_on_the_admin_endpoints`). Every phase runs (the schema's
examples, the coverage phase with its boundary values, unsupported methods and missing parts,
and hypothesis fuzzing, positive and negative); every check runs, and the run must find
nothing: no 5xx, no status, header, content type or body the OpenAPI description does not
document, no schema-valid request refused and no schema-violating request accepted.

Three settings, all about rules JSON Schema cannot state (see ``schemathesis_hooks.py``,
:data:`CONFIG` and :data:`ADMIN_CONFIG`): positive cases keep ``times`` as long as
``history``; a 413 (a batch over the server's cap, which the description states as
``maxItems``) counts as a rejection; and a schema-valid reload may be refused with a 422 (a
path outside the reload roots, or an artifact that does not load).

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

from .conftest import TOKEN, Server

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
#: the admin run's addition: a schema-valid reload may still be a 422, for a path that is not
#: relative to a reload root (absolute, empty, with '..') or, with wait, an artifact that does
#: not load. Both depend on the server's directories, which JSON Schema cannot state; a missing
#: and a broken artifact answer alike so that the admin API cannot probe the disk.
ADMIN_CONFIG = """\
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
"""


def run_schemathesis(server: Server, tmp_path: Path, *, outside: Path | None = None) -> str:
    """``schemathesis run --checks all`` against ``server``; its output, once it found nothing.

    ``outside`` (an artifact outside the server's reload roots): fuzz only the ``/admin``
    operations, every request with the server's bearer token, and give reloads the paths of
    ``schemathesis_hooks.RELOAD_PATHS`` and ``outside`` as well as generated ones."""
    admin = outside is not None
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG + (ADMIN_CONFIG if admin else ""))
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
    if admin:
        cmd += ["--include-path-regex", "^/admin", "--header", f"Authorization: Bearer {TOKEN}"]
    elif any(p.startswith("/admin") for p in server.get("/openapi.json").json()["paths"]):
        cmd += ["--exclude-path-regex", "^/admin"]  # fuzzed on their own server (below)
    env = dict(os.environ, SCHEMATHESIS_HOOKS=str(HOOKS))
    env.pop("EMBEDREC_FUZZ_OUTSIDE", None)
    if admin:
        env["EMBEDREC_FUZZ_OUTSIDE"] = str(outside)
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


def test_schemathesis_finds_nothing_on_the_admin_endpoints(w2v_model, tmp_path):
    """``POST`` / ``GET /admin/reload`` fuzzed with the admin token, on a server whose reload
    root holds a second artifact (``alt``) and next to which lies one outside every root
    (``outside/secret``). The fuzzer's reloads are given ``alt``, ways out of the roots
    (``..``, an absolute path) and generated paths. Nothing is found (every answer documented,
    no 5xx), the reloads really ran, ``alt`` was loaded, and nothing else but the served
    artifact ever was."""
    served, roots, outside = tmp_path / "served", tmp_path / "roots", tmp_path / "outside"
    w2v_model.save(served / "model")
    w2v_model.save(roots / "alt")
    w2v_model.save(outside / "secret")
    server = Server(
        served / "model",
        "--admin",
        "--reload-root",
        str(roots),
        log=tmp_path / "admin-server.log",
        env={"EMBEDREC_ADMIN_TOKEN": TOKEN},
    )
    try:
        (tmp_path / "run").mkdir()
        out = run_schemathesis(server, tmp_path / "run", outside=(outside / "secret").resolve())
        assert "Tested: 2" in out, out[-3000:]
        assert _cases(out) >= EXAMPLES
        status = server.get("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status.status_code == 200
        log = server.log()
    finally:
        server.stop()
    assert "internal error" not in log, log[-5000:]
    # the token reached the reload path, and no reload ever set out for anything outside the
    # roots (a load that fails writes no "loaded" line, so the targets are checked too)
    targets = [Path(t) for t in re.findall(r"reload \(api\): loading (\S+)", log)]
    assert len(targets) >= 10, log[-5000:]
    inside = [
        t
        for t in targets
        if t.is_relative_to(served.resolve()) or t.is_relative_to(roots.resolve())
    ]
    assert inside == targets, sorted(set(map(str, targets)) - set(map(str, inside)))
    loaded = re.findall(r"loaded \S+ (\S+?):", log)
    allowed = {str((served / "model").resolve()), str((roots / "alt").resolve())}
    assert set(loaded) == allowed, sorted(set(loaded))

"""The documentation site runs: every fenced code block of its pages, and ``mkdocs build``.

Each page listed in the ``nav`` of ``mkdocs.yml`` is one test (except :data:`NOT_RUN`). Its
blocks run in page order in a fresh temporary working directory, with ``EMBEDREC_DATA`` set
to the shared data folder (as :mod:`tests.conftest` finds it):

* ```` ```python ```` blocks run in one namespace per page, in this process; a traceback
  names the page and its line.
* ```` ```bash ```` and ```` ```console ```` blocks run with ``bash -euo pipefail`` (the
  ``embedrec`` of this interpreter first on ``PATH``); a non-zero exit fails the page.
* Every other block (```` ```text ````, ```` ```toml ````, output, diagrams) is shown only.

An HTML comment on the line just before a block's opening fence changes what happens to it:

* ``<!-- docs-test: skip (why) -->``: not run (installing packages, say); the reason is
  required.
* ``<!-- docs-test: file NAME -->``: the block's text is written to ``NAME`` in the working
  directory (a TOML config the next command reads).
* ``<!-- docs-test: background URL -->``: a bash block that does not return (``embedrec
  serve``) runs in the background until the page ends; the next block starts once ``URL``
  answers 200. The URL's port is replaced by a free one in this block and every later block
  of the page, so pages can say ``8000`` and tests can run side by side.

A page needs optional packages with ``<!-- docs-test: requires torch -->`` (names of modules,
comma-separated) anywhere in it: a missing module fails the page (``.[dev]`` installs them
all), except torch off Python 3.11, where the page is skipped (the one version that installs
it; see ``conftest.HAS_TORCH``). A page that calls ``movielens_100k`` needs
``$EMBEDREC_DATA/movielens-100k`` (skipped without it, failed in CI).
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Pages of the nav whose blocks are not run, and why.
NOT_RUN = {
    "benchmarks.md": "the benchmark commands take minutes to hours; figures are records",
}

RUN_LANGS = {"python", "bash", "console"}
MARKER = re.compile(r"<!--\s*docs-test:\s*(skip|file|background)\s*(.*?)\s*-->")
REQUIRES = re.compile(r"<!--\s*docs-test:\s*requires\s+([\w\s,.]+?)\s*-->")
FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")
SERVER_WAIT_S = 120.0
BASH_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, text, first line (1-based) and marker, if any."""

    lang: str
    text: str
    line: int
    marker: str | None = None
    arg: str = ""


def nav_pages() -> list[str]:
    """The ``.md`` pages of ``mkdocs.yml``'s nav, in order, relative to ``docs/``."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text.split("\nnav:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r":\s*(\S+\.md)\s*$", nav, flags=re.MULTILINE)


def parse_blocks(source: str) -> list[Block]:
    """The fenced blocks of a Markdown page, each with the marker on the line before it."""
    lines = source.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m["fence"], m["lang"].lower()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = textwrap.dedent("\n".join(lines[i + 1 : end]))
        prev = lines[i - 1].strip() if i else ""
        mk = MARKER.fullmatch(prev)
        blocks.append(
            Block(
                lang=lang,
                text=body + "\n",
                line=i + 2,
                marker=mk[1] if mk else None,
                arg=mk[2] if mk else "",
            )
        )
        i = end + 1
    return blocks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def check_requirements(source: str, shared_data: Any) -> None:
    """Skip (or fail in CI) a page whose modules or data are missing."""
    for group in REQUIRES.findall(source):
        for name in filter(None, (n.strip() for n in group.split(","))):
            if importlib.util.find_spec(name) is not None:
                continue
            # every module a page needs comes with `.[dev]` (the README's test install); a
            # missing one is a broken install, except torch off Python 3.11 (PyPI has only
            # a multi-GB CUDA build there, so the 3.10 and 3.12 set-ups go without it)
            msg = f'this page needs the {name} module: pip install -e ".[dev]"'
            assert name == "torch" and sys.version_info[:2] != (3, 11), msg
            pytest.skip(f"{msg} (torch is installed on Python 3.11 only)")
    if "movielens_100k" in source:
        shared_data.require("movielens-100k")


def wait_for(url: str, proc: subprocess.Popen[bytes], where: str) -> None:
    deadline = time.monotonic() + SERVER_WAIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            pytest.fail(f"{where}: the background command exited ({proc.returncode}):\n{out}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"{where}: {url} did not answer within {SERVER_WAIT_S:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_page(page: str, workdir: Path, env: dict[str, str]) -> None:
    path = DOCS / page
    blocks = parse_blocks(path.read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    ports: dict[str, str] = {}
    background: list[subprocess.Popen[bytes]] = []

    def with_ports(text: str) -> str:
        for old, new in ports.items():
            text = re.sub(rf"(?<!\d){old}(?!\d)", new, text)
        return text

    try:
        for b in blocks:
            where = f"docs/{page}:{b.line}"
            if b.marker == "skip":
                assert b.arg, f"{where}: say why: <!-- docs-test: skip (why) -->"
                continue
            if b.marker == "file":
                (workdir / b.arg).parent.mkdir(parents=True, exist_ok=True)
                (workdir / b.arg).write_text(with_ports(b.text), encoding="utf-8")
                continue
            if b.lang not in RUN_LANGS:
                continue
            if b.marker == "background":
                port = re.search(r":(\d+)", b.arg)
                assert b.lang in {"bash", "console"} and port, f"{where}: bad background block"
                ports[port[1]] = str(free_port())
                proc = subprocess.Popen(
                    ["bash", "-euo", "pipefail", "-c", with_ports(b.text)],
                    cwd=workdir,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                background.append(proc)
                wait_for(with_ports(b.arg), proc, where)
            elif b.lang == "python":
                code = compile("\n" * (b.line - 1) + with_ports(b.text), str(path), "exec")
                exec(code, namespace)
            else:
                res = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", with_ports(b.text)],
                    cwd=workdir,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=BASH_TIMEOUT_S,
                )
                sys.stdout.write(res.stdout)
                if res.returncode:
                    pytest.fail(
                        f"{where}: exit {res.returncode}\n--- stdout\n{res.stdout[-3000:]}"
                        f"\n--- stderr\n{res.stderr[-3000:]}"
                    )
    finally:
        for proc in background:
            stop(proc)


RUN_PAGES = [p for p in nav_pages() if p not in NOT_RUN]


@pytest.mark.slow
@pytest.mark.parametrize("page", RUN_PAGES)
def test_page_blocks_run(
    page: str, tmp_path: Path, shared_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = DOCS / page
    assert path.exists(), f"docs/{page} is in the nav of mkdocs.yml but does not exist"
    check_requirements(path.read_text(encoding="utf-8"), shared_data)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EMBEDREC_DATA", str(shared_data))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # One OpenMP/BLAS thread: on a busy 2-core box, OpenMP's spin-waiting made scikit-learn's
    # gradient boosting take 100 s instead of 12 s. The variable reaches libraries loaded
    # later (and the bash blocks), threadpool_limits those already loaded.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with threadpool_limits(limits=1):
        run_page(page, tmp_path, env)


def test_not_run_pages_are_in_the_nav() -> None:
    """The exclusion list names real pages, so it cannot hide a page by a typo."""
    assert set(NOT_RUN) <= set(nav_pages())


def test_markers_are_parsed() -> None:
    """A page's markers reach the block after them; unmarked and indented blocks are found."""
    page = (
        "<!-- docs-test: skip (installs) -->\n```bash\npip install x\n```\n"
        "<!-- docs-test: file cfg.toml -->\n```toml\na = 1\n```\n"
        "- item\n\n    ```python\n    print(1)\n    ```\n"
        "<!-- docs-test: background http://127.0.0.1:8000/healthz -->\n```bash\nserve\n```\n"
    )
    got = [(b.lang, b.text, b.line, b.marker, b.arg) for b in parse_blocks(page)]
    assert got == [
        ("bash", "pip install x\n", 3, "skip", "(installs)"),
        ("toml", "a = 1\n", 7, "file", "cfg.toml"),
        ("python", "print(1)\n", 12, None, ""),
        ("bash", "serve\n", 16, "background", "http://127.0.0.1:8000/healthz"),
    ]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict`` succeeds: no broken link, nav entry or docstring warning."""
    if importlib.util.find_spec("mkdocs") is None:
        # the dev extra brings the site's toolchain (Material 9.8, mkdocstrings 1.0), which
        # needs Python 3.11: below it there is nothing to build with
        msg = 'mkdocs is not installed: pip install -e ".[dev]"'
        assert sys.version_info < (3, 11), msg
        pytest.skip(f"{msg} (the site's toolchain needs Python 3.11)")
    res = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's end-of-life banner
    )
    assert res.returncode == 0, res.stderr[-5000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").exists()


def test_a_page_whose_module_is_missing_fails(shared_data: Any) -> None:
    page = "<!-- docs-test: requires json, no_such_module_xyz -->\n"
    with pytest.raises(AssertionError, match=r"needs the no_such_module_xyz module.*\.\[dev\]"):
        check_requirements(page, shared_data)
    check_requirements("<!-- docs-test: requires json -->\n", shared_data)  # present: runs

"""``embedrec quickstart``: it trains on the built-in log and beats popularity, its
recommendations and neighbours follow the planted genres, every command it prints runs, and it
writes only into its own directory (checked before any work)."""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from embedrec.cli.main import cli
from embedrec.cli.quickstart import LOG_FILE, MODEL_DIR
from embedrec.data.synthetic import genre_log
from embedrec.eval import leave_last_out
from embedrec.models.item2vec import Item2Vec


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    """(out dir, parsed --json summary) of one run."""
    out = tmp_path_factory.mktemp("qs-json") / "qs"
    return out, json.loads(run("-q", "quickstart", "--out", out, "--json").stdout)


@pytest.fixture(scope="module")
def readable(tmp_path_factory):
    """(out dir, stdout, cwd) of one readable run with the default --out, from an empty cwd
    and with the system temporary folder moved under pytest's."""
    base = tmp_path_factory.mktemp("qs-default")
    cwd, tmp = base / "cwd", base / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    saved_dir, saved_tmp = os.getcwd(), tempfile.tempdir
    os.chdir(cwd)
    tempfile.tempdir = str(tmp)
    try:
        stdout = run("-q", "quickstart").stdout
    finally:
        os.chdir(saved_dir)
        tempfile.tempdir = saved_tmp
    (out,) = tmp.iterdir()
    return out, stdout, cwd


def test_item2vec_beats_popularity_on_the_planted_log(summary):
    _, s = summary
    i2v, pop = (s["results"][n]["metrics"] for n in ("item2vec", "popularity"))
    # planted successors and genres: measured 0.55 vs 0.12 HR@10 on the default seed
    assert i2v["HR@10"] > pop["HR@10"] + 0.2
    assert i2v["NDCG@10"] > pop["NDCG@10"] + 0.1
    assert s["results"]["item2vec"]["n_users"] == s["log"]["users"] == 1000
    assert s["log"]["genres"] and s["compile_seconds"] >= 0 and s["train_seconds"] > 0


def test_recommendations_and_neighbours_follow_the_genres(summary):
    out, s = summary
    genre = {k: k.split("/")[0] for k in genre_log(n_users=1)[1]}
    shown = s["recommendations"]
    assert len(shown) == 2
    for row in shown:
        assert len(row["recommended"]) == 10 and not set(row["recommended"]) & set(row["history"])
        assert set(row["history_genres"]) == {genre[k] for k in row["history"]}
    # every user's top 10 from the saved model: mostly in genres of their history
    model = Item2Vec.load(out / MODEL_DIR)
    split = leave_last_out(genre_log()[0])
    train = split.train_full
    off = train.user_offsets()
    histories = [train.item_keys[train.item[off[u] : off[u + 1]]].tolist() for u in range(200)]
    recs = model.recommend_users(histories, 10).keys.tolist()
    shares = [
        sum(genre[k] in {genre[h] for h in hist} for k in rec) / 10
        for hist, rec in zip(histories, recs, strict=True)
    ]
    assert sum(shares) / len(shares) > 0.85  # measured 0.97
    # neighbours: mostly of the query's genre (a chance draw would give 1 in 8)
    same = [genre[n] == genre[row["item"]] for row in s["similar"] for n in row["similar"]]
    assert sum(same) / len(same) >= 0.5


def test_json_summary_and_saved_files(summary):
    out, s = summary
    assert s["out"] == str(out) and s["model"] == str(out / MODEL_DIR)
    assert sorted(p.name for p in out.iterdir()) == [LOG_FILE, MODEL_DIR]
    header = (out / LOG_FILE).read_text(encoding="utf-8").splitlines()[0]
    assert header == "user,item,genre,timestamp"
    assert s["config"]["epochs"] == 40 and s["config"]["seed"] == 0
    assert [c.split()[1] for c in s["next"]] == ["similar", "recommend", "eval", "serve"]


def test_default_out_is_a_new_temporary_directory_never_the_cwd(readable):
    out, stdout, cwd = readable
    assert out.name.startswith("embedrec-quickstart-")
    assert list(cwd.iterdir()) == []
    lines = stdout.strip().splitlines()
    assert str(out) in lines[0] and "temporary" in lines[0] and str(out) in lines[-1]
    assert sorted(p.name for p in out.iterdir()) == [LOG_FILE, MODEL_DIR]
    for step in ("1. the log", "2. compiling the training kernels (first run only", "7. saved"):
        assert step in stdout
    assert re.search(r"ready in \d+\.\ds", stdout)


def _printed_commands(stdout):
    return [
        shlex.split(line.strip()) for line in stdout.splitlines() if line.startswith("   embedrec ")
    ]


def test_printed_commands_run(readable):
    _, stdout, _ = readable
    commands = {words[1]: words[1:] for words in _printed_commands(stdout)}
    assert sorted(commands) == ["eval", "recommend", "serve", "similar"]
    query = commands["similar"][-1]
    neighbours = run(*commands["similar"]).stdout
    assert query in neighbours and len(neighbours.strip().splitlines()) == 11  # header + 10
    history = commands["recommend"][2::2]
    rec = run(*commands["recommend"], "--json").stdout
    items = [r["key"] for r in json.loads(rec)["items"]]
    assert len(items) == 10 and not set(items) & set(history)
    # the saved model was trained with the leave-last-out holdout: `eval` reproduces the
    # quickstart's own HR@10 from the CSV it wrote
    table = run(*commands["eval"]).stdout
    printed = re.search(r"HR@10\s+([0-9.]+)\s+([0-9.]+)", stdout).groups()
    evaluated = re.search(r"HR@10\s+([0-9.]+)\s+([0-9.]+)", table).groups()
    assert [round(float(v), 3) for v in evaluated] == [float(v) for v in printed]


def test_printed_serve_command_serves_the_model(readable):
    pytest.importorskip("fastapi")
    httpx = pytest.importorskip("httpx")
    out, stdout, _ = readable
    (serve,) = [w for w in _printed_commands(stdout) if w[1] == "serve"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "embedrec", *serve[1:], "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        key = next(w for w in _printed_commands(stdout) if w[1] == "similar")[-1]
        body = httpx.get(f"{base}/v1/similar", params={"key": key, "k": 5}).json()
        expected = Item2Vec.load(out / MODEL_DIR).most_similar(key, k=5).keys.tolist()
        assert [n["key"] for n in body["neighbors"]] == expected
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_foreign_directory_is_refused_before_any_work(tmp_path):
    (tmp_path / "mine.txt").write_text("precious", encoding="utf-8")
    result = run("quickstart", "--out", tmp_path, ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error:") and "non-empty directory" in result.stderr
    assert "--out" in result.stderr and result.stdout == ""
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "precious"


def test_an_earlier_quickstart_directory_is_reused(tmp_path):
    out = tmp_path / "qs"
    run("-q", "quickstart", "--out", out, "--json")
    run("-q", "quickstart", "--out", out, "--seed", "1", "--json")
    assert sorted(p.name for p in out.iterdir()) == [LOG_FILE, MODEL_DIR]
    assert Item2Vec.load(out / MODEL_DIR).config.seed == 1


def test_serve_without_the_service_extra_fails_before_training(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi now fails
    result = run("quickstart", "--serve", "--out", tmp_path / "qs", ok=False)
    assert result.exit_code != 0
    assert 'pip install "embedrec[service]"' in result.output and "fastapi" in result.output
    assert "1. the log" not in result.output and not (tmp_path / "qs").exists()


def test_host_and_port_need_serve(tmp_path):
    result = run("quickstart", "--port", "9000", "--out", tmp_path / "qs", ok=False)
    assert result.exit_code == 2 and "--port only go with --serve" in result.output
    assert not (tmp_path / "qs").exists()


def test_serve_runs_embedrec_serve_on_the_saved_model(tmp_path, monkeypatch):
    import embedrec.service.server as server

    calls = []
    monkeypatch.setattr(server, "run", lambda cfg, **kw: calls.append((cfg, kw)))
    out = tmp_path / "qs"
    stdout = run("-q", "quickstart", "--out", out, "--serve", "--port", "8123").stdout
    ((cfg, kw),) = calls
    assert Path(cfg.artifact) == out / MODEL_DIR
    assert kw["port"] == 8123 and kw["host"] == "127.0.0.1"
    curls = [line.strip() for line in stdout.splitlines() if line.strip().startswith("curl ")]
    assert len(curls) == 2 and all("http://127.0.0.1:8123/v1/" in c for c in curls)
    body = json.loads(shlex.split(curls[1])[-1])
    assert body["k"] == 5 and set(body["history"]) <= set(genre_log(n_users=1)[1])

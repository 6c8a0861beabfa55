"""The admin surface as an attacker and an operator meet it: off by default, a bearer token,
reload paths confined to the reload roots, no server paths or file contents in any answer, and
reloads that reach every worker of a multi-worker service."""

from __future__ import annotations

import os
import threading
import time
import warnings

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from embedrec.cli.main import cli
from embedrec.service import ServeConfig, ServiceState, create_app, load_artifact
from embedrec.service.admin import ReloadPathError, resolve_reload_path
from embedrec.service.app import GENERATION_HEADER

from .conftest import TOKEN, Server, train_word2vec

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "root:x:0:0:planted-secret-line-4242"


@pytest.fixture
def repo(tmp_path, w2v_model):
    """A model repository: the served model, a second model, and a planted secret beside."""
    root = tmp_path / "models"
    w2v_model.save(root / "current")
    train_word2vec(seed=3).save(root / "next")
    (root / "broken").mkdir()
    (root / "broken" / "manifest.json").write_text(SECRET)
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    outside = tmp_path / "planted"
    w2v_model.save(outside)
    return root, secret, outside


def _client(root, **kw):
    app = create_app(root / "current", admin=True, admin_token=TOKEN, **kw)
    return TestClient(app)


def test_admin_is_off_by_default_and_needs_a_token_when_on(w2v_dir):
    with pytest.raises(ValueError, match="EMBEDREC_ADMIN_TOKEN"):
        ServeConfig(artifact=w2v_dir, admin=True)
    with pytest.raises(ValueError, match="at least 16"):
        ServeConfig(artifact=w2v_dir, admin=True, admin_token="short")
    # the token never travels in the JSON config (workers read it from the environment)
    cfg = ServeConfig(artifact=w2v_dir, admin=True, admin_token=TOKEN)
    assert TOKEN not in cfg.to_json() and TOKEN not in repr(cfg)
    r = CliRunner().invoke(
        cli, ["serve", str(w2v_dir), "--admin"], env={"EMBEDREC_ADMIN_TOKEN": ""}
    )
    assert r.exit_code == 2 and "EMBEDREC_ADMIN_TOKEN" in r.output


def test_admin_token_401_without_403_wrong(repo):
    root, _, _ = repo
    with _client(root) as c:
        r = c.post("/admin/reload")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert c.get("/admin/reload").status_code == 401
        for bad in ("Bearer wrong-token-wrong-token", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"):
            assert c.post("/admin/reload", headers={"Authorization": bad}).status_code == 403
        assert c.post("/admin/reload", headers=AUTH, json={"wait": True}).status_code == 200
        assert c.get("/healthz").json()["generation"] == 1


def test_reload_paths_stay_inside_the_roots_and_leak_nothing(repo, tmp_path):
    root, secret, outside = repo
    (root / "escape").symlink_to(outside)
    with _client(root, reload_roots=[root]) as c:
        bodies = []
        for path in (
            str(secret),
            "/etc/passwd",
            "../secret.txt",
            "next/../../secret.txt",
            str(outside),
            "escape",
        ):
            r = c.post("/admin/reload", headers=AUTH, json={"path": path, "wait": True})
            assert r.status_code == 422, (path, r.text)
            bodies.append(r.text)
        # a missing artifact and a broken one (its manifest holds the secret) look alike
        missing = c.post("/admin/reload", headers=AUTH, json={"path": "nope", "wait": True})
        broken = c.post("/admin/reload", headers=AUTH, json={"path": "broken", "wait": True})
        assert missing.status_code == broken.status_code == 422
        assert missing.json().keys() == broken.json().keys() == {"detail", "error_id"}
        assert missing.json()["detail"].replace(missing.json()["error_id"], "").replace(
            "'nope'", ""
        ) == broken.json()["detail"].replace(broken.json()["error_id"], "").replace("'broken'", "")
        bodies += [missing.text, broken.text]
        # nor does the status (no exception class either)
        status = c.get("/admin/reload", headers=AUTH).json()
        assert (
            status["error"]
            == f"the load failed (error id {status['error_id']}; see the server log)"
        )
        bodies += [c.get("/admin/reload", headers=AUTH).text, c.get("/v1/info").text]
        for text in bodies:
            assert "planted-secret" not in text and str(tmp_path) not in text
        # still serving the first model; a sibling under the root switches, and says so relatively
        assert c.get("/healthz").json()["generation"] == 0
        r = c.post("/admin/reload", headers=AUTH, json={"path": "next", "wait": True})
        assert r.status_code == 200 and r.json()["path"] == "next"
        info = c.get("/v1/info").json()
        assert info["artifact"] == "next" and info["generation"] == 1


def test_resolve_reload_path_rules(tmp_path):
    (tmp_path / "a").mkdir()
    assert resolve_reload_path("a", [tmp_path]) == (tmp_path / "a").resolve()
    for bad in ("", " ", "/a", "a/../../x", "..", "a\x00b", "x" * 2000):
        with pytest.raises(ReloadPathError):
            resolve_reload_path(bad, [tmp_path])


def test_by_default_only_the_served_directory_is_a_root(repo):
    root, _, _ = repo
    with _client(root) as c:  # no --reload-root: the sibling "next" cannot be named
        r = c.post("/admin/reload", headers=AUTH, json={"path": "next", "wait": True})
        assert r.status_code == 422 and c.get("/healthz").json()["generation"] == 0


def test_threads_default_to_one_per_worker(w2v_dir):
    from threadpoolctl import threadpool_info

    with TestClient(create_app(w2v_dir)) as c:
        assert c.get("/healthz").status_code == 200
    pools = threadpool_info()
    assert pools and all(p["num_threads"] == 1 for p in pools), pools


def _worker_generations(server: Server, n_workers: int, timeout: float = 20.0) -> dict[int, int]:
    """Generation each worker serves, asked over fresh connections until all have answered."""
    seen: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < n_workers:
        if time.monotonic() > deadline:
            raise AssertionError(f"only workers {seen} answered:\n{server.log()}")
        with httpx.Client(base_url=server.url, timeout=10.0) as fresh:
            body = fresh.get("/healthz").json()
        seen[body["worker"]] = body["generation"]
    return seen


@pytest.mark.slow
def test_two_workers_all_serve_the_new_generation_after_each_reload(tmp_path, w2v_model):
    art = tmp_path / "art"
    w2v_model.save(art)
    server = Server(
        art,
        *("--workers", "2", "--admin", "--watch", "0.2"),
        log=tmp_path / "server.log",
        env={"EMBEDREC_ADMIN_TOKEN": TOKEN},
        timeout=60.0,
    )
    try:
        assert set(_worker_generations(server, 2).values()) == {0}
        # HTTP: lands on one worker; with wait it answers once every worker serves it
        r = server.post("/admin/reload", json={"wait": True}, headers=AUTH)
        assert r.status_code == 200 and r.json()["workers"] == 2, r.text
        assert set(_worker_generations(server, 2).values()) == {1}
        # SIGHUP to the supervisor reaches both workers (not a restart: same pids)
        pids = set(_worker_generations(server, 2))
        server.hup()
        deadline = time.monotonic() + 20
        while set((gens := _worker_generations(server, 2)).values()) != {2}:
            assert time.monotonic() < deadline, gens
        assert set(gens) == pids
        # --watch: a re-save is picked up by every worker
        model_c = train_word2vec(seed=9)
        model_c.save(art)
        deadline = time.monotonic() + 20
        while set((gens := _worker_generations(server, 2)).values()) != {3}:
            assert time.monotonic() < deadline, gens
        expected = model_c.most_similar("t0_w0", k=5).keys.tolist()
        for _ in range(10):
            with httpx.Client(base_url=server.url, timeout=10.0) as fresh:
                r = fresh.get("/v1/similar", params={"key": "t0_w0", "k": 5})
            assert r.headers[GENERATION_HEADER] == "3"
            assert [n["key"] for n in r.json()["neighbors"]] == expected
    finally:
        server.stop()


def test_generation_header_on_every_answer(w2v_dir):
    with TestClient(create_app(w2v_dir)) as c:
        for r in (
            c.get("/v1/similar", params={"key": "t0_w0", "k": 0}),
            c.post("/v1/similar", content=b"{"),
            c.get("/nope"),
            c.get("/healthz"),
        ):
            assert r.headers[GENERATION_HEADER] == "0", (r.status_code, r.headers)


def test_reload_during_requests_in_process_never_mixes(repo):
    root, _, _ = repo
    with _client(root, reload_roots=[root]) as c:
        stop = threading.Event()
        errors: list[str] = []

        def stream() -> None:
            while not stop.is_set():
                r = c.get("/v1/similar", params={"key": "t0_w0", "k": 3})
                if r.status_code != 200:
                    errors.append(r.text)

        t = threading.Thread(target=stream)
        t.start()
        try:
            for name in ("next", "current", "next"):
                r = c.post("/admin/reload", headers=AUTH, json={"path": name, "wait": True})
                assert r.status_code == 200
        finally:
            stop.set()
            t.join()
        assert not errors
        assert c.get("/healthz").json()["generation"] == 3
        assert os.path.isdir(root / "current")


def _planted(gen: int):
    """Embeddings whose every key names the generation and row its vector holds."""
    from embedrec import Embeddings

    n = 40 + gen % 7  # the row count changes too, so keys of one and vectors of another clash
    vectors = np.zeros((n, 8), dtype=np.float32)
    vectors[:, 0] = gen
    vectors[:, 1] = np.arange(n)
    vectors[:, 2] = 1.0
    return Embeddings([f"g{gen}_{i}" for i in range(n)], vectors)


def test_reloads_overlapping_saves_never_serve_a_mix(tmp_path):
    """The finding: reloads overlapping a re-save served one generation's keys with another's
    vectors (3 of 150). A saver re-saves in a loop while the service reloads: every load is one
    whole generation, and no reload fails."""
    art = tmp_path / "art"
    _planted(0).save(art)
    state = ServiceState(load_artifact(art), lambda p, g: load_artifact(p, generation=g))
    stop = threading.Event()
    saved = [0]

    def saver() -> None:
        gen = 0
        while not stop.is_set():
            gen += 1
            _planted(gen).save(art)
            saved[0] = gen

    t = threading.Thread(target=saver)
    t.start()
    outcomes = []
    deadline = time.monotonic() + 120
    try:
        # at least 150 reloads, overlapping at least 20 saves (however slow the machine is)
        while (len(outcomes) < 150 or saved[0] < 20) and time.monotonic() < deadline:
            status = state.reload(wait=True)
            outcomes.append(status.state)
            emb = state.current.embeddings
            gens = {int(g) for g in emb.vectors[:, 0]}
            assert len(gens) == 1, gens
            (gen,) = gens
            assert emb.keys == [f"g{gen}_{i}" for i in range(40 + gen % 7)]
            assert state.current.artifact_generation is not None
    finally:
        stop.set()
        t.join()
    assert len(outcomes) >= 150 and saved[0] >= 20, (len(outcomes), saved[0])
    assert set(outcomes) == {"succeeded"}


def test_incomplete_artifact_is_refused_at_load_and_reload_keeps_the_old(tmp_path, i2v_model):
    """The finding: an Item2Vec directory without output_vectors.npy loaded, then every
    /v1/recommend was a 500. It is refused at load; a reload to it keeps the old model."""
    from embedrec.artifacts import resolve_artifact

    good, bad = tmp_path / "good", tmp_path / "bad"
    i2v_model.save(good)
    i2v_model.save(bad)
    (resolve_artifact(bad)[0] / "output_vectors.npy").unlink()
    with pytest.raises(ValueError, match=r"output_vectors\.npy"):
        load_artifact(bad)
    app = create_app(good, admin=True, admin_token=TOKEN, reload_roots=[tmp_path])
    with TestClient(app) as c:
        r = c.post("/admin/reload", headers=AUTH, json={"path": "bad", "wait": True})
        assert r.status_code == 422 and "output_vectors" not in r.text
        assert c.get("/healthz").json()["generation"] == 0
        r = c.post("/v1/recommend", json={"history": [100, 101], "k": 3})
        assert r.status_code == 200 and len(r.json()["items"]) == 3

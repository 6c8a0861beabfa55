"""Hot reload over real HTTP: no request fails while the served artifact is swapped, and each
answer comes wholly from the generation that its response header names."""

from __future__ import annotations

import os
import threading
import time

import httpx
import numpy as np

from embedrec.service.app import GENERATION_HEADER

from .conftest import TOKEN, Server, train_word2vec

QUERIES = [f"t{t}_w{j}" for t in range(8) for j in range(0, 25, 4)]


def _snapshot(path):
    return sorted((p.relative_to(path), p.stat().st_mtime_ns) for p in path.rglob("*"))


def test_reload_under_load_api_watch_and_sighup(tmp_path, w2v_model):
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    w2v_model.save(a_dir)
    model_b = train_word2vec(seed=5)
    model_b.save(b_dir)
    model_c = train_word2vec(seed=9)
    expected = {0: w2v_model, 1: model_b}
    a_files = _snapshot(a_dir)
    server = Server(
        a_dir,
        *("--watch", "0.1", "--admin", "--reload-root", str(tmp_path)),
        log=tmp_path / "server.log",
        env={"EMBEDREC_ADMIN_TOKEN": TOKEN},
    )
    server.client.headers["Authorization"] = f"Bearer {TOKEN}"
    stop = threading.Event()
    answers: list[tuple[int, str, list[str]]] = []
    errors: list[str] = []

    def stream(seed: int) -> None:
        rng = np.random.default_rng(seed)
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            while not stop.is_set():
                key = QUERIES[int(rng.integers(len(QUERIES)))]
                try:
                    r = client.get("/v1/similar", params={"key": key, "k": 5})
                except httpx.HTTPError as exc:  # a dropped connection is a failure too
                    errors.append(repr(exc))
                    continue
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text}")
                    continue
                gen = int(r.headers[GENERATION_HEADER])
                answers.append((gen, key, [n["key"] for n in r.json()["neighbors"]]))

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.3)
        # 1. POST /admin/reload with a new path: answered at once (202), loaded in the background
        r = server.post("/admin/reload", json={"path": "b"})
        assert r.status_code == 202 and r.json()["state"] == "loading"
        server.wait_generation(1)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors[:5]
        gens = {g for g, _, _ in answers}
        assert gens == {0, 1}, gens
        for gen, key, got in answers:
            assert got == expected[gen].most_similar(key, k=5).keys.tolist()
        status = server.get("/admin/reload").json()
        assert status["state"] == "succeeded" and status["generation"] == 1
        assert status["path"] == "b" and status["trigger"] == "api"

        # 2. a failed load keeps serving generation 1 and reports an error id, not the error
        r = server.post("/admin/reload", json={"path": "missing", "wait": True})
        assert r.status_code == 422, r.text
        error_id = r.json()["error_id"]
        assert error_id in r.json()["detail"] and "does not exist" not in r.text
        assert str(tmp_path) not in r.text
        info = server.get("/v1/info").json()
        assert info["generation"] == 1 and info["reload"]["state"] == "failed"
        assert info["reload"]["error_id"] == error_id and str(tmp_path) not in str(info)
        assert f"error id {error_id}" in server.log()  # the detail is in the server log
        body = server.get("/v1/similar", params={"key": "t0_w0", "k": 5}).json()
        assert [n["key"] for n in body["neighbors"]] == model_b.most_similar(
            "t0_w0", k=5
        ).keys.tolist()

        # 3. --watch: re-saving the served directory is picked up
        model_c.save(b_dir)
        server.wait_generation(2)
        assert server.get("/admin/reload").json()["trigger"] == "watch"
        body = server.get("/v1/similar", params={"key": "t0_w0", "k": 5})
        assert body.headers[GENERATION_HEADER] == "2"
        assert [n["key"] for n in body.json()["neighbors"]] == model_c.most_similar(
            "t0_w0", k=5
        ).keys.tolist()

        # 4. SIGHUP re-reads the served directory
        server.hup()
        server.wait_generation(3)
        assert server.get("/admin/reload").json()["trigger"] == "sighup"
    finally:
        stop.set()
        server.stop()
    # read-only: serving wrote nothing into the artifact directory
    assert _snapshot(a_dir) == a_files
    assert not (a_dir / "index").exists() and os.listdir(a_dir)

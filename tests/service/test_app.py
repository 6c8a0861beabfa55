"""The app in process (fastapi TestClient) and the pieces under it: artifacts of every kind,
saved indexes, reload state, configs, the CLI command, and a fuzz of odd inputs."""

from __future__ import annotations

import json
import os
import threading
import warnings
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from embedrec import Embeddings
from embedrec.artifacts import extend_artifact
from embedrec.cli.main import cli
from embedrec.index import build_index
from embedrec.service import (
    ReloadInProgressError,
    ServeConfig,
    ServiceLimits,
    ServiceState,
    create_app,
    load_artifact,
)

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

with warnings.catch_warnings():  # starlette's notice about httpx, irrelevant here
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def w2v_client(w2v_dir):
    with TestClient(create_app(w2v_dir, limits=ServiceLimits(max_k=50, max_batch=20))) as c:
        yield c


# ---------------------------------------------------------------------------------- artifacts
def test_saved_index_is_loaded(tmp_path, w2v_dir, w2v_model):
    art_dir = tmp_path / "model"
    w2v_model.save(art_dir)
    # as `embedrec index build` does: a new generation with the model's files plus index/
    with extend_artifact(art_dir, drop=("index",)) as staging:
        build_index(w2v_model.embeddings_).write_dir(staging / "index")
    art = load_artifact(art_dir)
    assert art.index_source == "loaded" and art.index_kind == "exact"
    got = art.similar(["t0_w0"], 5)[0]
    assert got.keys == w2v_model.most_similar("t0_w0", k=5).keys.tolist()
    # asking for a kind builds one at start
    assert load_artifact(art_dir, index_kind="exact").index_source == "built"


def test_saved_index_of_other_vectors_is_refused(tmp_path, w2v_model):
    art_dir = tmp_path / "model"
    w2v_model.save(art_dir)
    other = Embeddings(["a", "b"], np.eye(2, 16, dtype=np.float32))
    with extend_artifact(art_dir, drop=("index",)) as staging:
        build_index(other).write_dir(staging / "index")
    with pytest.raises(ValueError, match="built for other vectors"):
        load_artifact(art_dir)
    assert load_artifact(art_dir, index_kind="exact").index_source == "built"


def test_faiss_hnsw_index_at_start(w2v_dir, w2v_model):
    pytest.importorskip("faiss")
    pytest.importorskip("embedrec.index.faiss")
    art = load_artifact(w2v_dir, index_kind="hnsw", index_params={"M": 16})
    assert art.index_kind == "hnsw" and art.index_params["M"] == 16
    exact = w2v_model.most_similar(["t0_w0", "t5_w3"], k=10).keys.tolist()
    found = [r.keys for r in art.similar(["t0_w0", "t5_w3"], 10)]
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found, strict=True)])
    assert overlap >= 0.9


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_embeddings_dir_and_word2vec_file(tmp_path, metric):
    rng = np.random.default_rng(0)
    emb = Embeddings([f"k{i}" for i in range(30)], rng.normal(size=(30, 8)), metric=metric)
    emb.save(tmp_path / "emb")
    emb.save_word2vec_format(tmp_path / "emb.txt")
    for path in (tmp_path / "emb", tmp_path / "emb.txt"):
        art = load_artifact(path)
        assert art.embeddings.metric == (metric if path.is_dir() else "cosine")
    art = load_artifact(tmp_path / "emb")
    rec = art.recommend(["k1", "k2"], 5)
    q = emb.unit_vectors[[1, 2]].mean(axis=0)
    cand = np.delete(np.arange(30), [1, 2])
    if metric == "cosine":
        raw = emb.unit_vectors[cand] @ (q / np.linalg.norm(q))
    else:
        raw = emb.vectors[cand] @ q
    top = cand[np.argsort(-raw)[:5]]
    assert rec.ranked.keys == [f"k{i}" for i in top]
    assert_allclose(rec.ranked.scores, np.sort(raw)[::-1][:5], rtol=1e-5)
    scores, unknown, _ = art.score(["k1", "k2", "zz"], [f"k{top[0]}", "nope"])
    assert_allclose(scores[0], rec.ranked.scores[0], rtol=1e-5)
    assert scores[1] is None and unknown == ["zz"]


def test_missing_artifact_fails_at_start(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_app(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="manifest"):
        create_app(tmp_path / "empty")


# ---------------------------------------------------------------------------------- reload state
def test_reload_in_progress_is_409_and_old_state_serves(monkeypatch, w2v_dir, w2v_model):
    import embedrec.service.app as app_mod

    gate = threading.Event()
    real = app_mod.load_artifact

    def slow(*args, **kwargs):
        gate.wait(10)
        return real(*args, **kwargs)

    app = create_app(w2v_dir, admin=True, admin_token=TOKEN)
    monkeypatch.setattr(app_mod, "load_artifact", slow)
    with TestClient(app, headers=AUTH) as c:
        assert c.post("/admin/reload").status_code == 202
        r = c.post("/admin/reload", json={"wait": True})
        assert r.status_code == 409 and "still loading" in r.json()["detail"]
        assert c.get("/admin/reload").json()["state"] == "loading"
        assert c.get("/v1/similar", params={"key": "t0_w0"}).headers["x-embedrec-generation"] == "0"
        gate.set()
        app.state.embedrec.join(10)
        assert c.get("/healthz").json()["generation"] == 1


def test_service_state_failed_load_keeps_the_old_artifact(w2v_dir):
    art = load_artifact(w2v_dir)

    def broken(path, generation):
        raise ValueError("corrupt")

    state = ServiceState(art, broken)
    status = state.reload(wait=True)
    # the client-facing status names the error class and an id, never the message
    assert status.state == "failed" and status.error_id and status.error_id in status.error
    assert "ValueError" not in status.error and "corrupt" not in status.error
    assert state.current is art
    state._lock.acquire()
    with pytest.raises(ReloadInProgressError):
        state.reload()
    state._lock.release()


def test_no_admin_hides_reload(w2v_dir):
    with TestClient(create_app(w2v_dir, admin=False)) as c:
        assert c.post("/admin/reload").status_code == 404
    with TestClient(create_app(w2v_dir)) as c:  # off by default
        assert c.post("/admin/reload", json={"path": "/etc/passwd"}).status_code == 404
        assert c.get("/admin/reload").status_code == 404


# ---------------------------------------------------------------------------------- configs, CLI
def test_configs_validate_and_round_trip():
    with pytest.raises(ValueError, match="--max-k"):
        ServiceLimits(max_k=0)
    with pytest.raises(ValueError, match="--max-batch"):
        ServiceLimits(max_batch=True)
    with pytest.raises(ValueError, match="watch"):
        ServeConfig(artifact=Path("x"), watch=-1)
    cfg = ServeConfig(
        artifact=Path("m"), index_kind="hnsw", index_params={"M": 8}, limits=ServiceLimits(max_k=5)
    )
    assert ServeConfig.from_json(cfg.to_json()) == cfg


def test_cli_serve_reports_bad_input_without_starting(tmp_path, w2v_dir):
    runner = CliRunner()
    r = runner.invoke(cli, ["serve", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "error:" in r.output and "does not exist" in r.output
    r = runner.invoke(cli, ["serve", str(w2v_dir), "--max-k", "0"])
    assert r.exit_code == 2 and "--max-k" in r.output
    r = runner.invoke(cli, ["serve", str(w2v_dir), "--index-param", "M"])
    assert r.exit_code == 2 and "NAME=VALUE" in r.output
    r = runner.invoke(cli, ["serve", str(w2v_dir), "--index", "lsh"])
    assert r.exit_code == 2


# ---------------------------------------------------------------------------------- fuzz
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.just("x" * 5000)
    | st.just("9" * 50)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
key_lists = st.lists(st.sampled_from(["t0_w0", "t1_w3", "nope", "", 7]) | json_scalars, max_size=25)
fields = {
    "keys": key_lists | json_values,
    "history": key_lists | json_values,
    "candidates": key_lists | json_values,
    "k": st.integers(min_value=-5, max_value=10**20) | json_values,
    "exclude_seen": st.booleans() | json_values,
    "times": st.none() | st.lists(st.floats(allow_nan=False), max_size=5) | json_values,
    "junk": json_values,
}
bodies = st.fixed_dictionaries({}, optional=fields) | json_values
OK = {200, 404, 413, 422}
#: a body that is not strict JSON (json.dumps writes inf as Infinity) is a 400
BODY_OK = OK | {400}
JSON = {"content-type": "application/json"}


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/v1/similar", "/v1/recommend", "/v1/score", "/v1/embeddings"]),
    body=bodies,
)
def test_fuzz_post_bodies_never_500(w2v_client, path, body):
    r = w2v_client.post(path, content=json.dumps(body), headers=JSON)
    assert r.status_code in BODY_OK, (r.status_code, r.text)
    assert "detail" in r.json() or r.status_code == 200


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 100)), deadline=None)
@given(key=st.text(max_size=50) | st.just("x" * 5000), k=st.text(max_size=25))
def test_fuzz_query_params_never_500(w2v_client, key, k):
    r = w2v_client.get("/v1/similar", params={"key": key, "k": k})
    assert r.status_code in OK, (r.status_code, r.text)
    r = w2v_client.get("/v1/embedding/" + quote(key, safe=""))
    assert r.status_code in OK | {405}, (r.status_code, r.text)


def test_odd_inputs_by_hand(w2v_client):
    cases = [
        ("/v1/similar", {"keys": [], "k": 5}, 200),
        ("/v1/embeddings", {"keys": []}, 200),
        ("/v1/score", {"history": ["t0_w0"], "candidates": []}, 200),
        ("/v1/similar", {"keys": ["t0_w0"], "k": -3}, 422),
        ("/v1/similar", {"keys": ["t0_w0"], "k": 10**30}, 422),
        ("/v1/similar", {"keys": [None, {"a": 1}]}, 422),
        ("/v1/similar", {"keys": ["x" * 5000]}, 422),
        ("/v1/similar", {"keys": ["x" * 4096]}, 200),
        ("/v1/recommend", {"history": ["t0_w0"], "times": [1.0, 2.0]}, 422),
        ("/v1/recommend", {"history": ["t0_w0"], "k": 1.5}, 422),
        ("/v1/recommend", [], 422),
        ("/v1/recommend", None, 422),
    ]
    for path, body, status in cases:
        r = w2v_client.post(path, content=json.dumps(body), headers=JSON)
        assert r.status_code == status, (path, body, r.status_code, r.text)
    r = w2v_client.post("/v1/similar", content=b"\xff\xfe", headers={"content-type": "text/plain"})
    assert r.status_code == 400 and "Content-Type" in r.json()["detail"]


def test_workers_keep_tcp_nodelay(monkeypatch, w2v_dir):
    """uvicorn binds the socket of --workers > 1 with proto=0, so asyncio leaves Nagle on and
    each keep-alive request waits ~40 ms for a delayed ACK (uvicorn #3149); our protocol
    turns it off on every connection."""
    import socket
    import types

    from embedrec.service import server
    from embedrec.service.config import CHANNEL_ENV, CONFIG_ENV

    calls = {}
    # the variables run() sets for its workers are restored after the test
    for var in (CONFIG_ENV, CHANNEL_ENV, *server._THREAD_VARS):
        monkeypatch.setenv(var, "")

    def supervise(self):  # instead of starting worker processes
        calls.update(http=self.config.http, workers=self.config.workers, channel=self.channel)

    monkeypatch.setattr(server._Supervisor, "run", supervise)
    server.run(ServeConfig(artifact=w2v_dir), workers=2, port=0)
    assert calls["http"] == server.PROTOCOL and calls["workers"] == 2
    assert ServeConfig.from_json(os.environ[CONFIG_ENV]).artifact == w2v_dir
    assert ServeConfig.from_json(os.environ[CONFIG_ENV]).workers == 2
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert not calls["channel"].directory.exists()  # removed when the supervisor stops

    with socket.socket(socket.AF_INET) as listener:  # proto=0, as uvicorn's bind_socket
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()):
            conn, _ = listener.accept()
            with conn:
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
                transport = types.SimpleNamespace(
                    get_extra_info=lambda name, default=None: conn if name == "socket" else None
                )
                monkeypatch.setattr(server._BaseProtocol, "connection_made", lambda self, t: None)
                proto = object.__new__(server.NoDelayHTTPProtocol)
                proto.connection_made(transport)
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_a_session_embed_model_is_served_with_its_session_scores(tmp_path):
    from embedrec import Item2Vec, Item2VecConfig
    from embedrec.models import SessionEmbed, SessionEmbedConfig

    rng = np.random.default_rng(3)
    sessions = [[f"i{c}_{int(j)}" for j in rng.integers(0, 6, 4)] for c in rng.integers(0, 4, 200)]
    model = SessionEmbed(
        SessionEmbedConfig(calibrate=False),
        embedder=Item2Vec(Item2VecConfig(dim=8, epochs=3, workers=1)),
    ).fit(sessions)
    model.save(tmp_path / "sess")
    art = load_artifact(tmp_path / "sess")
    assert art.model_class == "SessionEmbed" and art.strategy.startswith("session")
    rec = art.recommend(["i1_0", "i1_2", "zz"], 5, exclude_seen=False)
    want = model.recommend(["i1_0", "i1_2", "zz"], 5)
    assert rec.ranked.keys == want.keys.tolist() and rec.unknown == ["zz"]
    assert_allclose(rec.ranked.scores, want.scores, rtol=1e-6)
    scores, unknown, fallback = art.score(["i1_0", "i1_2"], [want.keys[0], "nope"])
    assert_allclose(scores[0], want.scores[0], rtol=1e-6)
    assert scores[1] is None and unknown == [] and not fallback
    with TestClient(create_app(tmp_path / "sess")) as client:
        body = client.post(
            "/v1/recommend", json={"history": ["i1_0", "i1_2"], "k": 3, "exclude_seen": False}
        ).json()
        assert [r["key"] for r in body["items"]] == want.keys.tolist()[:3]

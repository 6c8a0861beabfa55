"""The service over real HTTP: answers equal the library's own calls; every error code."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_allclose

from embedrec.index import build_index

from .conftest import CAPS, Server

RTOL = 1e-5
JSON = {"content-type": "application/json"}


def _keys(items):
    return [x["key"] for x in items]


def _scores(items):
    return [x["score"] for x in items]


# ---------------------------------------------------------------------------------- Word2Vec
def test_healthz_and_info(w2v_server, w2v_model, w2v_dir):
    assert w2v_server.get("/healthz").json()["status"] == "ok"
    info = w2v_server.get("/v1/info").json()
    emb = w2v_model.embeddings_
    assert info["model_class"] == "Word2Vec"
    assert (info["n_items"], info["dim"], info["metric"]) == (len(emb), emb.dim, "cosine")
    assert info["key_type"] == "str"
    assert info["index"] == {"kind": "exact", "params": {}, "source": "built"}
    assert info["config"] == w2v_model.config.to_dict()
    # the artifact's name only: no absolute server path reaches a client
    assert info["artifact"] == w2v_dir.name and "artifact_path" not in info
    assert str(w2v_dir.parent) not in w2v_server.get("/v1/info").text
    assert info["limits"] == CAPS
    assert info["generation"] == 0 and info["reload"]["state"] == "idle"
    assert "/v1/similar" in w2v_server.get("/openapi.json").json()["paths"]
    assert w2v_server.get("/docs").status_code == 200


def test_similar_matches_library(w2v_server, w2v_model):
    emb = w2v_model.embeddings_
    for key in ["t0_w0", "t3_w7", emb.keys[-1]]:
        body = w2v_server.get("/v1/similar", params={"key": key, "k": 7}).json()
        ref = emb.most_similar(key, k=7)
        assert body["key"] == key and body["k"] == 7
        assert _keys(body["neighbors"]) == ref.keys.tolist()
        assert_allclose(_scores(body["neighbors"]), ref.scores, rtol=RTOL)


def test_similar_batch_unknown_keys_are_null(w2v_server, w2v_model):
    emb = w2v_model.embeddings_
    body = w2v_server.post("/v1/similar", json={"keys": ["t1_w1", "nope", 5], "k": 3}).json()
    ref = emb.most_similar("t1_w1", k=3)
    assert body["results"][0]["key"] == "t1_w1"
    assert _keys(body["results"][0]["neighbors"]) == ref.keys.tolist()
    assert body["results"][1:] == [None, None]
    assert body["unknown"] == ["nope", "5"]  # an int key is read as text by a str-key model


def test_k_larger_than_catalogue_returns_everything_else(i2v_server, i2v_model):
    n = len(i2v_model.embeddings_)  # 72 items, below the server's default --max-k 1000
    body = i2v_server.get("/v1/similar", params={"key": 0, "k": 500}).json()
    assert len(body["neighbors"]) == n - 1 and 0 not in _keys(body["neighbors"])
    rec = i2v_server.post("/v1/recommend", json={"history": [0, 1, 2], "k": 500}).json()
    assert len(rec["items"]) == n - 3


def test_recommend_matches_library(w2v_server, w2v_model):
    history = ["t2_w0", "t2_w3", "t2_w5", "never-seen"]
    body = w2v_server.post("/v1/recommend", json={"history": history, "k": 5}).json()
    ref = w2v_model.recommend(history[:3], k=5)
    assert _keys(body["items"]) == ref.keys.tolist()
    assert_allclose(_scores(body["items"]), ref.scores, rtol=RTOL)
    assert body["unknown"] == ["never-seen"] and body["fallback"] is False
    assert not set(_keys(body["items"])) & set(history)
    keep = w2v_server.post(
        "/v1/recommend", json={"history": history, "k": 5, "exclude_seen": False}
    ).json()
    ref = w2v_model.recommend(history[:3], k=5, exclude_seen=False)
    assert _keys(keep["items"]) == ref.keys.tolist()


def test_score_is_what_recommend_ranks_by(w2v_server, w2v_model):
    emb = w2v_model.embeddings_
    history = ["t4_w0", "t4_w1"]
    rec = w2v_server.post("/v1/recommend", json={"history": history, "k": 5}).json()
    cands = [*_keys(rec["items"]), "t0_w0", "missing"]
    body = w2v_server.post("/v1/score", json={"history": history, "candidates": cands}).json()
    assert_allclose(body["scores"][:5], _scores(rec["items"]), rtol=RTOL)
    q = emb.unit_vectors[emb.index_of(history)].mean(axis=0)
    q /= np.linalg.norm(q)
    assert_allclose(body["scores"][5], emb.unit_vectors[emb.index_of("t0_w0")] @ q, rtol=RTOL)
    assert body["scores"][6] is None and body["unknown_candidates"] == ["missing"]


def test_embeddings(w2v_server, w2v_model):
    emb = w2v_model.embeddings_
    body = w2v_server.get("/v1/embedding/t1_w2").json()
    assert body["key"] == "t1_w2" and body["dim"] == emb.dim
    assert_allclose(body["vector"], emb["t1_w2"], rtol=0)  # float32 -> JSON -> float32 exact
    batch = w2v_server.post("/v1/embeddings", json={"keys": ["t0_w1", "zz", "t1_w2"]}).json()
    assert_allclose(batch["vectors"][0], emb["t0_w1"], rtol=0)
    assert batch["vectors"][1] is None and batch["unknown"] == ["zz"]
    assert batch["vectors"][2] == body["vector"]


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "needle"),
    [
        ("get", "/v1/similar", {"params": {"key": "nope"}}, 404, "unknown key"),
        ("get", "/v1/embedding/nope", {}, 404, "unknown key"),
        ("post", "/v1/recommend", {"json": {"history": ["x", "y"]}}, 404, "none of the 2"),
        ("post", "/v1/score", {"json": {"history": ["x"], "candidates": ["t0_w0"]}}, 404, "none"),
        ("get", "/v1/similar", {"params": {"key": "t0_w0", "k": 0}}, 422, "greater"),
        ("get", "/v1/similar", {"params": {"key": "t0_w0", "k": "ten"}}, 422, "integer"),
        ("get", "/v1/similar", {"params": {"key": "t0_w0", "k": 51}}, 422, "--max-k"),
        ("get", "/v1/similar", {"params": {"k": 3}}, 422, "missing"),
        ("post", "/v1/similar", {"json": {"keys": ["t0_w0"], "k": 10**6}}, 422, "--max-k"),
        ("post", "/v1/similar", {"json": {"keys": "t0_w0"}}, 422, "list"),
        ("post", "/v1/similar", {"json": {"keys": ["a"], "kk": 3}}, 422, "extra"),
        ("post", "/v1/similar", {"content": b"{not json"}, 400, "content-type"),
        ("post", "/v1/similar", {"content": b"{not json", "headers": JSON}, 400, "not valid json"),
        ("post", "/v1/recommend", {"json": {"history": []}}, 422, "empty"),
        ("post", "/v1/recommend", {"json": {"history": [1.5]}}, 422, "string"),
        ("post", "/v1/recommend", {"json": {"history": [True]}}, 422, "string"),
        ("post", "/v1/similar", {"json": {"keys": ["t0_w0"] * 21}}, 413, "--max-batch"),
        ("post", "/v1/embeddings", {"json": {"keys": ["t0_w0"] * 21}}, 413, "--max-batch"),
        ("post", "/v1/recommend", {"json": {"history": ["t0_w0"] * 11}}, 413, "--max-history"),
        (
            "post",
            "/v1/score",
            {"json": {"history": ["t0_w0"], "candidates": ["t0_w0"] * 21}},
            413,
            "--max-batch",
        ),
    ],
)
def test_error_codes(w2v_server, method, path, kw, status, needle):
    r = getattr(w2v_server, method)(path, **kw)
    assert r.status_code == status, r.text
    assert needle.lower() in r.text.lower()


def test_concurrent_requests_match_library(w2v_server, w2v_model):
    emb = w2v_model.embeddings_
    index = build_index(emb)
    rng = np.random.default_rng(0)
    keys = [emb.keys[i] for i in rng.choice(len(emb), size=50, replace=False)]

    def ask(i: int):
        key = keys[i]
        if i % 2:
            body = w2v_server.get("/v1/similar", params={"key": key, "k": 10}).json()
            return key, "similar", _keys(body["neighbors"])
        history = [key, keys[(i + 1) % 50]]
        body = w2v_server.post("/v1/recommend", json={"history": history, "k": 10}).json()
        return history, "recommend", _keys(body["items"])

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(50)))
    for query, kind, got in answers:
        if kind == "similar":
            assert got == index.search_keys(query, 10).keys.tolist()
        else:
            assert got == w2v_model.recommend(query, k=10).keys.tolist()


# ---------------------------------------------------------------------------------- Item2Vec
def test_item2vec_info(i2v_server, i2v_model):
    info = i2v_server.get("/v1/info").json()
    assert info["model_class"] == "Item2Vec" and info["key_type"] == "int"
    assert info["config"]["user_vector"] == i2v_model.config.user_vector
    assert "user_vector=recency" in info["recommend_strategy"]


def test_item2vec_int_keys_from_query_text(i2v_server, i2v_model):
    body = i2v_server.get("/v1/similar", params={"key": "203", "k": 5}).json()
    assert body["key"] == 203
    assert _keys(body["neighbors"]) == i2v_model.most_similar(203, k=5).keys.tolist()
    assert i2v_server.get("/v1/similar", params={"key": "abc"}).status_code == 404
    assert i2v_server.get("/v1/embedding/0203").json()["key"] == 203
    assert i2v_server.get("/v1/embedding/" + "9" * 40).status_code == 404  # not an int64


def test_item2vec_recommend_goes_through_the_model(i2v_server, i2v_model):
    history = [501, 503, 507, 99999]
    body = i2v_server.post("/v1/recommend", json={"history": history, "k": 6}).json()
    ref = i2v_model.recommend(history, k=6)
    assert _keys(body["items"]) == ref.keys.tolist()
    assert_allclose(_scores(body["items"]), ref.scores, rtol=RTOL)
    assert body["unknown"] == ref.unknown == [99999] and body["fallback"] is False
    # the model's output scoring, not the cosine of the index: the scores are not cosines
    cos = i2v_server.post("/v1/similar", json={"keys": [501], "k": 6}).json()
    assert _scores(body["items"]) != _scores(cos["results"][0]["neighbors"])
    # string-typed ints are accepted too
    same = i2v_server.post("/v1/recommend", json={"history": ["501", 503, 507], "k": 6}).json()
    assert same["items"] == body["items"]


def test_item2vec_unknown_history_gets_popularity_fallback(i2v_server, i2v_model):
    for history in ([], [-1, -2]):
        body = i2v_server.post("/v1/recommend", json={"history": history, "k": 4}).json()
        ref = i2v_model.recommend(history, k=4)
        assert body["fallback"] is True
        assert _keys(body["items"]) == ref.keys.tolist()


def test_item2vec_score_matches_model(i2v_server, i2v_model):
    history, cands = [101, 102, 103], [104, 105, 301, 77777]
    body = i2v_server.post("/v1/score", json={"history": history, "candidates": cands}).json()
    ref = i2v_model.score([history], cands)[0]
    assert_allclose(body["scores"][:3], ref[:3], rtol=RTOL)
    assert body["scores"][3] is None and body["unknown_candidates"] == [77777]
    assert body["scores"][0] > body["scores"][2]  # in-cluster beats out-of-cluster


def test_item2vec_times_must_match_history(i2v_server):
    r = i2v_server.post("/v1/recommend", json={"history": [101, 102], "times": [1.0]})
    assert r.status_code == 422 and "one time per history key" in r.text


def test_two_workers_serve_the_same_answers(w2v_dir, w2v_model, tmp_path):
    server = Server(w2v_dir, "--workers", "2", log=tmp_path / "workers.log", timeout=60)
    try:
        with ThreadPoolExecutor(8) as pool:
            bodies = list(
                pool.map(
                    lambda _: server.get("/v1/similar", params={"key": "t6_w1", "k": 4}).json(),
                    range(16),
                )
            )
        ref = w2v_model.most_similar("t6_w1", k=4).keys.tolist()
        assert all(_keys(b["neighbors"]) == ref for b in bodies)
    finally:
        server.stop()
    assert "Started parent process" in server.log() or "Started server process" in server.log()

"""The session baselines (S-POP, AR, SR, SKNN, V-SKNN, STAN, V-STAN) served like any model.

They have no item vectors: the service answers ``/v1/recommend``, ``/v1/score`` and
``/v1/similar`` through the model's own ``recommend`` / ``score_next`` (a session is a
history), ``/v1/embedding`` with a 404 naming the class, and ``/v1/info`` with no dim, metric
or index. Every answer is compared one to one with the library call it stands for.
"""

from __future__ import annotations

import warnings

import pytest
from numpy.testing import assert_allclose

from embedrec.data import Interactions
from embedrec.data.synthetic import session_log
from embedrec.models import (
    SKNN,
    STAN,
    VSKNN,
    VSTAN,
    AssociationRules,
    SequentialRules,
    SessionPop,
)
from embedrec.service import NoVectorsError, create_app, load_artifact
from embedrec.service.config import ServiceLimits

from .conftest import TOKEN

with warnings.catch_warnings():  # starlette's notice about httpx, irrelevant here
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASELINES = [SessionPop, AssociationRules, SequentialRules, SKNN, VSKNN, STAN, VSTAN]


@pytest.fixture(scope="module")
def sessions() -> Interactions:
    """300 synthetic click sessions over 40 int items (successors planted), an hour apart."""
    users, items, times = session_log(n_sessions=300, n_items=40, seed=4)
    return Interactions.from_arrays(users, items, times)


@pytest.fixture(scope="module", params=BASELINES, ids=lambda c: c.__name__)
def served(request, sessions, tmp_path_factory):
    """(the fitted model, a TestClient of the service over its saved directory)."""
    model = request.param().fit(sessions)
    path = tmp_path_factory.mktemp("session") / request.param.__name__
    model.save(path)
    with TestClient(create_app(path, limits=ServiceLimits(max_k=100))) as client:
        yield model, client


def _keys(body: dict) -> list:
    return [item["key"] for item in body["items"]]


# ---------------------------------------------------------------------------------- parity
@pytest.mark.parametrize("exclude_seen", [False, True])
def test_recommend_is_the_models_recommend(served, exclude_seen):
    model, client = served
    # an unknown key in the middle: the model ignores it (and its time), the answer lists it
    history, times = [3, 999, 5, 3], [10.0, 40.0, 70.0, 100.0]
    body = client.post(
        "/v1/recommend",
        json={"history": history, "k": 8, "exclude_seen": exclude_seen, "times": times},
    ).json()
    want = model.recommend(history, 8, times=times, exclude_seen=exclude_seen)
    assert _keys(body) == want.keys.tolist()
    assert_allclose([i["score"] for i in body["items"]], want.scores, rtol=1e-6)
    assert body["unknown"] == [999] == want.unknown and body["fallback"] is False
    assert body["strategy"].startswith(f"session: {type(model).__name__}")
    if exclude_seen:
        assert not {3, 5} & set(_keys(body))


def test_score_is_the_models_score_next(served):
    model, client = served
    history, times = [7, 8, 12], [0.0, 30.0, 60.0]
    candidates = [int(k) for k in model.item_keys_[:6]] + [999]
    body = client.post(
        "/v1/score", json={"history": history, "candidates": candidates, "times": times}
    ).json()
    want = model.score_next(history, candidates, times=times)
    assert_allclose(body["scores"][:6], want[:6], rtol=1e-6)
    assert body["scores"][6] is None and body["unknown_candidates"] == [999]
    assert body["unknown"] == [] and body["fallback"] is False
    # the score is what /v1/recommend ranks by
    rec = client.post("/v1/recommend", json={"history": history, "k": 1, "times": times}).json()
    top = rec["items"][0]
    got = client.post(
        "/v1/score", json={"history": history, "candidates": [top["key"]], "times": times}
    ).json()
    assert_allclose(got["scores"][0], top["score"], rtol=1e-6)


def test_similar_is_the_next_items_after_the_one_item_session(served):
    model, client = served
    key = int(model.item_keys_[0])
    body = client.get("/v1/similar", params={"key": str(key), "k": 5}).json()
    want = model.recommend([key], 5, exclude_seen=True)
    assert [n["key"] for n in body["neighbors"]] == want.keys.tolist()
    assert key not in [n["key"] for n in body["neighbors"]] and len(body["neighbors"]) == 5
    assert_allclose([n["score"] for n in body["neighbors"]], want.scores, rtol=1e-6)
    assert "one-item session [key]" in body["strategy"]
    batch = client.post("/v1/similar", json={"keys": [key, 999], "k": 5}).json()
    assert batch["results"][0]["neighbors"] == body["neighbors"]
    assert batch["results"][1] is None and batch["unknown"] == [999]
    missing = client.get("/v1/similar", params={"key": "999"})
    assert missing.status_code == 404 and "unknown key 999" in missing.json()["detail"]


def test_vectors_are_a_404_naming_the_class(served):
    model, client = served
    name = type(model).__name__
    key = int(model.item_keys_[0])
    for r in (
        client.get(f"/v1/embedding/{key}"),
        client.post("/v1/embeddings", json={"keys": [key]}),
    ):
        assert r.status_code == 404
        detail = r.json()["detail"]
        assert f"model class {name} has no item vectors" in detail
        assert "/v1/embedding serves vector models only" in detail


def test_info_has_no_dim_metric_or_index(served):
    model, client = served
    info = client.get("/v1/info").json()
    assert info["model_class"] == type(model).__name__
    assert info["dim"] is None and info["metric"] is None and info["index"] is None
    assert info["n_items"] == len(model.item_keys_) and info["key_type"] == "int"
    assert info["config"] == model.config.to_dict()
    assert "one-item session" in info["similar_strategy"]


# ---------------------------------------------------------------------------------- known answers
@pytest.fixture(scope="module")
def pop_dir(tmp_path_factory):
    """S-POP on 3 sessions; training counts: a 3, b 2, c 2, d 1."""
    path = tmp_path_factory.mktemp("spop") / "model"
    SessionPop().fit([["a", "b", "c"], ["a", "c"], ["a", "b", "d"]]).save(path)
    return path


def test_no_known_key_gets_the_popular_items_and_says_fallback(pop_dir):
    art = load_artifact(pop_dir)
    # popularity: a (3), then b and c (2 each; the lower code first), then d (1)
    for history in (["zz"], []):
        rec = art.recommend(history, 4, exclude_seen=True)
        assert rec.ranked.keys == ["a", "b", "c", "d"] and rec.fallback
        assert rec.unknown == history
    scores, unknown, fallback = art.score(["zz"], ["d", "a"])
    assert scores == [1.0, 3.0] and unknown == ["zz"] and fallback


def test_spop_puts_the_sessions_items_first_unless_excluded(pop_dir):
    with TestClient(create_app(pop_dir)) as client:
        # S-POP: the session's items by their count in it (d twice, c once), then popularity
        body = client.post(
            "/v1/recommend", json={"history": ["c", "d", "d"], "k": 3, "exclude_seen": False}
        ).json()
        assert _keys(body) == ["d", "c", "a"] and body["fallback"] is False
        body = client.post("/v1/recommend", json={"history": ["c", "d", "d"], "k": 3}).json()
        assert _keys(body) == ["a", "b"]  # exclude_seen (the default) leaves two items


def test_sequential_rules_similar_is_the_next_item(tmp_path):
    # SR after b: c follows b in two sessions, d in one (1 step each, weight 1) -> c, then d
    SequentialRules().fit([["a", "b", "c"], ["a", "b", "c"], ["b", "d"]]).save(tmp_path / "sr")
    art = load_artifact(tmp_path / "sr")
    (res,) = art.similar(["b"], 2)
    assert res is not None and res.keys == ["c", "d"] and res.scores[0] > res.scores[1]
    with pytest.raises(NoVectorsError, match="SequentialRules has no item vectors"):
        art.vectors(["b"])


def test_a_recommender_only_artifact_has_no_index(tmp_path, sessions):
    STAN().fit(sessions).save(tmp_path / "stan")
    art = load_artifact(tmp_path / "stan", index_kind="exact")  # nothing to index: not built
    assert art.embeddings is None and art.index is None and art.index_source is None
    assert art.index_kind is None and art.key_type == "int" and art.parse_key("5") == 5
    doc = create_app(art).openapi()  # served_openapi of this artifact
    comps = doc["components"]["schemas"]
    # history is required, and may be empty: a session start (answered with popular items)
    history = comps["RecommendRequest"]["properties"]["history"]
    assert history["type"] == "array" and history.get("minItems", 0) == 0
    assert "history" in comps["RecommendRequest"]["required"]
    assert "user" not in comps["RecommendRequest"]["properties"]
    assert comps["SimilarBatchRequest"]["properties"]["keys"]["examples"] == [art.item_keys[:2]]
    get_vec = doc["paths"]["/v1/embedding/{key}"]["get"]
    assert "(STAN) has no item vectors" in get_vec["description"]
    assert "404" in doc["paths"]["/v1/embeddings"]["post"]["responses"]


# ---------------------------------------------------------------------------------- reloads
def test_reload_between_a_vector_model_and_a_session_baseline(tmp_path, w2v_model, sessions):
    root = tmp_path / "models"
    w2v_model.save(root / "w2v")
    model = VSKNN().fit(sessions)
    model.save(root / "vsknn")
    app = create_app(root / "vsknn", admin=True, admin_token=TOKEN, reload_roots=[root])
    with TestClient(app, headers=AUTH) as c:
        assert c.get("/v1/embedding/3").status_code == 404
        r = c.post("/admin/reload", json={"path": "w2v", "wait": True})
        assert r.status_code == 200 and r.json()["state"] == "succeeded", r.json()
        info = c.get("/v1/info").json()
        assert info["model_class"] == "Word2Vec" and info["index"]["kind"] == "exact"
        assert c.get("/v1/embedding/t0_w0").json()["dim"] == info["dim"]
        r = c.post("/admin/reload", json={"path": "vsknn", "wait": True})
        assert r.status_code == 200 and r.json()["state"] == "succeeded", r.json()
        assert c.get("/v1/info").json()["index"] is None
        body = c.post("/v1/recommend", json={"history": [3, 5], "k": 5}).json()
        assert _keys(body) == model.recommend([3, 5], 5, exclude_seen=True).keys.tolist()
        assert c.get("/healthz").json()["generation"] == 2

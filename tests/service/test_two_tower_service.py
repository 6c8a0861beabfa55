"""A TwoTower directory over real HTTP, served by a process that cannot import torch: answers
by user key, by raw features (cold start) and by history equal TwoTower.recommend in process;
scores, info, OpenAPI, and every 422."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from embedrec.artifacts import resolve_artifact
from tests.models.two_tower.planted import planted_log

from .conftest import SRC, Server

torch = pytest.importorskip("torch")  # to train the model; the server runs without it

ATOL = 1e-5
PER_GROUP = 8
N_USERS = 120
MAX_BATCH = 20


def _keys(items):
    return [x["key"] for x in items]


def _scores(items):
    return [x["score"] for x in items]


@pytest.fixture(scope="module")
def tt_model():
    """Planted log: 4 groups of 8 items; a user's ``segment`` names their group."""
    from embedrec.models.two_tower import FeatureSpec, TowerConfig
    from embedrec.models.two_tower.model import TwoTower, TwoTowerConfig

    log, users, _, _ = planted_log(n_groups=4, per_group=PER_GROUP, n_users=N_USERS, length=6)
    user = TowerConfig(
        features=(
            FeatureSpec(name="user", kind="id"),
            FeatureSpec(name="segment", kind="categorical"),
            FeatureSpec(name="history", kind="history"),
        ),
        embedding_dim=8,
        hidden=(16,),
        output_dim=8,
    )
    item = TowerConfig(
        features=(FeatureSpec(name="item", kind="id"),), embedding_dim=8, hidden=(), output_dim=8
    )
    cfg = TwoTowerConfig(user=user, item=item, epochs=10, batch_size=64, lr=0.02, patience=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: more threads only contend
    try:
        model = TwoTower(cfg).fit(log, user_table=users, progress=False)
    finally:
        torch.set_num_threads(threads)
    return model


@pytest.fixture(scope="module")
def tt_dir(tt_model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tt") / "model"
    tt_model.save(path)
    return path


@pytest.fixture(scope="module")
def no_torch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose ``torch`` package refuses to import (put first on PYTHONPATH)."""
    root = tmp_path_factory.mktemp("no_torch")
    (root / "torch").mkdir()
    (root / "torch" / "__init__.py").write_text(
        'raise ImportError("torch is blocked: serving a TwoTower model must not need it")\n'
    )
    return root


@pytest.fixture(scope="module")
def tt_server(tt_dir, no_torch, tmp_path_factory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "tt-server.log"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(no_torch))  # the Server puts src/ first, then this
        server = Server(tt_dir, f"--max-batch={MAX_BATCH}", log=log)
    yield server
    server.stop()


def _post(server, path, body):
    r = server.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _same_as_model(body, ref):
    assert _keys(body["items"]) == ref.keys.tolist()
    assert_allclose(_scores(body["items"]), ref.scores, atol=ATOL, rtol=0)


# ---------------------------------------------------------------------------------- no torch
def test_served_without_torch(tt_server, no_torch):
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{no_torch}"}
    r = subprocess.run(
        [sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True
    )
    assert r.returncode != 0 and "torch is blocked" in r.stderr  # the block works
    assert tt_server.get("/healthz").json()["status"] == "ok"
    assert _post(tt_server, "/v1/recommend", {"user": 0, "k": 3})["items"]


# ---------------------------------------------------------------------------------- info
def test_info_describes_the_user_tower(tt_server, tt_dir):
    info = tt_server.get("/v1/info").json()
    assert info["model_class"] == "TwoTower"
    live = resolve_artifact(tt_dir)[0]  # the saved generation
    assert info["config"] == json.loads((live / "manifest.json").read_text())["config"]
    assert (info["dim"], info["n_items"], info["metric"]) == (8, 4 * PER_GROUP, "cosine")
    assert info["user_tower"] == {
        "features": [
            {"name": "user", "kind": "id", "column": None, "source": "user"},
            {"name": "segment", "kind": "categorical", "column": "segment", "source": "features"},
            {"name": "history", "kind": "history", "column": None, "source": "history"},
        ],
        "n_users": N_USERS,
        "user_key_type": "int",
        "output_dim": 8,
        "history": True,
    }
    assert info["recommend_strategy"].startswith("two-tower: the user tower over user (id)")


def test_item_endpoints_serve_the_item_tower(tt_server, tt_model):
    emb = tt_model.embeddings_
    body = tt_server.get("/v1/similar", params={"key": "9", "k": 5}).json()
    ref = tt_model.most_similar(9, k=5)
    assert _keys(body["neighbors"]) == ref.keys.tolist()
    assert_allclose(_scores(body["neighbors"]), ref.scores, atol=ATOL, rtol=0)
    assert_allclose(tt_server.get("/v1/embedding/9").json()["vector"], emb[9], rtol=0)


def test_openapi_documents_user_and_features(tt_server):
    schemas = tt_server.get("/openapi.json").json()["components"]["schemas"]
    for name in ("RecommendRequest", "ScoreRequest"):
        props = schemas[name]["properties"]
        assert {"user", "features", "history"} <= set(props)
        assert "TwoTower models only" in props["user"]["description"]
        assert "history" not in schemas[name].get("required", [])
    assert "known_user" in schemas["RecommendResponse"]["properties"]
    assert "user_tower" in schemas["InfoResponse"]["properties"]


# ---------------------------------------------------------------------------------- recommend
@pytest.mark.parametrize("user", [0, 17, 118])
def test_recommend_by_user_key(tt_server, tt_model, user):
    model = tt_model
    body = _post(tt_server, "/v1/recommend", {"user": user, "k": 5})
    _same_as_model(body, model.recommend(user=user, k=5))
    assert body["known_user"] is True and body["unknown"] == [] and body["fallback"] is False
    stored = set(model.item_keys_[model.user_items_[user]].tolist())
    assert not stored & set(_keys(body["items"]))  # the stored history is excluded
    # an int user key also arrives as text
    assert _post(tt_server, "/v1/recommend", {"user": str(user), "k": 5})["items"] == body["items"]
    keep = _post(tt_server, "/v1/recommend", {"user": user, "k": 10, "exclude_seen": False})
    _same_as_model(keep, model.recommend(user=user, k=10, exclude_seen=False))
    assert stored & set(_keys(keep["items"]))  # the user's own items rank high when allowed


@pytest.mark.parametrize("group", range(4))
def test_cold_user_by_features_gets_their_group(tt_server, tt_model, group):
    model = tt_model
    feats = {"segment": f"s{group}"}
    body = _post(tt_server, "/v1/recommend", {"features": feats, "k": 6})
    # 8 items per group, none excluded (no history): the 6 best are all the segment's group
    assert [int(i) // PER_GROUP for i in _keys(body["items"])] == [group] * 6
    _same_as_model(body, model.recommend(features=feats, k=6))
    assert body["known_user"] is None


def test_unknown_user_is_the_cold_start_row(tt_server, tt_model):
    model = tt_model
    body = _post(tt_server, "/v1/recommend", {"user": 99999, "k": 5})
    assert body["known_user"] is False
    _same_as_model(body, model.recommend(user=99999, k=5))
    # the same user as no user at all with an empty history: the encoder's default row
    assert _post(tt_server, "/v1/recommend", {"history": [], "k": 5})["items"] == body["items"]
    assert _post(tt_server, "/v1/recommend", {"user": "ghost", "k": 5})["items"] == body["items"]


def test_recommend_by_history(tt_server, tt_model):
    model = tt_model
    history = [16, 17, 19, "nope"]  # group 2, and a key outside the catalogue
    body = _post(tt_server, "/v1/recommend", {"history": history, "k": 5})
    ref = model.recommend(history, k=5)
    _same_as_model(body, ref)
    assert body["unknown"] == ref.unknown == ["nope"]
    assert not {16, 17, 19} & set(_keys(body["items"]))
    assert sum(int(i) // PER_GROUP == 2 for i in _keys(body["items"])) >= 4
    keep = _post(tt_server, "/v1/recommend", {"history": history, "k": 5, "exclude_seen": False})
    _same_as_model(keep, model.recommend(history, k=5, exclude_seen=False))


def test_user_features_and_history_together(tt_server, tt_model):
    model = tt_model
    req = {"user": 3, "features": {"segment": "s1"}, "history": [8, 9], "k": 7}
    body = _post(tt_server, "/v1/recommend", req)
    _same_as_model(body, model.recommend([8, 9], k=7, user=3, features={"segment": "s1"}))
    assert body["known_user"] is True and not {8, 9} & set(_keys(body["items"]))
    # with an explicit history, the known user's stored history is NOT excluded
    stored = set(model.item_keys_[model.user_items_[3]].tolist())
    alone = _post(tt_server, "/v1/recommend", {"user": 3, "history": [], "k": 32})
    assert stored <= set(_keys(alone["items"]))


def test_served_answers_equal_the_model_for_random_requests(tt_server, tt_model):
    model = tt_model
    rng = np.random.default_rng(11)
    for _ in range(25):
        req: dict = {"k": int(rng.integers(1, 12))}
        kw: dict = {}
        if rng.random() < 0.6:
            req["user"] = kw["user"] = int(rng.choice([*range(N_USERS), 500, 501]))
        if rng.random() < 0.5:
            seg = str(rng.choice(["s0", "s1", "s2", "s3", "s9"]))
            req["features"] = kw["features"] = {"segment": seg}
        if rng.random() < 0.5 or not kw:
            hist = rng.choice(4 * PER_GROUP, size=int(rng.integers(0, 6)), replace=False).tolist()
            req["history"] = hist
            kw["history"] = hist
        req["exclude_seen"] = kw["exclude_seen"] = bool(rng.random() < 0.8)
        body = _post(tt_server, "/v1/recommend", req)
        _same_as_model(body, model.recommend(k=req["k"], **kw))


# ---------------------------------------------------------------------------------- score
def test_score_is_the_user_tower_similarity(tt_server, tt_model):
    model = tt_model
    emb = model.embeddings_
    req = {"user": 5, "features": {"segment": "s2"}}
    rec = _post(tt_server, "/v1/recommend", {**req, "k": 4})
    cands = [*_keys(rec["items"]), 0, 31, "missing"]
    body = _post(tt_server, "/v1/score", {**req, "candidates": cands})
    assert_allclose(body["scores"][:4], _scores(rec["items"]), atol=ATOL, rtol=0)
    q = model.user_vectors(users=[5], features=[{"segment": "s2"}])[0]
    want = emb.vectors[emb.index_of([0, 31])] @ q / np.linalg.norm(q)  # cosine; items are unit
    assert_allclose(body["scores"][4:6], want, atol=ATOL, rtol=0)
    assert body["scores"][6] is None and body["unknown_candidates"] == ["missing"]
    by_hist = _post(tt_server, "/v1/score", {"history": [1, 2, "x"], "candidates": [3, 30]})
    assert by_hist["unknown"] == ["x"]
    assert_allclose(by_hist["scores"], model.score([[1, 2, "x"]], np.array([3, 30]))[0], atol=ATOL)


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/v1/recommend", {"features": {"segment": ["s1", "s2"]}}, 422, "give one value"),
        ("/v1/recommend", {"features": {"segment": {"a": 1}}}, 422, "features"),
        ("/v1/recommend", {"features": {"segmnt": "s1"}}, 422, "unknown user feature"),
        ("/v1/recommend", {"features": {"key": 3}}, 422, "as 'user'"),
        ("/v1/recommend", {"features": {"segment": "x" * 5000}}, 422, "at most"),
        ("/v1/recommend", {"features": ["s1"]}, 422, "valid dictionary"),
        ("/v1/recommend", {}, 422, "at least one of 'user'"),
        ("/v1/recommend", {"k": 3, "exclude_seen": False}, 422, "at least one"),
        ("/v1/recommend", {"user": [1]}, 422, "user"),
        ("/v1/recommend", {"user": 1.5}, 422, "user"),
        ("/v1/recommend", {"user": None, "history": None}, 422, "at least one"),
        ("/v1/recommend", {"history": [1], "times": [1.0, 2.0]}, 422, "one time per history"),
        ("/v1/recommend", {"user": 1, "times": [1.0]}, 422, "without a history"),
        ("/v1/recommend", {"features": {"segment": ["a"] * 21}}, 413, "--max-batch"),
        ("/v1/score", {"candidates": [1], "features": {"segment": [1]}}, 422, "give one value"),
        ("/v1/score", {"candidates": [1]}, 422, "at least one"),
    ],
)
def test_two_tower_bad_input(tt_server, path, body, status, needle):
    r = tt_server.post(path, json=body)
    assert r.status_code == status, r.text
    assert needle.lower() in r.text.lower()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"history": ["t0_w0"], "user": 1}, "user can only be given to a TwoTower model"),
        ({"history": ["t0_w0"], "features": {"a": 1}}, "features can only be given"),
        ({"user": "u", "features": {}}, "user and features can only be given"),
        ({"times": None}, "history is required"),
    ],
)
def test_other_models_refuse_user_and_features(w2v_server, i2v_server, body, needle):
    for server in (w2v_server, i2v_server):
        for path, extra in (("/v1/recommend", {}), ("/v1/score", {"candidates": [1]})):
            r = server.post(path, json={**body, **extra})
            assert r.status_code == 422, (path, r.text)
            assert needle in r.json()["detail"]


# ---------------------------------------------------------------------------------- fuzz
@pytest.fixture(scope="module")
def tt_client(tt_dir):
    from embedrec.service import ServiceLimits, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    with TestClient(create_app(tt_dir, limits=ServiceLimits(max_batch=MAX_BATCH))) as c:
        yield c


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["s0", "s3", "", "9" * 40])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)
feature_objects = st.dictionaries(
    st.sampled_from(["segment", "user", "history", "key", "x"]), values, max_size=3
)
fields = {
    "user": scalars | values,
    "features": feature_objects | values,
    "history": st.lists(st.integers(-2, 40) | scalars, max_size=6) | values,
    "candidates": st.lists(st.integers(-2, 40) | scalars, max_size=6),
    "k": st.integers(-2, 50),
    "exclude_seen": st.booleans() | values,
    "times": st.none() | st.lists(st.floats(-1e300, 1e300), max_size=4),
}


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(["/v1/recommend", "/v1/score"]),
    body=st.fixed_dictionaries({}, optional=fields),
)
def test_fuzz_two_tower_requests_never_500(tt_client, path, body):
    r = tt_client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    # 400: json.dumps writes an infinite float as Infinity, which strict JSON refuses
    assert r.status_code in {200, 400, 404, 413, 422}, (r.status_code, r.text)

"""Regression tests of the HTTP contract, one per finding of schemathesis (issue #14, part 3):
each test is named after the bug it pins down. ``test_schemathesis.py`` runs the tool itself."""

from __future__ import annotations

import inspect
import logging
import re
import warnings
from pathlib import Path

import httpx
import pytest

from embedrec.service import create_app
from embedrec.service.artifact import ServedArtifact
from embedrec.service.contract import INTERNAL_ERROR
from embedrec.service.schemas import ErrorResponse

from .conftest import CAPS, Server

with warnings.catch_warnings():  # starlette's notice about httpx, irrelevant here
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

README = Path(__file__).resolve().parents[2] / "README.md"
JSON = {"content-type": "application/json"}
#: the POST endpoints and a body each accepts (str keys; an int-key model reads "1" as 1)
BODIES = {
    "/v1/similar": '{"keys": [%s], "k": 3}',
    "/v1/embeddings": '{"keys": [%s]}',
    "/v1/recommend": '{"history": [%s], "k": 3}',
    "/v1/score": '{"history": ["1"], "candidates": [%s]}',
}


def assert_error_body(r: httpx.Response, status: int) -> dict:
    """``r`` is a ``status`` whose body is exactly an ErrorResponse."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) <= {"detail", "errors", "error_id"} and isinstance(body["detail"], str)
    ErrorResponse.model_validate(body)
    return body


@pytest.fixture(params=["w2v_server", "i2v_server"])
def server(request) -> Server:
    return request.getfixturevalue(request.param)


# ---------------------------------------------------------------------------------- surrogates
@pytest.mark.parametrize("path", sorted(BODIES))
def test_lone_surrogate_is_a_400_not_a_500_and_info_keeps_answering(server, path):
    escaped = BODIES[path] % r'"\ud800"'
    raw = (BODIES[path] % '"x\ud800"').encode("utf-8", "surrogatepass")  # bytes ED A0 80
    in_a_key = '{"history": ["1"], "features": {"\\udfff": 1}}'  # in an object's key
    for content in (escaped, raw, in_a_key):
        r = server.post(path, content=content, headers=JSON)
        body = assert_error_body(r, 400)
        assert "not valid JSON" in body["detail"] and "surrogate" in body["detail"]
    # nothing kept the bad string: the service answers as before
    assert server.get("/v1/info").status_code == 200
    assert server.get("/healthz").status_code == 200
    r = server.post(path, content=BODIES[path] % '"1"', headers=JSON)
    assert r.status_code in (200, 404), r.text
    assert "internal error" not in server.log()


def test_lone_surrogate_in_a_reload_path_does_not_break_info(w2v_dir):
    # the path of a failed reload was kept in the reload status, which /v1/info shows: a lone
    # surrogate there broke /v1/info until the next reload
    token = "contract-test-token-0123456789"
    admin: dict = {"admin": True}
    if "admin_token" in inspect.signature(create_app).parameters:  # token-guarded admin
        admin["admin_token"] = token
    app = create_app(w2v_dir, **admin)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
        r = c.post("/admin/reload", content='{"path": "m\\ud800", "wait": true}', headers=JSON)
        assert_error_body(r, 400)
        assert c.get("/v1/info").status_code == 200
        assert c.get("/admin/reload").status_code == 200


# ---------------------------------------------------------------------------------- error body
def test_validation_error_body_matches_the_error_schema(server):
    r = server.post("/v1/similar", json={"keys": [None], "k": 0, "junk": 1})
    body = assert_error_body(r, 422)
    assert body["detail"].startswith("the request does not match the endpoint's schema")
    locs = [e["loc"] for e in body["errors"]]
    assert ["body", "k"] in locs and ["body", "junk"] in locs
    assert all({"loc", "msg", "type"} <= set(e) for e in body["errors"])
    # a long input is echoed shortened, a missing body says so
    r = server.post("/v1/similar", json={"keys": [{"a": "x" * 5000}]})
    assert len(assert_error_body(r, 422)["errors"][0]["input"]) < 300
    body = assert_error_body(server.post("/v1/similar"), 422)
    assert body["errors"][0]["loc"] == ["body"] and body["errors"][0]["type"] == "missing"
    # query and path parameters too
    assert_error_body(server.get("/v1/similar", params={"key": "x" * 5000}), 422)
    assert_error_body(server.get("/v1/similar", params={"key": "1", "k": "many"}), 422)


def test_every_error_status_is_documented_with_the_one_error_schema(server):
    doc = server.get("/openapi.json").json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    error = doc["components"]["schemas"]["ErrorResponse"]
    assert set(error["properties"]) == {"detail", "errors", "error_id"}
    assert error["required"] == ["detail"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            assert "500" in codes, (method, path)
            if "requestBody" in op:
                assert {"400", "422"} <= codes, (method, path)
            if op.get("parameters"):
                assert "422" in codes, (method, path)
            for code, resp in op["responses"].items():
                if code[0] in "45":
                    ref = resp["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorResponse", (method, path, code)
    expected = {
        ("get", "/v1/similar"): {"200", "404", "422", "500"},
        ("post", "/v1/similar"): {"200", "400", "413", "422", "500"},
        ("post", "/v1/recommend"): {"200", "400", "404", "413", "422", "500"},
        ("post", "/v1/score"): {"200", "400", "404", "413", "422", "500"},
        ("get", "/v1/embedding/{key}"): {"200", "404", "422", "500"},
        ("post", "/v1/embeddings"): {"200", "400", "404", "413", "422", "500"},
        ("get", "/v1/info"): {"200", "500"},
        ("get", "/healthz"): {"200", "500"},
    }
    for (method, path), codes in expected.items():
        assert set(doc["paths"][path][method]["responses"]) == codes, (method, path)


# ---------------------------------------------------------------------------------- examples
def _examples(doc: dict) -> list[tuple[str, str, dict]]:
    """(method, path, request) of every example the description gives."""
    comps = doc["components"]["schemas"]
    out = []
    for path, item in doc["paths"].items():
        if path.startswith("/admin"):
            continue  # not for clients (and off by default)
        for method, op in item.items():
            params = {
                p["name"]: p["schema"]["examples"][0]
                for p in op.get("parameters", [])
                if "examples" in p["schema"]
            }
            body = None
            if "requestBody" in op:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                props = comps[ref.rsplit("/", 1)[1]]["properties"]
                body = {k: v["examples"][0] for k, v in props.items() if "examples" in v}
            out.append((method, path, {"params": params, "body": body}))
    return out


def test_schema_examples_are_accepted_by_every_served_model(server):
    doc = server.get("/openapi.json").json()
    for method, path, req in _examples(doc):
        if method == "get":
            url = path
            if "{key}" in path:
                url = path.replace("{key}", str(req["params"].pop("key")))
            r = server.get(url, params=req["params"])
        else:
            r = server.post(path, json=req["body"])
        assert r.status_code == 200, (method, path, req, r.text)


def test_openapi_states_the_served_model_and_caps(w2v_server, i2v_server):
    w2v = w2v_server.get("/openapi.json").json()["components"]["schemas"]
    i2v = i2v_server.get("/openapi.json").json()["components"]["schemas"]
    for comps in (w2v, i2v):
        for name in ("RecommendRequest", "ScoreRequest"):
            props = comps[name]["properties"]
            assert "user" not in props and "features" not in props  # TwoTower only
            assert props["history"]["type"] == "array" and "history" in comps[name]["required"]
    assert w2v["RecommendRequest"]["properties"]["history"]["minItems"] == 1  # mean of none
    assert "minItems" not in i2v["RecommendRequest"]["properties"]["history"]  # popularity
    assert w2v["SimilarBatchRequest"]["properties"]["k"]["maximum"] == CAPS["max_k"]
    assert w2v["SimilarBatchRequest"]["properties"]["keys"]["maxItems"] == CAPS["max_batch"]
    assert w2v["RecommendRequest"]["properties"]["history"]["maxItems"] == CAPS["max_history"]
    assert i2v["SimilarBatchRequest"]["properties"]["k"]["maximum"] == 1000
    # examples are the served model's own keys: text for Word2Vec, ints for Item2Vec
    assert all(
        isinstance(k, str) for k in w2v["EmbeddingsRequest"]["properties"]["keys"]["examples"][0]
    )
    assert all(
        isinstance(k, int) for k in i2v["EmbeddingsRequest"]["properties"]["keys"]["examples"][0]
    )


def test_int_looking_text_keys_are_parsed_for_int_key_models(i2v_server):
    body = i2v_server.post("/v1/embeddings", json={"keys": ["1", 1, 1.0, "x"]}).json()
    assert (
        body["unknown"] == ["x"] and body["vectors"][0] == body["vectors"][1] == body["vectors"][2]
    )


# ---------------------------------------------------------------------------------- strict numbers
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/similar", {"keys": ["1"], "k": True}),
        ("/v1/similar", {"keys": ["1"], "k": False}),
        ("/v1/similar", {"keys": ["1"], "k": "3"}),
        ("/v1/similar", {"keys": ["1"], "k": 2.5}),
        ("/v1/similar", {"keys": [True]}),
        ("/v1/recommend", {"history": ["1"], "k": True}),
        ("/v1/recommend", {"history": ["1"], "exclude_seen": 1}),
        ("/v1/recommend", {"history": ["1"], "exclude_seen": "yes"}),
        ("/v1/recommend", {"history": ["1"], "times": [True]}),
        ("/v1/score", {"history": ["1"], "candidates": ["1"], "times": [False]}),
    ],
)
def test_k_true_is_not_accepted_as_1(server, path, body):
    assert_error_body(server.post(path, json=body), 422)


def test_integral_floats_are_integers_as_in_json_schema(server):
    # JSON Schema's "integer" includes 3.0: the description says integer, so 3.0 is accepted
    r = server.post("/v1/similar", content='{"keys": ["1"], "k": 3.0}', headers=JSON)
    assert r.status_code == 200 and r.json()["k"] == 3


# ---------------------------------------------------------------------------------- 405 / Allow
def test_options_and_other_methods_get_405_with_the_right_allow(server):
    cases = {
        "/v1/similar": "GET, POST",  # two routes on one path: Starlette named only the first
        "/v1/info": "GET",
        "/healthz": "GET",
        "/v1/recommend": "POST",
        "/v1/embedding/1": "GET",
    }
    for path, allow in cases.items():
        for method in ("OPTIONS", "PUT", "DELETE", "PATCH"):
            r = server.client.request(method, path)
            body = assert_error_body(r, 405)
            assert r.headers["allow"] == allow, (method, path, r.headers.get("allow"))
            assert allow in body["detail"]
    doc = server.get("/openapi.json").json()
    assert set(doc["paths"]["/v1/similar"]) == {"get", "post"}  # as Allow says


# ---------------------------------------------------------------------------------- bad bodies
@pytest.mark.parametrize(
    ("content", "headers", "needle"),
    [
        ('{"keys": ["1"]', JSON, "not valid JSON"),
        ('{"keys": ["1"], "k": NaN}', JSON, "not valid JSON"),
        ('{"keys": ["1"]} trailing', JSON, "not valid JSON"),
        (b'{"keys": ["\xff"]}', JSON, "not valid JSON"),
        ('{"keys": ["1"]}', {"content-type": "text/plain"}, "Content-Type 'text/plain'"),
        ('{"keys": ["1"]}', {"content-type": "application/x-www-form-urlencoded"}, "not JSON"),
        ('{"keys": ["1"]}', {"content-type": ""}, "no Content-Type"),
    ],
)
def test_malformed_body_is_a_documented_400_that_says_how_to_fix_it(
    server, content, headers, needle
):
    body = assert_error_body(server.post("/v1/similar", content=content, headers=headers), 400)
    assert needle in body["detail"] and "application/json" in body["detail"]


def test_json_with_a_charset_or_json_suffix_is_json(server):
    for ctype in ("application/json; charset=utf-8", "application/vnd.api+json"):
        r = server.post("/v1/similar", content='{"keys": ["1"]}', headers={"content-type": ctype})
        assert r.status_code == 200, (ctype, r.text)


# ---------------------------------------------------------------------------------- k over max-k
def test_k_over_max_k_is_422_as_documented_not_413(w2v_server):
    over = CAPS["max_k"] + 1
    for r in (
        w2v_server.get("/v1/similar", params={"key": "t0_w0", "k": over}),
        w2v_server.post("/v1/similar", json={"keys": ["t0_w0"], "k": over}),
        w2v_server.post("/v1/recommend", json={"history": ["t0_w0"], "k": over}),
    ):
        assert "--max-k" in assert_error_body(r, 422)["detail"]
    text = " ".join(README.read_text().split())
    assert "422 (also `k` over `--max-k`)" in text, "README: k over --max-k is a 422"
    assert not re.search(r"\(`--max-k`[^)]*\) 413", text)


# ---------------------------------------------------------------------------------- 500
class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_500_does_not_leak_exception_details_and_logs_the_error_id(monkeypatch, w2v_dir):
    def boom(self, keys):
        raise RuntimeError(f"secret detail: {w2v_dir}/keys.json line 1")

    monkeypatch.setattr(ServedArtifact, "vectors", boom)
    log = _Records()
    logger = logging.getLogger("embedrec")
    logger.addHandler(log)
    try:
        with TestClient(create_app(w2v_dir), raise_server_exceptions=False) as c:
            r = c.post("/v1/embeddings", json={"keys": ["t0_w0"]})
    finally:
        logger.removeHandler(log)
    body = assert_error_body(r, 500)
    assert set(body) == {"detail", "error_id"} and body["detail"] == INTERNAL_ERROR
    assert re.fullmatch(r"[0-9a-f]{8}", body["error_id"])
    assert "secret" not in r.text and str(w2v_dir) not in r.text and "RuntimeError" not in r.text
    (rec,) = [x for x in log.records if body["error_id"] in x.getMessage()]
    assert rec.exc_info is not None and "secret detail" in str(rec.exc_info[1])

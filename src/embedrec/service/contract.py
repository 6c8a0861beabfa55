"""The HTTP contract of the service: what every answer looks like, and the OpenAPI description
that says so (checked by schemathesis in ``tests/service/test_schemathesis.py``).

* **One error body.** Every 4xx and 5xx answer is an
  :class:`~embedrec.service.schemas.ErrorResponse`: ``{"detail": "what was wrong and how to fix
  it"}``, plus ``errors`` (each problem) for a 422 from request validation and ``error_id`` for
  a 500. A 500 says nothing else: the traceback goes to the server log (logger ``embedrec``)
  under the same id.
* **Strict JSON bodies** (:class:`JSONRoute`). A body is parsed as strict JSON in UTF-8
  (pydantic-core's parser): invalid JSON, ``NaN``/``Infinity``, invalid UTF-8, a lone UTF-16
  surrogate (``"\\ud800"``) or a body that is not ``Content-Type: application/json`` is a 400
  saying so. Python's own ``json`` accepts lone surrogates, and such a string then breaks every
  answer that echoes it (UTF-8 cannot encode it): refusing it where the bytes come in keeps it
  out of every handler, status and log line.
* **405 with the right ``Allow``.** A method a path does not serve (``OPTIONS`` included) is a
  405 whose ``Allow`` lists every method of every route at that path.
* **The OpenAPI description of the served model** (:func:`serve_openapi`). ``/openapi.json``
  states the server's caps (``k`` at most ``--max-k``, batches at most ``--max-batch``,
  histories at most ``--max-history``) and the request fields the served model takes: ``user``
  and ``features`` only for a TwoTower model, ``history`` required (and non-empty, for models
  that average it) for the others, ``times`` required for an Item2Vec model that weighs by
  time; its examples are keys of the served model. For a model without item vectors (a
  session baseline) the vector and similar-item operations say what they answer instead. A
  reload to another model changes it.
"""

from __future__ import annotations

import copy
import logging
import math
import re
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic_core import from_json
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

if TYPE_CHECKING:
    from .artifact import ServedArtifact
    from .config import ServiceLimits

__all__ = [
    "INTERNAL_ERROR",
    "JSONRoute",
    "error_response",
    "install_error_handlers",
    "serve_openapi",
    "served_openapi",
]

logger = logging.getLogger("embedrec")

#: the whole ``detail`` of a 500 (the rest is in the server log, under the ``error_id``)
INTERNAL_ERROR = "internal error; see the server log"
#: longest echo of a client's input (a value, a header) in an error body
_ECHO_CHARS = 200
#: the order ``Allow`` lists methods in
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_JSON_HINT = (
    "send one JSON object encoded in UTF-8 with 'Content-Type: application/json' (strict "
    "JSON: no NaN or Infinity, no lone UTF-16 surrogate such as \\ud800); GET /docs shows "
    "each endpoint's body"
)


# ---------------------------------------------------------------------------------- bodies
def error_response(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    error_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An :class:`~embedrec.service.schemas.ErrorResponse` answer (unset fields left out)."""
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    if error_id is not None:
        body["error_id"] = error_id
    return JSONResponse(status_code=status, content=body, headers=headers)


def internal_error(request: Request, exc: BaseException) -> JSONResponse:
    """The 500 of a bug: an id for the client, the id and the traceback for the log."""
    error_id = secrets.token_hex(4)
    logger.error(
        "internal error %s answering %s %s",
        error_id,
        request.method,
        request.url.path[:_ECHO_CHARS],
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return error_response(500, INTERNAL_ERROR, error_id=error_id)


def _shorten(text: str) -> str:
    return text if len(text) <= _ECHO_CHARS else text[:_ECHO_CHARS] + f"... ({len(text)} chars)"


def _safe_input(value: Any) -> Any:
    """A refused input, JSON-safe and short (a multi-megabyte key is not sent back whole)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value[:_ECHO_CHARS]).decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # strict JSON has no inf / nan
    if isinstance(value, str):
        return _shorten(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _shorten(repr(value))  # lists, dicts


def _issue(error: Any) -> dict[str, Any]:
    """One pydantic error as a :class:`~embedrec.service.schemas.ValidationIssue` (without
    pydantic's ``ctx`` and ``url``)."""
    loc = [p if isinstance(p, int) else _shorten(str(p)) for p in error.get("loc", ())]
    issue = {"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
    if "input" in error:
        issue["input"] = _safe_input(error["input"])
    return issue


#: a location step that names a branch of a union (pydantic's tag), not a field
_UNION_TAG = re.compile(r"(bool|int|float|str|bytes|none|constrained-\w+|[\w-]+\[.*\])")


def _summary(issues: Sequence[dict[str, Any]]) -> str:
    """The issues in one line: by field (a union's branches together), at most three fields."""
    by_field: dict[str, list[str]] = {}
    for i in issues:
        steps = [str(p) for p in i["loc"] if not (isinstance(p, str) and _UNION_TAG.fullmatch(p))]
        msgs = by_field.setdefault(".".join(steps) or "request", [])
        if i["msg"] not in msgs:
            msgs.append(i["msg"])
    shown = "; ".join(f"{where}: {' / '.join(msgs)}" for where, msgs in list(by_field.items())[:3])
    more = f" (and {len(by_field) - 3} more fields)" if len(by_field) > 3 else ""
    return (
        f"the request does not match the endpoint's schema: {shown}{more}; 'errors' lists each "
        "problem and GET /docs shows the schema"
    )


# ---------------------------------------------------------------------------------- routes
class _JSONRequest(Request):
    """A request whose body is parsed as strict JSON; a body that is not is a 400."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = from_json(body, allow_inf_nan=False)
            except ValueError as exc:
                raise StarletteHTTPException(
                    400, detail=f"the request body is not valid JSON ({exc}); {_JSON_HINT}"
                ) from None
        return self._json


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class JSONRoute(APIRoute):
    """A FastAPI route with strict JSON bodies (400 otherwise) whose unexpected exceptions
    are answered here with an id'd 500 (and logged once, with the traceback)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None

        async def strict_handler(request: Request) -> Response:
            request = _JSONRequest(request.scope, request.receive)
            try:
                if takes_body and await request.body():
                    ctype = request.headers.get("content-type")
                    if not _is_json(ctype):
                        got = f"Content-Type {_shorten(ctype)!r}" if ctype else "no Content-Type"
                        raise StarletteHTTPException(
                            400, detail=f"the request body is not JSON ({got}); {_JSON_HINT}"
                        )
                    await request.json()  # parsed once, strictly; FastAPI reads the cached value
                response: Response = await handler(request)
                return response
            except (StarletteHTTPException, RequestValidationError):
                raise  # answered by their handlers below
            except Exception as exc:
                return internal_error(request, exc)

        return strict_handler


def _allowed_methods(app: Any, scope: Any) -> list[str]:
    """Every method some route at the request's path serves."""
    methods: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                methods |= set(route.methods)
    order = {m: i for i, m in enumerate(_METHOD_ORDER)}
    return sorted(methods, key=lambda m: (order.get(m, len(order)), m))


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with an ``ErrorResponse`` body, and route with :class:`JSONRoute`
    (call before adding routes)."""
    app.router.route_class = JSONRoute

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        detail = str(exc.detail)
        if exc.status_code == 405:
            allowed = _allowed_methods(request.app, request.scope)
            headers["Allow"] = ", ".join(allowed)
            detail = (
                f"method {_shorten(request.method)} is not allowed here; this path serves "
                f"{', '.join(allowed)}"
            )
        elif exc.status_code == 404 and detail == "Not Found":  # the router's: no such path
            detail = "no endpoint at this path; GET /openapi.json or /docs lists the endpoints"
        if exc.status_code < 200 or exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=headers)
        return error_response(exc.status_code, detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [_issue(e) for e in exc.errors()]
        return error_response(422, _summary(issues), errors=issues)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        # outside a route (middleware): Starlette's ServerErrorMiddleware answers with this,
        # then re-raises, so uvicorn logs the traceback too
        return internal_error(request, exc)


# ---------------------------------------------------------------------------------- OpenAPI
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_GENERIC_ERRORS = {
    "400": "The body is not JSON: invalid JSON, not UTF-8, NaN or Infinity, a lone UTF-16 "
    "surrogate, or a Content-Type other than application/json.",
    "500": "A bug (never the client's input): the answer carries only an error_id, which "
    "the server log names beside the traceback.",
}


def _error_ref(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def _array(prop: dict[str, Any]) -> dict[str, Any] | None:
    """The array schema of a property (itself, or its array branch of ``anyOf``)."""
    if prop.get("type") == "array":
        return prop
    for branch in prop.get("anyOf", ()):
        if branch.get("type") == "array":
            return dict(branch)
    return None


def _require_array(model: dict[str, Any], name: str, *, min_items: int = 0) -> None:
    """Make ``name`` of ``model`` a required array (no null)."""
    prop = model["properties"][name]
    array = _array(prop)
    if array is None:  # pragma: no cover - the request models declare these as lists
        return
    kept = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
    model["properties"][name] = {**kept, **array}
    if min_items:
        model["properties"][name]["minItems"] = min_items
    required = model.setdefault("required", [])
    if name not in required:
        required.append(name)


def _json_key(key: Any) -> str | int:
    return key if isinstance(key, str) else int(key)


def served_openapi(
    doc: dict[str, Any], art: ServedArtifact, limits: ServiceLimits
) -> dict[str, Any]:
    """FastAPI's OpenAPI description ``doc`` made exact for the model ``art`` under the caps
    ``limits`` (a new dict; ``doc`` is not changed). See the module docstring."""
    doc = copy.deepcopy(doc)
    comps = doc.setdefault("components", {}).setdefault("schemas", {})
    # every answer's error body is ErrorResponse, and every operation may answer 500 (400 with
    # a body); FastAPI's own 422 schema (HTTPValidationError) is not what the service sends
    for item in doc.get("paths", {}).values():
        for op in item.values():
            responses = op.setdefault("responses", {})
            for code, text in _GENERIC_ERRORS.items():
                if code == "500" or "requestBody" in op:
                    responses.setdefault(code, _error_ref(text))
            for code, resp in responses.items():
                if code[0] in "45":
                    resp["content"] = {"application/json": {"schema": _ERROR_REF}}
    comps.pop("HTTPValidationError", None)
    comps.pop("ValidationError", None)

    keys = [_json_key(k) for k in art.item_keys[:2]]
    examples = [keys]
    # caps and examples
    for name, field, cap in (
        ("SimilarBatchRequest", "keys", limits.max_batch),
        ("EmbeddingsRequest", "keys", limits.max_batch),
        ("ScoreRequest", "candidates", limits.max_batch),
        ("RecommendRequest", "history", limits.max_history),
        ("ScoreRequest", "history", limits.max_history),
    ):
        prop = comps.get(name, {}).get("properties", {}).get(field)
        if prop is None:
            continue
        if prop.get("type") == "array":
            prop["maxItems"] = cap
        elif "anyOf" in prop:
            prop["anyOf"] = [
                {**b, "maxItems": cap} if b.get("type") == "array" else b for b in prop["anyOf"]
            ]
        prop["examples"] = examples
    for name in ("SimilarBatchRequest", "RecommendRequest"):
        k = comps.get(name, {}).get("properties", {}).get("k")
        if k is not None:
            k["maximum"] = limits.max_k
    for path, pname in (("/v1/similar", "key"), ("/v1/embedding/{key}", "key")):
        for param in doc.get("paths", {}).get(path, {}).get("get", {}).get("parameters", []):
            if param["name"] == pname:
                param["schema"]["examples"] = [str(keys[0])]
            if param["name"] == "k":
                param["schema"]["maximum"] = limits.max_k

    # the request fields this model takes
    cfg = getattr(art.model, "config", None)
    needs_times = (
        cfg is not None
        and getattr(cfg, "user_vector", None) == "recency"
        and getattr(cfg, "recency_by", None) == "time"
    )
    for name in ("RecommendRequest", "ScoreRequest"):
        model = comps.get(name)
        if model is None or art.user_tower is not None:
            continue
        for field in ("user", "features"):
            model["properties"].pop(field, None)
        # Item2Vec and the session models answer an empty history (popular items); the mean
        # of none is undefined
        _require_array(model, "history", min_items=0 if art.model is not None else 1)
        if needs_times:
            _require_array(model, "times")
            model["properties"]["times"]["examples"] = [[0.0, 60.0][: len(keys)]]
    if art.embeddings is None:
        _note_no_vectors(doc, art.model_class)
    return doc


def _note_no_vectors(doc: dict[str, Any], model_class: str) -> None:
    """Say, on the operations it changes, that the served model has no item vectors."""
    notes = {
        ("/v1/embedding/{key}", "get"): "answers 404 for every key",
        ("/v1/embeddings", "post"): "answers 404 for every request",
        ("/v1/similar", "get"): "answers with its next items after the one-item session [key]",
        ("/v1/similar", "post"): "answers with its next items after each one-item session [key]",
    }
    for (path, method), what in notes.items():
        op = doc.get("paths", {}).get(path, {}).get(method)
        if op is not None:
            note = f"The served model ({model_class}) has no item vectors: this endpoint {what}."
            op["description"] = f"{op.get('description', '').rstrip()}\n\n{note}".lstrip()


def serve_openapi(
    app: FastAPI, current: Callable[[], ServedArtifact], limits: ServiceLimits
) -> None:
    """Make ``app``'s ``/openapi.json`` :func:`served_openapi` of the artifact ``current()``
    serves (computed again after a reload swaps the artifact)."""
    base = app.openapi  # FastAPI's, which builds the description once
    cached: list[Any] = [None, None]

    def openapi() -> dict[str, Any]:
        art = current()
        if cached[0] is not art:
            cached[1] = served_openapi(base(), art, limits)
            cached[0] = art
        doc: dict[str, Any] = cached[1]
        return doc

    app.openapi = openapi  # type: ignore[method-assign]

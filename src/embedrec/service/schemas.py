"""Typed request and response bodies of the HTTP service (pydantic; shown at ``/docs``).

Keys are JSON strings or integers. A request key is read in the model's key type: with int
keys, integer-looking strings (``"42"``) are ints; with str keys, ints are their text. Other
JSON values (fractional numbers, booleans, null, lists, objects) are refused with 422. Numbers
are strict: ``k`` is an integer (``true``, ``"10"`` and ``10.5`` are refused; ``10.0`` is 10,
as JSON Schema has it), flags are booleans (``1`` is refused), and a boolean is never a
number. Requests reject unknown fields (422), so a misspelt option is
never silently ignored.

Every 4xx and 5xx answer has one body, :class:`ErrorResponse`: ``detail`` says what was wrong
and how to fix it; a 422 from request validation also lists each problem under ``errors``, and
a 500 carries an ``error_id`` that the server log names beside the traceback.

The examples here are valid for every served model; the service's ``/openapi.json`` replaces
them with keys of the model it serves (see :mod:`embedrec.service.contract`).

Two-tower models also take a ``user`` key and raw user ``features`` in ``/v1/recommend`` and
``/v1/score``; ``GET /v1/info`` lists the features (``user_tower``). Session models without
item vectors (the baselines) report ``dim``, ``metric`` and ``index`` as ``null`` in
``GET /v1/info``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
)

__all__ = [
    "EmbeddingResponse",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "ErrorResponse",
    "HealthResponse",
    "IndexInfo",
    "InfoResponse",
    "Neighbor",
    "RecommendRequest",
    "RecommendResponse",
    "ReloadRequest",
    "ReloadResponse",
    "ScoreRequest",
    "ScoreResponse",
    "SimilarBatchRequest",
    "SimilarBatchResponse",
    "SimilarResponse",
    "SimilarResult",
    "UserFeatureInfo",
    "UserTowerInfo",
    "ValidationIssue",
]

#: longest key a request may carry (longer is a 422); no artifact key is anywhere near it
MAX_KEY_LENGTH = 4096


def _integral(value: Any) -> Any:
    """JSON Schema's integers include ``10.0``: a float with no fraction is its int (a
    boolean stays a boolean, which a strict int refuses)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: an integer as JSON Schema has it: ``10`` or ``10.0``, never ``true`` nor ``10.5`` nor ``"10"``
JSONInt = Annotated[StrictInt, BeforeValidator(_integral)]
RequestKey = Annotated[StrictStr, Field(max_length=MAX_KEY_LENGTH)] | JSONInt
Key = str | int
K = Annotated[
    StrictInt,
    Field(ge=1, description="Results wanted (at most the server's --max-k).", examples=[10]),
    BeforeValidator(_integral),
]
#: a finite JSON number (an integer is fine; a boolean is not a number)
Time = Annotated[float, Strict(), AllowInfNan(False)]
#: request keys of the static examples: int-looking text is a key of every model (an int for
#: int-key models, text for str-key models; unknown keys are answered, not refused)
_EXAMPLE_KEYS = ["1", "2"]

#: most values one multi-categorical feature may carry in a request
MAX_FEATURE_VALUES = 1000
#: longest feature name (field of ``features``) a request may carry
MAX_FEATURE_NAME = 256

FeatureScalar = (
    StrictBool
    | Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
    | FiniteFloat
    | Annotated[StrictStr, Field(max_length=MAX_KEY_LENGTH)]
)
FeatureValue = (
    FeatureScalar
    | Annotated[list[FeatureScalar | None], Field(max_length=MAX_FEATURE_VALUES)]
    | None
)
UserFeatures = dict[Annotated[str, Field(max_length=MAX_FEATURE_NAME)], FeatureValue]

_USER_DESCRIPTION = (
    "TwoTower models only: the user's key. A known user brings their stored side features "
    "and, when 'history' is omitted, their stored history (which exclude_seen then excludes). "
    "An unknown key is a cold-start user: the user tower's default row (every feature "
    "missing), not an error; known_user in the answer says which it was."
)
_FEATURES_DESCRIPTION = (
    "TwoTower models only: raw user side features by column (GET /v1/info lists them under "
    "user_tower.features, source 'features'): categorical one value, multi_categorical a list "
    "(or a separator-joined string), numeric a number; null is missing. They replace the "
    "user's stored features: a column left out is missing, not the stored value."
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ValidationIssue(BaseModel):
    """One problem of a request that does not match its schema."""

    loc: list[str | int] = Field(
        description="Where: 'body', 'query' or 'path', then field names and list positions."
    )
    msg: str = Field(description="What is wrong there.")
    type: str = Field(description="Pydantic's error type, e.g. 'int_type' or 'missing'.")
    input: Any = Field(None, description="The value that was refused (long values are shortened).")


class ErrorResponse(BaseModel):
    """Body of every 4xx and 5xx answer."""

    detail: str = Field(description="What was wrong and how to fix it.")
    errors: list[ValidationIssue] | None = Field(
        None, description="422 for a request that does not match its schema: each problem."
    )
    error_id: str | None = Field(
        None,
        description="500: the id the server log gives the error, with its traceback (the "
        "answer itself carries no detail).",
    )


class Neighbor(BaseModel):
    """One ranked key and its score (higher is better)."""

    key: Key
    score: float


# ---------------------------------------------------------------------------------- similar
_SIMILAR_STRATEGY = (
    "How the neighbours were ranked: by the item vectors via the index, or, for a session "
    "model without item vectors, as its next items after the one-item session [key]."
)


class SimilarResponse(BaseModel):
    """``GET /v1/similar``: the nearest keys of one key, best first, the key itself excluded.
    Fewer than ``k`` when the catalogue is smaller."""

    key: Key
    k: int
    neighbors: list[Neighbor]
    strategy: str = Field(description=_SIMILAR_STRATEGY)


class SimilarBatchRequest(_Request):
    """``POST /v1/similar``: nearest keys of each key of a batch."""

    keys: list[RequestKey] = Field(
        description="Query keys (at most --max-batch).", examples=[_EXAMPLE_KEYS]
    )
    k: K = 10


class SimilarResult(BaseModel):
    """The neighbours of one known query key."""

    key: Key
    neighbors: list[Neighbor]


class SimilarBatchResponse(BaseModel):
    """One entry per query key, in order; ``null`` where the key is unknown (also listed in
    ``unknown``)."""

    k: int
    results: list[SimilarResult | None]
    unknown: list[Key]
    strategy: str = Field(description=_SIMILAR_STRATEGY)


# ---------------------------------------------------------------------------------- recommend
_TIMES_DESCRIPTION = (
    "Event time of each history item, one per history key (the same length as 'history'); "
    "Item2Vec with recency_by='time' and the session models that use time (STAN, V-STAN, "
    "SessionEmbed) read them (seconds); other models check the length and ignore them."
)
_HISTORY_DESCRIPTION = (
    "The user's items, oldest first (at most --max-history). Required, except for TwoTower "
    "models, where it may be omitted (a known user's stored history is used; none for "
    "others) or empty (no history)."
)


class RecommendRequest(_Request):
    """``POST /v1/recommend``: items for a user given their history (two-tower models: their
    key, raw features and/or history)."""

    history: list[RequestKey] | None = Field(
        None, description=_HISTORY_DESCRIPTION, examples=[_EXAMPLE_KEYS]
    )
    k: K = 10
    exclude_seen: StrictBool = Field(
        True,
        description="Never recommend an item of the history (TwoTower without a history: of "
        "the known user's stored history).",
    )
    times: list[Time] | None = Field(None, description=_TIMES_DESCRIPTION)
    user: RequestKey | None = Field(None, description=_USER_DESCRIPTION, examples=["1"])
    features: UserFeatures | None = Field(None, description=_FEATURES_DESCRIPTION)


class RecommendResponse(BaseModel):
    """Recommended items, best first, and the history keys the model does not know."""

    items: list[Neighbor]
    unknown: list[Key] = Field(
        description="History keys the model does not know (ignored; a TwoTower model feeds "
        "them to its user tower as the unknown item)."
    )
    fallback: bool = Field(
        description="True when no history key is known (or the history is empty) and an "
        "Item2Vec or session model answered with its most popular items."
    )
    known_user: bool | None = Field(
        None,
        description="TwoTower with a 'user': whether the key is a known user (false: the "
        "cold-start answer); null otherwise.",
    )
    strategy: str = Field(description="How the history became scores.")


# ---------------------------------------------------------------------------------- score
class ScoreRequest(_Request):
    """``POST /v1/score``: a real-time ranking feature, the score of each candidate for a
    user (two-tower models: given by key, raw features and/or history, as in
    ``/v1/recommend``)."""

    history: list[RequestKey] | None = Field(
        None, description=_HISTORY_DESCRIPTION, examples=[_EXAMPLE_KEYS]
    )
    candidates: list[RequestKey] = Field(
        description="Items to score (at most --max-batch).", examples=[_EXAMPLE_KEYS]
    )
    times: list[Time] | None = Field(None, description=_TIMES_DESCRIPTION)
    user: RequestKey | None = Field(None, description=_USER_DESCRIPTION)
    features: UserFeatures | None = Field(None, description=_FEATURES_DESCRIPTION)


class ScoreResponse(BaseModel):
    """One score per candidate, in order; ``null`` for an unknown candidate."""

    scores: list[float | None]
    unknown: list[Key] = Field(description="History keys the model does not know (ignored).")
    unknown_candidates: list[Key]
    fallback: bool = Field(
        description="True when no history key is known (or the history is empty) and an "
        "Item2Vec or session model scored by popularity."
    )
    strategy: str


# ---------------------------------------------------------------------------------- vectors
class EmbeddingResponse(BaseModel):
    """``GET /v1/embedding/{key}``: the stored vector of one key."""

    key: Key
    dim: int
    vector: list[float]


class EmbeddingsRequest(_Request):
    """``POST /v1/embeddings``: batch feature lookup."""

    keys: list[RequestKey] = Field(
        description="Keys (at most --max-batch).", examples=[_EXAMPLE_KEYS]
    )


class EmbeddingsResponse(BaseModel):
    """One vector per key, in order; ``null`` where the key is unknown (also listed in
    ``unknown``)."""

    dim: int
    vectors: list[list[float] | None]
    unknown: list[Key]


# ---------------------------------------------------------------------------------- service
class HealthResponse(BaseModel):
    """``GET /healthz``: the service is up and serving this generation."""

    status: Literal["ok"] = "ok"
    generation: int = Field(
        description="The served generation: 0 at start, one more per reload (the same number "
        "on every worker process)."
    )
    artifact_generation: str | None = Field(
        None,
        description="The artifact's own generation (its CURRENT pointer, e.g. 'gen-000003'); "
        "null for a flat directory or a word2vec-format file.",
    )
    worker: int = Field(description="Process id of the worker that answered.")
    loaded_at: datetime


class IndexInfo(BaseModel):
    """The similarity index ``/v1/similar`` (and ``/v1/recommend`` of models that average the
    history's vectors, or run a user tower) searches."""

    kind: str
    params: dict[str, Any]
    source: Literal["loaded", "built"] = Field(
        description="'loaded' from DIR/index/, or 'built' when the service started."
    )


class LimitsInfo(BaseModel):
    """The request caps in force."""

    max_k: int
    max_batch: int
    max_history: int


class ReloadStatusInfo(BaseModel):
    """Outcome of the latest reload."""

    state: Literal["idle", "loading", "succeeded", "failed"]
    path: str | None = Field(
        description="The artifact as the reload named it (relative to a reload root), or the "
        "served directory's name; never an absolute server path."
    )
    trigger: str | None
    started_at: datetime | None
    finished_at: datetime | None
    generation: int | None
    error: str | None = Field(
        description="That the reload failed, with an error id; the detail is in the server "
        "log under that id (a missing artifact and a broken one look alike here)."
    )
    error_id: str | None = None
    workers: int | None = Field(
        None,
        description="Worker processes serving the new generation (a reload with 'wait' on a "
        "multi-worker service waits for all of them).",
    )


class UserFeatureInfo(BaseModel):
    """One input of a two-tower model's user tower."""

    name: str = Field(description="The feature's name in the model config.")
    kind: Literal["id", "categorical", "multi_categorical", "numeric", "history", "pretrained"]
    column: str | None = Field(
        description="The field of 'features' that carries the raw value (source 'features'); "
        "null for the others."
    )
    source: Literal["user", "history", "features"] = Field(
        description="Where a request gives it: the 'user' key (id, pretrained), the "
        "'history', or the 'features' object under 'column'."
    )


class UserTowerInfo(BaseModel):
    """A two-tower model's user tower: what ``/v1/recommend`` and ``/v1/score`` accept."""

    features: list[UserFeatureInfo] = Field(description="The tower's inputs, in order.")
    n_users: int = Field(description="Known users (stored features and history).")
    user_key_type: Literal["str", "int"]
    output_dim: int
    history: bool = Field(description="Whether the tower reads the user's history.")


class InfoResponse(BaseModel):
    """``GET /v1/info``: what is being served."""

    model_class: str
    config: dict[str, Any]
    dim: int | None = Field(
        description="Dimension of the item vectors; null for a model without item vectors "
        "(a session baseline: S-POP, AR, SR, SKNN, V-SKNN, STAN, V-STAN)."
    )
    n_items: int
    key_type: Literal["str", "int"]
    metric: Literal["cosine", "dot"] | None = Field(
        description="Metric of the item vectors; null for a model without item vectors."
    )
    index: IndexInfo | None = Field(
        description="The similarity index; null for a model without item vectors (it has "
        "no index: /v1/similar answers with its next items, /v1/embedding with 404)."
    )
    recommend_strategy: str
    similar_strategy: str = Field(description=_SIMILAR_STRATEGY)
    user_tower: UserTowerInfo | None = Field(
        None, description="TwoTower models: the user tower's inputs; null for other models."
    )
    artifact: str = Field(
        description="The served artifact's name (its directory or file name; never the "
        "absolute server path)."
    )
    artifact_generation: str | None = Field(
        None,
        description="The artifact's own generation (its CURRENT pointer); null for a flat "
        "directory or a word2vec-format file.",
    )
    loaded_at: datetime
    load_seconds: float
    generation: int
    limits: LimitsInfo
    reload: ReloadStatusInfo
    version: str


class ReloadRequest(_Request):
    """``POST /admin/reload``: serve another artifact, or re-read the served one."""

    path: str | None = Field(
        None,
        max_length=1024,
        description="Artifact to serve, relative to a reload root (the served artifact's own "
        "directory, or a --reload-root of the server): e.g. 'gen-000002' to roll back to a "
        "kept generation, or 'item2vec-v2' under a --reload-root. Absolute paths and '..' "
        "are refused. Omitted: re-read the served artifact.",
    )
    wait: StrictBool = Field(False, description="Answer when loading has ended, not at once.")


class ReloadResponse(ReloadStatusInfo):
    """The reload's status (``loading`` unless ``wait`` was set)."""

"""The admin surface: ``POST /admin/reload`` and ``GET /admin/reload``, behind a token.

Off unless the operator asks (``embedrec serve --admin`` with a token in
``$EMBEDREC_ADMIN_TOKEN`` or ``--admin-token``), as TorchServe's management API is kept apart
from its inference API. When on:

* every admin request carries ``Authorization: Bearer TOKEN``; a missing token is a 401 (with
  ``WWW-Authenticate: Bearer``), a wrong one a 403. Tokens are compared in constant time
  (:func:`hmac.compare_digest`).
* a reload names its artifact *relative to a reload root*: the served artifact's own directory
  (so ``{"path": "gen-000002"}`` rolls back to a kept generation) and any ``--reload-root``.
  Absolute paths and ``..`` are refused; symbolic links are resolved and must stay inside the
  root. Nothing else on the server can be named.
* answers never carry absolute paths, file contents or exception messages: a failed reload
  gives the client an error id, and the server log has the detail under that id. A missing
  directory and a broken one get the same answer, so the admin API cannot probe the disk.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse

from . import schemas as s
from .state import ReloadInProgressError, ReloadStatus, ServiceState, new_error_id

__all__ = ["ReloadPathError", "add_admin_routes", "reload_roots", "resolve_reload_path"]

logger = logging.getLogger("embedrec")

#: longest path a reload request may name
MAX_RELOAD_PATH = 1024


class ReloadPathError(ValueError):
    """A reload path that is not relative, or leaves its reload root."""


def reload_roots(artifact: Path, extra: Sequence[Path] = ()) -> list[Path]:
    """The directories reloads may load from: the served artifact's own directory (its parent
    for a word2vec-format file) first, then the operator's ``--reload-root`` directories."""
    own = artifact if artifact.is_dir() else artifact.parent
    roots = [Path(os.path.realpath(own))]
    for root in extra:
        real = Path(os.path.realpath(root))
        if real not in roots:
            roots.append(real)
    return roots


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_reload_path(requested: str, roots: Sequence[Path]) -> Path:
    """The server path of a reload request's ``path``, inside one of ``roots``.

    The first root under which ``requested`` exists wins; when none has it, the path under the
    first root is returned (loading it then fails like any broken artifact: the answer does
    not tell a missing path from a broken one).

    Raises
    ------
    ReloadPathError
        ``requested`` is empty, absolute, contains ``..`` or a NUL, or (after resolving
        symbolic links) lies outside its root.

    Examples
    --------
    >>> resolve_reload_path("/etc/passwd", [Path("/srv/models")])
    Traceback (most recent call last):
    ...
    embedrec.service.admin.ReloadPathError: the reload path must be relative to a reload root ...
    """
    parts = PurePosixPath(requested).parts
    if (
        not requested.strip()
        or len(requested) > MAX_RELOAD_PATH
        or "\x00" in requested
        or requested.startswith(("/", "\\"))
        or ".." in parts
        or ".." in Path(requested).parts
        or Path(requested).is_absolute()
    ):
        raise ReloadPathError(
            "the reload path must be relative to a reload root (the served artifact's "
            "directory, or a --reload-root of the server), without '..', e.g. "
            '{"path": "gen-000002"}; omit it to re-read the served artifact'
        )
    fallback: Path | None = None
    for root in roots:
        real_root = os.path.realpath(root)
        candidate = os.path.realpath(os.path.join(real_root, requested))
        if not _inside(candidate, real_root):
            continue  # a symbolic link out of the root
        if os.path.exists(candidate):
            return Path(candidate)
        if fallback is None:
            fallback = Path(candidate)
    if fallback is None:
        raise ReloadPathError(
            f"{requested!r} leaves the reload roots (through a symbolic link); name an "
            "artifact inside the served directory or a --reload-root"
        )
    return fallback


def _status_body(status: ReloadStatus) -> dict[str, Any]:
    return s.ReloadResponse(
        state=status.state,
        path=status.path,
        trigger=status.trigger,
        started_at=status.started_at,
        finished_at=status.finished_at,
        generation=status.generation,
        error=status.error,
        error_id=status.error_id,
        workers=status.workers,
    ).model_dump(mode="json")


def add_admin_routes(app: FastAPI, state: ServiceState, token: str, roots: Sequence[Path]) -> None:
    """Serve ``POST /admin/reload`` and ``GET /admin/reload`` on ``app``, behind ``token``."""
    expected = token.encode("utf-8")
    unauthorized = {
        "model": s.ErrorResponse,
        "description": "No bearer token (the answer carries WWW-Authenticate: Bearer).",
    }
    forbidden = {"model": s.ErrorResponse, "description": "Wrong bearer token."}

    def require_token(
        authorization: Annotated[
            str | None,
            Header(
                description="'Bearer TOKEN' with the server's admin token.",
                max_length=4096,
            ),
        ] = None,
    ) -> None:
        if not authorization:
            raise HTTPException(
                status_code=401,
                detail="admin endpoints need 'Authorization: Bearer TOKEN' with the server's "
                "admin token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        scheme, _, given = authorization.partition(" ")
        # compare in constant time whatever the scheme, so timing tells nothing either way
        ok = hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected)
        if scheme.lower() != "bearer" or not ok:
            logger.warning("admin request with a wrong or malformed token refused")
            raise HTTPException(status_code=403, detail="wrong admin token")

    auth = [Depends(require_token)]

    @app.post(
        "/admin/reload",
        response_model=s.ReloadResponse,
        status_code=202,
        dependencies=auth,
        responses={
            200: {"model": s.ReloadResponse, "description": "Loaded (with wait)."},
            401: unauthorized,
            403: forbidden,
            409: {"model": s.ErrorResponse, "description": "A reload is already loading."},
            422: {
                "model": s.ErrorResponse,
                "description": "A path that is not relative to a reload root; or, with wait, "
                "the load failed (the answer has an error id; the old artifact is still "
                "served).",
            },
        },
        tags=["admin"],
    )
    def reload(body: s.ReloadRequest | None = None) -> Any:
        """Load an artifact in the background and swap it in atomically, on every worker.

        Requests keep being answered from the old artifact while the new one loads, and
        in-flight requests finish on it. A failed load keeps the old artifact; the status here
        and at ``GET /admin/reload`` gives an error id, whose detail is in the server log.
        Without ``wait`` the answer is 202 at once; with ``wait`` it is 200 once every worker
        serves the new generation, or 422 with the error id.
        """
        body = body or s.ReloadRequest(path=None, wait=False)
        target: Path | None = None
        display: str | None = None
        if body.path is not None:
            try:
                target = resolve_reload_path(body.path, roots)
            except ReloadPathError as exc:
                raise HTTPException(status_code=422, detail=str(exc)) from None
            display = body.path
        try:
            status = state.reload(target, trigger="api", wait=body.wait, display=display)
        except ReloadInProgressError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        if not body.wait:
            return JSONResponse(status_code=202, content=_status_body(status))
        if status.state == "failed":
            error_id = status.error_id or new_error_id()
            return JSONResponse(
                status_code=422,
                content={
                    "detail": f"reload of {status.path!r} failed; the old artifact is still "
                    f"served. Error id {error_id}: the server log has the detail",
                    "error_id": error_id,
                },
            )
        return JSONResponse(status_code=200, content=_status_body(status))

    @app.get(
        "/admin/reload",
        response_model=s.ReloadResponse,
        dependencies=auth,
        responses={401: unauthorized, 403: forbidden},
        tags=["admin"],
    )
    def reload_status() -> s.ReloadResponse:
        """Outcome of the latest reload (``idle`` before the first)."""
        return s.ReloadResponse(**_status_body(state.last_reload))

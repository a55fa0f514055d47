"""Every error of the API as RFC 9457 `application/problem+json`, mapped in this one place.

The engine raises the typed errors of `retention.errors`; `cli.main` turns them into exit codes
and this module into statuses, with the same one-line messages: `NotFound` 404, `AccessDenied`
403, `CheckFailed` and `LockBroken` 409 (the state forbids it), `InstallationError` 503, any other
`BadInput` 400, a policy error 422. Authentication failures are 401 (`retention.api.auth`).
Request validation (FastAPI's 422) and `HTTPException` are replaced by problems too, and neither
echoes a submitted value: a body may hold personal data. A database that cannot be reached is
503 with `Retry-After`; anything else is a 500 that names the error's type, never its text, and
never a stack trace (`retention.api.middleware` catches what escapes the handlers).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

import policies
from retention.errors import (
    AccessDenied,
    BadInput,
    CheckFailed,
    EngineError,
    InstallationError,
    LockBroken,
    NotFound,
)
from retention.logs import get_logger

__all__ = [
    "PROBLEM_JSON",
    "ApiProblem",
    "FieldError",
    "Problem",
    "ProblemKind",
    "install_problem_handlers",
    "problem_for_engine_error",
    "problem_response",
    "problems",
]

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:gdpr-compliance-engine:problem:"
RETRY_AFTER_DB_S = 5

log = get_logger("retention.api")


class ProblemKind(enum.Enum):
    """The closed set of problem types: (status, slug, title). `type` is the URN of the slug."""

    BAD_REQUEST = (400, "bad-request", "Bad request")
    UNAUTHORIZED = (401, "unauthorized", "Authentication required")
    FORBIDDEN = (403, "forbidden", "Access denied")
    NOT_FOUND = (404, "not-found", "Not found")
    METHOD_NOT_ALLOWED = (405, "method-not-allowed", "Method not allowed")
    NOT_ACCEPTABLE = (406, "not-acceptable", "Not acceptable")
    CONFLICT = (409, "conflict", "Conflict")
    PRECONDITION_FAILED = (412, "precondition-failed", "Precondition failed")
    CONTENT_TOO_LARGE = (413, "content-too-large", "Request body too large")
    UNSUPPORTED_MEDIA_TYPE = (415, "unsupported-media-type", "Unsupported media type")
    VALIDATION = (422, "validation", "Invalid request")
    IDEMPOTENCY_MISMATCH = (422, "idempotency-key-reused", "Idempotency key reused")
    PRECONDITION_REQUIRED = (428, "precondition-required", "Precondition required")
    TOO_MANY_REQUESTS = (429, "too-many-requests", "Too many requests")
    INTERNAL = (500, "internal", "Internal error")
    UNAVAILABLE = (503, "unavailable", "Service unavailable")

    @property
    def status(self) -> int:
        return int(self.value[0])

    @property
    def type_uri(self) -> str:
        return TYPE_BASE + str(self.value[1])

    @property
    def title(self) -> str:
        return str(self.value[2])


class FieldError(BaseModel):
    """One invalid part of a request: where, the kind of error, and a message without the value."""

    loc: list[str | int]
    type: str
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details, plus the request id and, for 422, what was invalid."""

    type: str = Field(description="URI of the problem type (a URN of this engine)")
    title: str
    status: int
    detail: str = Field(description="One line, never personal data")
    instance: str | None = Field(default=None, description="urn:uuid of this request")
    request_id: str | None = None
    errors: list[FieldError] | None = None


class ApiProblem(Exception):
    """Raise in a handler or dependency to answer with this problem (and these headers)."""

    def __init__(
        self,
        kind: ProblemKind,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: Sequence[FieldError] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = list(errors) if errors is not None else None


def problem_for_engine_error(exc: EngineError) -> ProblemKind:
    """The status of an engine error, the API's counterpart of `cli.main`'s exit codes."""
    if isinstance(exc, NotFound):
        return ProblemKind.NOT_FOUND
    if isinstance(exc, InstallationError):
        return ProblemKind.UNAVAILABLE
    if isinstance(exc, AccessDenied):
        return ProblemKind.FORBIDDEN
    if isinstance(exc, CheckFailed | LockBroken):
        return ProblemKind.CONFLICT
    if isinstance(exc, BadInput):
        return ProblemKind.BAD_REQUEST
    return ProblemKind.BAD_REQUEST


def problem_response(
    request_id: str | None,
    kind: ProblemKind,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[FieldError] | None = None,
) -> JSONResponse:
    body = Problem(
        type=kind.type_uri,
        title=kind.title,
        status=kind.status,
        detail=detail,
        instance=None if request_id is None else f"urn:uuid:{request_id}",
        request_id=request_id,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=kind.status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def _safe_errors(raw: Sequence[Any]) -> list[FieldError]:
    """Validation errors without the submitted values (`input`, `ctx`) or unknown key names."""
    out: list[FieldError] = []
    for err in raw:
        loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
        kind = str(err.get("type", "invalid"))
        if kind == "extra_forbidden" and loc:
            loc[-1] = "(unknown field)"  # a key the client made up may itself be personal data
        msg = str(err.get("msg", "invalid value"))
        value = err.get("input")
        if isinstance(value, str | int | float) and str(value) and str(value) in msg:
            msg = "invalid value"
        out.append(FieldError(loc=loc, type=kind, msg=msg))
    return out


def _validation_detail(errors: Sequence[FieldError]) -> str:
    first = errors[0] if errors else None
    if first is None:
        return "the request is not valid"
    where = ".".join(str(p) for p in first.loc if p != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.msg}{more}"


def install_problem_handlers(app: FastAPI) -> None:
    """Answer engine errors, validation errors, HTTP errors and database errors as problems."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return problem_response(
            _request_id(request), exc.kind, exc.detail, headers=exc.headers, errors=exc.errors
        )

    async def on_engine_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EngineError)
        kind = problem_for_engine_error(exc)
        headers = {"Retry-After": str(RETRY_AFTER_DB_S)} if kind is ProblemKind.UNAVAILABLE else {}
        return problem_response(_request_id(request), kind, exc.message, headers=headers)

    async def on_policy_error(request: Request, exc: Exception) -> JSONResponse:
        # Located multi-line reports: the first line says what and where.
        first = str(exc).splitlines()[0] if str(exc) else "policy error"
        return problem_response(_request_id(request), ProblemKind.VALIDATION, first)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _safe_errors(exc.errors())
        return problem_response(
            _request_id(request), ProblemKind.VALIDATION, _validation_detail(errors), errors=errors
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = next((k for k in ProblemKind if k.status == exc.status_code), None)
        headers = dict(exc.headers or {})
        if kind is None:
            kind = ProblemKind.BAD_REQUEST if exc.status_code < 500 else ProblemKind.INTERNAL
        detail = exc.detail if isinstance(exc.detail, str) else kind.title
        return problem_response(_request_id(request), kind, detail, headers=headers)

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        # Driver messages quote parameters (personal data): name the kind, never the text.
        rid = _request_id(request)
        unreachable = isinstance(exc, OperationalError) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated
        )
        log.error("request.database_error", request_id=rid, error=type(exc).__name__)
        if unreachable:
            return problem_response(
                rid,
                ProblemKind.UNAVAILABLE,
                f"database unavailable ({type(exc).__name__}): retry later",
                headers={"Retry-After": str(RETRY_AFTER_DB_S)},
            )
        return problem_response(rid, ProblemKind.INTERNAL, f"database error ({type(exc).__name__})")

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(EngineError, on_engine_error)
    app.add_exception_handler(policies.PolicyError, on_policy_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(SQLAlchemyError, on_database)


def problems(*kinds: ProblemKind) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each status it may answer with, as a Problem."""
    out: dict[int | str, dict[str, Any]] = {}
    for kind in (ProblemKind.UNAUTHORIZED, ProblemKind.VALIDATION, *kinds):
        out[kind.status] = {
            "model": Problem,
            "description": kind.title,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out

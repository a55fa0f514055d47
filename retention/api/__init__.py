"""The HTTP API (`gdpr serve`): the engine's operations over HTTP, for ATS integrations,
back-office tools and auditors, with the CLI's authorization and audit.

The API is a front end like `retention.commands`: it parses, authenticates, calls ONE operation
of `retention.operations`, renders. It decides nothing about access and writes no audit entry of
its own (except aggregated authentication failures); the operations do, in their transaction.

How to add a router (on the model of `retention/api/routes/candidates.py`):

- One module per resource in `retention/api/routes/`, an `APIRouter(prefix="/<resource>",
  tags=[...])`; add it to `ROUTERS` in `retention/api/routes/__init__.py`. It is mounted under
  `/v1`. Paths hold ids only: anything that may be personal data (an e-mail address) goes in a
  body (search is `POST .../search`), a reason in the `GDPR-Reason` header (`ReasonHeader`).
- Request and response models are pydantic classes beside the endpoints of their router
  (`extra="forbid"` on request bodies); shared shapes live in `retention/api/` modules. Declare
  the return type (FastAPI checks and documents it) and `responses=problems(...)` with the error
  statuses the route can answer, so the OpenAPI document describes every response.
- Endpoints are plain `def` (FastAPI runs them in its threadpool; the engine's SQLAlchemy is
  synchronous and would stall the event loop in an `async def`). Parameters:
  `installation: InstallationDep`, `clock: ClockDep` (`retention.api.state`) and
  `principal: PrincipalDep` (`retention.api.auth`: the bearer token, the CLI's check; 401 on
  failure). Call the operation with `clock=clock`. The one exception is the sources' events
  route (`routes/integrations.py`), the busiest: an `async def` that awaits its unit of work
  from the group commit's writer thread (`GroupCommit.submit`) instead of taking a thread.
- Errors: raise nothing HTTP-specific for engine rules; let the operation's typed errors
  propagate. `retention.api.problems` maps them once (NotFound 404, AccessDenied 403,
  CheckFailed 409, InstallationError 503, BadInput 400, validation 422) to RFC 9457
  `application/problem+json`, never echoing submitted values. For an API-only rule raise
  `ApiProblem(ProblemKind.X, "one line")`.
- Audit: every entry an operation records during a request carries
  `details.via = {"channel": "api", "request_id": ...}` (set once per request by
  `retention.api.middleware`, through `retention.store.recorded_via`); the request id is also
  the response's `X-Request-ID`.
- Lists: cursor pagination (`retention.api.pagination`): a bounded `limit` query parameter and
  an opaque `cursor`; the response is `{"items": [...], "next": <cursor or null>}`.
- Writes: every POST honours `Idempotency-Key` (`retention.api.idempotency`: a replay returns the
  first response, the same key with another body is 422); nothing to do in a router, the
  middleware and `PrincipalDep` handle it. Updates take `If-Match` with the `ETag` of the
  representation (`retention.api.etags`: declare `if_match: IfMatchHeader`, pass
  `expected_versions(if_match)` to the operation, which checks it in its transaction and
  raises `StaleVersion`, 412; a missing header is 428).
- Shared for free: rate limits per source and principal and aggregated audit of failed
  authentications (`retention.api.limits`), JSON-only bodies within the size limit
  (`retention.api.bodies`: 415, 413), security headers, the JSON access line and the
  Prometheus counters by route template (`retention.api.middleware`, `retention.api.metrics`).
  Audited reads that go through `Gateway.on_subject(..., read_only=True)` share audit appends
  under concurrency (`retention.store.GroupCommit`, set on the installation by the lifespan).
- Tests: `tests/api/conftest.py` (`api` client over the `world`, `bearer(token)`,
  `audit_entries`, `app_with(installation, clock, **api_settings)`).
"""

from __future__ import annotations

from retention.api.app import API_PREFIX, create_app
from retention.api.server import serve
from retention.api.tour import ApiTour, serve_and_call

__all__ = ["API_PREFIX", "ApiTour", "create_app", "serve", "serve_and_call"]

"""Who is calling: `Authorization: Bearer <token>`, the same tokens and the same check as the CLI.

`PrincipalDep` resolves the caller with `retention.access.verify_token`, the CLI's own check (a
lookup by SHA-256, confirmed with a constant-time comparison), in a worker thread. Before it,
the source's rate limit and failed-authentication limit; after it, the principal's rate limit
(`retention.api.limits`: 429 with `Retry-After`), then the POST's Idempotency-Key is claimed
(`retention.api.idempotency`: a replay answers here). A failure is 401 with `WWW-Authenticate:
Bearer` and the CLI's one-line reason, audited aggregated per source and minute; nothing of the
token is echoed or logged.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from retention.access import AuthFailure, PrincipalView, verify_token
from retention.api.idempotency import claim_for
from retention.api.limits import source_of
from retention.api.problems import ApiProblem, ProblemKind
from retention.api.state import StateDep
from retention.store import ANONYMOUS

__all__ = ["CHALLENGE", "PrincipalDep", "authenticated"]

_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="The principal's token (gdpr_...), as for the CLI's GDPR_TOKEN.",
)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gdpr"'}


def authenticated(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> PrincipalView:
    """The principal behind the bearer token; 401 otherwise (the failure is audited)."""
    source = source_of(request.client.host if request.client else None)
    guards = state.guards
    guards.sources.hit(source)
    guards.auth_failures.check(source)
    token = credentials.credentials if credentials is not None else None
    result = verify_token(state.installation.engine, token, clock=state.clock)
    if isinstance(result, AuthFailure):
        named = None if result.actor == ANONYMOUS else result.actor
        guards.auth_failures.failed(source, result.reason, named)
        detail = "no token: send 'Authorization: Bearer <token>'" if not token else result.message
        raise ApiProblem(ProblemKind.UNAUTHORIZED, detail, headers=CHALLENGE)
    guards.principals.hit(str(result.id))
    request.scope.setdefault("state", {})["principal_id"] = str(result.id)
    claim_for(request, str(result.id), state.installation, state.clock)
    return result


PrincipalDep = Annotated[PrincipalView, Depends(authenticated)]

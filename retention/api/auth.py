"""Who is calling: `Authorization: Bearer <token>`, the same tokens and the same check as the CLI.

`PrincipalDep` resolves the caller with `retention.access.authenticate`, the CLI's own check (a
lookup by SHA-256, confirmed with a constant-time comparison), in a worker thread. Any failure is
401 with `WWW-Authenticate: Bearer` and the CLI's one-line reason; nothing of the token is
echoed or logged.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from retention.access import PrincipalView, authenticate
from retention.api.problems import ApiProblem, ProblemKind
from retention.api.state import StateDep
from retention.errors import AccessDenied, BadInput

__all__ = ["PrincipalDep", "authenticated"]

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
    token = credentials.credentials if credentials is not None else None
    try:
        principal = authenticate(state.installation.engine, token, clock=state.clock)
    except (BadInput, AccessDenied) as exc:
        detail = "no token: send 'Authorization: Bearer <token>'" if not token else exc.message
        raise ApiProblem(ProblemKind.UNAUTHORIZED, detail, headers=CHALLENGE) from None
    request.scope.setdefault("state", {})["principal_id"] = str(principal.id)
    return principal


PrincipalDep = Annotated[PrincipalView, Depends(authenticated)]

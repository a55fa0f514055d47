"""`/healthz` (the process answers) and `/readyz` (it can serve: database, schema, signing key).

Neither needs a token nor says anything about data; `/readyz` answers 503 with the failed
checks (one line each) so that a load balancer takes the worker out of rotation.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from retention.api.problems import ApiProblem, ProblemKind, problems
from retention.api.state import InstallationDep
from retention.operations import check_readiness

__all__ = ["Health", "router"]

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok", "ready"]


@router.get("/healthz", summary="The process is alive")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Database reachable, schema at head, signing key readable",
    responses=problems(ProblemKind.UNAVAILABLE, authenticated=False),
)
def readyz(installation: InstallationDep) -> Health:
    readiness = check_readiness(installation)
    if not readiness.ready:
        raise ApiProblem(
            ProblemKind.UNAVAILABLE, "; ".join(readiness.problems), headers={"Retry-After": "5"}
        )
    return Health(status="ready")

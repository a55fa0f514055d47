"""What every request of one app shares: the installation (engine made in the lifespan), the clock.

Routers never reach for globals: they declare `InstallationDep`, `ClockDep` (and `PrincipalDep`
from `retention.api.auth`) as parameters, and FastAPI hands them the app's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from retention.clock import Clock
from retention.install import Installation

__all__ = ["ApiState", "ClockDep", "InstallationDep", "StateDep", "api_state"]


@dataclass(frozen=True)
class ApiState:
    """Set by the app's lifespan, after the server started (and forked) its worker process."""

    installation: Installation
    clock: Clock


def api_state(request: Request) -> ApiState:
    state = getattr(request.app.state, "api", None)
    if not isinstance(state, ApiState):
        raise RuntimeError("the app's lifespan did not run: serve it with a lifespan-aware server")
    return state


def _installation(state: Annotated[ApiState, Depends(api_state)]) -> Installation:
    return state.installation


def _clock(state: Annotated[ApiState, Depends(api_state)]) -> Clock:
    return state.clock


StateDep = Annotated[ApiState, Depends(api_state)]
InstallationDep = Annotated[Installation, Depends(_installation)]
ClockDep = Annotated[Clock, Depends(_clock)]

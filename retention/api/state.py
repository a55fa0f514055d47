"""What every request of one app shares: the installation (engine made in the lifespan), the clock,
the settings and the per-process guards (rate limits, failed-authentication aggregation).

Routers never reach for globals: they declare `InstallationDep`, `ClockDep` (and `PrincipalDep`
from `retention.api.auth`) as parameters, and FastAPI hands them the app's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from retention.access import record_auth_failures
from retention.api.limits import AuthFailures, FailureWindow, RateLimiter
from retention.clock import Clock
from retention.config import ApiSettings
from retention.install import Installation

__all__ = ["ApiState", "ClockDep", "Guards", "InstallationDep", "StateDep", "api_state"]


@dataclass(frozen=True)
class Guards:
    sources: RateLimiter
    principals: RateLimiter
    auth_failures: AuthFailures

    @classmethod
    def of(cls, installation: Installation, settings: ApiSettings) -> Guards:
        engine = installation.engine

        def record(window: FailureWindow, first: bool) -> None:
            record_auth_failures(
                engine,
                window.source,
                window.count,
                window.reasons,
                sorted(window.principals),
                window.start,
                first=first,
            )

        return cls(
            sources=RateLimiter(settings.source_rate_per_minute, "network"),
            principals=RateLimiter(settings.principal_rate_per_minute, "principal"),
            auth_failures=AuthFailures(settings.auth_failures_per_minute, record),
        )


@dataclass(frozen=True)
class ApiState:
    """Set by the app's lifespan, after the server started (and forked) its worker process."""

    installation: Installation
    clock: Clock
    settings: ApiSettings
    guards: Guards


# These dependencies only read the app's state: `async def`, so FastAPI calls them on the event
# loop. A plain `def` dependency is run in the threadpool, one thread hop per dependency per
# request, which cost more than many endpoints' own work.
async def api_state(request: Request) -> ApiState:
    state = getattr(request.app.state, "api", None)
    if not isinstance(state, ApiState):
        raise RuntimeError("the app's lifespan did not run: serve it with a lifespan-aware server")
    return state


async def _installation(state: Annotated[ApiState, Depends(api_state)]) -> Installation:
    return state.installation


async def _clock(state: Annotated[ApiState, Depends(api_state)]) -> Clock:
    return state.clock


StateDep = Annotated[ApiState, Depends(api_state)]
InstallationDep = Annotated[Installation, Depends(_installation)]
ClockDep = Annotated[Clock, Depends(_clock)]

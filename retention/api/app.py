"""The ASGI application: `create_app(config or installation) -> FastAPI`.

Nothing touches the database at import or at `create_app`: the engine is made in the lifespan,
that is in the worker process after uvicorn started (and, with `--workers`, forked or spawned)
it, and disposed when it stops. Tests pass a ready `Installation` (its engine stays theirs).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, FastAPI

from retention.api.middleware import RequestContext
from retention.api.problems import install_problem_handlers
from retention.api.routes import ROUTERS
from retention.api.state import ApiState
from retention.clock import Clock, utc_now
from retention.config import Config
from retention.install import Installation, open_installation

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/v1"
TITLE = "GDPR compliance engine"
DESCRIPTION = (
    "The engine's operations over HTTP: the same authorization and audit as the `gdpr` CLI. "
    "Authenticate with `Authorization: Bearer <token>`. Errors are RFC 9457 problem details."
)


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("gdpr-compliance-engine")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def create_app(
    source: Config | Installation,
    *,
    clock: Clock = utc_now,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The API over `source`: a configuration (the engine is opened in the lifespan) or, for
    tests and benchmarks, an open installation. `extra_routers` mount beside the built-in ones
    (the benchmark's bare endpoint; never in production)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if isinstance(source, Installation):
            installation, owned = source, False
        else:
            installation, owned = open_installation(source), True
        app.state.api = ApiState(installation=installation, clock=clock)
        try:
            yield
        finally:
            if owned:
                installation.engine.dispose()

    app = FastAPI(
        title=TITLE,
        description=DESCRIPTION,
        version=_version(),
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    for router in (*ROUTERS, *extra_routers):
        app.include_router(router, prefix=API_PREFIX)
    app.add_middleware(RequestContext)
    return app

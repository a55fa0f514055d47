"""The ASGI application: `create_app(config or installation) -> FastAPI`.

Nothing touches the database at import or at `create_app`: the engine is made in the lifespan,
that is in the worker process after uvicorn started (and, with `--workers`, forked or spawned)
it, and disposed when it stops. Tests pass a ready `Installation` (its engine stays theirs).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import compile_path

from retention.api import metrics, probes
from retention.api.bodies import BodyRules
from retention.api.idempotency import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    IdempotencyKeys,
    Replayed,
)
from retention.api.inbound import InboundEvents
from retention.api.middleware import CHANNEL, RequestContext
from retention.api.params import REASON_HEADER
from retention.api.problems import install_problem_handlers
from retention.api.routes import ROUTERS, integrations
from retention.api.state import ApiState, Guards
from retention.clock import Clock, utc_now
from retention.config import Config
from retention.install import Installation, open_installation
from retention.logs import get_logger
from retention.store import GroupCommit, recorded_via

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/v1"
FLUSH_EVERY_S = 5.0
CLIENT_HEADERS = (IDEMPOTENCY_HEADER, "If-Match", REASON_HEADER)

log = get_logger("retention.api")
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


async def _flush_every(guards: Guards, seconds: float) -> None:
    """Record finished minutes of failed authentications (in a thread: it writes)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(_flush, guards)
        except Exception as exc:  # a database hiccup must not end the flusher
            log.warning("auth_failures.flush_failed", error=type(exc).__name__)


def _flush(guards: Guards) -> None:
    with recorded_via(CHANNEL):
        guards.auth_failures.flush()


def _flush_all(guards: Guards) -> None:
    with recorded_via(CHANNEL):
        guards.auth_failures.flush(everything=True)


def create_app(
    source: Config | Installation,
    *,
    clock: Clock = utc_now,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The API over `source`: a configuration (the engine is opened in the lifespan) or, for
    tests and benchmarks, an open installation. `extra_routers` mount beside the built-in ones
    (the benchmark's bare endpoint; never in production)."""

    settings = source.config.api if isinstance(source, Installation) else source.api

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if isinstance(source, Installation):
            installation, owned = source, False
        else:
            installation, owned = open_installation(source), True
        group: GroupCommit | None = None
        if settings.group_commit and installation.audit_group is None:
            group = GroupCommit(installation.engine)
            installation = dataclasses.replace(installation, audit_group=group)
        guards = Guards.of(installation, settings)
        app.state.api = ApiState(installation, clock, settings, guards)
        flusher = asyncio.create_task(_flush_every(guards, FLUSH_EVERY_S))
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await run_in_threadpool(_flush_all, guards)
            if group is not None:
                group.close()
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
    app.include_router(probes.router)
    app.include_router(metrics.router)
    prefixes: dict[int, str] = {}
    patterns: list[tuple[str, re.Pattern[str], frozenset[str]]] = []
    for router in (*ROUTERS, *extra_routers):
        app.include_router(router, prefix=API_PREFIX)
        for route in router.routes:
            prefixes[id(route)] = API_PREFIX
            if isinstance(route, APIRoute):
                path = API_PREFIX + route.path
                patterns.append((path, compile_path(path)[0], frozenset(route.methods or ())))

    def allowed_methods(path: str) -> list[str]:
        # A route whose template is the path itself wins: `/v1/candidates/search` also matches
        # `/v1/candidates/{candidate_id}`, but GET is not a method of the search resource.
        literal = [methods for template, _, methods in patterns if template == path]
        matching = literal or [methods for _, regex, methods in patterns if regex.match(path)]
        return sorted(set().union(*matching))

    app.state.allowed_methods = allowed_methods
    app.state.metrics = metrics.ApiMetrics()

    async def on_replay(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Replayed)
        return exc.response

    app.add_exception_handler(Replayed, on_replay)
    # The last added is the outermost: the request context wraps everything, then CORS (when
    # configured: preflights need no token), then the body rules, then idempotency keys, then
    # the inbound events' own path past FastAPI's routing.
    (events_route,) = [r for r in integrations.router.routes if isinstance(r, APIRoute)]
    app.add_middleware(
        InboundEvents, route=events_route, prefix=API_PREFIX, endpoint=integrations.receive
    )
    app.add_middleware(IdempotencyKeys)
    app.add_middleware(BodyRules, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", *CLIENT_HEADERS],
            expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID", REPLAYED_HEADER],
            max_age=600,
        )
    app.add_middleware(RequestContext, metrics=app.state.metrics, prefixes=prefixes)
    return app

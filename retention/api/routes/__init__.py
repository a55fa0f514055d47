"""The API's resource routers, one module per resource, each an `APIRouter` mounted under /v1.

Add a router: write `retention/api/routes/<resource>.py` on the model of `candidates.py`, import
its `router` here and append it to `ROUTERS` (the order is the order of the OpenAPI tags, and
the order in which a request's path is matched: the sources' events come first, the busiest
path by far, where matching against every other route first cost a tenth of the request).
"""

from __future__ import annotations

from fastapi import APIRouter

from retention.api.routes import (
    access,
    audit,
    candidates,
    consent_page,
    evidence,
    holds,
    integrations,
    requests,
    reviews,
    sweep,
)

__all__ = [
    "ROUTERS",
    "access",
    "audit",
    "candidates",
    "consent_page",
    "evidence",
    "holds",
    "integrations",
    "requests",
    "reviews",
    "sweep",
]

ROUTERS: tuple[APIRouter, ...] = (
    integrations.router,
    candidates.router,
    requests.router,
    holds.router,
    reviews.router,
    sweep.router,
    audit.router,
    evidence.router,
    access.router,
    consent_page.router,
)

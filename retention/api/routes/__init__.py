"""The API's resource routers, one module per resource, each an `APIRouter` mounted under /v1.

Add a router: write `retention/api/routes/<resource>.py` on the model of `candidates.py`, import
its `router` here and append it to `ROUTERS` (the order is the order of the OpenAPI tags).
"""

from __future__ import annotations

from fastapi import APIRouter

from retention.api.routes import candidates, consent_page

__all__ = ["ROUTERS", "candidates", "consent_page"]

ROUTERS: tuple[APIRouter, ...] = (candidates.router, consent_page.router)

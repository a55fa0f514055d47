"""The API's harness: the app over the run's backend (the shared `installation` and `world`),
served in process to an httpx client (Starlette's TestClient, which runs the lifespan).

`api` is a client with no credentials; `bearer(token)` gives the header of a principal. The
app uses the world's fixed clock, so grants made by `world` stay in force whatever today is.
`audit_entries(engine, **where)` reads entries back with their parsed canonical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from retention.api import create_app
from retention.install import Installation
from retention.testing import FixedClock
from tests.access_support import World, audit_rows


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_entries(engine: Any, **where: Any) -> list[dict[str, Any]]:
    """Entries as their canonical JSON objects, in seq order, filtered like `audit_rows`."""
    return [json.loads(r.canonical) for r in audit_rows(engine, **where)]


@pytest.fixture
def app(installation: Installation, clock: FixedClock) -> FastAPI:
    return create_app(installation, clock=clock)


@pytest.fixture
def api(app: FastAPI, world: World) -> Iterator[TestClient]:
    """A client of the app over the world (its lifespan runs for the test)."""
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        yield client

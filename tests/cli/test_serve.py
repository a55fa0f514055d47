"""`gdpr serve` as a real process on loopback: ready, a read, SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import signal
import socket
import time
from datetime import UTC, datetime

import httpx
import pytest

from retention.audit.log import create_signing_key
from retention.install import Installation
from retention.testing import FixedClock
from tests.access_support import World
from tests.cli_support import Gdpr

pytestmark = pytest.mark.slow


@pytest.fixture
def clock() -> FixedClock:
    """The world made now: the server runs on the real clock, and grants must be in force."""
    return FixedClock(datetime.now(UTC))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, deadline_s: float = 30) -> httpx.Response:
    stop = time.monotonic() + deadline_s
    while True:
        try:
            response = httpx.get(f"{base}/readyz", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > stop:
            raise AssertionError("gdpr serve did not become ready")
        time.sleep(0.2)


def test_serve_answers_then_stops_on_sigterm(installation: Installation, world: World) -> None:
    create_signing_key(installation)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Gdpr.of(installation).process("serve", "--port", str(port))
    try:
        assert wait_ready(base).json() == {"status": "ready"}
        read = httpx.get(
            f"{base}/v1/candidates/{world.nl}",
            headers={"Authorization": f"Bearer {world.recruiter.token}"},
            timeout=5,
        )
        assert read.status_code == 200
        assert read.json()["id"] == str(world.nl)
        server.send_signal(signal.SIGTERM)
        _out, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    assert {"route": "/v1/candidates/{candidate_id}", "status": 200} in [
        {"route": a["route"], "status": a["status"]} for a in access
    ]
    assert read.json()["email"] not in err
    assert str(world.nl) not in err  # the route template, never the path's values


def test_serve_refuses_workers_on_sqlite(installation: Installation) -> None:
    if installation.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    run = Gdpr.of(installation)("serve", "--workers", "2")
    assert run.code == 2
    assert "need PostgreSQL" in run.err

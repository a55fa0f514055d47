"""The API's part of `gdpr demo`: serve the demo installation briefly and call it, for real.

`serve_and_call` starts the app on a free loopback port (uvicorn in a thread of this process,
its engine made in the lifespan like `gdpr serve`'s), makes one allowed and one denied request
with the demo's own tokens, and stops the server; it returns lines to show.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass

import httpx
import uvicorn

from retention.api.app import create_app
from retention.config import Config

__all__ = ["ApiTour", "serve_and_call"]

START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ApiTour:
    url: str
    allowed_status: int
    denied_status: int
    denied_detail: str
    lines: tuple[str, ...]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_and_call(
    config: Config, reader_token: str, other_token: str, subject: uuid.UUID
) -> ApiTour:
    """GET the subject as a principal that may read it, then as one that may not; stop."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, name="gdpr-demo-api", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the demo API server did not start")
            time.sleep(0.05)
        url = f"{base}/v1/candidates/{subject}"
        allowed = httpx.get(url, headers={"Authorization": f"Bearer {reader_token}"}, timeout=10)
        denied = httpx.get(url, headers={"Authorization": f"Bearer {other_token}"}, timeout=10)
    finally:
        server.should_exit = True
        thread.join(15)
    detail = str(denied.json().get("detail", "")) if denied.content else ""
    lines = (
        f"API: served on {base} (gdpr serve), GET /v1/candidates/{{id}}:",
        f"  as the DPO: {allowed.status_code} (the read is audited, channel api, request "
        f"{allowed.headers.get('X-Request-ID', '?')})",
        f"  as the admin: {denied.status_code} {detail}",
        "  then stopped.",
    )
    return ApiTour(base, allowed.status_code, denied.status_code, detail, lines)

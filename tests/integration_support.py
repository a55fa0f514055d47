"""Shared set-up of the integration tests: an installation with a Greenhouse source and a Standard
Webhooks source, signed posts of Greenhouse's documented example payloads, and targets on
loopback ports. Not a test module; test modules import the fixtures they use."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from retention.config import load_config
from retention.install import Installation
from retention.integration import greenhouse_signature
from retention.operations import Receipt, receive_event
from retention.testing import FixedClock

DATA = Path(__file__).parent / "integration" / "data"
GREENHOUSE_SECRET = "greenhouse-test-secret-0123456789abcdef"
WHSEC = "whsec_" + base64.b64encode(b"standard-webhooks-test-secret-32").decode()
WHSEC_OLD = "whsec_" + base64.b64encode(b"standard-webhooks-old-secret-32b").decode()


def greenhouse_body(name: str, **changes: Any) -> bytes:
    """An example payload of Greenhouse's documentation, as bytes (changes applied on top)."""
    raw = (DATA / "greenhouse" / f"{name}.json").read_bytes()
    if not changes:
        return raw
    data = json.loads(raw)
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[keys[-1]] = value
    return json.dumps(data).encode()


def write_private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def configure(installation: Installation, toml: str) -> Installation:
    """`installation` with `toml` as its gdpr.toml (secret files beside it)."""
    root = installation.config.data_dir
    write_private(root / "greenhouse.secret", GREENHOUSE_SECRET + "\n")
    write_private(root / "lever.secret", WHSEC + "\n")
    write_private(root / "harvest.key", "harvest-api-key-for-tests\n")
    (root / "gdpr.toml").write_text(toml)
    url = installation.engine.url.render_as_string(hide_password=False)
    return Installation(load_config(root, url, env={}), installation.engine)


SOURCES = """
[integration.greenhouse]
kind = "greenhouse"
secret_file = "greenhouse.secret"
country = "NL"

[integration.lever]
kind = "standard-webhooks"
secret_file = "lever.secret"
country = "DE"
fields = { firstName = "first_name", lastName = "last_name" }
"""


@pytest.fixture
def sources(installation: Installation) -> Installation:
    return configure(installation, SOURCES)


Post = Callable[..., Receipt]


@pytest.fixture
def post_greenhouse(sources: Installation, clock: FixedClock) -> Post:
    def post(
        body: bytes,
        event_id: str | None = None,
        *,
        secret: str = GREENHOUSE_SECRET,
        signature: str | None = None,
        inst: Installation | None = None,
    ) -> Receipt:
        headers = {
            "Signature": signature or greenhouse_signature(secret, body),
            "Greenhouse-Event-ID": event_id or str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        return receive_event(inst or sources, "greenhouse", headers, body, clock=clock)

    return post


def standard_headers(
    body: bytes, secrets: list[str], at: datetime, msg_id: str | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    sigs = " ".join(Webhook(s).sign(msg_id, at, body.decode()) for s in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": sigs,
    }


@pytest.fixture
def post_generic(sources: Installation, clock: FixedClock) -> Post:
    def post(
        event: Mapping[str, Any],
        *,
        secrets: list[str] | None = None,
        at: datetime | None = None,
        msg_id: str | None = None,
    ) -> Receipt:
        body = json.dumps(event).encode()
        headers = standard_headers(body, secrets or [WHSEC], at or clock(), msg_id)
        return receive_event(sources, "lever", headers, body, clock=clock)

    return post

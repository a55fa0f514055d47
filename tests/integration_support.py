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
        "content-type": "application/json",
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


# --- receivers on loopback ports -------------------------------------------------------------

import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

# Harvest's documented anonymize fields (PUT /v1/candidates/{id}/anonymize?fields=...).
HARVEST_ANONYMIZE_FIELDS = frozenset(
    [
        "full_name",
        "current_company",
        "current_title",
        "tags",
        "phone_numbers",
        "emails",
        "social_media_links",
        "websites",
        "addresses",
        "location",
        "custom_candidate_fields",
        "source",
        "recruiter",
        "coordinator",
        "attachments",
        "application_questions",
        "referral_questions",
        "notes",
        "rejection_notes",
        "email_addresses",
        "activity_items",
        "innotes",
        "inmails",
        "rejection_reason",
        "scorecards_and_interviews",
        "offers",
        "credited_to",
        "headline",
        "all_offer_versions",
        "follow_up_reminders",
        "custom_application_fields",
        "education",
        "employment",
        "candidate_stage_data",
        "prospect_owner",
        "custom_rejection_question_fields",
        "touchpoints",
        "prospect_pool_and_stage",
        "prospect_jobs",
        "prospect_offices",
        "prospect_offices_and_departments",
        "match_score_reasoning",
        "identity_verification",
        "third_party_integrations",
    ]
)
HARVEST_KEY = "harvest-api-key-for-tests"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on a loopback port. `script` holds the statuses of the next responses
    (then 200); `delay` seconds per request; `verify` checks Standard Webhooks signatures."""

    secret: str | None = WHSEC
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, reply = receiver.respond(
                    Received(self.command, self.path, dict(self.headers.items()), body)
                )
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_PUT = do_DELETE = _handle

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def respond(self, req: Received) -> tuple[int, dict[str, str], bytes]:
        if self.delay:
            time.sleep(self.delay)
        if self.secret is not None:
            try:
                Webhook(self.secret).verify(req.body, req.headers)
            except Exception:
                with self.lock:
                    self.bad_signatures += 1
                return 401, {}, b"{}"
        with self.lock:
            self.received.append(req)
            if self.script:
                status, headers = self.script.pop(0)
                return status, headers, b"{}"
        return 200, {}, b"{}"

    def ids(self) -> list[str]:
        with self.lock:
            return [
                r.headers.get("webhook-id") or r.headers.get("Webhook-Id", "")
                for r in self.received
            ]


@dataclass
class GreenhouseContract(Receiver):
    """The Harvest API's candidate delete and anonymize endpoints, with their validation:
    Basic auth with the API key, On-Behalf-Of required, `fields` from the documented list,
    404 for an unknown candidate, and the documented rate limit (X-RateLimit-Limit per 10 s,
    429 with Retry-After and X-RateLimit-Reset beyond it)."""

    secret: str | None = None
    candidates: set[str] = field(default_factory=set)
    limit: int = 50
    window: float = 10.0
    retry_after: int = 1
    calls: list[float] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)
    anonymized: dict[str, list[str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def respond(self, req: Received) -> tuple[int, dict[str, str], bytes]:
        headers = {k.lower(): v for k, v in req.headers.items()}
        expected = "Basic " + base64.b64encode(f"{HARVEST_KEY}:".encode()).decode()
        if headers.get("authorization") != expected:
            return 401, {}, b'{"message": "Unauthorized"}'
        now = time.monotonic()
        with self.lock:
            self.calls = [t for t in self.calls if now - t < self.window]
            if len(self.calls) >= self.limit:
                reset = str(int(time.time()) + self.retry_after)
                return (
                    429,
                    {
                        "Retry-After": str(self.retry_after),
                        "X-RateLimit-Limit": str(self.limit),
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": reset,
                    },
                    b'{"message": "Rate limit exceeded"}',
                )
            self.calls.append(now)
            remaining = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.limit - len(self.calls)),
            }
            self.received.append(req)
            if self.script:
                status, extra = self.script.pop(0)
                return status, {**remaining, **extra}, b"{}"
        if not headers.get("on-behalf-of", "").isdigit():
            return 403, remaining, b'{"message": "Missing or invalid On-Behalf-Of header"}'
        url = urlsplit(req.path)
        parts = url.path.strip("/").split("/")
        if parts[:2] != ["v1", "candidates"] or len(parts) < 3:
            return 404, remaining, b'{"message": "Resource not found"}'
        candidate = parts[2]
        with self.lock:
            if candidate not in self.candidates:
                return 404, remaining, b'{"message": "Resource not found"}'
            if req.method == "DELETE" and len(parts) == 3:
                self.candidates.discard(candidate)
                self.deleted.add(candidate)
                msg = json.dumps({"message": f"Person {candidate} has been deleted."})
                return 200, remaining, msg.encode()
            if req.method == "PUT" and parts[3:] == ["anonymize"]:
                fields = parse_qs(url.query).get("fields", [""])[0].split(",")
                bad = [f for f in fields if f not in HARVEST_ANONYMIZE_FIELDS]
                if not fields or bad:
                    errors = [{"message": "Invalid field", "field": f} for f in bad]
                    reply = json.dumps({"message": "Validation error", "errors": errors})
                    return 422, remaining, reply.encode()
                self.anonymized[candidate] = fields
                return 200, remaining, json.dumps({"id": int(candidate)}).encode()
        return 404, remaining, b'{"message": "Resource not found"}'


def targets_toml(receiver: Receiver, greenhouse: GreenhouseContract | None, **extra: Any) -> str:
    """SOURCES plus a generic target at `receiver` and the Greenhouse source as a target."""
    lines = [
        SOURCES,
        "[integration.hrbox]",
        'kind = "standard-webhooks"',
        'secret_file = "lever.secret"',
        f'url = "{receiver.url}"',
        "concurrency = 4",
        "rate = 1000",
    ]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    toml = "\n".join(lines) + "\n"
    if greenhouse is not None:
        toml = toml.replace(
            '[integration.greenhouse]\nkind = "greenhouse"\n',
            '[integration.greenhouse]\nkind = "greenhouse"\n'
            f'url = "{greenhouse.url}"\non_behalf_of = "4080"\napi_key_file = "harvest.key"\n'
            "rate = 1000\n",
        )
    return toml

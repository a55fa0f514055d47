"""Shared set-up of the consent tests (tests/consent, tests/api, tests/cli): a real SMTP server on
loopback (aiosmtpd), an installation with [mail], [api] public_url and a signing key, and
candidates whose talent-pool consent runs out soon. Test modules import the fixtures they use.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from retention.access import PrincipalView
from retention.audit.log import create_signing_key
from retention.config import MailConfig, MailSecurity
from retention.install import Installation
from retention.store import Candidate, Consent, transaction
from retention.testing import FixedClock
from tests.access_support import World, build_world

PUBLIC_URL = "https://consent.example.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """The aiosmtpd handler: keeps every message; can refuse recipients, reply 4xx, or stall."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()  # addresses answered 550 at RCPT
        self.busy = 0  # that many next RCPTs answered 451
        self.delay = 0.0
        self.connections = 0
        self.lock = threading.Lock()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        if self.busy:
            self.busy -= 1
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            time.sleep(self.delay)
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.messages.append(msg)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))


def with_mail(installation: Installation, port: int, *, timeout: float = 5.0) -> Installation:
    mail = MailConfig(
        host="127.0.0.1",
        port=port,
        security=MailSecurity.NONE,
        sender="privacy@example.test",
        timeout=timeout,
    )
    api = dataclasses.replace(installation.config.api, public_url=PUBLIC_URL)
    config = dataclasses.replace(installation.config, mail=mail, api=api)
    return Installation(config, installation.engine)


@pytest.fixture
def world(installation: Installation, clock: FixedClock) -> World:
    w = build_world(installation, clock)
    create_signing_key(installation)
    return w


@pytest.fixture
def mailed(world: World, inbox: tuple[Inbox, int]) -> Installation:
    return with_mail(world.installation, inbox[1])


def dpo(world: World) -> PrincipalView:
    return PrincipalView(world.dpo.principal_id, world.dpo.name)


def add_pool_candidate(
    installation: Installation,
    country: str,
    expires_at: datetime,
    *,
    given_at: datetime | None = None,
    first_name: str = "Ana",
    email: str | None = None,
    notice_hash: str | None = None,
) -> tuple[uuid.UUID, str, int]:
    """A candidate with a talent-pool consent expiring at `expires_at`; (id, address, consent)."""
    cid = uuid.uuid4()
    address = email or f"c.{cid.hex[:10]}@example.org"
    at = given_at or expires_at - timedelta(days=700)
    with transaction(installation.engine) as conn:
        conn.execute(
            Candidate.__table__.insert().values(
                id=cid,
                country=country,
                status="rejected",
                first_name=first_name,
                last_name="Zorrilla",
                email=address,
                applied_at=at,
                decided_at=at,
                last_activity_at=at,
                created_at=at,
                updated_at=at,
            )
        )
        consent_id = conn.execute(
            Consent.__table__.insert()
            .values(
                candidate_id=cid,
                purpose="talent_pool",
                notice_version="2026-01",
                notice_hash=notice_hash,
                channel="web form",
                given_at=at,
                expires_at=expires_at,
            )
            .returning(Consent.__table__.c.id)
        ).scalar_one()
    return cid, address, consent_id

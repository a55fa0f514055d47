"""Every consent writer appends its event in the transaction that changes the current state."""

from __future__ import annotations

from sqlalchemy import select

from retention.access import PrincipalView
from retention.install import Installation
from retention.operations import (
    AddNotice,
    RecordConsent,
    WithdrawConsent,
    add_consent_notice,
    record_consent,
    withdraw_consent,
)
from retention.store import ConsentEvent, transaction
from tests.access_support import World
from tests.consent_support import dpo


def events(installation: Installation, subject) -> list:
    t = ConsentEvent.__table__
    with transaction(installation.engine) as conn:
        return conn.execute(select(t).where(t.c.candidate_id == subject).order_by(t.c.id)).all()


class TestGatewayWriters:
    def test_record_and_withdraw_append_given_and_withdrawn(self, world: World) -> None:
        """`consent record` under a registered notice carries its hash; withdraw appends."""
        installation = world.installation
        me = dpo(world)
        notice = add_consent_notice(
            installation, me, AddNotice("talent_pool", "v9", "nl", b"tekst"), clock=world.clock
        )
        row = record_consent(
            installation,
            me,
            RecordConsent(world.nl, "talent_pool", "v9", "web form", "24m", "nl"),
            clock=world.clock,
        )
        assert row.notice_hash == notice.sha256
        withdraw_consent(
            installation, me, WithdrawConsent(world.nl, "talent_pool"), clock=world.clock
        )
        kinds = [(e.kind, e.method, e.notice_hash) for e in events(installation, world.nl)]
        assert ("given", "recorded", notice.sha256) in kinds
        assert [k for k, _, _ in kinds].count("withdrawn") == 2  # both rows in force
        assert all(e.actor == str(me.id) for e in events(installation, world.nl))

    def test_unregistered_notice_records_no_hash(self, world: World) -> None:
        row = record_consent(
            world.installation,
            PrincipalView(world.dpo.principal_id, world.dpo.name),
            RecordConsent(world.de, "talent_pool", "legacy-1", "paper form"),
            clock=world.clock,
        )
        assert row.notice_hash is None

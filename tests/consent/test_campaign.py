"""Renewal campaigns end to end against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from retention.install import Installation
from retention.operations import (
    AddNotice,
    AnswerConsent,
    OpenConsentLink,
    RunCampaign,
    add_consent_notice,
    answer_consent,
    open_consent_link,
    run_campaign,
)
from retention.store import Consent, ConsentEvent, MailOutbox, MailUndeliverable, transaction
from retention.testing import FixedClock
from tests.access_support import World, audit_rows
from tests.consent_support import PUBLIC_URL, Inbox, add_pool_candidate, dpo, free_port, with_mail

NOTICES = {
    "en": "We keep your CV in our talent pool for future vacancies. <b>Not bold</b>.",
    "nl": "Wij bewaren uw cv in onze talentenpool voor toekomstige vacatures.",
    "ar": "نحتفظ بسيرتك الذاتية في قاعدة المواهب للوظائف المستقبلية.",
}


def register_notices(world: World, installation: Installation) -> None:
    for language, text in NOTICES.items():
        add_consent_notice(
            installation,
            dpo(world),
            AddNotice("talent_pool", "2027-01", language, text.encode()),
            clock=world.clock,
        )


def link_of(message) -> str:
    text = message.get_body(("plain",)).get_content()
    found = re.findall(re.escape(PUBLIC_URL) + r"/v1/public/consent/[A-Za-z0-9_.-]+", text)
    assert len(found) == 1
    return found[0]


def token_of(message) -> str:
    return link_of(message).rsplit("/", 1)[1]


def count(installation: Installation, model, **where) -> int:
    t = model.__table__
    q = select(func.count()).select_from(t)
    for k, v in where.items():
        q = q.where(t.c[k] == v)
    with transaction(installation.engine) as conn:
        return int(conn.execute(q).scalar_one())


def run(installation: Installation, world: World, **kw):
    return run_campaign(installation, dpo(world), RunCampaign(**kw), clock=world.clock)


@pytest.fixture
def pool(world: World, mailed: Installation):
    """NL, DE and SA candidates expiring in 20 days, a FR one in 90 days (not due yet)."""
    register_notices(world, mailed)
    soon = world.clock() + timedelta(days=20)
    return {
        "NL": add_pool_candidate(mailed, "NL", soon, first_name="Maartje"),
        "DE": add_pool_candidate(mailed, "DE", soon, first_name="Jürgen"),
        "SA": add_pool_candidate(mailed, "SA", soon, first_name="Layla"),
        "FR": add_pool_candidate(mailed, "FR", world.clock() + timedelta(days=90)),
    }


class TestAsk:
    def test_each_due_candidate_gets_one_message_in_their_language(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], pool
    ) -> None:
        """Asks go to the three due candidates, in nl, de and ar, each with only their own data."""
        server, _ = inbox
        result = run(mailed, world)
        assert (result.counts.queued, result.counts.sent) == (3, 3)
        assert len(server.messages) == 3
        nl = server.to(pool["NL"][1])[0]
        assert nl["Subject"] == "Mogen we uw sollicitatie bewaren?"
        assert "Beste Maartje," in nl.get_body(("plain",)).get_content()
        de = server.to(pool["DE"][1])[0]
        assert "Dürfen wir" in de["Subject"]
        sa = server.to(pool["SA"][1])[0]
        html = sa.get_body(("html",)).get_content()
        assert 'dir="rtl"' in html and 'lang="ar"' in html
        assert "مرحباً Layla" in html
        assert server.to(pool["FR"][1]) == []
        others = {
            "NL": ("Jürgen", "Layla"),
            "DE": ("Maartje", "Layla"),
            "SA": ("Maartje", "Jürgen"),
        }
        for code, names in others.items():
            raw = server.to(pool[code][1])[0].as_string()
            for other_code, (_, address, _) in pool.items():
                if other_code != code:
                    assert address not in raw
            for name in names:
                assert name not in raw

    def test_running_twice_sends_nothing_twice(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], pool
    ) -> None:
        """The second run the same day queues and sends nothing; connections are reused."""
        server, _ = inbox
        first = run(mailed, world)
        second = run(mailed, world)
        assert first.connections == 1
        assert (second.counts.queued, second.counts.sent) == (0, 0)
        assert len(server.messages) == 3
        assert count(mailed, ConsentEvent, kind="requested") == 3

    def test_audit_names_subject_purpose_notice_never_address(
        self, world: World, mailed: Installation, pool
    ) -> None:
        run(mailed, world)
        entries = audit_rows(mailed.engine, action="consent.renewal_requested")
        assert {e.subject for e in entries} == {pool[c][0] for c in ("NL", "DE", "SA")}
        for e in entries:
            body = json.loads(e.canonical)
            assert body["details"]["purpose"] == "talent_pool"
            assert len(body["details"]["notice_hash"]) == 64
            assert (
                "@" not in e.canonical.decode()
                if isinstance(e.canonical, bytes)
                else "@" not in e.canonical
            )

    def test_dry_run_changes_nothing(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], pool
    ) -> None:
        result = run(mailed, world, dry_run=True)
        assert result.counts.selected == 3
        assert count(mailed, MailOutbox) == 0 and inbox[0].messages == []

    def test_blocked_anonymized_and_withdrawn_are_not_asked(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int]
    ) -> None:
        register_notices(world, mailed)
        soon = world.clock() + timedelta(days=20)
        blocked = add_pool_candidate(mailed, "NL", soon)
        withdrawn = add_pool_candidate(mailed, "NL", soon)
        with transaction(mailed.engine) as conn:
            conn.execute(
                Consent.__table__.update()
                .where(Consent.__table__.c.id == withdrawn[2])
                .values(withdrawn_at=world.clock())
            )
            from retention.store import Candidate

            conn.execute(
                Candidate.__table__.update()
                .where(Candidate.__table__.c.id == blocked[0])
                .values(blocked_at=world.clock())
            )
        assert run(mailed, world).counts.sent == 0


class TestReminders:
    def test_reminder_after_asking_then_before_expiry_then_expiry(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], pool
    ) -> None:
        """Ask (day 0), remind 7 days later, remind 2 days before expiry, then expire."""
        server, _ = inbox
        run(mailed, world)
        world.clock.advance(timedelta(days=6))
        assert run(mailed, world).counts.sent == 0
        world.clock.advance(timedelta(days=1))
        assert run(mailed, world).counts.sent == 3
        subjects = [str(m["Subject"]) for m in server.messages[3:]]
        assert all(s.startswith(("Herinnering", "Erinnerung", "تذكير")) for s in subjects), subjects
        world.clock.advance(timedelta(days=11))  # 2 days before expiry
        assert run(mailed, world).counts.sent == 3
        world.clock.advance(timedelta(days=1))
        assert run(mailed, world).counts.sent == 0  # max 3 per campaign, nothing left
        world.clock.advance(timedelta(days=2))
        done = run(mailed, world)
        assert done.counts.expired == 3
        assert count(mailed, ConsentEvent, kind="expired") == 3
        assert len(audit_rows(mailed.engine, action="consent.expired")) == 3
        assert run(mailed, world).counts.expired == 0  # recorded once


class TestAnswerLink:
    def test_renew_once_then_neutral(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], pool
    ) -> None:
        """The link shows the notice, renews once; the same link then gets the neutral page."""
        server, _ = inbox
        run(mailed, world)
        token = token_of(server.to(pool["NL"][1])[0])
        page = open_consent_link(mailed, OpenConsentLink(token, "nonce-1", "/x"), clock=world.clock)
        assert page.usable and NOTICES["nl"] in page.html
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.html).group(1)
        done = answer_consent(
            mailed, AnswerConsent(token, "renew", "nonce-1", csrf), clock=world.clock
        )
        assert done.state == "renewed"
        with transaction(mailed.engine) as conn:
            rows = conn.execute(
                select(Consent.__table__).where(Consent.__table__.c.candidate_id == pool["NL"][0])
            ).all()
        assert len(rows) == 2
        new = max(rows, key=lambda r: r.id)
        assert new.channel == "email-link" and new.notice_hash is not None
        assert new.expires_at == world.clock() + timedelta(days=365)  # NL: 12 months
        again = answer_consent(
            mailed, AnswerConsent(token, "renew", "nonce-1", csrf), clock=world.clock
        )
        assert (again.usable, again.state) == (False, "neutral")
        assert len(audit_rows(mailed.engine, action="consent.renewed")) == 1
        # A renewed consent is no longer asked or reminded.
        world.clock.advance(timedelta(days=7))
        assert server.to(pool["NL"][1]) and run(mailed, world).counts.sent == 2

    def test_withdraw(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], pool
    ) -> None:
        server, _ = inbox
        run(mailed, world)
        token = token_of(server.to(pool["SA"][1])[0])
        page = open_consent_link(mailed, OpenConsentLink(token, "n", "/x"), clock=world.clock)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.html).group(1)
        done = answer_consent(
            mailed, AnswerConsent(token, "withdraw", "n", csrf), clock=world.clock
        )
        assert done.state == "withdrawn" and 'dir="rtl"' in done.html
        assert count(mailed, ConsentEvent, kind="withdrawn") == 1
        entry = audit_rows(mailed.engine, action="consent.withdrawn")[0]
        assert entry.subject == pool["SA"][0]

    def test_bad_csrf_tampered_expired_erased_all_neutral(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], pool
    ) -> None:
        server, _ = inbox
        run(mailed, world)
        token = token_of(server.to(pool["DE"][1])[0])
        page = open_consent_link(mailed, OpenConsentLink(token, "n", "/x"), clock=world.clock)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.html).group(1)
        neutral = answer_consent(
            mailed, AnswerConsent(token, "renew", "other", csrf), clock=world.clock
        )
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        pages = [
            neutral,
            open_consent_link(mailed, OpenConsentLink(tampered, "n", "/x"), clock=world.clock),
            open_consent_link(mailed, OpenConsentLink("garbage", "n", "/x"), clock=world.clock),
        ]
        later = FixedClock(world.clock() + timedelta(days=21))
        pages.append(open_consent_link(mailed, OpenConsentLink(token, "n", "/x"), clock=later))
        with transaction(mailed.engine) as conn:
            from retention.store import Candidate

            conn.execute(
                Candidate.__table__.delete().where(Candidate.__table__.c.id == pool["DE"][0])
            )
        pages.append(
            open_consent_link(mailed, OpenConsentLink(token, "n", "/x"), clock=world.clock)
        )
        assert {p.html for p in pages} == {pages[0].html}
        assert all(not p.usable for p in pages)
        assert "Jürgen" not in pages[0].html


class TestSmtpTrouble:
    def test_permanent_refusal_marks_undeliverable(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], pool
    ) -> None:
        server, _ = inbox
        server.refuse.add(pool["DE"][1])
        result = run(mailed, world)
        assert (result.counts.sent, result.counts.undeliverable) == (2, 1)
        assert count(mailed, MailUndeliverable) == 1
        world.clock.advance(timedelta(days=7))
        assert run(mailed, world).counts.sent == 2  # the reminders; DE is not tried again
        assert server.to(pool["DE"][1]) == []

    def test_temporary_refusal_is_retried(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], pool
    ) -> None:
        server, _ = inbox
        server.busy = 1
        first = run(mailed, world)
        assert (first.counts.sent, first.counts.retried) == (2, 1)
        world.clock.advance(timedelta(minutes=31))
        assert run(mailed, world).counts.sent == 1
        assert len(server.messages) == 3

    def test_server_down_then_up(self, world: World, pool, inbox: tuple[Inbox, int]) -> None:
        """A refused connection leaves everything queued; the next run, server up, sends it."""
        down = with_mail(world.installation, free_port())
        first = run(down, world)
        assert first.counts.queued == 3 and first.counts.sent == 0 and first.counts.retried >= 1
        world.clock.advance(timedelta(hours=2))
        up = with_mail(world.installation, inbox[1])
        assert run(up, world).counts.sent == 3

    def test_slow_server_times_out_and_is_retried(
        self, world: World, pool, inbox: tuple[Inbox, int]
    ) -> None:
        server, port = inbox
        server.delay = 1.5
        slow = with_mail(world.installation, port, timeout=0.5)
        first = run(slow, world)
        assert first.counts.sent == 0 and first.counts.retried >= 1
        server.delay = 0
        world.clock.advance(timedelta(hours=2))
        assert run(with_mail(world.installation, port), world).counts.sent == 3


class TestDailyJob:
    def test_the_scheduler_job_run_twice_sends_once(
        self, world: World, mailed: Installation, inbox: tuple[Inbox, int], pool
    ) -> None:
        """The scheduler's `consent` job is the campaign: run twice, each message goes once."""
        from retention.scheduler import default_jobs, run_once

        jobs = default_jobs(mailed, dpo(world), clock=world.clock)
        first = run_once("consent", jobs)
        second = run_once("consent", jobs)
        assert first.summary["sent"] == 3 and second.summary["sent"] == 0
        assert first.summary["smtp_connections"] == 1
        assert len(inbox[0].messages) == 3

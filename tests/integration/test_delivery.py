"""The outbox's delivery to real receivers on loopback ports: a Standard Webhooks receiver and a
Greenhouse Harvest contract server; retries, Retry-After, outages, dead letters, kill -9."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from audit_log.schema import audit_entry
from retention.access import PrincipalView
from retention.install import Installation
from retention.integration.propagation import propagation
from retention.operations import (
    DeliverMessages,
    EraseCandidate,
    RetryMessages,
    deliver_messages,
    erase_candidate,
    integration_status,
    retry_messages,
)
from retention.store import OutboxMessage, transaction
from retention.testing import FixedClock
from tests.access_support import World
from tests.integration_support import (
    GreenhouseContract,
    Receiver,
    configure,
    greenhouse_body,
    post_greenhouse,
    sources,
    targets_toml,
)

__all__ = ["post_greenhouse", "sources"]  # fixtures

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> FixedClock:
    """Near the wall clock: receivers check signed timestamps against their own clock."""
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def harvest() -> Iterator[GreenhouseContract]:
    g = GreenhouseContract(candidates={"265788", "265772", "60304594"}).start()
    yield g
    g.stop()


def wired(
    world: World, receiver: Receiver, harvest: GreenhouseContract | None, **extra
) -> Installation:
    return configure(world.installation, targets_toml(receiver, harvest, **extra))


def dpo(world: World) -> PrincipalView:
    return PrincipalView(world.dpo.principal_id, world.dpo.name)


def outbox(inst: Installation) -> list[dict]:
    t = OutboxMessage.__table__
    with transaction(inst.engine) as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]


def audited(inst: Installation, action: str) -> list[dict]:
    with transaction(inst.engine) as conn:
        rows = conn.execute(
            select(audit_entry.c.canonical).where(audit_entry.c.action == action)
        ).scalars()
        return [json.loads(r) for r in rows]


def erase_from_greenhouse(
    inst: Installation, world: World, clock: FixedClock, post, names
) -> list[uuid.UUID]:
    """Subjects that came from Greenhouse, then erased here on request (candidate erase)."""
    subjects = []
    for name in names:
        receipt = post(greenhouse_body(name), inst=inst)
        subjects.append(uuid.UUID(receipt.subject))
    for s in subjects:
        erase_candidate(inst, dpo(world), EraseCandidate(s, reason="DSR-2026-0142"), clock=clock)
    return subjects


def run_worker(inst: Installation, world: World, clock: FixedClock, target: str | None = None):
    """One run of the delivery worker as the DPO (every target, or `target` only)."""
    request = DeliverMessages() if target is None else DeliverMessages(target)
    return deliver_messages(inst, dpo(world), request, clock=clock)


def three_erased_one_dead(
    world: World, receiver: Receiver, clock: FixedClock, post_greenhouse, *, key: bool = False
) -> Installation:
    """Three subjects from Greenhouse erased here; the generic target answers 500 four times
    (all three once, then one of them again) and dead-letters after an hour: two of the three
    reach it, one is dead."""
    receiver.script = [(500, {})] * 4
    inst = wired(world, receiver, None, dead_after_hours=1)
    if key:
        from tests.evidence_support import install_key

        install_key(inst)
    erase_from_greenhouse(
        inst,
        world,
        clock,
        post_greenhouse,
        ["reject_candidate", "candidate_stage_change", "hire_candidate"],
    )
    run_worker(inst, world, clock)
    clock.advance(timedelta(hours=2))
    run_worker(inst, world, clock)
    return inst


class TestDelivery:
    def test_an_erasure_reaches_both_targets_and_each_confirmation_is_audited(
        self,
        world: World,
        receiver: Receiver,
        harvest: GreenhouseContract,
        clock: FixedClock,
        post_greenhouse,
    ) -> None:
        inst = wired(world, receiver, harvest)
        (subject,) = erase_from_greenhouse(
            inst, world, clock, post_greenhouse, ["reject_candidate"]
        )
        rows = outbox(inst)
        assert sorted((r["target"], r["action"], r["state"]) for r in rows) == [
            ("greenhouse", "erase", "pending"),
            ("hrbox", "erase", "pending"),
        ]
        assert all(r["source_ref"] == "greenhouse:265788" for r in rows)
        done = run_worker(inst, world, clock)
        assert done.delivered == {"greenhouse": 1, "hrbox": 1}
        # The generic target: one signed POST (the receiver verified it with the library).
        (req,) = receiver.received
        body = json.loads(req.body)
        (erase_entry,) = audited(inst, "candidate.erase")
        assert body["type"] == "subject.erase"
        assert body["data"]["subject"] == str(subject)
        assert (body["data"]["source"], body["data"]["source_id"]) == ("greenhouse", "265788")
        assert body["data"]["audit_seq"] == erase_entry["seq"]
        assert req.headers["webhook-id"] == req.headers["idempotency-key"] == f"msg_{rows[1]['id']}"
        # Greenhouse: DELETE /v1/candidates/265788 with On-Behalf-Of.
        assert harvest.deleted == {"265788"}
        assert harvest.received[0].headers["on-behalf-of"] == "4080"
        delivered = audited(inst, "integration.delivered")
        assert sorted(
            (e["details"]["target"], e["details"]["status"], e["details"]["attempt"])
            for e in delivered
        ) == [("greenhouse", 200, 1), ("hrbox", 200, 1)]
        assert all(e["subject"] == str(subject) for e in delivered)
        # Delivered: the target's record id is dropped from the outbox.
        assert all(r["state"] == "delivered" and r["source_ref"] is None for r in outbox(inst))

    def test_anonymize_sends_the_documented_fields(
        self,
        world: World,
        receiver: Receiver,
        harvest: GreenhouseContract,
        clock: FixedClock,
        post_greenhouse,
    ) -> None:
        from retention.integration import write_outbox
        from retention.sweep.anonymization import Anonymizer, anonymize

        inst = wired(world, receiver, harvest)
        subject = uuid.UUID(
            post_greenhouse(greenhouse_body("candidate_stage_change"), inst=inst).subject
        )
        with transaction(inst.engine) as conn:
            write_outbox(conn, inst.config.targets, "anonymize", [subject], at=clock())
            anonymize(conn, [(subject, "NL")], at=clock(), anonymizer=Anonymizer())
        done = run_worker(inst, world, clock)
        assert done.delivered == {"greenhouse": 1, "hrbox": 1}
        assert "full_name" in harvest.anonymized["265772"]

    def test_an_unknown_candidate_at_greenhouse_confirms_the_erasure(
        self,
        world: World,
        receiver: Receiver,
        harvest: GreenhouseContract,
        clock: FixedClock,
        post_greenhouse,
    ) -> None:
        harvest.candidates.clear()
        inst = wired(world, receiver, harvest)
        erase_from_greenhouse(inst, world, clock, post_greenhouse, ["reject_candidate"])
        done = run_worker(inst, world, clock, "greenhouse")
        assert done.delivered == {"greenhouse": 1}
        (entry,) = audited(inst, "integration.delivered")
        assert entry["details"]["status"] == 404

    def test_429_with_retry_after_pauses_the_target_then_all_arrive(
        self,
        world: World,
        receiver: Receiver,
        harvest: GreenhouseContract,
        clock: FixedClock,
        post_greenhouse,
    ) -> None:
        harvest.limit, harvest.retry_after = 1, 1
        inst = wired(world, receiver, harvest)
        erase_from_greenhouse(
            inst,
            world,
            clock,
            post_greenhouse,
            ["reject_candidate", "candidate_stage_change", "new_candidate_application"],
        )
        first = run_worker(inst, world, clock, "greenhouse")
        assert first.delivered.get("greenhouse", 0) < 3
        waiting = [
            r for r in outbox(inst) if r["target"] == "greenhouse" and r["state"] != "delivered"
        ]
        assert waiting and all(r["next_at"] >= clock() + timedelta(seconds=1) for r in waiting)
        assert any(r["last_status"] == 429 for r in waiting)
        for _ in range(10):
            if harvest.deleted == {"265788", "265772", "60304594"}:
                break
            time.sleep(harvest.retry_after)
            harvest.calls.clear()
            clock.advance(timedelta(hours=2))
            run_worker(inst, world, clock, "greenhouse")
        assert harvest.deleted == {"265788", "265772", "60304594"}

    def test_5xx_then_success_is_retried_with_backoff(
        self,
        world: World,
        receiver: Receiver,
        clock: FixedClock,
        post_greenhouse,
    ) -> None:
        receiver.script = [(500, {}), (503, {})]
        inst = wired(world, receiver, None)
        erase_from_greenhouse(inst, world, clock, post_greenhouse, ["reject_candidate"])
        run_worker(inst, world, clock)
        (row,) = outbox(inst)
        assert (row["state"], row["attempts"], row["last_status"]) == ("failed", 1, 500)
        assert clock() + timedelta(seconds=1) <= row["next_at"] <= clock() + timedelta(seconds=2)
        # Not due yet: nothing is sent.
        run_worker(inst, world, clock)
        assert len(receiver.received) == 1
        clock.advance(timedelta(minutes=5))
        run_worker(inst, world, clock)
        clock.advance(timedelta(minutes=5))
        run_worker(inst, world, clock)
        (row,) = outbox(inst)
        assert (row["state"], row["attempts"]) == ("delivered", 3)
        (entry,) = audited(inst, "integration.delivered")
        assert entry["details"]["attempt"] == 3
        # Every attempt was the same message.
        assert len(set(receiver.ids())) == 1 and len(receiver.received) == 3

    def test_a_receiver_down_for_a_while(
        self,
        world: World,
        receiver: Receiver,
        clock: FixedClock,
        post_greenhouse,
    ) -> None:
        inst = wired(world, receiver, None)
        port = receiver.port
        receiver.stop()
        erase_from_greenhouse(
            inst, world, clock, post_greenhouse, ["reject_candidate", "hire_candidate"]
        )
        for _ in range(3):
            run_worker(inst, world, clock)
            clock.advance(timedelta(minutes=30))
        rows = outbox(inst)
        assert all(r["state"] == "failed" and r["last_error"] == "ConnectError" for r in rows)
        assert all(r["attempts"] == 3 for r in rows)
        receiver.port = port
        receiver.start()
        clock.advance(timedelta(hours=1))
        done = run_worker(inst, world, clock)
        assert done.delivered == {"hrbox": 2}

    def test_dead_letter_after_the_configured_age_then_retry(
        self,
        world: World,
        receiver: Receiver,
        clock: FixedClock,
        post_greenhouse,
    ) -> None:
        receiver.script = [(500, {})] * 3
        inst = wired(world, receiver, None, dead_after_hours=1)
        (subject,) = erase_from_greenhouse(
            inst, world, clock, post_greenhouse, ["reject_candidate"]
        )
        run_worker(inst, world, clock)
        clock.advance(timedelta(hours=2))
        done = run_worker(inst, world, clock)
        assert done.dead == {"hrbox": 1}
        (entry,) = audited(inst, "integration.dead")
        assert entry["subject"] == str(subject) and entry["outcome"] == "error"
        assert (entry["details"]["attempts"], entry["details"]["status"]) == (2, 500)
        status = integration_status(inst, dpo(world), clock=clock)
        assert [(t.target, t.dead) for t in status.targets if t.target == "hrbox"] == [("hrbox", 1)]
        # Dead is final until a person puts it back.
        run_worker(inst, world, clock)
        assert len(receiver.received) == 2
        assert retry_messages(inst, dpo(world), RetryMessages("hrbox"), clock=clock) == {
            "requeued": {"hrbox": 1}
        }
        receiver.script.clear()
        done = run_worker(inst, world, clock)
        assert done.delivered == {"hrbox": 1}

    def test_propagation_figures_match_the_audit_log(
        self,
        world: World,
        receiver: Receiver,
        clock: FixedClock,
        post_greenhouse,
    ) -> None:
        start = clock() - timedelta(minutes=1)
        inst = three_erased_one_dead(world, receiver, clock, post_greenhouse)
        with transaction(inst.engine) as conn:
            (line,) = [
                p
                for p in propagation(
                    conn, inst.config.targets, start, clock() + timedelta(seconds=1)
                )
                if p.target == "hrbox"
            ]
        delivered = audited(inst, "integration.delivered")
        dead = audited(inst, "integration.dead")
        assert (line.written, line.delivered, line.dead, line.pending) == (
            3,
            len(delivered),
            len(dead),
            0,
        )
        assert (line.delivered, line.dead) == (2, 1)


class TestLimits:
    def test_a_targets_concurrency_and_rate_hold(
        self, world: World, receiver: Receiver, clock: FixedClock
    ) -> None:
        """concurrency = 2, rate = 80/s: never more than two requests at the receiver at once,
        though two batches (64 messages each) are in flight together, and 80 messages take
        about a second (a burst of two, then 80 a second)."""
        from retention.integration import write_outbox

        toml = targets_toml(receiver, None).replace("concurrency = 4", "concurrency = 2")
        inst = configure(world.installation, toml.replace("rate = 1000", "rate = 80"))
        with transaction(inst.engine) as conn:
            for _ in range(40):
                write_outbox(conn, inst.config.targets, "block", [world.nl, world.de], at=clock())
        lock, busy, most = threading.Lock(), [0], [0]
        respond = receiver.respond

        def counting(req):
            with lock:
                busy[0] += 1
                most[0] = max(most[0], busy[0])
            try:
                time.sleep(0.02)  # the first burst of two overlaps at the receiver
                return respond(req)
            finally:
                with lock:
                    busy[0] -= 1

        receiver.respond = counting  # type: ignore[method-assign]
        started = time.monotonic()
        done = run_worker(inst, world, clock)
        elapsed = time.monotonic() - started
        assert done.delivered == {"hrbox": 80}
        assert most[0] == 2
        assert elapsed >= (80 - 2) / 80 * 0.95


DELIVER = "from cli import main; main()"


class TestCrash:
    def test_kill_9_mid_batch_loses_nothing_and_duplicates_keep_their_id(
        self,
        world: World,
        receiver: Receiver,
        clock: FixedClock,
        post_greenhouse,
    ) -> None:
        """A worker killed while its batch is in flight: a later run sends what it claimed, under
        the same message ids; every message ends delivered, each id confirmed once."""
        from retention.integration import write_outbox

        inst = wired(world, receiver, None)
        with transaction(inst.engine) as conn:
            ids = [world.nl, world.de]
            for _ in range(100):
                write_outbox(conn, inst.config.targets, "block", ids, at=clock())
        receiver.delay = 0.02
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "GDPR_DATA_DIR": str(inst.config.data_dir),
            "GDPR_DATABASE_URL": inst.engine.url.render_as_string(hide_password=False),
            "GDPR_TOKEN": world.dpo.token,
        }
        proc = subprocess.Popen(
            [sys.executable, "-c", DELIVER, "integration", "deliver", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while len(receiver.received) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        got_before = len(receiver.received)
        assert 0 < got_before < 200
        receiver.delay = 0
        # The dead worker's claims lapse; a later run (here: an hour later) takes them over.
        clock.advance(timedelta(hours=1))
        run_worker(inst, world, clock)
        rows = outbox(inst)
        assert len(rows) == 200 and all(r["state"] == "delivered" for r in rows)
        sent = receiver.ids()
        assert set(sent) == {f"msg_{r['id']}" for r in rows}
        # Duplicates only of messages in flight at the kill, each under its own id.
        assert len(sent) - len(set(sent)) <= 4 * 32
        with transaction(inst.engine) as conn:
            confirmations = conn.execute(
                select(func.count()).where(audit_entry.c.action == "integration.delivered")
            ).scalar_one()
        assert confirmations == 200


class TestEvidence:
    def test_the_packs_propagation_csv_matches_its_audit_log(
        self,
        world: World,
        receiver: Receiver,
        clock: FixedClock,
        post_greenhouse,
        tmp_path: Path,
    ) -> None:
        """propagation.csv's reached and dead figures are the integration.delivered and
        integration.dead lines of the pack's own audit-log.jsonl; the report has the section."""
        import csv

        from retention.evidence import ExportRequest, export_pack, load_signer
        from tests.evidence_support import POLICIES

        inst = three_erased_one_dead(world, receiver, clock, post_greenhouse, key=True)
        day = clock().date()
        request = ExportRequest(day - timedelta(days=1), day, tmp_path / "out", actor="dpo")
        result = export_pack(
            inst,
            request,
            signer=load_signer(inst),
            policies=POLICIES,
            clock=FixedClock(clock() + timedelta(days=2)),
        )
        with (result.path / "propagation.csv").open(newline="") as fh:
            lines = {r["target"]: r for r in csv.DictReader(fh)}
        entries = [
            json.loads(line) for line in (result.path / "audit-log.jsonl").read_text().splitlines()
        ]
        reached = sum(1 for e in entries if e["action"] == "integration.delivered")
        dead = sum(1 for e in entries if e["action"] == "integration.dead")
        hrbox = lines["hrbox"]
        assert (int(hrbox["delivered"]), int(hrbox["dead"])) == (reached, dead) == (2, 1)
        assert (hrbox["written"], hrbox["pending"], hrbox["oldest_pending"]) == ("3", "0", "")
        assert (
            "Propagation to the systems that hold a copy"
            in (result.path / "report.html").read_text()
        )


class _ForwardProxy:
    """An HTTP forward proxy on a loopback port (RFC 9112 absolute-form requests): it relays
    each request to the server its URL names and records the URLs it was asked for."""

    def __init__(self) -> None:
        seen: list[str] = []
        self.seen = seen

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def relay(self) -> None:
                seen.append(self.path)
                url = urllib.parse.urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
                upstream.request(self.command, url.path + (f"?{url.query}" if url.query else ""),
                                 body=body, headers=headers)  # fmt: skip
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_POST = do_PUT = do_DELETE = relay

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TestProxy:
    """The worker reaches targets the way the host's other HTTP clients do: through the proxy
    its environment names, except for the hosts NO_PROXY exempts."""

    @pytest.fixture
    def proxy(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[_ForwardProxy]:
        proxy = _ForwardProxy()
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        yield proxy
        proxy.close()

    def test_deliveries_go_through_the_environments_proxy(
        self, world: World, receiver: Receiver, clock: FixedClock, post_greenhouse, proxy
    ) -> None:
        inst = wired(world, receiver, None)
        erase_from_greenhouse(inst, world, clock, post_greenhouse, ["reject_candidate"])
        run_worker(inst, world, clock)
        (row,) = outbox(inst)
        assert row["state"] == "delivered"
        assert len(receiver.received) == 1
        assert len(proxy.seen) == 1 and proxy.seen[0].startswith("http://127.0.0.1:")

    def test_no_proxy_exempts_a_target(
        self,
        world: World,
        receiver: Receiver,
        clock: FixedClock,
        post_greenhouse,
        proxy,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        inst = wired(world, receiver, None)
        erase_from_greenhouse(inst, world, clock, post_greenhouse, ["reject_candidate"])
        run_worker(inst, world, clock)
        assert outbox(inst)[0]["state"] == "delivered"
        assert len(receiver.received) == 1 and proxy.seen == []

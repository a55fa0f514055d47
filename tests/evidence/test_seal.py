"""The export's transaction: the export entry, a fresh checkpoint, the period's range and proofs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from audit_log import AuditLog, Checkpoint, Event, Signer, open_note
from audit_log.proof import ConsistencyProof, InclusionProof
from retention.evidence.seal import EXPORT_ACTION, SealRequest, period_bounds, seal_period
from retention.install import Installation
from retention.testing import FixedClock

START = datetime(2026, 9, 1, tzinfo=UTC)
END = datetime(2026, 10, 1, tzinfo=UTC)


def fill(installation: Installation, clock: FixedClock, signer: Signer | None) -> None:
    """Ten entries a day from Aug 25 to Sep 9, a checkpoint signed each midnight if `signer`."""
    log = AuditLog(clock)
    clock.now = datetime(2026, 8, 25, tzinfo=UTC)
    while clock.now < datetime(2026, 9, 10, tzinfo=UTC):
        with installation.engine.begin() as conn:
            if signer is not None:
                log.sign_checkpoint(conn, signer, installation.config.log_origin)
            log.append(conn, [Event("svc", "candidate.read") for _ in range(10)])
        clock.advance(timedelta(days=1))


def seal(installation: Installation, signer: Signer, clock: FixedClock):  # type: ignore[no-untyped-def]
    with installation.engine.begin() as conn:
        return seal_period(
            conn,
            log_origin=installation.config.log_origin,
            timezone="UTC",
            request=SealRequest(date(2026, 9, 1), date(2026, 9, 30), None, "dpo"),
            bounds=(START, END),
            signer=signer,
            clock=clock,
        )


class TestSeal:
    def test_range_proofs_and_checkpoint(self, installation: Installation) -> None:
        """The period is the seq range stamped inside it; proofs verify against a checkpoint
        that covers the export's own entry; consistency starts at the checkpoint of Sep 1."""
        clock = FixedClock(START)
        signer = Signer.generate("t")
        fill(installation, clock, signer)
        sealed = seal(installation, signer, clock)
        p = sealed.period
        # Sep 1-9 hold entries 70..159, and the export's own entry (160) falls in the period too.
        assert (p.prior_seq, p.first_seq, p.last_seq) == (69, 70, 160)
        cp = Checkpoint.parse(open_note(sealed.checkpoint_note, signer.verifier))
        assert cp.size == 161
        for which in ("first", "last"):
            proof = InclusionProof.from_json(sealed.proofs["inclusion"][which])
            assert proof.root == cp.root
            proof.verify()
        consistency = sealed.proofs["consistency"]
        old = Checkpoint.parse(open_note(consistency["from_checkpoint"], signer.verifier))
        assert old.size == 70  # signed at Sep 1 00:00, before that day's entries
        ConsistencyProof.from_json(consistency["proof"]).verify()
        with installation.engine.connect() as conn:
            last = list(AuditLog().entries(conn, since=160))
        assert [e.action for e in last] == [EXPORT_ACTION]
        assert dict(last[0].details)["from"] == "2026-09-01"

    def test_no_checkpoint_before_the_period(self, installation: Installation) -> None:
        """Without a checkpoint signed before the period there is no consistency proof, and
        the proofs say why."""
        clock = FixedClock(START)
        signer = Signer.generate("t")
        fill(installation, clock, None)
        sealed = seal(installation, signer, clock)
        assert sealed.proofs["consistency"] is None
        assert "no checkpoint" in sealed.proofs["consistency_note"]

    def test_denied_authorization_stops_before_any_entry(self, installation: Installation) -> None:
        """The authorization hook runs first: when it raises, nothing is appended."""
        clock = FixedClock(START)

        class No(Exception):
            pass

        def refuse(conn: object) -> None:
            raise No

        try:
            with installation.engine.begin() as conn:
                seal_period(
                    conn,
                    log_origin="o",
                    timezone="UTC",
                    request=SealRequest(date(2026, 9, 1), date(2026, 9, 30), None, "x"),
                    bounds=(START, END),
                    signer=Signer.generate("t"),
                    clock=clock,
                    authorize=refuse,
                )
        except No:
            pass
        with installation.engine.connect() as conn:
            assert AuditLog().head(conn).size == 0


class TestPeriodBounds:
    def test_dates_are_local_days(self) -> None:
        """A period is whole days in the installation's timezone, as UTC instants."""
        lo, hi = period_bounds(date(2026, 3, 1), date(2026, 3, 31), ZoneInfo("Europe/Amsterdam"))
        assert lo == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
        assert hi == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # after the DST change

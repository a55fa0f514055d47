"""A seeded installation for the evidence pack tests: subjects with personal data, consents, holds,
and an audit log with retention actions and reads before, during and after an export period."""

from __future__ import annotations

import random
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from faker import Faker
from sqlalchemy import insert

from audit_log import AuditLog, Event, Outcome, Signer, append_witness
from retention.config import load_config
from retention.evidence import ExportRequest, PolicyTexts, export_pack, load_signer
from retention.install import MARKER, Installation
from retention.store import Candidate, Consent, LegalHold, connect
from retention.testing import DatabaseFactory, FixedClock

PERIOD = (date(2026, 9, 1), date(2026, 10, 31))
EXPORT_AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICY_HASH = "ab" * 32
COUNTRIES = ("NL", "DE", "FR")
POLICIES = PolicyTexts(
    set_hash=POLICY_HASH,
    files=(
        ("eu.policy", 'policy EU "European Union baseline"\n  rule default\n    keep\n'),
        ("nl.policy", 'policy NL extends EU "Netherlands"\n  rule closed\n    then delete\n'),
    ),
)


@dataclass
class Seeded:
    signer: Signer
    personal: list[str]
    subjects: list[uuid.UUID]
    actions_in_period: int


def install_key(installation: Installation) -> Signer:
    signer = Signer.generate("gdpr-test-log")
    path = installation.config.signing_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(signer) + "\n")
    path.chmod(0o600)
    return signer


def seed(installation: Installation, *, subjects: int = 12, seed_value: int = 7) -> Seeded:
    """Subjects, consents and a hold in the database; audit entries from August to November."""
    fake = Faker("nl_NL")
    Faker.seed(seed_value)
    rnd = random.Random(seed_value)
    signer = install_key(installation)
    ids = [uuid.uuid4() for _ in range(subjects)]
    personal: list[str] = []
    cands, consents = [], []
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    for i, sid in enumerate(ids):
        first, last = fake.first_name(), fake.last_name()
        email, phone, city = fake.unique.email(), fake.phone_number(), fake.city()
        notes = f"Spoke with {first} about the role in {city}"
        personal += [first + " " + last, email, phone, notes]
        cands.append(
            {
                "id": sid,
                "external_ref": f"ATS-{i:04d}",
                "country": COUNTRIES[i % 3],
                "status": "rejected",
                "first_name": first,
                "last_name": last,
                "email": email,
                "phone": phone,
                "city": city,
                "notes": notes,
                "applied_at": t0,
                "decided_at": t0 + timedelta(days=10),
                "last_activity_at": t0 + timedelta(days=10),
                "created_at": t0,
                "updated_at": t0,
            }
        )
        consents.append(
            {
                "candidate_id": sid,
                "purpose": "talent_pool",
                "notice_version": "v1",
                "channel": "web",
                "given_at": datetime(2026, 9, 5 + i, tzinfo=UTC),
                "expires_at": datetime(2027, 9, 5, tzinfo=UTC),
                "withdrawn_at": datetime(2026, 10, 2, tzinfo=UTC) if i % 4 == 0 else None,
            }
        )
    with installation.engine.begin() as conn:
        conn.execute(insert(Candidate.__table__), cands)  # type: ignore[attr-defined]
        conn.execute(insert(Consent.__table__), consents)  # type: ignore[attr-defined]
        conn.execute(
            insert(LegalHold.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": uuid.uuid4(),
                    "subject_id": ids[0],
                    "case_ref": "LIT-2026-014",
                    "reason": f"Claim filed by {personal[0]}",
                    "placed_by": "dpo",
                    "placed_at": datetime(2026, 8, 20, tzinfo=UTC),
                }
            ],
        )
    clock = FixedClock(datetime(2026, 8, 1, 9, 0, tzinfo=UTC))
    log = AuditLog(clock)
    actions_in_period = 0
    day = clock.now
    run_id = uuid.uuid4()
    while day < datetime(2026, 11, 20, tzinfo=UTC):
        events = []
        for _ in range(rnd.randint(1, 4)):
            sid = rnd.choice(ids)
            country = COUNTRIES[ids.index(sid) % 3]
            kind = rnd.choice(["read", "read", "denied", "anonymize", "delete", "block", "review"])
            if kind == "read":
                events.append(
                    Event("recruiter-nl", "candidate.read", sid, details={"country": country})
                )
            elif kind == "denied":
                events.append(
                    Event("recruiter-de", "candidate.read", sid, Outcome.DENIED, "not granted")
                )
            else:
                # As the sweep writes them (policy, rule, cite, hash, run), some naming a country.
                details = {
                    "policy": country,
                    "rule": f"closed-{kind}",
                    "policy_hash": POLICY_HASH,
                    "cite": 'AP guidance, "Sollicitatiecode", art. 5',
                    "run": str(run_id),
                    **({"country": country} if rnd.random() < 0.5 else {}),
                }
                outcome = Outcome.ERROR if rnd.random() < 0.1 else Outcome.OK
                events.append(
                    Event("scheduler", f"candidate.{kind}", sid, outcome, details=details)
                )
                if datetime(2026, 9, 1, tzinfo=UTC) <= day < datetime(2026, 11, 1, tzinfo=UTC):
                    actions_in_period += 1
        with installation.engine.begin() as conn:
            log.append(conn, events)
            if day.day in (1, 15):
                _, note = log.sign_checkpoint(conn, signer, installation.config.log_origin)
                append_witness(installation.config.witness_file, note)
        day = clock.advance(timedelta(days=1))
    return Seeded(signer, personal, ids, actions_in_period)


def export(installation: Installation, out: Path, **kw: object) -> Path:
    request = ExportRequest(PERIOD[0], PERIOD[1], out, actor="dpo", **kw)  # type: ignore[arg-type]
    result = export_pack(
        installation,
        request,
        signer=load_signer(installation),
        policies=POLICIES,
        clock=FixedClock(EXPORT_AT),
    )
    return result.path


def build_pristine(db_factory: DatabaseFactory, root: Path) -> tuple[Path, Signer]:
    """A seeded installation under `root` and its exported pack (path, signer)."""
    data_dir = root / "data"
    for sub in ("documents", "keys", "witness"):
        (data_dir / sub).mkdir(parents=True)
    (data_dir / MARKER).write_text("test installation\n")
    engine = connect(db_factory.migrated())
    try:
        cfg = load_config(data_dir, engine.url.render_as_string(hide_password=False), env={})
        installation = Installation(cfg, engine)
        seeded = seed(installation)
        return export(installation, root / "out"), seeded.signer
    finally:
        engine.dispose()


def flip_byte(path: Path, at: int | None = None) -> None:
    """Change one byte of `path` (the middle one unless `at`), as a careless or hostile edit would."""
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if at is None else at
    # Keep it printable ASCII so parsers see a plausible file, not a decoding error.
    data[i] = ord("A") if data[i] != ord("A") else ord("B")
    path.write_bytes(bytes(data))


def copy_pack(pristine: Path, into: Path) -> Path:
    """A private copy of a pack that a test may edit."""
    target = into / pristine.name
    shutil.copytree(pristine, target)
    return target


# Every file an export of the seeded world writes (policies: the EU and NL packs in force).
PACK_FILES: tuple[str, ...] = (
    "VERIFY.md",
    "access.csv",
    "audit-log.jsonl",
    "checkpoint.txt",
    "consent-renewals.csv",
    "consents.csv",
    "holds.csv",
    "manifest.json",
    "manifest.sig",
    "policies/eu.policy",
    "policies/index.json",
    "policies/nl.policy",
    "propagation.csv",
    "proofs.json",
    "report.html",
    "requests.csv",
    "retention-actions.csv",
    "reviews.csv",
    "verifier-key.txt",
)

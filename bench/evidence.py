"""Evidence pack export and offline verification of a period of N audit entries (default 1,000,000).

Builds a throwaway SQLite installation (or uses --pg), appends N entries (reads and retention
actions) stamped inside one month, then measures side by side in one process, medians of --runs:
- `gdpr evidence export` of that month (without its self-check);
- `gdpr evidence verify` of the pack (offline, with --key);
- `sha256sum` of the pack's audit-log.jsonl, the raw cost of reading and hashing the same bytes
  once on this machine, and the ratio verify / sha256sum (the aim is <= 2).

Usage: python bench/evidence.py [--entries 1000000] [--runs 3] [--pg URL]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit_log import AuditLog, Event, Outcome
from retention.audit import log as auditing
from retention.config import load_config
from retention.evidence import ExportRequest, export_pack, load_signer, verify_pack
from retention.install import initialize
from retention.testing import DatabaseFactory, FixedClock

MONTH = (date(2026, 9, 1), date(2026, 9, 30))


def fill(installation: object, entries: int, batch: int = 20_000) -> None:
    rnd = random.Random(1)
    subjects = [uuid.uuid4() for _ in range(5000)]
    start = datetime(2026, 9, 1, tzinfo=UTC)
    step = timedelta(seconds=29 * 86400 / max(entries, 1) * batch)
    clock = FixedClock(start + timedelta(hours=1))
    log = AuditLog(clock)
    run_id = str(uuid.uuid4())
    done = 0
    t0 = time.perf_counter()
    while done < entries:
        events = []
        for _ in range(min(batch, entries - done)):
            sid = rnd.choice(subjects)
            if rnd.random() < 0.8:
                events.append(
                    Event(
                        "0b3c3a4e-7f43-4a53-9e0f-1d2a4b7c8e9f",
                        "candidate.read",
                        sid,
                        details={"country": "NL", "allowed_by": run_id},
                    )
                )
            else:
                action = rnd.choice(["anonymize", "delete", "block", "review"])
                events.append(
                    Event(
                        "scheduler",
                        f"candidate.{action}",
                        sid,
                        Outcome.OK,
                        details={
                            "rule": "closed-application",
                            "policy_hash": "ab" * 32,
                            "cite": "AP guidance on applicant data",
                            "run_id": run_id,
                            "country": rnd.choice(["NL", "DE", "FR"]),
                        },
                    )
                )
        with installation.engine.begin() as conn:  # type: ignore[attr-defined]
            log.append(conn, events)
        done += len(events)
        clock.advance(step)
        print(
            f"\r  filled {done:,} entries ({time.perf_counter() - t0:.0f} s)",
            end="",
            file=sys.stderr,
        )
    print(file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pg", help="PostgreSQL server URL (a database is created and dropped)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp:
        root = Path(tmp)
        factory = DatabaseFactory(root, args.pg) if args.pg else None
        url = factory.empty() if factory else None
        config = load_config(root / "data", url, env={})
        installation, _ = initialize(config, steps=[auditing.create_signing_key])
        try:
            fill(installation, args.entries)
            signer = load_signer(installation)
            key = str(signer.verifier)
            exports, verifies, sums = [], [], []
            pack = None
            result = None
            for run in range(args.runs):
                request = ExportRequest(MONTH[0], MONTH[1], root / f"out{run}", actor="bench")
                t = time.perf_counter()
                result = export_pack(installation, request, signer=signer, verify=False)
                exports.append(time.perf_counter() - t)
                if pack is not None:
                    shutil.rmtree(pack.parent)
                pack = result.path
                t = time.perf_counter()
                report = verify_pack(pack, key)
                verifies.append(time.perf_counter() - t)
                assert report.ok, report.summary()
                t = time.perf_counter()
                cmd = ["sha256sum", str(pack / "audit-log.jsonl")]
                subprocess.run(cmd, check=True, capture_output=True)
                sums.append(time.perf_counter() - t)
            assert pack is not None
            size = (pack / "audit-log.jsonl").stat().st_size
            entries = result.period.entries  # type: ignore[union-attr]
            e, v, s = (statistics.median(x) for x in (exports, verifies, sums))
            backend = "postgresql" if args.pg else "sqlite"
            print(
                f"evidence pack of {entries:,} entries ({size / 1e6:.0f} MB audit-log.jsonl), "
                f"{backend}, median of {args.runs} runs"
            )
            print(f"  export:            {e:7.2f} s  ({entries / e:,.0f} entries/s)")
            print(f"  verify (offline):  {v:7.2f} s  ({entries / v:,.0f} entries/s)")
            print(f"  sha256sum of log:  {s:7.2f} s  ({size / s / 1e6:,.0f} MB/s)")
            print(f"  verify / sha256sum = {v / s:.2f}  (aim <= 2)")
        finally:
            installation.engine.dispose()
            if factory:
                factory.close()


if __name__ == "__main__":
    main()

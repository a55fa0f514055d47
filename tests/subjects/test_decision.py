"""`gdpr policy explain`: the decision trace on one stored subject, read through the gateway."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from sqlalchemy import select

from retention.store import Candidate, connect
from tests.cli_support import gdpr, init_as_dpo

AT = "2026-11-22T00:00:00Z"


def _site(tmp_path: Path, env: dict[str, str | None]) -> tuple[Path, uuid.UUID]:
    data = tmp_path / "inst"
    init_as_dpo(env, data)
    assert gdpr(env, "--data-dir", str(data), "demo", "seed", "--candidates", "60")[0] == 0
    url = env.get("GDPR_DATABASE_URL") or f"sqlite:///{data}/gdpr.sqlite3"
    engine = connect(url)
    with engine.connect() as conn:
        subject = conn.execute(
            select(Candidate.id)
            .where(Candidate.status == "rejected", Candidate.country == "NL")
            .limit(1)
        ).scalar_one()
    engine.dispose()
    return data, subject


class TestPolicyExplain:
    def test_trace_names_rules_and_is_audited(
        self, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """The trace walks the NL rules to closed-application, and the read is an audit entry."""
        data, subject = _site(tmp_path, database_env)
        code, out, err = gdpr(
            database_env, "--data-dir", str(data), "policy", "explain", str(subject),
            "--at", AT, "--json",
        )  # fmt: skip
        assert (code, err) == (0, "")
        result = json.loads(out)
        assert result["outcome"]["policy"] == "NL"
        assert result["outcome"]["rule"] in ("closed-application", "talent-pool")
        assert result["trace"][1] == "country NL: policy NL (NL -> EU)"
        assert any(re.match(r"  rule in-process: when status in \(in_process\) does not match", line)
                   for line in result["trace"])  # fmt: skip
        _, shown, _ = gdpr(database_env, "--data-dir", str(data), "audit", "show",
                           "--subject", str(subject), "--json")  # fmt: skip
        entry = json.loads(shown)[-1]
        assert (entry["action"], entry["outcome"]) == ("policy.explain", "ok")

    def test_unknown_subject_is_refused_without_data(
        self, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """An unknown UUID gives one line and no trace."""
        data, _ = _site(tmp_path, database_env)
        code, out, err = gdpr(
            database_env, "--data-dir", str(data), "policy", "explain", str(uuid.uuid4())
        )
        assert code in (1, 2)
        assert out == ""
        assert err.startswith("Error: ") and err.count("\n") == 1

    def test_explain_instant_is_validated(
        self, tmp_path: Path, database_env: dict[str, str | None]
    ) -> None:
        """A malformed --at is bad input (exit 2), not a traceback."""
        data, subject = _site(tmp_path, database_env)
        code, out, err = gdpr(
            database_env, "--data-dir", str(data), "policy", "explain", str(subject),
            "--at", "yesterday",
        )  # fmt: skip
        assert (code, out) == (2, "")
        assert "--at" in err

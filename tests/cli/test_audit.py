"""`gdpr audit ...` and `gdpr db harden` through the real entry point: output, JSON, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select, text

from audit_log import AuditLog, ConsistencyProof, Event, InclusionProof, Verifier, open_note
from retention.store import Principal, connect
from retention.testing import DatabaseFactory
from tests.cli_support import Gdpr, Run, init_tokens

SUBJECT = UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
# `gdpr init` records its bootstrap (principal.create and access.grant for admin and dpo).
INIT = 4
SIZE = INIT + 40


def gdpr(data: Path, env: dict[str, str], *args: str) -> Run:
    """`gdpr --data-dir DATA ARGS` in exactly the environment `env` (token included)."""
    return Gdpr(data, env)(*args)


def _site(tmp_path: Path, db_factory: DatabaseFactory) -> tuple[Path, dict[str, str]]:
    env = {"GDPR_DATABASE_URL": db_factory.empty()}
    data = tmp_path / "data"
    # The audit commands need a token: the bootstrap DPO's holds audit:read and audit:verify.
    env["GDPR_TOKEN"] = init_tokens(env, data)["dpo"]
    engine = connect(env["GDPR_DATABASE_URL"])
    with engine.begin() as conn:
        assert AuditLog().head(conn).size == INIT
        AuditLog().append(conn, [Event("svc", "candidate.read", SUBJECT if i in (3, 30) else None)
                                 for i in range(40)])  # fmt: skip
    engine.dispose()
    return data, env


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, db_factory: DatabaseFactory
) -> tuple[Path, dict[str, str]]:
    """An installation made by `gdpr init` plus 40 entries, two of them about SUBJECT.

    Shared by the read-only tests of this module (an init costs seconds); only checkpoint adds.
    """
    return _site(tmp_path_factory.mktemp("site"), db_factory)


class TestAuditCommands:
    def test_checkpoint_pubkey_verify(self, site: tuple[Path, dict[str, str]]) -> None:
        """A printed checkpoint opens with the printed key; verify then passes with exit 0."""
        data, env = site
        note = json.loads(gdpr(data, env, "audit", "checkpoint", "--json").out)["note"]
        key = gdpr(data, env, "audit", "pubkey").out.strip()
        assert open_note(note, Verifier.from_string(key)).splitlines()[1] == str(SIZE)
        done = gdpr(data, env, "audit", "verify")
        assert done.code == 0, done.err
        assert done.out == f"OK: {SIZE} entries, 1 signed and 1 witnessed checkpoints verified\n"

    def test_proofs_json(self, site: tuple[Path, dict[str, str]]) -> None:
        """Proof commands print the documented JSON, which verifies offline."""
        data, env = site
        inc = json.loads(gdpr(data, env, "audit", "proof", "7", "--size", "30", "--json").out)
        assert set(inc) == {"leaf_index", "tree_size", "leaf_hash", "hashes", "root"}
        InclusionProof.from_json(inc).verify()
        con = json.loads(gdpr(data, env, "audit", "consistency", "--from", "13", "--json").out)
        assert (con["size1"], con["size2"]) == (13, SIZE)
        ConsistencyProof.from_json(con).verify()

    def test_show_by_subject(self, site: tuple[Path, dict[str, str]]) -> None:
        """`show --subject` lists only that subject's entries, as a JSON array."""
        data, env = site
        out = gdpr(data, env, "audit", "show", "--subject", str(SUBJECT), "--json")
        assert [e["seq"] for e in json.loads(out.out)] == [INIT + 3, INIT + 30]
        since = str(SIZE - 2)
        text_out = gdpr(data, env, "audit", "show", "--since", since).out.splitlines()
        assert len(text_out) == 2 and text_out[0].split()[0] == since

    def test_show_text_names_actors(self, tmp_path: Path, db_factory: DatabaseFactory) -> None:
        """Text names a principal acting by UUID; JSON keeps the UUID; other actors stay as is."""
        data, env = _site(tmp_path, db_factory)
        engine = connect(env["GDPR_DATABASE_URL"])
        t = Principal.__table__
        with engine.begin() as conn:
            dpo = conn.execute(select(t.c.id).where(t.c.name == "dpo")).scalar_one()
            AuditLog().append(conn, [Event(str(dpo), "candidate.read", SUBJECT)])
        engine.dispose()
        since = str(SIZE)
        text = gdpr(data, env, "audit", "show", "--since", str(SIZE - 1)).out.splitlines()
        assert [line.split()[3] for line in text] == ["svc", "dpo"]
        out = gdpr(data, env, "audit", "show", "--since", since, "--json").out
        assert [e["actor"] for e in json.loads(out)] == [str(dpo)]

    def test_bad_proof_request(self, site: tuple[Path, dict[str, str]]) -> None:
        """A proof beyond the log is one line on stderr and exit 2."""
        data, env = site
        done = gdpr(data, env, "audit", "proof", "99", "--json")
        assert done.code == 2
        assert done.err == f"Error: entry 99 is not within a tree of {SIZE} entries\n"

    def test_verify_failure_exit_1(self, tmp_path: Path, db_factory: DatabaseFactory) -> None:
        """Verification of a damaged log prints the JSON report and exits 1 naming the seq."""
        data, env = _site(tmp_path, db_factory)
        gdpr(data, env, "audit", "checkpoint")
        engine = connect(env["GDPR_DATABASE_URL"])
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER audit_entry_no_delete")
            else:
                conn.exec_driver_sql("DROP TRIGGER audit_entry_no_change ON audit_entry")
            conn.execute(text("DELETE FROM audit_entry WHERE seq = 17"))
        engine.dispose()
        done = gdpr(data, env, "audit", "verify", "--json")
        assert done.code == 1
        assert json.loads(done.out)["problem"]["seq"] == 17
        assert done.err.startswith("Error: audit log verification failed: missing at seq 17")


class TestAuditNeedsToken:
    def test_show_without_token_is_refused(self, site: tuple[Path, dict[str, str]]) -> None:
        """Reading the audit log needs audit:read: without a token it is refused, exit 2."""
        data, env = site
        anonymous = {k: v for k, v in env.items() if k != "GDPR_TOKEN"}
        done = gdpr(data, anonymous, "audit", "show")
        assert done.code == 2
        assert done.out == ""
        assert "GDPR_TOKEN" in done.err

    def test_pubkey_needs_no_token(self, site: tuple[Path, dict[str, str]]) -> None:
        """The verifier key is public: it is printed without a token."""
        data, env = site
        anonymous = {k: v for k, v in env.items() if k != "GDPR_TOKEN"}
        done = gdpr(data, anonymous, "audit", "pubkey")
        assert done.code == 0
        assert done.out.startswith("gdpr-compliance-engine/audit+")

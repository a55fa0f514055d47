"""The access commands through the real entry point: exit codes, exact one-line errors, audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retention.testing import DatabaseFactory, FixedClock
from tests.access_support import World, audit_count, audit_rows, snapshot
from tests.cli_support import Gdpr, Run


@pytest.fixture
def clock() -> FixedClock:
    """The CLI runs on the real clock: the world is built "now" so its grants are in force."""
    return FixedClock(datetime.now(UTC))


def gdpr(world: World, *args: str, token: str | None = None, stdin: str | None = None) -> Run:
    """Run `gdpr --data-dir DIR ARGS` against the world's installation."""
    return Gdpr.of(world.installation)(*args, token=token, stdin=stdin)


def enroll(world: World, code: str) -> str:
    """Redeem an enrollment code through `gdpr principal enroll` (code on stdin); the token."""
    run = gdpr(world, "principal", "enroll", "--json", stdin=code + "\n")
    assert run.code == 0, run.err
    return str(json.loads(run.out)["token"])


def assert_one_line(run: Run, code: int, message: str) -> None:
    assert (run.code, run.err, run.out) == (code, f"Error: {message}\n", "")


class TestAuthentication:
    def test_missing_token_is_usage_error_and_audited(self, world: World) -> None:
        """No token: exit 2, one line, an anonymous auth.failed entry."""
        run = gdpr(world, "principal", "list")
        assert_one_line(run, 2, "no token: set GDPR_TOKEN or pass --token-file")
        entry = audit_rows(world.engine, action="auth.failed")[-1]
        assert (entry.actor, entry.outcome) == ("anonymous", "denied")

    @pytest.mark.parametrize(
        "token", ["garbage", "gdpr_' OR 1=1 --", "gdpr_" + "A" * 5000, "Bearer gdpr_x"]
    )
    def test_malformed_token(self, world: World, token: str) -> None:
        """A malformed token is exit 2 with the expected shape, and never echoed."""
        run = gdpr(world, "principal", "list", token=token)
        assert_one_line(run, 2, "malformed token: expected 'gdpr_' followed by 43 characters")
        assert token not in run.err

    def test_unknown_token_is_denied(self, world: World) -> None:
        """A well-formed unknown token: exit 1, audited anonymously, no token text in the log."""
        token = "gdpr_" + "B" * 43
        run = gdpr(world, "principal", "list", token=token)
        assert_one_line(run, 1, "authentication failed: unknown token")
        entry = audit_rows(world.engine, action="auth.failed")[-1]
        assert entry.actor == "anonymous" and token.encode() not in entry.canonical

    def test_revoked_token_is_denied(self, world: World) -> None:
        """After rotate-token the old token fails (audited with the principal id), the new works."""
        old = world.recruiter.token
        run = gdpr(world, "principal", "rotate-token", "rita", "--json", token=old)
        assert run.code == 0, run.err
        rotated = json.loads(run.out)
        assert "token" not in rotated and rotated["suspended_grants"] == []
        new = enroll(world, rotated["enrollment_code"])
        run = gdpr(world, "candidate", "show", str(world.nl), token=old)
        assert_one_line(run, 1, "authentication failed: revoked token")
        assert audit_rows(world.engine, action="auth.failed")[-1].actor == str(
            world.recruiter.principal_id
        )
        assert gdpr(world, "candidate", "show", str(world.nl), token=new).code == 0

    def test_disabled_principal_is_denied(self, world: World) -> None:
        """A disabled principal's token no longer authenticates."""
        run = gdpr(
            world, "principal", "disable", "rita", "--reason", "left", token=world.admin.token
        )
        assert run.code == 0, run.err
        run = gdpr(world, "candidate", "show", str(world.nl), token=world.recruiter.token)
        assert_one_line(run, 1, "authentication failed: disabled principal")

    def test_token_file_must_be_private(self, world: World, tmp_path: Path) -> None:
        """A group/other-readable token file is refused; a 0600 one works."""
        path = tmp_path / "token"
        path.write_text(world.recruiter.token + "\n")
        path.chmod(0o644)
        run = gdpr(world, "--token-file", str(path), "candidate", "show", str(world.nl))
        assert_one_line(
            run, 2, f"token file {path} is readable by group or others: run 'chmod 600 {path}'"
        )
        path.chmod(0o600)
        run = gdpr(world, "--token-file", str(path), "candidate", "show", str(world.nl))
        assert run.code == 0, run.err

    def test_missing_token_file(self, world: World, tmp_path: Path) -> None:
        """A token file that does not exist is one line, exit 2."""
        path = tmp_path / "none"
        run = gdpr(world, "--token-file", str(path), "principal", "list")
        assert_one_line(run, 2, f"cannot read token file {path} (No such file or directory)")


class TestCandidateCommands:
    def test_recruiter_reads_in_country(self, world: World) -> None:
        """A NL recruiter sees a NL candidate (JSON), after the read is on the record."""
        run = gdpr(world, "candidate", "show", str(world.nl), "--json", token=world.recruiter.token)
        assert run.code == 0, run.err
        assert json.loads(run.out)["country"] == "NL"

    def test_recruiter_outside_country_is_denied_without_data(self, world: World) -> None:
        """Reading a DE candidate as a NL recruiter: exit 1, one line, nothing on stdout."""
        run = gdpr(world, "candidate", "show", str(world.de), token=world.recruiter.token)
        assert_one_line(
            run,
            1,
            f"access denied: candidate:read on subject {world.de}: grant "
            f"{world.recruiter_grant} (recruiter) covers NL, not DE",
        )
        assert audit_rows(world.engine, subject=world.de)[-1].outcome == "denied"

    def test_admin_reading_personal_data_is_denied(self, world: World) -> None:
        """An admin cannot read a candidate."""
        run = gdpr(world, "candidate", "show", str(world.nl), token=world.admin.token)
        assert_one_line(
            run,
            1,
            f"access denied: candidate:read on subject {world.nl}: no grant gives candidate:read",
        )

    def test_find_export_update_erase(self, world: World, tmp_path: Path) -> None:
        """The DPO finds, exports, updates and erases a subject; each step exits 0."""
        dpo = world.dpo.token
        shown = json.loads(gdpr(world, "candidate", "show", str(world.nl), "--json", token=dpo).out)
        found = gdpr(world, "candidate", "find", "--email", shown["email"], "--json", token=dpo)
        assert [d["id"] for d in json.loads(found.out)] == [str(world.nl)]
        out = tmp_path / "x.json"
        run = gdpr(world, "candidate", "export", str(world.nl), "--out", str(out), token=dpo)
        assert run.code == 0 and out.exists() and "sha256" in run.out
        run = gdpr(world, "candidate", "update", str(world.nl), "--city", "Delft", token=dpo)
        assert run.out == f"Updated city of {world.nl}.\n"
        run = gdpr(world, "candidate", "erase", str(world.nl), "--reason", "DSR-3", token=dpo)
        assert run.code == 0 and run.out.startswith(f"Erased {world.nl}: 1 applications")
        run = gdpr(world, "candidate", "show", str(world.nl), token=dpo)
        assert_one_line(run, 2, f"no subject {world.nl}")

    def test_export_to_standard_output(
        self, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """--out - writes the JSON document to standard output and no file named '-'."""
        monkeypatch.chdir(tmp_path)
        run = gdpr(world, "candidate", "export", str(world.nl), "--out", "-", token=world.dpo.token)
        assert run.code == 0, run.err
        assert json.loads(run.out)["subject"]["id"] == str(world.nl)
        assert not (tmp_path / "-").exists()

    def test_find_needs_exactly_one_key(self, world: World) -> None:
        """find without --email or --external-ref is a usage error (exit 2)."""
        run = gdpr(world, "candidate", "find", token=world.recruiter.token)
        assert run.code == 2 and "give exactly one of --email or --external-ref" in run.err


ATTACKS = [
    "x'; DROP TABLE candidate; --",
    '" OR 1=1 --',
    "A" * 100_000,
    "%00\\'",
    "../../etc/passwd",
]


class TestBadInputEverywhere:
    @pytest.mark.parametrize("value", ATTACKS)
    def test_every_argument(self, world: World, value: str) -> None:
        """SQL metacharacters and very long strings give one line, exit 2, and change nothing."""
        before = snapshot(world.engine)
        admin, rec, dpo = world.admin.token, world.recruiter.token, world.dpo.token
        nl = str(world.nl)
        commands = [
            (admin, ["principal", "create", value, "--kind", "human"]),
            (admin, ["principal", "disable", value, "--reason", "x"]),
            (admin, ["principal", "rotate-token", value]),
            (
                admin,
                [
                    "access",
                    "grant",
                    value,
                    "--role",
                    "recruiter",
                    "--country",
                    "NL",
                    "--expires",
                    "1d",
                    "--reason",
                    "x",
                ],
            ),
            (
                admin,
                [
                    "access",
                    "grant",
                    "rita",
                    "--role",
                    value,
                    "--country",
                    "NL",
                    "--expires",
                    "1d",
                    "--reason",
                    "x",
                ],
            ),
            (
                admin,
                [
                    "access",
                    "grant",
                    "rita",
                    "--role",
                    "recruiter",
                    "--country",
                    value,
                    "--expires",
                    "1d",
                    "--reason",
                    "x",
                ],
            ),
            (
                admin,
                [
                    "access",
                    "grant",
                    "rita",
                    "--role",
                    "recruiter",
                    "--country",
                    "NL",
                    "--expires",
                    value,
                    "--reason",
                    "x",
                ],
            ),
            (admin, ["access", "revoke", value, "--reason", "x"]),
            (dpo, ["access", "approve", value]),
            (admin, ["access", "list", "--principal", value]),
            (admin, ["access", "check", value, "candidate:read"]),
            (admin, ["access", "check", "rita", value]),
            (admin, ["access", "check", "rita", "candidate:read", "--country", value]),
            (rec, ["candidate", "show", value]),
            (rec, ["candidate", "find", "--email", value]),
            (rec, ["candidate", "export", value, "--out", "/tmp/never.json"]),
            (rec, ["candidate", "update", value, "--city", "x"]),
            (dpo, ["candidate", "erase", value, "--reason", "x"]),
            (
                rec,
                [
                    "consent",
                    "record",
                    value,
                    "--purpose",
                    "talent_pool",
                    "--notice",
                    "v1",
                    "--channel",
                    "web",
                ],
            ),
            (
                rec,
                ["consent", "record", nl, "--purpose", value, "--notice", "v1", "--channel", "web"],
            ),
            (
                rec,
                [
                    "consent",
                    "record",
                    nl,
                    "--purpose",
                    "talent_pool",
                    "--notice",
                    value,
                    "--channel",
                    "web",
                ],
            ),
            (
                rec,
                [
                    "consent",
                    "record",
                    nl,
                    "--purpose",
                    "talent_pool",
                    "--notice",
                    "v1",
                    "--channel",
                    "web",
                    "--expires",
                    value,
                ],
            ),
            (rec, ["consent", "withdraw", nl, "--purpose", value]),
            (rec, ["consent", "list", value]),
        ]
        if len(value) > 1000:
            commands += [
                (
                    admin,
                    [
                        "access",
                        "grant",
                        "rita",
                        "--role",
                        "recruiter",
                        "--country",
                        "NL",
                        "--expires",
                        "1d",
                        "--reason",
                        value,
                    ],
                ),
                (
                    rec,
                    [
                        "consent",
                        "record",
                        nl,
                        "--purpose",
                        "talent_pool",
                        "--notice",
                        "v1",
                        "--channel",
                        value,
                    ],
                ),
                (rec, ["candidate", "update", nl, "--city", value]),
                (rec, ["candidate", "show", nl, "--reason", value]),
            ]
        for token, args in commands:
            run = gdpr(world, *args, token=token)
            assert run.code == 2, (args[:2], run.err)
            assert run.err.startswith("Error: ") and run.err.count("\n") == 1, run.err
            assert "Traceback" not in run.err and len(run.err) < 400
        assert snapshot(world.engine) == before


class TestAccessCommands:
    def test_grant_check_approve_review(self, world: World) -> None:
        """A dpo grant is pending (check exit 1), approved by the DPO (check exit 0), reviewed."""
        admin, dpo = world.admin.token, world.dpo.token
        run = gdpr(
            world,
            "access",
            "grant",
            "rita",
            "--role",
            "dpo",
            "--country",
            "*",
            "--expires",
            "30d",
            "--reason",
            "holiday cover",
            "--json",
            token=admin,
        )
        grant = json.loads(run.out)
        assert grant["status"] == "pending"
        check = gdpr(
            world, "access", "check", "rita", "candidate:erase", "--country", "DE", token=admin
        )
        assert check.code == 1 and check.out.startswith("DENIED: ")
        run = gdpr(world, "access", "approve", grant["id"], token=admin)
        assert run.code == 1 and "access:approve" in run.err
        run = gdpr(world, "access", "approve", grant["id"], token=world.recruiter.token)
        assert run.code == 1
        run = gdpr(world, "access", "approve", grant["id"], token=dpo)
        assert run.out == f"Approved grant {grant['id']}: dpo is now active.\n"
        check = gdpr(
            world, "access", "check", "rita", "candidate:erase", "--country", "DE", token=admin
        )
        assert check.code == 0 and check.out.startswith("ALLOWED: allowed by grant")
        review = json.loads(gdpr(world, "access", "review", "--json", token=admin).out)
        privileged = {g["principal"]: g["approved_by"] for g in review["privileged"]}
        assert privileged["rita"] == "dpo"

    def test_self_grant_is_denied(self, world: World) -> None:
        """An admin granting to itself: exit 1, one line, audited."""
        run = gdpr(
            world,
            "access",
            "grant",
            "admin",
            "--role",
            "recruiter",
            "--country",
            "NL",
            "--expires",
            "1d",
            "--reason",
            "x",
            token=world.admin.token,
        )
        assert_one_line(run, 1, "access denied: nobody grants to themselves; ask another admin")

    @pytest.mark.parametrize(
        ("expires", "message"),
        [
            ("2001-01-01", "--expires is in the past: a grant must end in the future"),
            ("400d", "--expires is more than 365 days away: grant for less"),
        ],
    )
    def test_expiry_out_of_bounds(self, world: World, expires: str, message: str) -> None:
        """Expiry in the past or beyond 365 days: exit 2, one line."""
        before = audit_count(world.engine)
        run = gdpr(
            world,
            "access",
            "grant",
            "rita",
            "--role",
            "auditor",
            "--country",
            "NL",
            "--expires",
            expires,
            "--reason",
            "x",
            token=world.admin.token,
        )
        assert_one_line(run, 2, message)
        assert audit_count(world.engine) == before

    def test_recruiter_cannot_manage_access(self, world: World) -> None:
        """A recruiter creating a principal is denied (exit 1)."""
        run = gdpr(
            world, "principal", "create", "eve", "--kind", "human", token=world.recruiter.token
        )
        assert run.code == 1 and "access:manage" in run.err


class TestNoOnePrincipalAlone:
    """The three escalation paths of issue 13, part 1, through the real entry point."""

    def test_rotating_anothers_token_hands_over_nothing(self, world: World, tmp_path: Path) -> None:
        """Admin rotates the DPO's token: no token printed; redeeming the code reads nothing."""
        run = gdpr(world, "principal", "rotate-token", "dpo", "--json", token=world.admin.token)
        assert run.code == 0, run.err
        rotated = json.loads(run.out)
        assert "token" not in rotated and "gdpr_" not in run.out
        assert len(rotated["suspended_grants"]) == 1
        as_dpo = enroll(world, rotated["enrollment_code"])  # the admin redeems it himself
        run = gdpr(world, "candidate", "show", str(world.nl), token=as_dpo)
        assert run.code == 1 and "is pending approval" in run.err and run.out == ""
        out = tmp_path / "export.json"
        run = gdpr(world, "candidate", "export", str(world.nl), "--out", str(out), token=as_dpo)
        assert run.code == 1 and run.out == "" and not out.exists()

    def test_admin_made_principal_reads_nothing_alone(self, world: World) -> None:
        """Admin creates eve and grants her every country: pending, reads nothing until approved."""
        admin = world.admin.token
        run = gdpr(world, "principal", "create", "eve", "--kind", "human", "--json", token=admin)
        assert run.code == 0, run.err
        created = json.loads(run.out)
        assert "token" not in created and "gdpr_" not in run.out
        eve = enroll(world, created["enrollment_code"])
        run = gdpr(
            world,
            "access",
            "grant",
            "eve",
            "--role",
            "recruiter",
            "--country",
            "*",
            "--expires",
            "365d",
            "--reason",
            "cover",
            "--json",
            token=admin,
        )
        grant = json.loads(run.out)
        assert grant["status"] == "pending"
        run = gdpr(world, "candidate", "show", str(world.de), token=eve)
        assert run.code == 1 and "is pending approval" in run.err and run.out == ""
        assert gdpr(world, "access", "approve", grant["id"], token=world.dpo.token).code == 0
        assert gdpr(world, "candidate", "show", str(world.de), token=eve).code == 0

    def test_write_only_update_returns_field_names(self, world: World) -> None:
        """An integration principal's update prints the field names, no personal data."""
        admin = world.admin.token
        created = json.loads(
            gdpr(
                world, "principal", "create", "ats", "--kind", "service", "--json", token=admin
            ).out
        )
        bot = enroll(world, created["enrollment_code"])
        run = gdpr(
            world,
            "access",
            "grant",
            "ats",
            "--role",
            "integration",
            "--country",
            "NL",
            "--expires",
            "30d",
            "--reason",
            "ATS sync",
            "--json",
            token=admin,
        )
        gdpr(world, "access", "approve", json.loads(run.out)["id"], token=world.dpo.token)
        shown = json.loads(
            gdpr(world, "candidate", "show", str(world.nl), "--json", token=world.dpo.token).out
        )
        run = gdpr(
            world, "candidate", "update", str(world.nl), "--city", "Amsterdam", "--json", token=bot
        )
        assert run.code == 0, run.err
        assert json.loads(run.out) == {"id": str(world.nl), "updated": ["city"]}
        for value in (shown["email"], shown["phone"], shown["last_name"], "Amsterdam"):
            assert value not in run.out
        run = gdpr(world, "candidate", "show", str(world.nl), token=bot)
        assert run.code == 1

    def test_second_enrollment_fails_loudly(self, world: World) -> None:
        """A code redeemed twice: exit 1, one line, an alarm entry; the first token is revoked."""
        created = json.loads(
            gdpr(
                world, "principal", "create", "eve", "--kind", "human", "--json",
                token=world.admin.token,
            ).out
        )  # fmt: skip
        first = enroll(world, created["enrollment_code"])
        run = gdpr(world, "principal", "enroll", stdin=created["enrollment_code"] + "\n")
        assert run.code == 1
        assert run.err.endswith(
            "Error: enrollment failed: enrollment code already used; recorded as an alarm and "
            "the token it gave was revoked: ask for a new code\n"
        )
        assert run.out == "" and "enroll_" not in run.err
        entry = audit_rows(world.engine, action="principal.enroll")[-1]
        assert json.loads(entry.canonical)["details"]["alarm"] == "enrollment_code_reused"
        run = gdpr(world, "principal", "list", token=first)
        assert_one_line(run, 1, "authentication failed: revoked token")

    def test_enroll_from_a_private_code_file(self, world: World, tmp_path: Path) -> None:
        """--code-file must be private (like --token-file); a malformed code is exit 2."""
        created = json.loads(
            gdpr(
                world, "principal", "create", "eve", "--kind", "human", "--json",
                token=world.admin.token,
            ).out
        )  # fmt: skip
        path = tmp_path / "code"
        path.write_text(created["enrollment_code"])
        path.chmod(0o644)
        run = gdpr(world, "principal", "enroll", "--code-file", str(path))
        assert_one_line(run, 2, f"code file {path} is readable by group or others: chmod 600 it")
        path.chmod(0o600)
        run = gdpr(world, "principal", "enroll", "--code-file", str(path))
        assert run.code == 0 and run.out.startswith("Enrolled eve ("), run.err
        path.write_text("garbage")
        run = gdpr(world, "principal", "enroll", "--code-file", str(path))
        assert_one_line(
            run, 2, "malformed enrollment code: expected 'enroll_' followed by 43 characters"
        )

    def test_review_names_issuers_and_approvers_and_flags(self, world: World) -> None:
        """Per principal: credential issuer, grantor and approver; flagged unless three people."""
        admin, dpo = world.admin.token, world.dpo.token

        def grant(name: str, role: str, country: str, token: str) -> str:
            run = gdpr(
                world, "access", "grant", name, "--role", role, "--country", country,
                "--expires", "30d", "--reason", "x", "--json", token=token,
            )  # fmt: skip
            assert run.code == 0, run.err
            return str(json.loads(run.out)["id"])

        def create(name: str, token: str) -> str:
            run = gdpr(world, "principal", "create", name, "--kind", "human", "--json", token=token)
            return enroll(world, json.loads(run.out)["enrollment_code"])

        ada = create("ada", admin)
        gdpr(world, "access", "approve", grant("ada", "admin", "*", admin), token=dpo)
        create("eve", ada)  # issued by ada, granted by admin, approved by dpo: three people
        gdpr(world, "access", "approve", grant("eve", "recruiter", "NL", admin), token=dpo)
        review = json.loads(gdpr(world, "access", "review", "--json", token=dpo).out)
        by_name = {p["name"]: p for p in review["principals"]}
        eve = by_name["eve"]
        assert eve["credential_issued_by"] == ["ada"]
        assert [(g["granted_by"], g["approved_by"]) for g in eve["grants"]] == [("admin", "dpo")]
        assert eve["flags"] == []
        # rita: the admin issued her credential and granted her access (two people, not three).
        assert by_name["rita"]["credential_issued_by"] == ["admin"]
        assert (
            "granted by admin, approved by dpo, credential issued by admin"
            in (by_name["rita"]["flags"][0])
        )
        # The bootstrap principals: granted and issued by the installation, approved by nobody.
        assert by_name["dpo"]["credential_issued_by"] == ["gdpr init"]
        assert len(by_name["dpo"]["flags"]) == 1
        text = gdpr(world, "access", "review", token=dpo).out
        assert "  eve: credential issued by ada" in text
        assert "    recruiter NL active: granted by admin, approved by dpo" in text
        flagged = {p["name"] for p in review["principals"] if p["flags"]}
        assert flagged == {"admin", "dpo", "rita", "ada"}
        assert f"Not three different people (grantor, approver, issuer): {len(flagged)}" in text


class TestConsentCommands:
    def test_record_list_withdraw(self, world: World) -> None:
        """A recruiter records, lists and withdraws a consent; each is audited with the notice."""
        rec, nl = world.recruiter.token, str(world.nl)
        run = gdpr(
            world,
            "consent",
            "record",
            nl,
            "--purpose",
            "talent_pool",
            "--notice",
            "2026-03",
            "--channel",
            "web form",
            "--expires",
            "24m",
            "--json",
            token=rec,
        )
        assert run.code == 0, run.err
        assert json.loads(run.out)["notice_version"] == "2026-03"
        entry = audit_rows(world.engine, action="consent.record")[-1]
        assert json.loads(entry.canonical)["details"]["notice_version"] == "2026-03"
        listed = json.loads(gdpr(world, "consent", "list", nl, "--json", token=rec).out)
        assert len(listed) == 2
        run = gdpr(world, "consent", "withdraw", nl, "--purpose", "talent_pool", token=rec)
        assert run.out == f"Withdrew 2 consent(s) of {nl} for talent_pool.\n"

    def test_record_outside_country_is_denied(self, world: World) -> None:
        """Recording consent for a DE subject as a NL recruiter: exit 1, audited, no row."""
        before = snapshot(world.engine)
        run = gdpr(
            world,
            "consent",
            "record",
            str(world.de),
            "--purpose",
            "talent_pool",
            "--notice",
            "v1",
            "--channel",
            "web",
            token=world.recruiter.token,
        )
        assert run.code == 1
        assert snapshot(world.engine) == before
        assert audit_rows(world.engine, subject=world.de)[-1].action == "consent.record"


class TestInit:
    def test_init_prints_two_working_tokens(
        self, tmp_path: Path, db_factory: DatabaseFactory
    ) -> None:
        """`gdpr init` bootstraps admin and dpo; both tokens authenticate."""
        url = db_factory.empty()
        data = tmp_path / "fresh"
        init = Gdpr(data, {"GDPR_DATABASE_URL": url})("init", "--json")
        assert init.code == 0, init.err
        principals = json.loads(init.out)["principals"]
        tokens = {p["name"]: p["token"] for p in principals if p["token"].startswith("gdpr_")}
        assert set(tokens) == {"admin", "dpo"}
        env = {"GDPR_DATABASE_URL": url, "GDPR_TOKEN": tokens["dpo"]}
        listed = Gdpr(data, env)("access", "list", "--json")
        assert listed.code == 0, listed.err
        grants = json.loads(listed.out)
        assert sorted((g["principal"], g["role"], g["countries"], g["reason"]) for g in grants) == [
            ("admin", "admin", "*", "bootstrap"),
            ("dpo", "dpo", "*", "bootstrap"),
        ]


def grant_args(country: str) -> list[str]:
    return [
        "access",
        "grant",
        "rita",
        "--role",
        "auditor",
        "--country",
        country,
        "--expires",
        "7d",
        "--reason",
        "audit prep",
    ]


class TestCountryOption:
    @pytest.mark.parametrize("country", ["XX", "NL,XX", "Germany"])
    def test_grant_refuses_uncovered_country(self, world: World, country: str) -> None:
        """`access grant --country XX`: exit 2, one line, nothing granted or audited."""
        before = audit_count(world.engine), snapshot(world.engine)
        run = gdpr(world, *grant_args(country), token=world.admin.token)
        assert run.code == 2 and run.out == "" and run.err.count("\n") == 1
        assert run.err.startswith("Error: --country must be '*' or ISO 3166-1 alpha-2 codes")
        # Authentication is audited only when it fails: the refusal leaves the log as it was.
        assert (audit_count(world.engine), snapshot(world.engine)) == before

    def test_grant_takes_aliases(self, world: World) -> None:
        """`--country UK,EL` grants GB and GR."""
        run = gdpr(world, *grant_args("UK,EL"), "--json", token=world.admin.token)
        assert run.code == 0, run.err
        assert json.loads(run.out)["countries"] == "GB,GR"

    def test_check_refuses_uncovered_country(self, world: World) -> None:
        """`access check --country XX`: exit 2 with the one country message, before any read."""
        before = audit_count(world.engine)
        run = gdpr(
            world,
            "access",
            "check",
            "rita",
            "candidate:read",
            "--country",
            "XX",
            token=world.admin.token,
        )
        assert_one_line(
            run,
            2,
            "--country: 'XX' is not a country code the engine covers: use an ISO 3166-1 "
            "alpha-2 code such as DE, NL, RO, GB ('gdpr policy check' lists the packs)",
        )
        assert audit_count(world.engine) == before

    def test_check_denied_prints_report_then_fails_through_main(self, world: World) -> None:
        """DENIED on stdout (JSON with the normalized code), one error line on stderr, exit 1."""
        run = gdpr(
            world,
            "access",
            "check",
            "rita",
            "candidate:read",
            "--country",
            "uk",
            "--json",
            token=world.admin.token,
        )
        assert run.code == 1
        data = json.loads(run.out)
        assert (data["country"], data["allowed"], data["grant"]) == ("GB", False, None)
        assert run.err == "Error: rita may not use candidate:read in GB\n"


class TestJsonConvention:
    def test_lists_are_arrays_with_rfc3339_instants(self, world: World) -> None:
        """`access list` and `principal list` print one array each; instants end in Z."""
        admin = world.admin.token
        grants = json.loads(gdpr(world, "access", "list", "--json", token=admin).out)
        assert isinstance(grants, list) and all(g["expires_at"].endswith("Z") for g in grants)
        people = json.loads(gdpr(world, "principal", "list", "--json", token=admin).out)
        assert isinstance(people, list)
        assert all(
            p["created_at"].endswith("Z") and "+00:00" not in p["created_at"] for p in people
        )

    def test_consent_json_instants(self, world: World) -> None:
        """A consent's given_at and a grant's created_at use the one instant format."""
        run = gdpr(world, "consent", "list", str(world.nl), "--json", token=world.recruiter.token)
        assert run.code == 0, run.err
        (row,) = json.loads(run.out)
        assert row["given_at"].endswith("Z") and row["withdrawn_at"] is None

"""`gdpr notice` and `gdpr consent receipt / verify-receipt / campaign run / report` as a user
runs them, against an installation with a real SMTP server on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from retention.install import Installation
from tests.access_support import World
from tests.cli_support import Gdpr
from tests.consent_support import (
    PUBLIC_URL,
    Inbox,
    add_pool_candidate,
    clock,
    inbox,
    world,
)

__all__ = ["clock", "inbox", "world"]


@pytest.fixture
def cli(world: World, inbox: tuple[Inbox, int]) -> Gdpr:
    cfg = world.installation.config
    (cfg.data_dir / "gdpr.toml").write_text(
        f"""
[mail]
host = "127.0.0.1"
port = {inbox[1]}
security = "none"
sender = "privacy@example.test"

[api]
public_url = "{PUBLIC_URL}"

[consent]
controller = "Example Recruiting B.V."
controller_email = "privacy@example.test"
storage_locations = ["EU (Frankfurt)"]
"""
    )
    return Gdpr.of(world.installation)


def notice_file(tmp_path: Path, text: str = "We keep your CV for 12 months.\n") -> Path:
    path = tmp_path / "notice.txt"
    path.write_text(text, encoding="utf-8")
    return path


class TestNotice:
    def test_add_list_show(self, cli: Gdpr, world: World, tmp_path: Path) -> None:
        path = notice_file(tmp_path, "Wij bewaren uw cv één jaar.\n")
        token = world.dpo.token
        added = cli(
            "notice",
            "add",
            "talent_pool",
            "--version",
            "2027-01",
            "--language",
            "nl",
            "--file",
            str(path),
            "--json",
            token=token,
        )
        assert added.code == 0, added.err
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert json.loads(added.out)["sha256"] == digest
        listed = cli("notice", "list", token=token)
        assert "talent_pool" in listed.out and digest in listed.out
        shown = cli(
            "notice",
            "show",
            "talent_pool",
            "--version",
            "2027-01",
            "--language",
            "nl",
            "--json",
            token=token,
        )
        assert json.loads(shown.out)["text"] == path.read_text(encoding="utf-8")
        again = cli(
            "notice",
            "add",
            "talent_pool",
            "--version",
            "2027-01",
            "--language",
            "nl",
            "--file",
            str(path),
            token=token,
        )
        assert again.code == 2 and "a new text needs a new --version" in again.err

    def test_recruiter_cannot_add(self, cli: Gdpr, world: World, tmp_path: Path) -> None:
        run = cli(
            "notice",
            "add",
            "talent_pool",
            "--version",
            "v1",
            "--language",
            "en",
            "--file",
            str(notice_file(tmp_path)),
            token=world.recruiter.token,
        )
        assert run.code == 1 and "policy:manage" in run.err


class TestReceipt:
    def test_receipt_verifies_offline_and_detects_tampering(
        self, cli: Gdpr, world: World, tmp_path: Path
    ) -> None:
        token = world.dpo.token
        cli(
            "notice",
            "add",
            "talent_pool",
            "--version",
            "2027-01",
            "--language",
            "en",
            "--file",
            str(notice_file(tmp_path)),
            token=token,
        )
        recorded = cli(
            "consent",
            "record",
            str(world.nl),
            "--purpose",
            "talent_pool",
            "--notice",
            "2027-01",
            "--channel",
            "web form",
            "--expires",
            "24m",
            "--json",
            token=token,
        )
        assert recorded.code == 0, recorded.err
        assert len(json.loads(recorded.out)["notice_hash"]) == 64
        out = tmp_path / "receipt.json"
        made = cli(
            "consent", "receipt", str(world.nl), "talent_pool", "--out", str(out), token=token
        )
        assert made.code == 0, made.err
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
        doc = json.loads(out.read_text())
        record, receipt = doc["record"], doc["receipt"]
        for key in (
            "recordId",
            "piiPrincipalId",
            "notice",
            "language",
            "purposes",
            "personalDataCategories",
            "controller",
            "storageLocations",
            "retention",
            "jurisdiction",
            "recipients",
            "withdrawalMethod",
            "events",
        ):
            assert key in record, key
        assert record["events"][-1] == {**record["events"][-1], "type": "given", "state": "active"}
        assert {"time", "validity", "type", "state"} <= set(record["events"][-1])
        assert receipt["version"] == "KI-CR-v1.1.0" and receipt["jurisdiction"] == "NL"
        assert receipt["piiControllers"][0]["piiController"] == "Example Recruiting B.V."
        key = world.installation.config.verifier_key_file
        ok = cli("consent", "verify-receipt", str(out), "--key", str(key))
        assert ok.code == 0 and "signature valid" in ok.out
        doc["record"]["jurisdiction"] = "DE"
        forged = tmp_path / "forged.json"
        forged.write_text(json.dumps(doc))
        bad = cli("consent", "verify-receipt", str(forged), "--key", str(key))
        assert bad.code == 1 and "differ from the signed ones" in bad.err

    def test_jws_verifies_with_a_plain_ed25519_library(
        self, cli: Gdpr, world: World, tmp_path: Path
    ) -> None:
        """The JWS is standard: header.payload signed with the JWK's Ed25519 key."""
        import base64

        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        token = world.dpo.token
        out = tmp_path / "r.json"
        assert (
            cli(
                "consent", "receipt", str(world.nl), "talent_pool", "--out", str(out), token=token
            ).code
            == 0
        )
        sig = json.loads(out.read_text())["signature"]

        def unb64(s: str) -> bytes:
            return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

        head, payload, signature = sig["jws"].split(".")
        key = Ed25519PublicKey.from_public_bytes(unb64(sig["jwk"]["x"]))
        key.verify(unb64(signature), f"{head}.{payload}".encode())
        assert json.loads(unb64(head))["alg"] == "EdDSA"


class TestCampaign:
    def test_dry_run_run_twice_and_report(
        self, cli: Gdpr, world: World, inbox: tuple[Inbox, int], tmp_path: Path
    ) -> None:
        token = world.dpo.token
        cli(
            "notice",
            "add",
            "talent_pool",
            "--version",
            "2027-01",
            "--language",
            "nl",
            "--file",
            str(notice_file(tmp_path)),
            token=token,
        )
        # The command selects by the real clock, not the world's fixed one: expiring 10 days from
        # the later of the two, the consents are due on any day the test runs.
        soon = max(world.clock(), datetime.now(UTC)) + timedelta(days=10)
        installation: Installation = world.installation
        add_pool_candidate(installation, "NL", soon)
        add_pool_candidate(installation, "NL", soon)
        dry = cli("consent", "campaign", "run", "--dry-run", "--json", token=token)
        assert dry.code == 0, dry.err
        assert json.loads(dry.out)["selected"] == 2 and inbox[0].messages == []
        sent = cli("consent", "campaign", "run", "--json", token=token)
        assert json.loads(sent.out)["sent"] == 2
        again = cli("consent", "campaign", "run", token=token)
        assert "sent 0" in again.out
        assert len(inbox[0].messages) == 2
        report = cli("consent", "report", "--json", token=token)
        nl = next(r for r in json.loads(report.out) if r["country"] == "NL")
        assert nl["asked"] == 2 and nl["renewal_rate"] == 0.0
        assert "NL" in cli("consent", "report", token=token).out

    def test_recruiter_may_not_run_campaigns(self, cli: Gdpr, world: World) -> None:
        run = cli("consent", "campaign", "run", token=world.recruiter.token)
        assert run.code == 1 and "consent:campaign" in run.err


class TestConfig:
    def test_renew_on_silence_is_refused(self, cli: Gdpr, world: World) -> None:
        toml = world.installation.config.data_dir / "gdpr.toml"
        toml.write_text(toml.read_text() + "renew_on_silence = true\n")
        run = cli("consent", "report", token=world.dpo.token)
        assert run.code == 2
        assert "silence never renews a consent (GDPR Art. 4(11), 7" in run.err

    def test_password_file_must_be_private(self, cli: Gdpr, world: World, tmp_path: Path) -> None:
        secret = tmp_path / "smtp.pass"
        secret.write_text("s3cret")
        secret.chmod(0o644)
        toml = world.installation.config.data_dir / "gdpr.toml"
        text = toml.read_text().replace(
            'sender = "privacy@example.test"',
            f'sender = "privacy@example.test"\nusername = "u"\npassword_file = "{secret}"',
        )
        toml.write_text(text)
        run = cli("consent", "report", token=world.dpo.token)
        assert run.code == 2 and "readable by others: chmod 600 it" in run.err

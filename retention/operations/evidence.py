"""Evidence packs as a front end asks for them: export a period (evidence:export), verify a pack.

The export authorizes inside the transaction that seals the period (the same transaction appends
the `evidence.export` entry and signs the checkpoint covering it), so a denial is audited and
nothing is sealed, signed or written. Verification is pure: it reads a pack and a key, needs no
database and no principal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Connection

from retention.access import Decision, Permission, PrincipalView, guarded, require
from retention.clock import Clock, utc_now
from retention.errors import BadInput
from retention.evidence import (
    EXPORT_ACTION,
    ExportRequest,
    ExportResult,
    PackReport,
    export_pack,
    load_signer,
    policy_texts,
    verify_path,
)
from retention.install import Installation, load_installation_policies

__all__ = ["ExportEvidence", "VerifyEvidence", "export_evidence", "verify_evidence"]


@dataclass(frozen=True)
class ExportEvidence:
    """The period's first and last day (inclusive, installation timezone), where the pack goes."""

    start: date
    end: date
    out: Path
    country: str | None = None
    zip: bool = False


@dataclass(frozen=True)
class VerifyEvidence:
    """A pack folder or .zip, and the verifier key file obtained on another channel (if any)."""

    pack: Path
    key_file: Path | None = None


def export_evidence(
    installation: Installation,
    principal: PrincipalView,
    request: ExportEvidence,
    *,
    clock: Clock = utc_now,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the signed, self-verifying evidence pack of the period (see `retention.evidence`)."""
    policy_set = load_installation_policies(installation.config)

    def authorize(conn: Connection) -> Decision:
        return require(
            conn,
            principal.id,
            Permission.EVIDENCE_EXPORT,
            at=clock(),
            action=EXPORT_ACTION,
            country=request.country,
        )

    return export_pack(
        installation,
        ExportRequest(
            start=request.start,
            end=request.end,
            out=request.out,
            actor=str(principal.id),
            country=request.country,
            zip=request.zip,
        ),
        signer=load_signer(installation),
        policies=policy_texts(policy_set),
        policy_set=policy_set,
        clock=clock,
        progress=progress,
        authorize=authorize,
        unit=guarded,
    )


def verify_evidence(request: VerifyEvidence) -> PackReport:
    """Verify a pack offline, against the given key file or else the pack's own key."""
    key = None
    if request.key_file is not None:
        try:
            key = request.key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read key file {request.key_file} ({exc})") from None
    return verify_path(request.pack, key)

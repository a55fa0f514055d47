"""Privacy notices: the exact text a candidate was shown, per purpose, version and language.

A notice is stored as given (UTF-8, byte for byte) with its SHA-256, and never changed: a new
wording is a new version. Consents and their events refer to the notice by version and hash, so
a DPO proves what was agreed to (Art. 7(1)) by showing the text whose hash the consent carries.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from retention.consent.languages import LANGUAGES
from retention.errors import BadInput, NotFound
from retention.store import Notice, table_of

__all__ = [
    "MAX_NOTICE_BYTES",
    "NoticeView",
    "add_notice",
    "check_notice_key",
    "decode_notice",
    "get_notice",
    "list_notices",
]

MAX_NOTICE_BYTES = 200_000
_PURPOSE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LANG_RE = re.compile(r"[a-z]{2,3}")

_n = table_of(Notice)


@dataclass(frozen=True)
class NoticeView:
    purpose: str
    version: str
    language: str
    sha256: str
    created_at: datetime
    created_by: str
    text: str | None = None  # only when shown

    @classmethod
    def of(cls, row: Any, with_text: bool = False) -> NoticeView:
        return cls(
            row.purpose,
            row.version,
            row.language,
            row.sha256,
            row.created_at,
            row.created_by,
            row.text if with_text else None,
        )

    def to_json(self) -> dict[str, Any]:
        out = {
            "purpose": self.purpose,
            "version": self.version,
            "language": self.language,
            "sha256": self.sha256,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }
        if self.text is not None:
            out["text"] = self.text
        return out


def check_notice_key(purpose: str, version: str, language: str) -> None:
    if not _PURPOSE_RE.fullmatch(purpose):
        raise BadInput("PURPOSE must be a lowercase name like talent_pool")
    if not _VERSION_RE.fullmatch(version):
        raise BadInput("--version must be like 2026-01 or v3 (at most 64 characters)")
    if not _LANG_RE.fullmatch(language):
        raise BadInput(f"--language must be an ISO 639-1 code, e.g. {', '.join(LANGUAGES)}")


def decode_notice(data: bytes) -> str:
    if not data.strip():
        raise BadInput("the notice file is empty")
    if len(data) > MAX_NOTICE_BYTES:
        raise BadInput(f"the notice file is larger than {MAX_NOTICE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("the notice file is not UTF-8 text") from None


def add_notice(
    conn: Connection,
    *,
    purpose: str,
    version: str,
    language: str,
    data: bytes,
    actor: str,
    at: datetime,
) -> NoticeView:
    """Store a notice; the same (purpose, version, language) twice is refused."""
    check_notice_key(purpose, version, language)
    text = decode_notice(data)
    digest = hashlib.sha256(data).hexdigest()
    values = {
        "purpose": purpose,
        "version": version,
        "language": language,
        "sha256": digest,
        "text": text,
        "created_at": at,
        "created_by": actor,
    }
    nested = conn.begin_nested()
    try:
        conn.execute(_n.insert().values(**values))
    except IntegrityError:
        nested.rollback()
        raise BadInput(
            f"notice {purpose} {version} ({language}) exists; a new text needs a new --version"
        ) from None
    nested.commit()
    return NoticeView(purpose, version, language, digest, at, actor)


def list_notices(conn: Connection, purpose: str | None = None) -> list[NoticeView]:
    q = select(_n).order_by(_n.c.purpose, _n.c.created_at, _n.c.version, _n.c.language)
    if purpose is not None:
        q = q.where(_n.c.purpose == purpose)
    return [NoticeView.of(r) for r in conn.execute(q)]


def get_notice(conn: Connection, purpose: str, version: str, language: str) -> NoticeView:
    row = conn.execute(
        select(_n).where(
            _n.c.purpose == purpose, _n.c.version == version, _n.c.language == language
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no notice {purpose} {version} ({language})")
    return NoticeView.of(row, with_text=True)

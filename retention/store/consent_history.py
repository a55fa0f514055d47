"""Appending consent events, and finding the notice a consent refers to: the history's one seam.

`consent` rows are the current state; `consent_event` rows the history it is derived from. Every
writer (the gateway's consent commands, the renewal campaigns, the candidate's answer page) appends
through `append_event` in the transaction that changes the state, so the two never disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from retention.store.consent_tables import ConsentEvent, ConsentEventKind, Notice
from retention.store.engine import table_of

__all__ = ["METHODS", "append_event", "append_events", "notice_hash_for"]

# How a consent event was collected (the receipts' "method of collection").
METHODS = {
    "recorded": "recorded by staff from the channel named",
    "email-link": "the candidate's answer through a signed link sent by e-mail",
    "renewal-ask": "renewal request e-mail",
    "renewal-reminder": "renewal reminder e-mail",
    "schedule": "expiry reached without an answer",
}


def append_event(
    conn: Connection,
    *,
    candidate_id: uuid.UUID,
    purpose: str,
    kind: ConsentEventKind,
    at: datetime,
    channel: str,
    method: str,
    actor: str,
    consent_id: int | None = None,
    renews: int | None = None,
    notice_version: str | None = None,
    notice_hash: str | None = None,
    valid_until: datetime | None = None,
) -> None:
    """Append one event in the caller's transaction (never updated afterwards)."""
    append_events(
        conn,
        [
            {
                "candidate_id": candidate_id,
                "purpose": purpose,
                "kind": kind.value,
                "at": at,
                "channel": channel,
                "method": method,
                "actor": actor,
                "consent_id": consent_id,
                "renews": renews,
                "notice_version": notice_version,
                "notice_hash": notice_hash,
                "valid_until": valid_until,
            }
        ],
    )


def append_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append many events in one statement (campaign batches)."""
    if rows:
        conn.execute(table_of(ConsentEvent).insert(), list(rows))


def notice_hash_for(
    conn: Connection, purpose: str, version: str, language: str | None = None
) -> str | None:
    """The SHA-256 of the registered notice (`language` first, then any language), or None."""
    n = table_of(Notice).c
    rows = conn.execute(
        select(n.language, n.sha256).where(n.purpose == purpose, n.version == version)
    ).all()
    if not rows:
        return None
    by_language: dict[str, str] = {str(r.language): str(r.sha256) for r in rows}
    if language is not None and language in by_language:
        return by_language[language]
    return by_language.get("en") or by_language[min(by_language)]

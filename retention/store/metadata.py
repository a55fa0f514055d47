"""The schema's table definitions in one place: what the migrations own (alembic's target_metadata).

Importing the table modules registers their tables on SQLModel's metadata; the audit log's tables
have a MetaData of their own in `audit_log`.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel

from audit_log import metadata as audit_log_metadata
from retention.store import (
    access_tables,
    api_tables,
    consent_tables,
    integration_tables,
    request_tables,
    subject_tables,
    sweep_tables,
)

__all__ = ["target_metadata"]

_TABLE_MODULES = (
    access_tables,
    api_tables,
    consent_tables,
    integration_tables,
    request_tables,
    subject_tables,
    sweep_tables,
)


def target_metadata() -> list[MetaData]:
    """Every MetaData whose tables the migrations own."""
    return [SQLModel.metadata, audit_log_metadata]

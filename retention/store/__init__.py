"""The data layer: engine and unit of work, every table, migrations, bulk loading, id arrays,
the pending-file queue, and the one seam through which the engine appends to the audit log.

Everything above reaches the database through this package. It knows nothing of access or
retention rules; `policies` and `audit_log` below it know nothing of it.
"""

from __future__ import annotations

from retention.store import idempotency
from retention.store.access_tables import Enrollment, Grant, Principal, PrincipalKind, Token
from retention.store.api_tables import IdempotentRequest
from retention.store.audit import (
    ANONYMOUS,
    Via,
    check_reason,
    deferred_appends,
    flush_deferred,
    last_grant_uses,
    record,
    record_stamped,
    recorded_via,
    refuse_personal,
    tagged,
    via,
)
from retention.store.bulk_load import BULK_CACHE_KIB, bulk_insert, bulk_load_settings
from retention.store.cascade import CascadeUnsupported, delete_cascading, foreign_keys_off
from retention.store.consent_history import METHODS, append_event, append_events, notice_hash_for
from retention.store.consent_tables import (
    ConsentEvent,
    ConsentEventKind,
    MailOutbox,
    MailStatus,
    MailUndeliverable,
    Notice,
)
from retention.store.driver_sql import DriverSQL
from retention.store.engine import (
    TZDateTime,
    connect,
    is_postgresql,
    is_sqlite,
    reader_for,
    sqlite_stamp,
    table_of,
    transaction,
)
from retention.store.group_commit import GroupCommit, GroupStats
from retention.store.id_sets import among, exists_per_row, text_array, uuid_array
from retention.store.integration_tables import (
    WAITING,
    IntegrationDelivery,
    IntegrationLink,
    MessageState,
    OutboxMessage,
)
from retention.store.pending_files import document_path, queue_documents, remove_pending
from retention.store.request_tables import (
    REQUEST_PERSONAL_COLUMNS,
    DataRequest,
    RequestEvent,
    RequestStatus,
    RequestType,
)
from retention.store.scrub import scrub_erased
from retention.store.staged_files import StagedFiles, recover_staged, staged_files
from retention.store.storage_order import StoragePosition
from retention.store.subject_tables import (
    Application,
    Candidate,
    CandidateStatus,
    Consent,
    Document,
    LegalHold,
)
from retention.store.sweep_tables import (
    ReviewDecision,
    ReviewItem,
    RunStatus,
    SweepItem,
    SweepLease,
    SweepRun,
)

__all__ = [
    "ANONYMOUS",
    "BULK_CACHE_KIB",
    "METHODS",
    "REQUEST_PERSONAL_COLUMNS",
    "WAITING",
    "Application",
    "Candidate",
    "CandidateStatus",
    "CascadeUnsupported",
    "Consent",
    "ConsentEvent",
    "ConsentEventKind",
    "DataRequest",
    "Document",
    "DriverSQL",
    "Enrollment",
    "Grant",
    "GroupCommit",
    "GroupStats",
    "IdempotentRequest",
    "IntegrationDelivery",
    "IntegrationLink",
    "LegalHold",
    "MailOutbox",
    "MailStatus",
    "MailUndeliverable",
    "MessageState",
    "Notice",
    "OutboxMessage",
    "Principal",
    "PrincipalKind",
    "RequestEvent",
    "RequestStatus",
    "RequestType",
    "ReviewDecision",
    "ReviewItem",
    "RunStatus",
    "StagedFiles",
    "StoragePosition",
    "SweepItem",
    "SweepLease",
    "SweepRun",
    "TZDateTime",
    "Token",
    "Via",
    "among",
    "append_event",
    "append_events",
    "bulk_insert",
    "bulk_load_settings",
    "check_reason",
    "connect",
    "deferred_appends",
    "delete_cascading",
    "document_path",
    "exists_per_row",
    "flush_deferred",
    "foreign_keys_off",
    "idempotency",
    "is_postgresql",
    "is_sqlite",
    "last_grant_uses",
    "notice_hash_for",
    "queue_documents",
    "reader_for",
    "record",
    "record_stamped",
    "recorded_via",
    "recover_staged",
    "refuse_personal",
    "remove_pending",
    "scrub_erased",
    "sqlite_stamp",
    "staged_files",
    "table_of",
    "tagged",
    "text_array",
    "transaction",
    "uuid_array",
    "via",
]

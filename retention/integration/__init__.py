"""The ATS integration: records flow in from the systems that hold them, and every erasure reaches
every system that holds a copy.

Inbound, a source's signed events (Greenhouse web hooks, or the generic format signed per
Standard Webhooks) are verified over their raw bytes (`signatures`), parsed into one event shape
(`events`) and applied as far as the rules allow (`applying`). Outbound, every anonymization,
deletion, block and erasure writes its messages in its own transaction (`outbox`); a worker
delivers them to each target with rate and concurrency limits, backoff and a dead-letter state
(`delivery`, `targets`), and the evidence pack reports what reached whom (`propagation`).
"""

from __future__ import annotations

from retention.integration.applying import (
    Applied,
    Effect,
    actor_of,
    apply_event,
    first_delivery,
    link_key,
)
from retention.integration.events import (
    GENERIC_TYPES,
    EventKind,
    InboundEvent,
    Malformed,
    parse_generic,
    parse_greenhouse,
)
from retention.integration.keys import link_secret
from retention.integration.outbox import ACTIONS, write_outbox
from retention.integration.propagation import (
    PROPAGATION_HEADER,
    Propagation,
    TargetStatus,
    propagation,
    target_status,
)
from retention.integration.secrets import api_key, read_private, webhook_secrets
from retention.integration.signatures import (
    TOLERANCE,
    BadSignature,
    Verified,
    greenhouse_signature,
    verify_greenhouse,
    verify_standard_webhooks,
)

__all__ = [
    "ACTIONS",
    "GENERIC_TYPES",
    "PROPAGATION_HEADER",
    "TOLERANCE",
    "Applied",
    "BadSignature",
    "Effect",
    "EventKind",
    "InboundEvent",
    "Malformed",
    "Propagation",
    "TargetStatus",
    "Verified",
    "actor_of",
    "api_key",
    "apply_event",
    "first_delivery",
    "greenhouse_signature",
    "link_key",
    "link_secret",
    "parse_generic",
    "parse_greenhouse",
    "propagation",
    "read_private",
    "target_status",
    "verify_greenhouse",
    "verify_standard_webhooks",
    "webhook_secrets",
    "write_outbox",
]

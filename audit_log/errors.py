"""Typed errors of the audit log.

Every failure the package can report is a subclass of `AuditError`, so the CLI maps them to one-line
messages and exit codes in one place. No message ever echoes a value that could be personal data.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class of every error raised by `audit_log`."""


class InvalidEventError(AuditError, ValueError):
    """An event cannot be recorded as given (wrong type, value not representable in JSON)."""


class PersonalDataError(InvalidEventError):
    """An event's details or reason look like personal data; the value is never echoed."""


class ProofError(AuditError):
    """A Merkle proof is malformed or does not verify."""


class ProofShapeError(ProofError, ValueError):
    """A proof or its parameters have the wrong shape (sizes, hash lengths, number of hashes)."""


class RootMismatchError(ProofError):
    """A proof verifies to a different root than the one expected; carries both."""

    def __init__(self, what: str, expected: bytes, computed: bytes) -> None:
        self.expected = expected
        self.computed = computed
        super().__init__(f"{what}: computed {computed.hex()}, expected {expected.hex()}")


class NoteError(AuditError, ValueError):
    """A signed note, a checkpoint body or a key string is malformed."""


class SignatureError(AuditError):
    """A signed note carries no valid signature by the expected key."""


class LogStateError(AuditError):
    """The stored log cannot serve a request (size out of range, head row missing)."""

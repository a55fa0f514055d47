"""The engine's typed errors, and nothing else.

Domain code raises these; only the CLI turns them into one-line messages and exit codes, in one
place (`cli.main`). Messages must be safe to print and to log: they name subjects by UUID and
never carry personal data. Factored out so every module can raise them without import loops.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "BadInput",
    "CheckFailed",
    "EngineError",
    "InstallationError",
    "LockBroken",
    "NotFound",
    "StaleVersion",
]


class EngineError(Exception):
    """Base of every error the engine raises on purpose; `exit_code` is what the CLI returns."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(EngineError):
    """The user gave something unusable: a bad argument, file, URL or configuration (exit 2)."""


class InstallationError(BadInput):
    """The data directory or database is missing, unwritable, or not what the command needs."""


class NotFound(BadInput):
    """A named object (subject, grant, hold...) does not exist."""


class CheckFailed(EngineError):
    """A check ran and found a problem: verification, lint, rejected import rows (exit 1)."""

    exit_code = 1


class StaleVersion(CheckFailed):
    """A change made against a version of a record that is no longer current (exit 1).

    The caller read the record, someone changed it since: read it again and redo the change.
    """


class AccessDenied(EngineError):
    """Authorization said no. The attempt is audited before this is raised (exit 1)."""

    exit_code = 1


class LockBroken(EngineError):
    """A caller promised rows it had locked and checked, and a statement on them disagreed.

    Raised inside the caller's transaction, before anything commits, so it rolls back whole: an
    invariant failed (exit 1), and acting on a subset would leave audit and data apart.
    """

    exit_code = 1

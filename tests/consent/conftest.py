"""The consent tests' fixtures come from tests/consent_support.py (shared with tests/api)."""

from tests.consent_support import clock, inbox, mailed, world

__all__ = ["clock", "inbox", "mailed", "world"]

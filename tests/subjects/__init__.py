"""The gateway to personal data (reads, exports, changes, erasure), consents and decision
traces, each authorized and audited; on the shared `world` (tests/conftest.py)."""

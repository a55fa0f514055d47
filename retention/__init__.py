"""The engine: configuration, database, candidates, access control, holds, sweeps, evidence.

It builds on the two independent packages `policies` (the retention policy language) and
`audit_log` (the tamper-evident log) and is driven by `cli.py`. Import the modules you need
(`retention.store.engine`, `retention.store.subject_tables`, ...): this package deliberately re-exports nothing, so that
importing one capability does not load them all.
"""

"""The engine, one subpackage per capability (see the README's "Architecture" section).

Front ends (`cli.py` and `retention.commands`, `retention.scheduler`) call `retention.operations`;
operations use the capability packages (`access`, `subjects`, `sweep`, `evidence`, `intake`,
`install`, `audit`, `demo`); all of them reach the database through `retention.store`, which sits on
`policies` and `audit_log`. The foundation modules at this root (`config`, `clock`, `errors`,
`logs`, `countries`, `durations`, `fields`, `results`) import no other part of the engine. This package re-exports
nothing, so that importing one capability does not load them all.
"""

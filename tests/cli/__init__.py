"""The `gdpr` commands as a user runs them: exit codes, exact one-line errors, JSON, audit entries.

Every test runs the CLI through `tests.cli_support` (in-process through `cli.main`, in an
environment the test spells out; a separate process only for signals). One module per command
group of `retention/commands/`.
"""

"""The retention sweep: plan, selection, lease, holds, review queue and its actions, checked
against the Python reference in `tests.sweep_world` on SQLite and PostgreSQL."""

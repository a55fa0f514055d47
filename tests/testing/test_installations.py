"""`DatabaseFactory`: the throwaway databases tests and benchmarks are built on."""

from __future__ import annotations

from sqlalchemy import text

from retention.store import connect, migrate
from retention.testing import DatabaseFactory


class TestCopy:
    def test_a_copy_holds_the_rows_and_is_a_database_of_its_own(
        self, any_factory: DatabaseFactory
    ) -> None:
        """A copy has the original's schema and rows; a change to either stays in that one."""
        url = any_factory.migrated()
        engine = connect(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sweep_lease (name, owner, expires_at) VALUES "
                    "('copied', 'o', '2026-01-01 00:00:00')"
                )
            )
        engine.dispose()

        copy = connect(any_factory.copy(url))
        try:
            assert migrate.current_revision(copy) == migrate.head_revision()
            with copy.begin() as conn:
                names = (
                    conn.execute(text("SELECT name FROM sweep_lease WHERE name = 'copied'"))
                    .scalars()
                    .all()
                )
                conn.execute(text("DELETE FROM sweep_lease WHERE name = 'copied'"))
        finally:
            copy.dispose()
        assert names == ["copied"]
        engine = connect(url)
        try:
            with engine.connect() as conn:
                left = (
                    conn.execute(text("SELECT name FROM sweep_lease WHERE name = 'copied'"))
                    .scalars()
                    .all()
                )
        finally:
            engine.dispose()
        assert left == ["copied"]

"""Migrations are the only way tables are made: they upgrade, downgrade and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from retention.store import connect, migrate
from retention.store.metadata import target_metadata
from retention.testing import DatabaseFactory


class TestMigrations:
    def test_upgrade_then_downgrade_to_base(self, any_factory: DatabaseFactory) -> None:
        """Every step up and down runs, and base leaves no table but alembic's own."""
        engine = connect(any_factory.empty())
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert "candidate" in inspect(engine).get_table_names()
        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        engine.dispose()

    def test_models_match_migrations(self, any_factory: DatabaseFactory) -> None:
        """Autogenerate finds nothing to do at head: models and migrations have not drifted."""
        engine = connect(any_factory.migrated())
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, target_metadata())
        engine.dispose()
        assert diff == []

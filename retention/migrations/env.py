"""alembic environment, shipped inside the package so a plain `pip install .` can migrate.

The engine calls alembic through its API with a live connection in `config.attributes`
(see `retention.store.migrate`); developers may still run `alembic` by hand with the repository's
alembic.ini, in which case the URL comes from GDPR_DATABASE_URL or the ini file.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from retention.store.engine import connect, is_sqlite
from retention.store.metadata import target_metadata

config = context.config

if config.config_file_name is not None:
    from logging.config import fileConfig

    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        render_as_batch=is_sqlite(connection),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("GDPR_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set GDPR_DATABASE_URL or sqlalchemy.url in alembic.ini")
    engine = connect(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()

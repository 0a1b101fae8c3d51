"""Alembic environment: runs on the connection `aisonar.store.migrate` hands it."""

from __future__ import annotations

from alembic import context

from aisonar.store.tables import metadata

connection = context.config.attributes["connection"]
# PostgreSQL's day partitions of a partitioned table are made at run time, not by migrations:
# comparing the schema with the tables (`alembic check`) leaves them out.
partitions: set[str] = (
    set(
        connection.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        ).scalars()
    )
    if connection.dialect.name == "postgresql"
    else set()
)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name in partitions)


context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment: runs on the connection that `pairview.server.db.upgrade` passes in."""

from alembic import context

from pairview.server.db import Base  # importing it registers every table

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `pairview db upgrade`, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

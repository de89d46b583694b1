"""Alembic environment: the connection is handed in by tui.core.migrations.upgrade_to_head."""

from alembic import context

connection = context.config.attributes["connection"]
# Batch mode lets SQLite alter tables by copying them, which its ALTER TABLE cannot do.
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

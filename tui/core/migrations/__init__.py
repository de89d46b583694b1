"""Alembic migrations, run programmatically when a store opens (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent


def alembic_config(connection=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        upgrade(connection, revision)


def upgrade(connection, revision: str = "head") -> None:
    """Run the migrations on `connection`, inside the transaction it is in: the caller
    commits, so a migration interrupted halfway leaves the schema as it was."""
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()

"""A database already at schema HEAD for tests whose subject is not a new database.

A new database runs every Alembic migration on its first open: about 50 ms of CPU in the
test process, and 0.2-0.3 s more in a new `python -m tui` (which imports Alembic for it).
`migrated_database(path)` puts a copy of a migrated template there instead: the template is
made once per test process by `Store.open` itself, so the copy is what a first run leaves.

Tests of the new database or the first run (migrations, parallel first runs, the modes of
new files and folders, a database that cannot be created) keep starting without one.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from tui.core.store import Store, _create_private_file

_template: Path | None = None


def migrated_database(path: Path | str) -> Path:
    """Put a migrated database at `path` when nothing is there yet (anything already there is
    left as it is). The file and its folder get the modes mailprov gives them (0600, 0700):
    they are created by the store's own function, then filled with the template's bytes."""
    path = Path(path)
    if not path.exists():
        _create_private_file(path)
        shutil.copyfile(_template_file(), path)  # writes into the file: its mode stays
    return path


def _template_file() -> Path:
    global _template
    if _template is None:
        _template = _make_template()
    return _template


def _make_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="mailprov-template-"))
    creator = os.getpid()
    # Removed by this process only: a fork of it (tests/forked_cli.py) exits through atexit too.
    atexit.register(lambda: os.getpid() == creator and shutil.rmtree(folder, ignore_errors=True))
    path = folder / "migrated.db"
    Store.open(f"sqlite:///{path}").close()
    # Closing the last connection checkpoints the WAL into the file and removes it: the file
    # alone is the whole database. Were a -wal left, a copy would miss what is in it.
    leftovers = [p.name for p in folder.iterdir() if p != path]
    assert not leftovers, f"the template database is not one complete file: {leftovers}"
    return path

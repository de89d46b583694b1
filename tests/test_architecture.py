"""The core never imports Textual; heavy libraries stay out of start-up."""

import ast
import subprocess
import sys
from pathlib import Path

import tui

PACKAGE = Path(tui.__file__).parent
CORE = PACKAGE / "core"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_core_module_imports_textual_or_the_ui():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in imported_modules(path)
                                               if m.split(".")[0] == "textual" or m.startswith("tui.ui"))
        for path in CORE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_import_linter_contract_is_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint)], capture_output=True, text=True, cwd=PACKAGE.parent, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_loading_the_whole_core_loads_no_textual():
    code = (
        "import sys, pkgutil, importlib, tui.core as core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'tui.core.'):\n"
        "    if '.migrations.' not in m.name:  # Alembic scripts only run under Alembic\n"
        "        importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] == 'textual'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_cli_entry_point_imports_no_heavy_library():
    code = (
        "import sys, tui.cli\n"
        "heavy = ('sqlmodel', 'sqlalchemy', 'alembic', 'msal', 'google_auth_oauthlib', 'imapclient', 'textual')\n"
        "print(sorted(n for n in heavy if n in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_opening_the_ui_imports_no_store_keyring_or_mail_library():
    """Start-up speed: these load in a worker after the first paint, or when used."""
    code = (
        "import sys, tui.cli, tui.ui.app, tui.core.settings\n"
        "heavy = ('sqlmodel', 'sqlalchemy', 'alembic', 'keyring', 'msal', 'google_auth_oauthlib',"
        " 'imapclient', 'cryptography', 'argparse')\n"
        "print(sorted(n for n in heavy if n in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr

"""The command line: `mailprov` with no command opens the terminal UI; subcommands script the
same core. Exit codes: 0 ok, 1 a check failed, 2 bad input (nothing written).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

# Flags that map one-to-one onto draft fields: (flag, field, help).
FIELD_FLAGS = [
    ("--name", "name", "unique name, 1-80 characters"),
    ("--type", "type", "smtp-imap, outlook or gmail"),
    ("--account", "account", "the mailbox address"),
    ("--username", "username", "login name, when it differs from the account"),
    ("--from-name", "from_name", "display name on outgoing mail"),
    ("--reply-to", "reply_to", "Reply-To addresses separated by ';'"),
    ("--smtp-host", "smtp_host", "outgoing server host"),
    ("--smtp-port", "smtp_port", "outgoing server port (default follows security)"),
    ("--smtp-security", "smtp_security", "starttls (TLS), ssl or none"),
    ("--imap-host", "imap_host", "incoming server host"),
    ("--imap-port", "imap_port", "incoming server port (default follows security)"),
    ("--imap-security", "imap_security", "starttls (TLS), ssl or none"),
]
FLAG_FOR_FIELD = {field: flag for flag, field, _ in FIELD_FLAGS} | {
    "receive_emails": "--receive",
    "active_reference": "--active-reference",
    "password": "--password-stdin",
}


def build_parser() -> argparse.ArgumentParser:
    import argparse  # not on the everyday path (`mailprov` alone opens the UI)

    parser = argparse.ArgumentParser(
        prog="mailprov",
        description="Set up the email providers of a contact-center platform. "
        "With no command, opens the terminal UI.",
    )
    db_help = "database file or SQLAlchemy URL (default: MAILPROV_DB, then the user data directory)"
    parser.add_argument("--db", help=db_help)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    # --db is global, yet people type it after the command too: accept it there as well.
    with_db = argparse.ArgumentParser(add_help=False)
    with_db.add_argument("--db", default=argparse.SUPPRESS, help=db_help)
    commands = _SubcommandsWithDb(parser.add_subparsers(dest="command", metavar="COMMAND"), with_db)

    provider = commands.add_parser("provider", help="add, edit, remove, list and show providers",
                                   parents=[])
    actions = _SubcommandsWithDb(
        provider.add_subparsers(dest="action", metavar="ACTION", required=True), with_db
    )
    add = actions.add_parser("add", help="add a provider")
    _add_field_flags(add, require_identity=True)
    edit = actions.add_parser("edit", help="change a provider; flags not given keep their value")
    edit.add_argument("provider", metavar="NAME")
    _add_field_flags(edit, require_identity=False)
    edit.add_argument("--rename", metavar="NEW", help="give the provider a new name")
    remove = actions.add_parser("rm", help="remove a provider and its stored password")
    remove.add_argument("provider", metavar="NAME")
    listing = actions.add_parser("list", help="list providers with their status")
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="show one provider (never its password)")
    show.add_argument("provider", metavar="NAME")
    show.add_argument("--json", action="store_true")

    check = commands.add_parser("check", help="run the activation check and save the status")
    check.add_argument("names", nargs="*", metavar="NAME")
    check.add_argument("--all", action="store_true", help="check every provider")
    check.add_argument("--json", action="store_true")

    export = commands.add_parser("export", help="write providers as TOML (no secrets)")
    export.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    importer = commands.add_parser("import", help="create/update providers from TOML, all or nothing")
    importer.add_argument("file", metavar="FILE")
    importer.add_argument("--dry-run", action="store_true", help="check the file, change nothing")

    commands.add_parser("doctor", help="versions, database, secret store and CA in use")
    return parser


class _SubcommandsWithDb:
    """add_parser() that gives every subcommand the global --db flag as well."""

    def __init__(self, subparsers, with_db):
        self.subparsers = subparsers
        self.with_db = with_db

    def add_parser(self, name: str, parents=None, **kwargs):
        return self.subparsers.add_parser(name, parents=[self.with_db] if parents is None else parents, **kwargs)


def _add_field_flags(parser: argparse.ArgumentParser, require_identity: bool) -> None:
    from argparse import BooleanOptionalAction

    for flag, field, help_text in FIELD_FLAGS:
        if flag == "--name" and not require_identity:
            continue  # `edit` renames with --rename
        required = require_identity and field in ("name", "type", "account")
        parser.add_argument(flag, dest=field, metavar="VALUE", help=help_text, required=required)
    parser.add_argument("--receive", dest="receive_emails", action=BooleanOptionalAction,
                        help="fetch mail sent to the account (needs the IMAP settings)")
    parser.add_argument("--active-reference", dest="active_reference",
                        action=BooleanOptionalAction,
                        help="thread replies with Message-ID / In-Reply-To / References")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input (prompted on a terminal)")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # ctrl+c: one line, no traceback; every write survives it
        print("mailprov: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        return open_ui(db=None)  # the everyday path: no parser needed
    args = build_parser().parse_args(argv)
    if args.version:
        from tui import __version__

        print(f"mailprov {__version__}")
        return EXIT_OK
    if args.command is None:
        return open_ui(db=args.db)
    from tui.core.settings import SettingsError, load_settings

    try:
        settings = load_settings(db=args.db)
    except SettingsError as exc:
        return _fail(str(exc))
    from tui.commands import run_command

    return run_command(args, settings)


def open_ui(db: str | None) -> int:
    from tui.core.settings import SettingsError, load_settings

    try:
        settings = load_settings(db=db)
    except SettingsError as exc:
        return _fail(str(exc))
    from tui.ui.app import run_app

    run_app(settings)
    return EXIT_OK


def _fail(message: str) -> int:
    print(f"mailprov: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def print_json(data) -> None:
    import json

    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))

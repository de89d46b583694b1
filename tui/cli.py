"""The command line: `mailprov` with no command opens the terminal UI; subcommands script the
same core (tui/commands.py). Exit codes are in tui/output.py. Problems are one line on
stderr, never a traceback, except for bugs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tui.core.text import visible
from tui.output import EXIT_BROKEN_PIPE, EXIT_ENVIRONMENT, EXIT_INTERRUPTED, EXIT_OK, say

if TYPE_CHECKING:
    import argparse


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command; given a plain command line (`_command_typed`), only the
    parser of the command typed: building them all costs more than a quick command's answer."""
    import argparse  # not on the everyday path (`mailprov` alone opens the UI)

    class ArgumentParser(argparse.ArgumentParser):
        """argparse echoes what was typed ("unrecognized arguments: ..."): shown, never obeyed."""

        def _print_message(self, message: str, file=None) -> None:
            super()._print_message("\n".join(visible(line) for line in message.split("\n")), file)

    parser = ArgumentParser(
        prog="mailprov",
        description="Set up the email providers of a contact-center platform. "
        "With no command, opens the terminal UI.",
    )
    db_help = "database file or SQLAlchemy URL (default: MAILPROV_DB, then the user data directory)"
    parser.add_argument("--db", help=db_help)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    # --db is global, yet people type it after the command too: accept it there as well.
    with_db = ArgumentParser(add_help=False)
    with_db.add_argument("--db", default=argparse.SUPPRESS, help=db_help)
    commands = _SubcommandsWithDb(parser.add_subparsers(dest="command", metavar="COMMAND"), with_db,
                                  wanted=_command_typed(argv))

    provider = commands.add_parser("provider", help="add, edit, remove, list and show providers",
                                   parents=[])
    if provider is not None:
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
        remove.add_argument("--force", action="store_true",
                            help="remove it even when campaigns use it (they are left without a provider)")
        listing = actions.add_parser("list", help="list providers with their status")
        listing.add_argument("--json", action="store_true")
        listing.add_argument("--transcripts", action="store_true",
                             help="with --json: include each last check's transcript (as `show --json` does)")
        show = actions.add_parser("show", help="show one provider (never its password)")
        show.add_argument("provider", metavar="NAME")
        show.add_argument("--json", action="store_true")

    check = commands.add_parser("check", help="run the activation check and save the status")
    if check is not None:
        check.add_argument("names", nargs="*", metavar="NAME")
        check.add_argument("--all", action="store_true", help="check every provider")
        check.add_argument("--json", action="store_true")

    send_test = commands.add_parser(
        "send-test", help="send a short test message through a provider and report the server's queue id")
    if send_test is not None:
        send_test.add_argument("provider", metavar="NAME")
        send_test.add_argument("--to", required=True, metavar="ADDR", help="the address to send the test message to")
        send_test.add_argument("--json", action="store_true")

    _add_send_command(commands)

    export = commands.add_parser("export", help="write providers as TOML (no secrets)")
    if export is not None:
        export.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
        export.add_argument("--password-env-prefix", metavar="PREFIX",
                            help='write password_env = "PREFIX<NAME>" for each provider with a password, '
                            "so the file imports elsewhere once those variables are set")

    importer = commands.add_parser("import", help="create/update providers from TOML, all or nothing")
    if importer is not None:
        importer.add_argument("file", metavar="FILE")
        importer.add_argument("--dry-run", action="store_true", help="check the file, change nothing")

    commands.add_parser("doctor", help="versions, database, secret store and CA in use")
    _add_campaign_commands(commands, with_db)
    _add_oauth_commands(commands)
    return parser


def _add_send_command(commands: _SubcommandsWithDb) -> None:
    """send: a message through a provider, recorded in its conversation (tui/commands.py: send)."""
    send = commands.add_parser(
        "send", help="send a message through a provider and record it in its conversation")
    if send is None:
        return
    send.add_argument("--provider", required=True, metavar="NAME", help="the provider to send through")
    send.add_argument("--to", required=True, action="append", metavar="ADDR",
                      help="a recipient (repeat the flag for more)")
    send.add_argument("--cc", action="append", default=[], metavar="ADDR", help="a copy recipient (repeatable)")
    send.add_argument("--subject", required=True, metavar="S")
    send.add_argument("--body-file", metavar="F", help="the body, UTF-8 text (default: read from stdin)")
    send.add_argument("--reply-to-message", metavar="MESSAGE_ID",
                      help="the Message-ID of a queued message this answers (threads it, with Active reference on)")


def _add_campaign_commands(commands: _SubcommandsWithDb, with_db) -> None:
    """campaign add/list/attach/rm, queue list, worker (tui/commands.py: campaign_*)."""
    campaign = commands.add_parser("campaign", help="add, list, attach and remove campaigns", parents=[])
    if campaign is not None:
        actions = _SubcommandsWithDb(campaign.add_subparsers(dest="action", metavar="ACTION", required=True), with_db)
        add = actions.add_parser("add", help="add a campaign using an active provider")
        add.add_argument("campaign", metavar="NAME")
        add.add_argument("--provider", required=True, metavar="PROVIDER", help="the provider it uses (must be active)")
        add.add_argument("--kind", default="email", metavar="email|dialer", help="email (default) or dialer")
        listing = actions.add_parser("list", help="list campaigns with their provider and queued count")
        listing.add_argument("--json", action="store_true")
        attach = actions.add_parser("attach", help="make a campaign use another (active) provider")
        attach.add_argument("campaign", metavar="NAME")
        attach.add_argument("--provider", required=True, metavar="PROVIDER")
        remove = actions.add_parser("rm", help="remove a campaign (its provider and the mail stay)")
        remove.add_argument("campaign", metavar="NAME")

    queue = commands.add_parser("queue", help="the mail queued for a campaign", parents=[])
    if queue is not None:
        queue_actions = _SubcommandsWithDb(queue.add_subparsers(dest="action", metavar="ACTION", required=True), with_db)
        queue_list = queue_actions.add_parser("list", help="messages received by the campaign's provider")
        queue_list.add_argument("campaign", metavar="CAMPAIGN")
        queue_list.add_argument("--json", action="store_true")

    worker = commands.add_parser("worker", help="receive mail for every active provider with Receive on")
    if worker is not None:
        worker.add_argument("--once", action="store_true", help="one pass over every provider, then exit")
        worker.add_argument("--since-days", type=int, metavar="N", default=None,
                            help="first sync of a mailbox: take the last N days (default: only mail from now on)")
        worker.add_argument("--poll-interval", type=float, metavar="SECONDS", default=None,
                            help="how often to poll without IMAP IDLE, and POP3 (default 60)")
        worker.add_argument("--max-message-mb", type=float, metavar="MB", default=None,
                            help="size cap per message; over it only the headers are queued (default 25)")
        worker.add_argument("--mark-seen", action="store_true", help="mark queued IMAP messages \\Seen")
        worker.add_argument("--batch-size", type=int, metavar="N", default=None,
                            help="messages fetched and committed together (default 1000, at most 3000)")


def _add_oauth_commands(commands) -> None:
    """`oauth-app set microsoft|google`, `oauth-app show` and `login NAME`."""
    import argparse

    apps = commands.add_parser("oauth-app", help="the organisation's OAuth apps for Outlook and Gmail sign-in")
    if apps is not None:
        app_actions = _SubcommandsWithDb(apps.add_subparsers(dest="action", metavar="ACTION", required=True),
                                         commands.with_db)
        setter = app_actions.add_parser("set", help="set the Microsoft or Google app registration")
        methods = _SubcommandsWithDb(setter.add_subparsers(dest="method", metavar="microsoft|google", required=True),
                                     commands.with_db)
        microsoft = methods.add_parser("microsoft", help="the Entra ID app registration (public client flows on)")
        microsoft.add_argument("--client-id", required=True, metavar="ID", help="Application (client) ID")
        microsoft.add_argument("--tenant", metavar="TENANT",
                               help="organizations (default), common, consumers or the tenant id")
        microsoft.add_argument("--authority-host", metavar="URL",
                               help="default https://login.microsoftonline.com (national clouds differ)")
        google = methods.add_parser("google", help="the Google Cloud OAuth client (type Desktop app)")
        google.add_argument("--client-id", required=True, metavar="ID", help="OAuth client ID")
        google.add_argument("--client-secret-stdin", action="store_true",
                            help="read the client secret from standard input (kept in the secret store)")
        google.add_argument("--auth-uri", metavar="URL", help="default https://accounts.google.com/o/oauth2/auth")
        google.add_argument("--token-uri", metavar="URL", help="default https://oauth2.googleapis.com/token")
        show = app_actions.add_parser("show", help="show the app settings (never the client secret)")
        show.add_argument("--json", action="store_true")

    login = commands.add_parser("login", help="sign an Outlook or Gmail provider in, then check it")
    if login is not None:
        from tui.core.oauth import DEFAULT_PORT

        login.add_argument("provider", metavar="NAME")
        login.add_argument("--port", metavar="P", default=str(DEFAULT_PORT),
                           help=f"Gmail: the port to listen on, on 127.0.0.1 (default {DEFAULT_PORT})")
        login.add_argument("--paste", action="store_true",
                           help="paste the address the browser ended on instead (Outlook: the auth code flow, "
                           "for tenants that block the device code flow)")
        login.add_argument("--shared-mailbox", action=argparse.BooleanOptionalAction, default=None,
                           help="allow signing in with another account than the mailbox (a shared mailbox); "
                           "remembered until --no-shared-mailbox")


class _SubcommandsWithDb:
    """add_parser() that gives every subcommand the global --db flag as well. With `wanted`
    (the command typed), any other command is left out: add_parser() returns None for it
    (`mailprov --help`, or a command line not read as plain, builds them all)."""

    def __init__(self, subparsers, with_db, wanted: str | None = None):
        self.subparsers = subparsers
        self.with_db = with_db
        self.wanted = wanted

    def add_parser(self, name: str, parents=None, **kwargs):
        if self.wanted is not None and name != self.wanted:
            return None  # even a bare parser costs: argparse looks its words up in gettext's catalogs
        return self.subparsers.add_parser(name, parents=[self.with_db] if parents is None else parents, **kwargs)


COMMAND_NAMES = ("provider", "check", "send-test", "send", "export", "import", "doctor", "campaign", "queue",
                 "worker", "oauth-app", "login")


def _command_typed(argv: Sequence[str] | None) -> str | None:
    """The command in a plain command line (`CMD ...`, `--db X CMD ...`, `--db=X CMD ...`);
    None for anything else (options argparse may read otherwise, --help): then every
    command is built, and argparse reads the line as always."""
    if not argv:
        return None
    words = list(argv)
    if words[0] == "--db":
        words = words[2:]
    elif words[0].startswith("--db="):
        words = words[1:]
    return words[0] if words and words[0] in COMMAND_NAMES else None


def _add_field_flags(parser: argparse.ArgumentParser, require_identity: bool) -> None:
    """One flag per field of tui.core.fields (with its aliases, like --imap-host)."""
    from argparse import BooleanOptionalAction

    from tui.core.fields import FIELDS, FieldKind

    for spec in FIELDS:
        if spec.name == "name" and not require_identity:
            continue  # `edit` renames with --rename
        if spec.kind is FieldKind.SECRET:
            parser.add_argument(*spec.flags, dest="password_stdin", action="store_true", help=spec.help)
        elif spec.kind is FieldKind.SWITCH:
            parser.add_argument(*spec.flags, dest=spec.name, action=BooleanOptionalAction, help=spec.help)
        else:
            required = require_identity and spec.name in ("name", "type", "account")
            parser.add_argument(*spec.flags, dest=spec.name, metavar="VALUE", help=spec.help, required=required)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(sys.argv[1:] if argv is None else list(argv))
        sys.stdout.flush()  # here, so a closed pipe is caught below and not at exit
        return code
    except KeyboardInterrupt:
        print("mailprov: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _discard_stdout() -> None:
    """The reader of stdout went away (`| head`): send what is still buffered to /dev/null,
    so Python's final flush does not complain about the closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass


def _main(argv: list[str]) -> int:
    if not argv:
        return open_ui(db=None)  # the everyday path: no parser needed
    args = build_parser(argv).parse_args(argv)
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
        return _fail(str(exc), EXIT_ENVIRONMENT)
    from tui.commands import run_command

    return run_command(args, settings)


def open_ui(db: str | None) -> int:
    from tui.core.settings import SettingsError, load_settings

    try:
        settings = load_settings(db=db)
    except SettingsError as exc:
        return _fail(str(exc), EXIT_ENVIRONMENT)
    from tui.ui.app import run_app

    run_app(settings)
    return EXIT_OK


def _fail(message: str, code: int) -> int:
    say(f"mailprov: {message}", file=sys.stderr)
    return code

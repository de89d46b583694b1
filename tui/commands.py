"""What each CLI subcommand does, over ProviderService. Output is for people (aligned text,
status as glyph + word) or, with --json, for monitoring. Every line goes through `say()` or
`print_json()`: names and server replies in it never reach the terminal as control codes."""

from __future__ import annotations

import getpass
import signal
import sys
from pathlib import Path

from tui.core import rules
from tui.core.domain import ProviderDraft, ValidationError
from tui.core.fields import field_label, field_ref
from tui.core.report import CheckReport, FailureKind
from tui.core.settings import Settings
from tui.core.records import CampaignNotFound, NotFoundError, ProviderInUse, ProviderRecord
from tui.core.text import visible
from tui.output import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_ENVIRONMENT, EXIT_OK, print_json, print_json_list, say

EDITABLE_FIELDS = [name for name in ProviderDraft.field_names() if name not in ("password", "password_stored")]


def run_command(args, settings: Settings) -> int:
    from tui.core.bootstrap import build_service, configure_logging, environment_problem

    handler = {
        ("provider", "add"): provider_add,
        ("provider", "edit"): provider_edit,
        ("provider", "rm"): provider_rm,
        ("provider", "list"): provider_list,
        ("provider", "show"): provider_show,
        ("check", None): check,
        ("send-test", None): send_test,
        ("send", None): send,
        ("export", None): export,
        ("import", None): import_file,
        ("doctor", None): doctor,
        ("campaign", "add"): campaign_add,
        ("campaign", "list"): campaign_list,
        ("campaign", "attach"): campaign_attach,
        ("campaign", "rm"): campaign_rm,
        ("queue", "list"): queue_list,
        ("worker", None): worker,
        ("oauth-app", "set"): oauth_app_set,
        ("oauth-app", "show"): oauth_app_show,
        ("login", None): login,
    }[(args.command, getattr(args, "action", None))]
    if handler is doctor:
        return doctor(args, settings)  # it reports on the log file, database and store itself
    try:
        configure_logging(settings)
        service = _quick_service(handler, settings) or build_service(settings)
        try:
            if _may_write_passwords(handler, args):
                _open_secret_store(service)
            return handler(args, service)
        finally:
            _close(service)
    except CampaignInvalid as exc:
        for line in exc.lines:
            _error(line)
        return EXIT_BAD_INPUT
    except ValidationError as exc:
        return _invalid(exc)
    except ProviderInUse as exc:
        _error(f"{exc} Nothing removed: attach those campaigns to another provider first, or "
               "use --force to remove it anyway (they are left without a provider).")
        return EXIT_BAD_INPUT
    except (NotFoundError, CampaignNotFound, UsageProblem) as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    except Exception as exc:  # the secret store, the database or the log failed: say what, not a trace
        problem = environment_problem(exc, settings)
        if problem is None:
            raise
        _error(problem)
        return EXIT_ENVIRONMENT


def _quick_service(handler, settings: Settings):
    """For a command that only reads providers, or checks them: the quick path (no
    SQLAlchemy, see tui.core.reader) when the database allows it, else None (the full
    service)."""
    if handler not in (provider_list, provider_show, check):
        return None
    from tui.core.reader import Reader

    reader = Reader.open(settings)
    if reader is None or handler is not check:
        return reader
    if reader.has_oauth_sign_in():
        reader.close()
        return None
    from tui.core.bootstrap import build_service

    return build_service(settings, store=reader)


def _close(service) -> None:
    """Close the database here, not through the collection at exit (see tui.__main__): the
    service's store, or the quick path's reader that list and show use as it is."""
    getattr(service, "store", service).close()


def _may_write_passwords(handler, args) -> bool:
    """Listing, showing, exporting and a dry run need no password (nor the secret store)."""
    reading = (provider_list, provider_show, export, campaign_add, campaign_list, campaign_attach, campaign_rm,
               queue_list, oauth_app_show)
    return handler not in reading and not getattr(args, "dry_run", False)


def _open_secret_store(service) -> None:
    """Open the (lazily opened) secret store before anything is written: if it cannot be
    opened, the command stops with nothing changed, rather than after a row was written
    whose password could not be."""
    opened = getattr(service.secrets, "opened", None)
    if opened is not None:
        opened()


class UsageProblem(Exception):
    pass


def _invalid(exc: ValidationError, flag_used: dict[str, str] | None = None) -> int:
    """One line per field, naming the flag that sets it (`flag_used` when another flag than
    the field's own was typed: `edit --rename` sets the name)."""
    for field_name, message in exc.errors.items():
        ref = field_ref(field_name, exc.inbound)
        if flag_used and field_name in flag_used:
            ref = f"{flag_used[field_name]} ({field_label(field_name, exc.inbound)})"
        _error(f"{ref}: {message}")
    return EXIT_BAD_INPUT


def _error(line: str) -> None:
    say(f"mailprov: {line}", file=sys.stderr)


def _warn(lines: list[str]) -> None:
    """Allowed but unsafe (e.g. security none): said on stderr, so --json stays clean."""
    for line in lines:
        say(f"mailprov: warning: {line}", file=sys.stderr)


# provider add / edit / rm ------------------------------------------------------------


def provider_add(args, service) -> int:
    draft = ProviderDraft()
    draft = _apply_flags(draft, args)
    record = service.create(draft)
    say(f"Added {record.name} ({record.status_text}). Run `mailprov check {_quote(record.name)}` to activate it.")
    _warn(rules.warnings(record.settings) + _shared_account(service, record))
    return EXIT_OK


def provider_edit(args, service) -> int:
    draft = _apply_flags(service.draft_for(args.provider), args)
    if args.rename is not None:
        draft = draft.updated(name=args.rename)
    try:
        record = service.update(args.provider, draft)
    except ValidationError as exc:
        return _invalid(exc, {"name": "--rename"})
    say(f"Saved {record.name} ({record.status_text}).")
    _warn(rules.warnings(record.settings) + _shared_account(service, record))
    return EXIT_OK


def _shared_account(service, record: ProviderRecord) -> list[str]:
    """Two providers on one mailbox are allowed (two campaigns may share it), but are
    usually a mistake: said, not refused."""
    account = record.settings.account.casefold()
    others = [other.name for other in service.summaries()
              if other.id != record.id and other.account.casefold() == account]
    if not others:
        return []
    names = ", ".join(f"'{name}'" for name in others)
    return [f"the account {record.settings.account} is also used by {names}: "
            "allowed (campaigns may share a mailbox), but check that this is intended."]


def provider_rm(args, service) -> int:
    record = service.delete(args.provider, force=args.force)
    say(f"Removed {record.name} and its stored password.")
    return EXIT_OK


def _apply_flags(draft: ProviderDraft, args) -> ProviderDraft:
    """The draft with the flags' values; standard ports and preset hosts follow a new choice."""
    changes = {name: getattr(args, name) for name in EDITABLE_FIELDS if getattr(args, name, None) is not None}
    if args.password_stdin:
        changes["password"] = _read_password()
    # Then the flags again: a port or host given on the command line is what was asked for.
    return rules.with_defaults_followed(draft, draft.updated(**changes)).updated(**changes)


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    # Empty input is left to the rules, so every field's problem is reported at once.
    return sys.stdin.readline().rstrip("\r\n")


def _quote(name: str) -> str:
    return f'"{name}"' if " " in name else name


# provider list / show ----------------------------------------------------------------


def provider_list(args, service) -> int:
    if args.json:
        # Transcripts are long (kilobytes each): only `show --json`, or on request, has them.
        # Streamed one provider at a time: memory stays flat however many there are.
        print_json_list(record_to_json(r, transcripts=args.transcripts) for r in service.records())
        return EXIT_OK
    rows = _list_rows(service)
    if not rows:
        say("No providers yet. Add one with `mailprov provider add` or open the UI with `mailprov`.")
        return EXIT_OK
    _print_table([("STATUS", "NAME", "TYPE", "ACCOUNT", "RECEIVE", "LAST CHECK"), *rows])
    return EXIT_OK


def _list_rows(service) -> list[tuple]:
    """The table's rows. On the quick path, made from the stored values: the words of each
    distinct combination of type, security, status and failure are found once (10,000
    providers share a handful), through the same ProviderSummary as the full path."""
    from tui.core.reader import Reader

    if not isinstance(service, Reader):  # the full service (the quick path hands the Reader over)
        return [_list_row(summary) for summary in service.summaries()]
    from tui.core.records import summary_of

    words: dict[tuple, tuple[str, str, str]] = {}
    rows = []
    for row in service.summary_rows():  # SUMMARY_COLUMNS order
        key = (row[2], row[4], row[5], row[6], row[7], row[10], row[11])
        if key not in words:
            status, _name, kind, _account, receive, _checked = _list_row(summary_of(row))
            words[key] = (status, kind, receive)
        status, kind, receive = words[key]
        rows.append((status, row[1], kind, row[3], receive, _stored_minute(row[8])))
    return rows


def _list_row(s) -> tuple:
    return (s.status_text, s.name, s.type.label, s.account,
            s.inbound_protocol.label if s.inbound_protocol else "no", _minute(s.last_checked_at))


def _minute(moment) -> str:
    """A UTC time to the minute, "2026-11-27 09:00 UTC" (isoformat: faster than strftime,
    which counts with 10,000 rows), or "never"."""
    return f"{moment.isoformat(' ', 'minutes')[:16]} UTC" if moment else "never"


def _stored_minute(value) -> str:
    """_minute() of a stored time, read off the text when it is the stamp SQLite is given
    ("2026-11-27 09:00:00.000000": UTC, no zone, tui.core.records.sqlite_stamp), else parsed."""
    if type(value) is str and len(value) == 26 and value[10] == " " and value[19] == ".":
        return f"{value[:16]} UTC"  # six digits of microseconds end it: no room for a zone
    from tui.core.records import moment

    return _minute(moment(value))


def provider_show(args, service) -> int:
    record = service.require(args.provider)
    if args.json:
        print_json(record_to_json(record))
    else:
        print_record(record)
    return EXIT_OK


def print_record(record: ProviderRecord) -> None:
    for key, value in record_to_json(record).items():
        if key != "last_report":
            say(f"{key:18} {_plain(value)}")
    if record.report:
        say()
        print_report(record.report)


def record_to_json(record: ProviderRecord, *, transcripts: bool = True) -> dict:
    """The provider in the export's nested shape (tui.core.exchange.settings_tree), with its
    sign-in method, status and last report (without its transcripts unless `transcripts`)."""
    from tui.core.exchange import settings_tree

    s = record.settings
    failure = record.failure
    return {
        **settings_tree(s, full=True),
        "sign_in": s.sign_in.value,
        "status": record.status.value,
        "status_text": record.status_text,
        "encrypted": s.encrypted,
        "password_missing": failure is not None and failure.kind is FailureKind.SECRET,
        "last_checked_at": _iso(record.last_checked_at),
        "last_ok_at": _iso(record.last_ok_at),
        "kind": failure.kind.value if failure else None,
        "message": failure.message if failure else None,
        "remedy": failure.remedy if failure else None,
        "last_report": _report_dict(record.report, transcripts) if record.report else None,
    }


def _report_dict(report: CheckReport, transcripts: bool) -> dict:
    data = report.to_dict()
    if not transcripts:
        for result in (data["outbound"], data["inbound"]):
            if result is not None:
                del result["transcript"]
    return data


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _plain(value) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(value) or "-"
    return "-" if value in (None, "") else str(value)


def _print_table(rows: list[tuple]) -> None:
    """Rows of cells, aligned in columns as shown (control characters escaped first)."""
    columns = [_visible_column(column) for column in zip(*rows)]
    widths = [max(map(len, column)) for column in columns]
    # The lines are written at once, not one print() each, each laid out by one format
    # string (10,000 rows: a call per row, not one per cell).
    layout = "  ".join(f"{{:<{width}}}" for width in widths)
    lines = [layout.format(*row).rstrip() for row in zip(*columns)]
    sys.stdout.write("\n".join(lines) + "\n")


def _visible_column(cells: tuple) -> list[str]:
    """A column's cells as shown. The usual column has nothing to escape: one test for all."""
    try:
        if "".join(cells).isprintable():
            return list(cells)
    except TypeError:  # numbers among the cells
        cells = tuple(map(str, cells))
    return [visible(cell) for cell in cells]


# check -------------------------------------------------------------------------------


def check(args, service) -> int:
    if args.all and args.names:
        raise UsageProblem("give provider names or --all, not both.")
    if not args.all and not args.names:
        raise UsageProblem("name the providers to check, or use --all.")
    # Names are case-insensitive: `check alice ALICE` checks Alice once, in the order given.
    names = None if args.all else list(dict.fromkeys(service.require(name).name for name in args.names))
    reports = service.check_all(names)
    if not reports:  # --all on an empty database; on stderr with --json, which stays `[]`
        say("No providers to check.", file=sys.stderr if args.json else None)
    for report in reports:
        _warn([f"{report.provider}: {line}" for line in rules.report_warnings(report)])
    if args.json:
        print_json([report_to_json(report) for report in reports])
    else:
        for index, report in enumerate(reports):
            if index:
                say()
            print_report(report)
    return EXIT_OK if all(report.ok and not report.outdated for report in reports) else EXIT_CHECK_FAILED


def _failure_json(failure) -> dict:
    """What failed, for --json (all None / empty when nothing did)."""
    return {
        "kind": failure.kind.value if failure else None,
        "message": failure.message if failure else None,
        "remedy": failure.remedy if failure else None,
        "fields": list(failure.fields) if failure else [],
    }


def report_to_json(report: CheckReport) -> dict:
    failure = report.failure
    return {
        "name": report.provider,
        "status": report.status.value,
        "encrypted": report.encrypted,
        "warnings": rules.report_warnings(report),
        **_failure_json(failure),
        "transient": failure.transient if failure else False,
        "checked_at": report.started_at.isoformat(),
        "duration_ms": round(report.duration_ms, 1),
        "steps": [
            {"protocol": result.protocol, "name": step.name, "ok": step.ok,
             "duration_ms": round(step.duration_ms, 1), "detail": step.detail}
            for result in report.results
            for step in result.steps
        ],
        "summary": {result.protocol: result.summary for result in report.results if result.summary},
        "saved": not report.outdated,
    }


def _print_steps(steps) -> None:
    """A protocol's steps, one line each: mark, name, time, what the server said."""
    for step in steps:
        mark = "✓" if step.ok else "✖"
        detail = f"  {step.detail}" if step.detail else ""
        say(f"    {mark} {step.name:<12} {step.duration_ms:8.1f} ms{detail}")


def print_report(report: CheckReport) -> None:
    say(f"{report.provider}: {report.status_text}")
    if report.outdated:
        say("  not saved: the provider was changed during this check; check it again")
    for result in report.results:
        say(f"  {result.protocol.upper()} {result.host}:{result.port}")
        _print_steps(result.steps)
        if result.summary:
            say(f"    {result.summary}")
    failure = report.failure
    if failure:
        inbound = report.inbound.protocol if report.inbound else None
        fields = ", ".join(field_ref(name, inbound) for name in failure.fields)
        say(f"  ✖ {failure.kind.value}: {failure.message}")
        say(f"    fix: {failure.remedy}" + (f" ({fields})" if fields else ""))
        if failure.transient:
            say("    this may pass by itself: try again before changing settings")


# send-test ---------------------------------------------------------------------------


def send_test(args, service) -> int:
    """The check's SMTP ladder, then DATA with a short test message; exit 1 when not sent."""
    from tui.core.mail.compose import UnsafeMessage

    record = service.require(args.provider)
    try:
        result = service.send_test(record.name, args.to)
    except UnsafeMessage as exc:
        raise UsageProblem(f"--to {args.to}: {exc.reason}") from None
    if args.json:
        print_json(send_result_to_json(result))
    else:
        print_send_result(result)
    return EXIT_OK if result.sent else EXIT_CHECK_FAILED


def send_result_to_json(result) -> dict:
    failure = result.failure
    return {
        "name": result.provider,
        "sent": result.sent,
        "message_id": result.message_id,
        "recipients": list(result.recipients),
        "queue_id": result.queue_id,
        "reply": result.reply,
        **_failure_json(failure),
        "steps": [{"name": step.name, "ok": step.ok, "duration_ms": round(step.duration_ms, 1),
                   "detail": step.detail} for step in result.result.steps],
    }


def print_send_result(result, what: str = "test message") -> None:
    recipients = ", ".join(result.recipients)
    outcome = f"{what} sent to {recipients}" if result.sent else f"{what} to {recipients} NOT sent"
    say(f"{result.provider}: {outcome}")
    smtp = result.result
    say(f"  SMTP {smtp.host}:{smtp.port}")
    _print_steps(smtp.steps)
    if result.sent:
        say(f"  Message-ID {result.message_id}")
        say(f"  queued as {result.queue_id}" if result.queue_id
            else f"  the server gave no queue id (it answered: {result.reply})")
    failure = result.failure
    if failure:
        fields = ", ".join(field_ref(name) for name in failure.fields)
        say(f"  ✖ {failure.kind.value}: {failure.message}")
        say(f"    fix: {failure.remedy}" + (f" ({fields})" if fields else ""))


# send --------------------------------------------------------------------------------

# The flag that sets each field compose() may refuse (the others are the provider's own).
SEND_FLAGS = {"to": "--to", "cc": "--cc", "subject": "--subject", "in_reply_to": "--reply-to-message",
              "references": "--reply-to-message"}


def send(args, service) -> int:
    """compose() + ProviderService.send(); once the server accepted it, the message is
    recorded in its conversation (one transaction: recorded whole or not at all). Exit 1
    when it was not sent, 2 for bad input (nothing sent)."""
    from tui.core.mail.compose import UnsafeMessage, compose
    from tui.core.queue import QueueStore

    try:
        record = service.require(args.provider)
    except NotFoundError as exc:
        raise UsageProblem(f"--provider {args.provider}: {exc}") from None
    queue = QueueStore(service.store)
    in_reply_to, references = _replied_thread(args, queue, record)
    body = _read_body(args)
    try:
        message = compose(record.settings, to=args.to, cc=args.cc, subject=args.subject, body=body,
                          in_reply_to=in_reply_to, references=references)
    except UnsafeMessage as exc:
        raise UsageProblem(_unsafe_field(exc, args, record)) from None
    # Ctrl+C or SIGTERM while sending: the send (bounded by its timeouts) and its recording
    # finish first, so a message the server accepted is not left out of its conversation.
    with SignalsStop() as stop:
        result = service.send(record.name, message)
        if not result.sent:
            print_send_result(result, what="message")
            return EXIT_CHECK_FAILED
        recorded = _record_sent(service, queue, record, message, result)
        if recorded is False:
            return EXIT_ENVIRONMENT
    say(f"Sent {result.message_id} through {record.name} to {', '.join(result.recipients)}.")
    say(f"Message-ID {result.message_id}")
    say(f"queue id {result.queue_id}" if result.queue_id
        else f"queue id none (the server answered: {result.reply})")
    if recorded is not None:
        say(f"conversation {recorded.conversation_id}")
    if stop.requested():
        _error("stop asked for while sending: the message was sent and recorded first.")
    return EXIT_OK


def _record_sent(service, queue, record: ProviderRecord, message, result):
    """record_sent (one transaction), or False after a line saying the message went out
    but could not be recorded (the database failed)."""
    from tui.core.bootstrap import environment_problem

    try:
        return queue.record_sent(record.id, message.data, active_reference=record.settings.active_reference)
    except Exception as exc:
        problem = environment_problem(exc, service.settings)
        if problem is None:
            raise
        _error(f"{result.message_id} was sent (queue id {result.queue_id or 'none'}) but not recorded "
               f"in its conversation: {problem}")
        return False


def _replied_thread(args, queue, record: ProviderRecord) -> tuple[str | None, list[str]]:
    """In-Reply-To and References for --reply-to-message: the answered message's Message-ID,
    after its References (those compose() takes as they are). compose() writes them only
    with Active reference on."""
    from tui.core.mail.compose import is_message_id

    if args.reply_to_message is None:
        return None, []
    found = queue.thread_of(record.id, args.reply_to_message)
    if found is None:
        raise UsageProblem(f"--reply-to-message {args.reply_to_message}: no message with this Message-ID is "
                           f"queued for {record.name} (see `mailprov queue list CAMPAIGN`).")
    message_id, references = found
    if not is_message_id(message_id):
        raise UsageProblem(f"--reply-to-message {args.reply_to_message}: that message's Message-ID "
                           f"({message_id}) cannot be named in In-Reply-To.")
    if not record.settings.active_reference:
        _warn([f"{record.name} has Active reference off: the message is sent without In-Reply-To "
               "and References, and starts a new conversation."])
    return message_id, [reference for reference in references if is_message_id(reference)]


def _read_body(args) -> str:
    """The body from --body-file, else stdin: UTF-8 text, at most compose's limit."""
    from tui.core.mail.compose import MAX_BODY_BYTES

    where = f"--body-file {args.body_file}" if args.body_file else "the body on stdin"
    try:
        if args.body_file:
            with open(args.body_file, "rb") as file:
                data = file.read(MAX_BODY_BYTES + 1)
        else:
            if sys.stdin.isatty():
                say("Type the body, then Ctrl+D on a line of its own.", file=sys.stderr)
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read(MAX_BODY_BYTES + 1) if stream else sys.stdin.read(MAX_BODY_BYTES + 1).encode()
    except OSError as exc:
        raise UsageProblem(f"{where}: cannot read it ({exc.strerror or exc}).") from None
    if len(data) > MAX_BODY_BYTES:
        raise UsageProblem(f"{where}: at most {MAX_BODY_BYTES // (1024 * 1024)} MiB.")
    try:
        body = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageProblem(f"{where}: not UTF-8 text (byte {exc.start}).") from None
    return body.replace("\r\n", "\n")


def _unsafe_field(exc, args, record: ProviderRecord) -> str:
    """compose()'s refusal, naming the flag that gave the value, or the provider's field."""
    if exc.field in SEND_FLAGS:
        return f"{SEND_FLAGS[exc.field]}: {exc.reason} Nothing sent."
    if exc.field == "body":
        where = f"--body-file {args.body_file}" if args.body_file else "the body on stdin"
        return f"{where}: {exc.reason} Nothing sent."
    return f"provider {record.name}, {field_label(exc.field)}: {exc.reason} Nothing sent."


# export / import ---------------------------------------------------------------------


def export(args, service) -> int:
    import re

    from tui.core.exchange import ENV_PREFIX_PATTERN, export_toml

    prefix = args.password_env_prefix
    if prefix is not None and not re.fullmatch(ENV_PREFIX_PATTERN, prefix):
        raise UsageProblem(f"--password-env-prefix {prefix}: use letters, digits and _ (like MAILPROV_PW_).")
    text = export_toml(service.list(reports=False), password_env_prefix=prefix)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"-o {args.output}: cannot write it ({exc.strerror or exc}).") from None
        say(f"Wrote {len(service.names())} provider(s) to {args.output} (no secrets).", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def import_file(args, service) -> int:
    from tui.core.service import ImportInterrupted

    with SignalsStop() as stop:
        try:
            return _import(args, service, stop)
        except ImportInterrupted as exc:
            _error(str(exc))
            return 128 + (stop.signal or signal.SIGINT)


def _import(args, service, stop: SignalsStop) -> int:
    import os

    from tui.core.exchange import apply_actions, mark_unchanged, parse_import, plan_actions

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageProblem(f"cannot read {args.file}: {exc}") from None
    plan = parse_import(text)
    if plan.unreadable:
        raise UsageProblem(f"{args.file}: {plan.unreadable}; nothing imported.")
    current = {record.name.casefold(): record for record in service.list(reports=False)}
    actions = plan_actions(plan, list(current), dict(os.environ))
    if not plan.ok:
        for line in plan.error_lines():
            _error(line)
        _error(f"nothing imported: {len(plan.errors)} problem(s) in {args.file}.")
        return EXIT_BAD_INPUT
    mark_unchanged(actions, current, lambda record: _stored_password(service, record))
    for action in actions:
        verb = action.kind if action.kind == "unchanged" or not args.dry_run else f"would {action.kind}"
        say(f"{verb} {action.entry.draft.name.strip()}")
    if args.dry_run:
        return EXIT_OK
    apply_actions(service, actions, stop=stop.requested)
    changed = sum(action.kind != "unchanged" for action in actions)
    unchanged = f" ({len(actions) - changed} unchanged)" if changed < len(actions) else ""
    say(f"Imported {changed} provider(s){unchanged}. Run `mailprov check --all` to activate them.")
    return EXIT_OK


def _stored_password(service, record: ProviderRecord) -> str | None:
    """Only asked for an entry that would change nothing else (a dry run may lack the store)."""
    from tui.core.secrets import SecretStoreError

    try:
        return service.secrets.get_password(record.secret_key)
    except SecretStoreError:  # cannot tell: call it an update, which is always safe
        return None


class SignalsStop:
    """While active, SIGINT and SIGTERM only note that a stop was asked for: the import
    checks `requested()` where stopping leaves nothing behind, instead of being cut off
    mid-write by KeyboardInterrupt."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def requested(self) -> bool:
        return self.signal is not None

    def _note(self, signum: int, _frame) -> None:
        self.signal = signum

    def __enter__(self) -> SignalsStop:
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *_exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


# doctor ------------------------------------------------------------------------------


def doctor(args, settings: Settings) -> int:
    from tui.core.doctor import collect

    problems = 0
    for label, value, ok in collect(settings):
        problems += not ok
        say(f"{'✓' if ok else '✖'} {label:<21} {value}")
    return EXIT_OK if not problems else EXIT_CHECK_FAILED


# campaign / queue ----------------------------------------------------------------------


class CampaignInvalid(Exception):
    """A campaign command's bad input, one line per argument at fault."""

    def __init__(self, lines: list[str]):
        super().__init__("; ".join(lines))
        self.lines = lines


# The argument that sets each field of a campaign, for messages naming what to fix.
CAMPAIGN_ARGUMENTS = {"name": "NAME", "provider": "--provider", "kind": "--kind"}


def _campaigns(service):
    from tui.core.campaigns import CampaignStore

    return CampaignStore(service.store)


def _campaign_call(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except ValidationError as exc:
        raise CampaignInvalid([f"{CAMPAIGN_ARGUMENTS.get(field, field)}: {message}"
                               for field, message in exc.errors.items()]) from None


def campaign_add(args, service) -> int:
    campaign = _campaign_call(_campaigns(service).add, args.campaign, provider=args.provider, kind=args.kind)
    say(f"Added the {campaign.kind.value} campaign {campaign.name}, using {campaign.provider_name}.")
    return EXIT_OK


def campaign_attach(args, service) -> int:
    campaign = _campaign_call(_campaigns(service).attach, args.campaign, args.provider)
    say(f"{campaign.name} now uses {campaign.provider_name}.")
    return EXIT_OK


def campaign_rm(args, service) -> int:
    campaign = _campaigns(service).remove(args.campaign)
    say(f"Removed the campaign {campaign.name} (its provider and its mail stay).")
    return EXIT_OK


def campaign_list(args, service) -> int:
    from tui.core.queue import QueueStore

    campaigns = _campaigns(service).list()
    counts = QueueStore(service.store).queued_counts()
    items = [{"name": c.name, "kind": c.kind.value, "provider": c.provider_name,
              "queued": counts.get(c.provider_id, 0) if c.provider_id else 0,
              "created_at": _iso(c.created_at)} for c in campaigns]
    if args.json:
        print_json(items)
        return EXIT_OK
    if not items:
        say("No campaigns yet. Add one with `mailprov campaign add NAME --provider PROVIDER`.")
        return EXIT_OK
    rows = [("NAME", "KIND", "PROVIDER", "QUEUED")]
    rows += [(item["name"], item["kind"], item["provider"] or "-", item["queued"]) for item in items]
    _print_table(rows)
    return EXIT_OK


def queue_list(args, service) -> int:
    from tui.core.queue import QueueStore

    campaign = _campaigns(service).require(args.campaign)
    queue = QueueStore(service.store)
    # Received and sent (direction "out", by `mailprov send`), oldest first.
    messages = queue.messages(campaign.provider_id, direction=None) if campaign.provider_id else []
    if args.json:
        print_json([{
            "message_id": m.message_id, "from": m.from_addr, "subject": m.subject,
            "conversation": m.conversation_id, "received_at": _iso(m.received_at), "direction": m.direction,
            "to": m.to_addrs, "date": _iso(m.date), "parse_error": m.parse_error, "too_large": m.too_large,
        } for m in messages])
        return EXIT_OK
    if campaign.provider_id is None:
        say(f"{campaign.name} has no provider: attach one with `mailprov campaign attach`.")
        return EXIT_OK
    if not messages:
        say(f"Nothing queued for {campaign.name} yet (its provider: {campaign.provider_name}).")
        return EXIT_OK
    rows = [("RECEIVED", "CONV", "FROM", "SUBJECT", "MARK")]
    for m in messages:
        mark = "sent" if m.direction == "out" else "parse error" if m.parse_error else "too large" if m.too_large else ""
        rows.append((m.received_at.strftime("%Y-%m-%d %H:%M"), m.conversation_id, m.from_addr, m.subject, mark))
    _print_table(rows)
    return EXIT_OK


# worker ------------------------------------------------------------------------------


def worker(args, service) -> int:
    import logging

    from tui.core.receive import MAX_BATCH_MESSAGES, WorkerOptions, run_worker

    if args.since_days is not None and not 0 <= args.since_days <= 36500:
        raise UsageProblem(f"--since-days {args.since_days}: give a number of days from 0 to 36500.")
    if args.poll_interval is not None and not 0.1 <= args.poll_interval <= 86400:
        raise UsageProblem(f"--poll-interval {args.poll_interval:g}: give seconds from 0.1 to 86400.")
    if args.max_message_mb is not None and not 0.001 <= args.max_message_mb <= 1024:
        raise UsageProblem(f"--max-message-mb {args.max_message_mb:g}: give megabytes from 0.001 to 1024.")
    if args.batch_size is not None and not 1 <= args.batch_size <= MAX_BATCH_MESSAGES:
        raise UsageProblem(f"--batch-size {args.batch_size}: give a number of messages from 1 to {MAX_BATCH_MESSAGES}.")
    options = WorkerOptions.from_flags(
        since_days=args.since_days, poll_interval=args.poll_interval,
        max_message_mb=args.max_message_mb, mark_seen=args.mark_seen, batch_size=args.batch_size,
    )
    _log_to_stderr(logging.getLogger("tui"))
    with SignalsStop() as stop:
        failed = run_worker(service, options, once=args.once, stop=stop.requested)
    return EXIT_CHECK_FAILED if failed else EXIT_OK  # --once: 1 when a provider's pass failed


def _log_to_stderr(logger) -> None:
    """The worker logs to stderr as well as the log file (systemd's journal reads stderr)."""
    import logging

    from tui.core.bootstrap import LOG_FORMAT, VisibleFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter(LOG_FORMAT))
    logger.addHandler(handler)


# oauth-app / login -----------------------------------------------------------------------


def oauth_app_set(args, service) -> int:
    from tui.core.oauth.apps import AppSettingsError  # here: the OAuth modules are not loaded for other commands

    try:
        return _set_oauth_app(args, service)
    except AppSettingsError as exc:
        for option, message in exc.errors.items():
            _error(f"{option}: {message}")
        return EXIT_BAD_INPUT


def _set_oauth_app(args, service) -> int:
    if args.method == "microsoft":
        app = service.oauth.set_microsoft_app(args.client_id, args.tenant, args.authority_host)
        say(f"Microsoft app set: client {app.client_id}, authority {app.authority}.")
        return EXIT_OK
    secret = _read_secret("Client secret: ") if args.client_secret_stdin else None
    app = service.oauth.set_google_app(args.client_id, secret, args.auth_uri, args.token_uri)
    kept = "" if secret else " (the stored client secret is kept)"
    say(f"Google app set: client {app.client_id}, token endpoint {app.token_uri}{kept}.")
    return EXIT_OK


def _read_secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\r\n")


def oauth_app_show(args, service) -> int:
    apps = service.oauth.apps()
    data = apps.to_json()
    if args.json:
        print_json(data)
        return EXIT_OK
    for method, label in (("microsoft", "Microsoft"), ("google", "Google")):
        values = data[method]
        if values is None:
            say(f"{label}: not set (mailprov oauth-app set {method} ...)")
            continue
        say(f"{label}:")
        for key, value in values.items():
            say(f"  {key:22} {'yes' if value is True else 'no' if value is False else value}")
    return EXIT_OK


def login(args, service) -> int:
    """Sign a provider in, in this terminal, then run its check. Exit 0 when it ends
    active; 1 when the sign-in or the check fails (one line why); 2 for bad input."""
    from tui.core.oauth import NotOAuth, PortTaken, SignInError

    port = _port(args.port)
    oauth = service.oauth
    try:
        record = oauth.oauth_provider(args.provider)
    except NotOAuth as exc:
        raise UsageProblem(str(exc)) from None
    if problem := oauth.app_missing(record.settings.sign_in):
        raise UsageProblem(problem)
    if args.shared_mailbox is not None:
        oauth.set_shared_mailbox(record.name, args.shared_mailbox)
    try:
        flow = oauth.start(record.name, port=port, paste=args.paste)
    except PortTaken:
        raise UsageProblem(f"--port {port}: the port is in use on 127.0.0.1; pick another with --port.") from None
    except SignInError as exc:
        return _sign_in_failed(exc)
    try:
        result = _run_flow(flow, record, args.paste)
        record = oauth.complete(record.name, result)
    except SignInError as exc:
        return _sign_in_failed(exc)
    finally:
        flow.cancel()  # Ctrl+C included: the listener is closed, the polling stopped
    say(f"Signed in as {result.account}. Checking {record.name}…")
    report = service.check(record.name)
    print_report(report)
    if report.outdated:
        _error(f"{record.name}: the check was not saved (the provider changed meanwhile); check it again.")
        return EXIT_CHECK_FAILED
    if not report.ok:
        _error(f"{record.name}: signed in, but the check failed: {report.failure.message}")
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise UsageProblem(f"--port {text}: a port number from 1 to 65535.")
    return port


def _run_flow(flow, record: ProviderRecord, paste: bool):
    from tui.core.oauth import DeviceCodeSignIn, GoogleSignIn

    who = f"{record.name} ({record.settings.account})"
    if isinstance(flow, DeviceCodeSignIn):
        say(f"To sign {who} in with Microsoft, open {flow.verification_uri}")
        say(f"and enter the code:  {flow.user_code}")
        if sys.stdout.isatty():
            from tui.core.qr import qr_lines

            say()
            for line in qr_lines(flow.verification_uri):
                say(line)
        minutes = max(0, int((flow.expires_at - _now()).total_seconds() // 60))
        say(f"The code expires at {flow.expires_at:%H:%M} UTC (in {minutes} min). Waiting… (Ctrl+C cancels)")
        sys.stdout.flush()
        return flow.wait()
    company = "Google" if isinstance(flow, GoogleSignIn) else "Microsoft"
    say(f"To sign {who} in with {company}, open this address in a browser:")
    say(f"  {flow.url}")
    if paste or not isinstance(flow, GoogleSignIn):
        say("After signing in, copy the address the browser ended on (from its address bar) and paste it here:")
        sys.stdout.flush()
        pasted = sys.stdin.readline()
        if not pasted.strip():
            from tui.core.oauth import SignInError

            raise SignInError("Nothing was pasted.", "Run the sign-in again and paste the browser's final address.")
        return flow.finish(pasted)
    say(f"The browser returns to {flow.redirect_uri}, on this machine: from a laptop, forward that port first:")
    say(f"  {flow.ssh_command()}")
    say("Waiting for the browser… (Ctrl+C cancels; or run with --paste to paste the final address)")
    sys.stdout.flush()
    return flow.wait()


def _now():
    from tui.core.report import utcnow

    return utcnow()


def _sign_in_failed(exc) -> int:
    _error(f"sign-in failed: {exc.message} {exc.remedy}")
    return EXIT_CHECK_FAILED

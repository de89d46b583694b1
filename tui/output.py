"""What the CLI prints, and the exit codes it ends with: shared by the parser (tui/cli.py) and
the subcommands (tui/commands.py), so neither imports the other for them.

Exit codes, so that monitoring can tell the cases apart:
  0    ok
  1    a check failed (or `doctor` found a problem)
  2    bad input: a flag, a name, an import file (one line naming the field; nothing written)
  3    the environment failed: the database, the secret store, the log file or a setting
       from the environment (one line naming which, and what to do)
  130  interrupted (Ctrl+C)
  141  standard output was closed early (`mailprov provider list | head`), as for other
       Unix tools killed by SIGPIPE; nothing is printed
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tui.core.text import escaped_in_quotes, visible

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_ENVIRONMENT = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a process stopped by Ctrl+C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE


def say(line: str = "", *, file=None) -> None:
    """Print one line of output. Names, accounts and server replies in it are data: their
    control characters are written as visible escapes (`\\x1b`), so they cannot retitle or
    recolour the terminal, and a line break inside a value cannot split the line."""
    print(visible(line), file=file)


def print_json(data) -> None:
    """JSON for monitoring: non-ASCII text stays readable, and every control character is a
    \\u escape (json.dumps escapes C0 itself; DEL and C1 are escaped here)."""
    print(_json_text(data))


def print_json_list(items: Iterable) -> None:
    """A JSON list written item by item as `items` yields them (memory stays flat in their
    number), exactly as print_json would write the whole list."""
    opened = False
    for item in items:
        indented = _json_text(item).replace("\n", "\n  ")
        sys.stdout.write(f",\n  {indented}" if opened else f"[\n  {indented}")
        opened = True
    print("\n]" if opened else "[]")


def _json_text(data) -> str:
    import json

    return escaped_in_quotes(json.dumps(data, indent=2, ensure_ascii=False, default=str))

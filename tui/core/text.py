"""Text from users and servers, made safe to show: it is data, never terminal control.

Every face (CLI lines, JSON, the log, the UI) and every stored server reply goes through
`visible()`, so no provider name or server greeting can retitle the terminal, recolour it,
move the cursor, or split one error line into two.
"""

from __future__ import annotations

import re

# C0 controls except tab, then DEL and the C1 controls (U+0080-U+009F: U+009B is a CSI on
# many terminals, as dangerous as ESC [).
CONTROL_CHARS = r"\x00-\x08\x0a-\x1f\x7f-\x9f"  # as a regex character range
# Also lone surrogates (bytes that were not UTF-8, in an argument): they cannot be printed.
_CONTROL = re.compile(f"[{CONTROL_CHARS}\ud800-\udfff]")
# For text fields that take no control character at all (Textual's Input(restrict=...)).
NO_CONTROL_CHARS = f"[^{CONTROL_CHARS}]*"


def visible(text: str) -> str:
    """`text` with each control character written as a visible escape: ESC becomes `\\x1b`,
    a line feed `\\x0a`. Tabs and all printable text are kept as they are."""
    if text.isprintable():  # no control character, no surrogate (the usual case: no regex)
        return text
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


# JSON and TOML writers escape C0 themselves but write DEL and C1 as they are.
_RAW_IN_QUOTED = re.compile(r"[\x7f-\x9f]")


def escaped_in_quotes(document: str) -> str:
    """A JSON or TOML document (as json.dumps and tomli_w write it) with DEL and C1 written
    as `\\u009b` escapes. In such a document these characters can only stand inside a
    quoted string, where the escape means the same character: the data is unchanged."""
    return _RAW_IN_QUOTED.sub(_unicode_escape, document)


def _unicode_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"

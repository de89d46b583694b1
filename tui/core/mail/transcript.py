"""What is kept of a conversation with a server: cleaned lines, bounded in number and length.

A session writes every line it sends ("C: ...", credentials already replaced by
<redacted>) and reads ("S: ...") to its transcript; the check stores it in its report.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

Cleaner = Callable[[str], str]

# What a report keeps of a conversation: the first lines (greeting, capabilities) and the
# last ones (where it went wrong), with a marker counting what was left out between.
TRANSCRIPT_HEAD = 300
TRANSCRIPT_TAIL = 99
MAX_TRANSCRIPT_LINE = 500  # characters, after cleaning


class Transcript:
    """The lines kept of a conversation: cleaned (no secret, no control character), each at
    most MAX_TRANSCRIPT_LINE characters, and at most TRANSCRIPT_HEAD + TRANSCRIPT_TAIL + 1 of
    them, so a chatty server cannot bloat a report."""

    def __init__(self, lines: list[str], clean: Cleaner):
        self.lines = lines
        self.clean = clean
        self._tail: deque[str] = deque(maxlen=TRANSCRIPT_TAIL)  # raw: cleaned if kept
        self._left_out = 0

    def add(self, line: str) -> None:
        if len(self.lines) < TRANSCRIPT_HEAD:
            self.lines.append(self._cleaned(line))
            return
        if len(self._tail) == self._tail.maxlen:
            self._left_out += 1
        self._tail.append(line)

    def finish(self) -> None:
        """Put the kept tail after the head (called once, when the conversation ends)."""
        if self._left_out:
            self.lines.append(f"… {self._left_out} more lines")
        self.lines.extend(self._cleaned(line) for line in self._tail)
        self._tail.clear()

    def _cleaned(self, line: str) -> str:
        return cut(self.clean(line), MAX_TRANSCRIPT_LINE)


class NoTranscript(Transcript):
    """For a session nobody keeps a transcript of: lines are dropped unread."""

    def __init__(self, clean: Cleaner):
        super().__init__([], clean)

    def add(self, line: str) -> None:
        pass


def cut(text: str, limit: int) -> str:
    """`text` at most `limit` characters, saying how much was left out. Always applied after
    cleaning: a cut first could leave half a password that the cleaner would not find."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"

"""The service as the screens use it, telling the app about every check of a saved provider.

The list must show a check's progress and result whichever screen started it: the form
checks a provider after saving it, and the user may be back on the list before that check
ends. So every `check` and `check_all` goes through here and posts, to the app and in
order, that it started, each step, and how it ended; the app passes that on to the list.
Everything else is the service's own, unchanged."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from textual.message import Message

from tui.ui.messages import CheckProgress, ChecksEnded, ChecksStarted


class WatchedService:
    def __init__(self, service: Any, tell: Callable[[Message], object]) -> None:
        self.service = service
        self._tell = tell  # thread-safe: App.post_message
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)

    def checking(self) -> set[str]:
        """The providers being checked right now, by any screen."""
        with self._lock:
            return set(self._running)

    def check(self, name: str, on_step: Callable | None = None, **options: Any):
        def step_done(protocol: str, step: Any) -> None:
            self._tell(CheckProgress(name, protocol, step))
            if on_step is not None:
                on_step(protocol, step)

        self._started([name])
        report = None
        try:
            report = self.service.check(name, on_step=step_done, **options)
            return report
        finally:
            self._ended([name], report)

    def check_all(self, names: Iterable[str] | None = None, on_report: Callable | None = None, **options: Any):
        names = list(self.service.names() if names is None else names)
        unreported = set(names)

        def report_ready(report: Any) -> None:
            unreported.discard(report.provider)
            self._ended([report.provider], report)
            if on_report is not None:
                on_report(report)

        self._started(names)
        try:
            return self.service.check_all(names, on_report=report_ready, **options)
        finally:
            if unreported:  # the run stopped early (an error): these never got a result
                self._ended(sorted(unreported), None)

    def _started(self, names: list[str]) -> None:
        with self._lock:
            self._running.update(names)
        self._tell(ChecksStarted(names))

    def _ended(self, names: list[str], report: Any) -> None:
        with self._lock:
            self._running.subtract(names)
            for name in names:
                if self._running[name] <= 0:
                    del self._running[name]
        self._tell(ChecksEnded(names, report))

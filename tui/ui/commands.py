"""The command palette offers the current screen's key bindings by name."""

from __future__ import annotations

from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


class ScreenActionsProvider(Provider):
    """Every binding of the screen that has an id and applies now, as a command."""

    def _commands(self) -> list[tuple[str, str, str]]:
        screen = self.screen
        commands = []
        for binding in screen.BINDINGS:
            if not isinstance(binding, Binding) or not binding.id or not binding.show:
                continue
            action = binding.action
            if not screen.check_action(action.split("(")[0], ()):
                continue
            key = binding.key_display or binding.key
            title = binding.description
            help_text = f"{binding.tooltip or binding.description} (key: {key})"
            commands.append((title, action, help_text))
        return commands

    def _run(self, action: str) -> None:
        self.app.call_later(self.screen.run_action, action)

    async def discover(self) -> Hits:
        for title, action, help_text in self._commands():
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in self._commands():
            score = max(matcher.match(title), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action), help=help_text)

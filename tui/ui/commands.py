"""The command palette offers every key of ours that applies now, by name.

"Ours" are the bindings with an id: the screen's (shown in the footer or not), the focused
widget's (the list's Edit) and the app's. Quit is left to Textual's own Quit command, which
runs the same action (it asks first when something is unsaved)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

QUIT_ACTIONS = {"quit", "app.quit"}


@dataclass
class KeyCommand:
    title: str
    help: str
    action: str
    node: DOMNode


class ScreenActionsProvider(Provider):
    def _commands(self) -> list[KeyCommand]:
        # By title: the focused widget's binding comes first and wins (the table's Edit
        # over the screen's); one binding with several keys is listed once, with all of them.
        keys: dict[str, list[str]] = {}
        found: dict[str, tuple[DOMNode, object]] = {}
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.id or not active.enabled or binding.action in QUIT_ACTIONS:
                continue
            found.setdefault(binding.description, (active.node, binding))
            keys.setdefault(binding.description, []).append(
                binding.key_display or self.app.get_key_display(binding)
            )
        commands = []
        for title, (node, binding) in found.items():
            key_text = ", ".join(dict.fromkeys(keys[title]))
            help_text = f"{binding.tooltip or binding.description} (key: {key_text})"
            commands.append(KeyCommand(binding.description, help_text, binding.action, node))
        return sorted(commands, key=lambda command: command.title)

    def _run(self, command: KeyCommand) -> None:
        self.app.call_later(self.app.run_action, command.action, command.node)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, partial(self._run, command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = max(matcher.match(command.title), matcher.match(command.help) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), partial(self._run, command), help=command.help)

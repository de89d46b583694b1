"""The footer of every screen, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.widgets import Footer


class SteadyFooter(Footer):
    """Textual's Footer rebuilds its keys (a widget each, mounted and styled) whenever the
    bindings may have changed: at every focus change, every `refresh_bindings()` and every
    time its screen is shown again. In the form that was a rebuild per field left and per
    opening, each relaying out the whole screen. This one rebuilds only when what it would
    show differs from what it shows."""

    _shown: tuple | None = None

    async def recompose(self) -> None:
        shown = self._keys_to_show()
        if shown == self._shown:
            return
        self._shown = shown
        await super().recompose()

    def _keys_to_show(self) -> tuple:
        """What Footer.compose draws: each shown binding, whether it is enabled, its tooltip."""
        app = self.app
        keys = tuple(
            (binding.key, app.get_key_display(binding), binding.description, binding.action,
             binding.group, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        return keys, self.compact, self.show_command_palette and app.ENABLE_COMMAND_PALETTE

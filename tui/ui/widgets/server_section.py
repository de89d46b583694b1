"""Host, port and security of one protocol (SMTP or IMAP)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Select, Static

from tui.core.domain import Security, ServerPreset, ServerSettings, default_port
from tui.core.rules import unencrypted_warning
from tui.ui.widgets.form_field import FormField, text_input

SECURITY_OPTIONS = [(security.label, security.value) for security in Security]
TITLES = {"smtp": "Sending (SMTP)", "imap": "Receiving (IMAP)"}


class ServerSection(Vertical):
    """With a preset (Outlook, Gmail), empty host and port mean "the preset's"."""

    def __init__(self, protocol: str, *, preset: ServerPreset | None = None, id: str | None = None):
        super().__init__(id=id, classes="server-section")
        self.protocol = protocol
        self.preset = preset
        self.security = self._preset_security() or (
            Security.STARTTLS if protocol == "smtp" else Security.SSL
        )

    def compose(self) -> ComposeResult:
        p = self.protocol
        yield Label(TITLES[p], classes="section-title")
        yield FormField(text_input(f"{p}-host"), required=self.preset is None)
        yield FormField(
            Select(
                SECURITY_OPTIONS,
                value=self.security.value,
                allow_blank=False,
                compact=True,
                id=f"{p}-security",
            )
        )
        # A warning, not an error: security none can be saved, but it is said.
        yield Static("", classes="security-warning", markup=False)
        # Digits only: a port is typed, never pasted with text around it.
        yield FormField(Input(id=f"{p}-port", restrict=r"[0-9]{0,5}", max_length=5, compact=True))

    def on_mount(self) -> None:
        if self.preset is None:
            with self.prevent(Input.Changed):
                self.port_input.value = str(default_port(self.protocol, self.security))
        self.show_preset(self.preset)
        self.show_security_warning()

    @property
    def port_input(self) -> Input:
        return self.query_one(f"#{self.protocol}-port", Input)

    @property
    def host_input(self) -> Input:
        return self.query_one(f"#{self.protocol}-host", Input)

    @property
    def security_select(self) -> Select:
        return self.query_one(f"#{self.protocol}-security", Select)

    def _preset_server(self) -> ServerSettings | None:
        return self.preset.server(self.protocol) if self.preset else None

    def _preset_security(self) -> Security | None:
        server = self._preset_server()
        return server.security if server else None

    def show_preset(self, preset: ServerPreset | None) -> None:
        """Placeholders show what an empty field means."""
        self.preset = preset
        if preset is not None:
            self.host_input.placeholder = f"{self._preset_server().host} (preset)"
        else:
            self.host_input.placeholder = "mail.example.com"
        self.port_input.placeholder = f"{default_port(self.protocol, self.security)} (standard)"

    @on(Select.Changed)
    def security_changed(self, event: Select.Changed) -> None:
        """A new security fills its standard port, unless the user typed another port."""
        if event.value == Select.NULL:
            return
        new = Security(event.value)
        old_default = str(default_port(self.protocol, self.security))
        self.security = new
        port = self.port_input.value.strip()
        if self.preset is None and port in ("", old_default):
            self.port_input.value = str(default_port(self.protocol, new))
        self.port_input.placeholder = f"{default_port(self.protocol, new)} (standard)"
        self.show_security_warning()

    def show_security_warning(self, starttls_offered: bool = False) -> None:
        """Under the security field while it is none; after a check that saw the server
        offer STARTTLS, the warning says to pick it."""
        warning = self.query_one(".security-warning", Static)
        unencrypted = self.security is Security.NONE
        warning.update(unencrypted_warning(self.protocol, starttls_offered) if unencrypted else "")
        warning.display = unencrypted

    def get_values(self) -> dict[str, str]:
        p = self.protocol
        security = self.security_select.value
        return {
            f"{p}_host": self.host_input.value,
            f"{p}_port": self.port_input.value,
            f"{p}_security": "" if security == Select.NULL else str(security),
        }

    def set_values(self, values: dict[str, str]) -> None:
        """Load stored values (no Changed messages: loading is not typing)."""
        p = self.protocol
        host = values.get(f"{p}_host", "")
        port = values.get(f"{p}_port", "")
        security = values.get(f"{p}_security") or self.security.value
        if self.preset is not None:
            # Values equal to the preset are shown as empty: "the preset's".
            if host == self._preset_server().host:
                host = ""
            if port == str(default_port(p, security)):
                port = ""
        with self.prevent(Input.Changed, Select.Changed):
            self.host_input.value = host
            self.port_input.value = port
            self.security = Security(security)
            self.security_select.value = security
        self.show_preset(self.preset)
        self.show_security_warning()

    def set_required(self, required: bool) -> None:
        host_field = self.query_one(f"#{self.protocol}-host-field", FormField)
        host_field.set_required(required and self.preset is None)

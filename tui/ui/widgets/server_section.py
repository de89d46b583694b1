"""One server of the form: outbound (SMTP), or inbound with its protocol choice (IMAP / POP3).

The controls' ids are the draft's field names in kebab-case: `smtp-host`, `inbound-protocol`,
`inbound-host`, ... (see tui.core.fields)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Select, Static

from tui.core.domain import Protocol, Security, ServerPreset, ServerSettings
from tui.core.rules import unencrypted_warning
from tui.ui.widgets.form_field import FormField, FormInput, text_input, update_text

SECURITY_OPTIONS = [(security.label, security.value) for security in Security]


class ServerSection(Vertical):
    """Host, port and security of one server, read from and written to the draft fields
    `{prefix}_host`, `{prefix}_port`, `{prefix}_security` (and `{prefix}_protocol` when there
    is a choice of protocols). With a preset (Outlook, Gmail), empty host and port mean
    "the preset's"."""

    def __init__(
        self,
        prefix: str,
        protocols: tuple[Protocol, ...],
        *,
        preset: ServerPreset | None = None,
        id: str | None = None,
    ):
        super().__init__(id=id, classes="server-section")
        self.prefix = prefix
        self.protocols = protocols
        self.protocol = protocols[0]
        self.preset = preset
        self.security = self._default_security()
        self.logs_in = True  # False: SMTP to a trusted relay, no password crosses it

    def compose(self) -> ComposeResult:
        p = self.prefix
        yield Label(self.protocol.spec.title, classes="section-title")
        if len(self.protocols) > 1:
            options = [(protocol.label, protocol.value) for protocol in self.protocols]
            yield FormField(Select(options, value=self.protocol.value, allow_blank=False, compact=True, id=f"{p}-protocol"))
        yield FormField(text_input(f"{p}-host"), required=self.preset is None)
        yield FormField(
            Select(SECURITY_OPTIONS, value=self.security.value, allow_blank=False, compact=True, id=f"{p}-security")
        )
        # A warning, not an error: security none can be saved, but it is said.
        yield Static("", classes="security-warning", markup=False)
        # Digits only: a port is typed, never pasted with text around it.
        yield FormField(FormInput(id=f"{p}-port", restrict=r"[0-9]{0,5}", max_length=5, compact=True))

    def on_mount(self) -> None:
        if self.preset is None:
            with self.prevent(Input.Changed):
                self.port_input.value = str(self._standard_port())
        self.show_protocol()
        self.show_security_warning()

    @property
    def port_input(self) -> Input:
        return self.query_one(f"#{self.prefix}-port", Input)

    @property
    def host_input(self) -> Input:
        return self.query_one(f"#{self.prefix}-host", Input)

    @property
    def security_select(self) -> Select:
        return self.query_one(f"#{self.prefix}-security", Select)

    def _preset_server(self) -> ServerSettings | None:
        return self.preset.server(self.protocol) if self.preset else None

    def _default_security(self) -> Security:
        server = self._preset_server()
        return server.security if server else self.protocol.spec.default_security

    def _standard_port(self, protocol: Protocol | None = None, security: Security | None = None) -> int:
        return (protocol or self.protocol).spec.default_port(security or self.security)

    def show_preset(self, preset: ServerPreset | None) -> None:
        self.preset = preset
        self.show_protocol()

    def show_protocol(self) -> None:
        """Title, labels and placeholders follow the protocol; placeholders say what an
        empty field means (the preset's server, the standard port)."""
        update_text(self.query_one(".section-title", Label), self.protocol.spec.title)
        for form_field in self.query(FormField):
            form_field.relabel(self.protocol)
        server = self._preset_server()
        self.host_input.placeholder = f"{server.host} (preset)" if server else "e.g. mail.example.com"
        self.port_input.placeholder = f"{self._standard_port()} (standard)"

    @on(Select.Changed)
    def choice_changed(self, event: Select.Changed) -> None:
        if event.value == Select.NULL:
            return
        if event.control.id == f"{self.prefix}-protocol":
            self.protocol_changed(Protocol(event.value))
        else:
            self.security_changed(Security(event.value))

    def protocol_changed(self, new: Protocol) -> None:
        """IMAP <-> POP3: the port follows, unless the user typed another one."""
        self._follow_standard_port(self._standard_port(new, self.security))
        self.protocol = new
        self.show_protocol()
        self.show_security_warning()

    def security_changed(self, new: Security) -> None:
        """A new security fills its standard port, unless the user typed another port."""
        self._follow_standard_port(self._standard_port(self.protocol, new))
        self.security = new
        self.port_input.placeholder = f"{self._standard_port()} (standard)"
        self.show_security_warning()

    def _follow_standard_port(self, new_port: int) -> None:
        """Replace the port by `new_port` when it was empty or the standard one (before the
        change); a port the user typed stays. With a preset an empty port is the standard."""
        port = self.port_input.value.strip()
        if self.preset is None and port in ("", str(self._standard_port())):
            self.port_input.value = str(new_port)

    def set_logs_in(self, logs_in: bool) -> None:
        """Whether a password crosses this connection (not SMTP to a trusted relay without
        login): the security-none warning names only what really travels."""
        if self.logs_in != logs_in:
            self.logs_in = logs_in
            self.show_security_warning()

    def show_security_warning(self, starttls_offered: bool = False) -> None:
        """Under the security field while it is none; after a check that saw the server
        offer STARTTLS, the warning says to pick it."""
        warning = self.query_one(".security-warning", Static)
        unencrypted = self.security is Security.NONE
        text = unencrypted_warning(self.protocol, starttls_offered, logs_in=self.logs_in) if unencrypted else ""
        update_text(warning, text)
        warning.display = unencrypted

    def get_values(self) -> dict[str, str]:
        p = self.prefix
        security = self.security_select.value
        values = {
            f"{p}_host": self.host_input.value,
            f"{p}_port": self.port_input.value,
            f"{p}_security": "" if security == Select.NULL else str(security),
        }
        if len(self.protocols) > 1:
            values[f"{p}_protocol"] = self.protocol.value
        return values

    def clear(self) -> None:
        """As composed: the first protocol, its default security, no host, the standard port
        (empty with a preset: "the preset's")."""
        self.protocol = self.protocols[0]
        self.security = self._default_security()
        with self.prevent(Input.Changed, Select.Changed):
            if len(self.protocols) > 1:
                self.query_one(f"#{self.prefix}-protocol", Select).value = self.protocol.value
            self.host_input.value = ""
            self.port_input.value = "" if self.preset else str(self._standard_port())
            self.security_select.value = self.security.value
        self.show_protocol()
        self.show_security_warning()

    def set_values(self, values: dict[str, str]) -> None:
        """Load stored values (no Changed messages: loading is not typing)."""
        p = self.prefix
        protocol = values.get(f"{p}_protocol") or self.protocol.value
        if protocol in self.protocols:
            self.protocol = Protocol(protocol)
        host = values.get(f"{p}_host", "")
        port = values.get(f"{p}_port", "")
        security = values.get(f"{p}_security") or self.security.value
        if self.preset is not None:
            # Values equal to the preset are shown as empty: "the preset's".
            if host == self._preset_server().host:
                host = ""
            if port == str(self._standard_port(security=Security(security))):
                port = ""
        with self.prevent(Input.Changed, Select.Changed):
            if len(self.protocols) > 1:
                self.query_one(f"#{p}-protocol", Select).value = self.protocol.value
            self.host_input.value = host
            self.port_input.value = port
            self.security = Security(security)
            self.security_select.value = security
        self.show_protocol()
        self.show_security_warning()

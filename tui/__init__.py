"""mailprov: set up a contact-center platform's email providers from a terminal.

`tui.core` is the headless core (rules, storage, secrets, checks); it never imports
Textual. `tui.cli` and `tui.ui` are two faces over it.
"""

__version__ = "0.1.0"

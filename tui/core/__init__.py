"""The headless core of mailprov. Nothing in this package may import Textual."""

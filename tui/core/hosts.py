"""Host names and IP literals, as the rules (validating what was typed) and the mail
connection layer (resolving, SNI, certificate names) both need them.

Kept free of heavy imports: the rules load it at start-up.
"""

from __future__ import annotations

import ipaddress


def is_ip_literal(host: str) -> bool:
    """An IPv4 or IPv6 address, with or without the brackets of a URL ("[::1]")."""
    try:
        ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


def ascii_host(host: str) -> str:
    """The host in the form DNS, SNI and certificate checks want: IP literals as they are
    (without brackets), names IDNA-encoded (bücher.example -> xn--bcher-kva.example)."""
    host = host.strip().removeprefix("[").removesuffix("]")
    if host.isascii() or is_ip_literal(host):  # isascii first: cheaper, and every IP literal is ASCII
        return host
    import idna

    return idna.encode(host, uts46=True).decode("ascii")

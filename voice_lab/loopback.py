"""What counts as this machine's loopback, for Host headers, origins, client addresses and
VOICE_LAB_HOST alike: without a token, Voice Lab serves only these."""

from __future__ import annotations

import ipaddress
import re

# A Host header or an origin's netloc: a name or IPv4 address, or a bracketed IPv6 one, then an
# optional port.
_NETLOC = re.compile(r"(?:\[(?P<v6>[^\]]*)\]|(?P<name>[^:\[\]]*))(?::[0-9]{0,5})?")


def is_loopback(host: str) -> bool:
    """Whether a host is this machine's loopback: an address in 127.0.0.0/8, ::1 or IPv4-mapped
    ::ffff:127.x (a Host header's `[::1]:5000` and a bare client address alike), or the name
    `localhost` (any case, optional trailing dot). Nothing else: `127.0.0.1.evil.example` is a
    name anyone can point anywhere (DNS rebinding), and `0x7f.0.0.1` or `127.1` are forms a
    browser rewrites to 127.0.0.1 before it sends them, so only other clients send them."""
    try:
        address = ipaddress.ip_address(host)  # a client address; IPv6 without brackets
    except ValueError:
        match = _NETLOC.fullmatch(host)
        if match is None:
            return False
        name = match["v6"] if match["v6"] is not None else match["name"]
        if name.lower() in ("localhost", "localhost."):
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback

"""Which webhook destinations a deployment allows (``FLEXCHAT_WEBHOOK_ALLOWED_HOSTS``).

Unset, any http(s) URL is allowed: tests and single-tenant deployments post to
localhost. A shared deployment lists what tenants may reach: host names (``hooks.example.com``),
name suffixes (``*.example.com``), IP addresses and CIDR blocks (``203.0.113.0/24``). A
name listed as a name is allowed whatever it resolves to; any other host is allowed only
if every address it resolves to lies in a listed block. The check is made on the
addresses the HTTP client then connects to (see :class:`sending.AllowListResolver`), so a
name cannot resolve one way for the check and another for the connection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DestinationRefused(OSError):
    """A webhook URL that this deployment does not send to; the message says why.

    An OSError because the HTTP client's resolver raises it, and the client passes
    resolver OSErrors through (as ``os_error`` of its connection error)."""


@dataclass(frozen=True)
class AllowList:
    """Allowed host names, ``*.`` suffixes and address blocks."""

    names: frozenset[str]
    suffixes: tuple[str, ...]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """``a.example.com, *.example.org, 10.0.0.0/8, ::1`` (comma or blank separated)."""
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[Network] = []
        for item in text.replace(",", " ").split():
            entry = item.strip().lower().rstrip(".")
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*."):
                suffixes.append(entry[1:])
            elif entry and all(part and len(part) < 64 for part in entry.split(".")) and "/" not in entry:
                names.add(entry)
            else:
                raise ValueError(f"{item!r} is neither a host name, *.suffix, IP address nor CIDR block")
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def allows_name(self, host: str) -> bool:
        """Whether ``host`` is allowed by name, whatever it resolves to."""
        host = host.lower().rstrip(".")
        return host in self.names or any(host.endswith(suffix) for suffix in self.suffixes)

    def allows_address(self, address: str) -> bool:
        """Whether an IP address lies in a listed block."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def check(self, host: str, addresses: Iterable[str]) -> None:
        """Raise :class:`DestinationRefused` unless ``host`` may be reached at ``addresses``."""
        if self.allows_name(host):
            return
        addresses = list(addresses)
        refused = [address for address in addresses if not self.allows_address(address)]
        if refused or not addresses:
            raise DestinationRefused(
                f"destination {host} is not allowed by FLEXCHAT_WEBHOOK_ALLOWED_HOSTS"
                + (f" (it resolves to {', '.join(refused)})" if refused and refused != [host] else "")
            )

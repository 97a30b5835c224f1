"""Where the exchange may be made to call: the address policy of webhook URLs (server-side request forgery).

A buyer chooses its ``webhookUrl``, and the worker POSTs label events there; without a policy a buyer could
make the worker call the loopback interface, the cloud metadata service (169.254.169.254) or any host of
the operator's own network. By default only an ``https`` URL whose host resolves to public addresses only
is a target. ``PCFX_WEBHOOK_ALLOW`` lists what an operator allows beyond that: host names, IP addresses or
CIDR networks, which may then also be reached over plain ``http``.

Checked twice: when a subscription is made (the API and ``pcfx subscribe`` answer with the reason), and
before every delivery, on the addresses the host resolves to then (a name may point elsewhere later).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class TargetRefused(ValueError):
    """A webhook URL the exchange will not call; the message says why."""


@dataclass(frozen=True)
class AllowList:
    """The operator's exceptions: host names (exact, case-insensitive) and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> "AllowList":
        """``PCFX_WEBHOOK_ALLOW``: comma-separated names, addresses or CIDR networks."""
        hosts, networks = set(), []
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts or _in(self.networks, _literal(host))

    def allows_address(self, address: Address) -> bool:
        return _in(self.networks, address)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to now (the addresses the HTTP client may connect to)."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})


def check_target(url: str, allow: AllowList, resolver: Resolver = resolve) -> None:
    """Raise :class:`TargetRefused` unless the exchange may POST to ``url`` now."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise TargetRefused(f"webhookUrl {url!r}: an absolute https URL is required")
    listed = allow.allows_host(host)
    if parts.scheme != "https" and not listed:
        raise TargetRefused(f"webhookUrl {url!r}: only https is called (an operator may allow this host in PCFX_WEBHOOK_ALLOW)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
    except (OSError, ValueError) as error:
        raise TargetRefused(f"webhookUrl {url!r}: host {host} does not resolve ({error})") from None
    if not addresses:
        raise TargetRefused(f"webhookUrl {url!r}: host {host} does not resolve")
    for address in addresses:
        if not (address.is_global or allow.allows_address(address) or (listed and _literal(host) is None)):
            raise TargetRefused(f"webhookUrl {url!r}: {host} resolves to {address}, which is not a public address "
                                "(loopback, private, link-local and reserved addresses are refused unless "
                                "PCFX_WEBHOOK_ALLOW lists them)")


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _in(networks: tuple, address: Address | None) -> bool:
    if address is None:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return any(address in network or (mapped is not None and mapped in network) for network in networks)

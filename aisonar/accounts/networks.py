"""Address allowlists of API keys: CIDR blocks (or single addresses), validated once and
stored in their canonical form; and the network an address is on, as sign-in notices and
abuse detection count networks."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import ip_address, ip_network

from aisonar.accounts.models import Network
from aisonar.errors import InvalidInput
from aisonar.i18n import N_

MAX_NETWORKS = 100


def canonical_networks(given: Iterable[str]) -> list[str]:
    """`10.0.0.0/8`, `203.0.113.7` (one address), `2001:db8::/32`, as their networks."""
    found: list[str] = []
    for text in given:
        try:
            network = ip_network(text.strip(), strict=False)
        except ValueError:
            raise InvalidInput(
                N_("{text!r} is not an address or CIDR block"), param="allowed_ips", text=text
            ) from None
        if str(network) not in found:
            found.append(str(network))
    if not found:
        raise InvalidInput(N_("an allowlist needs at least one address"), param="allowed_ips")
    if len(found) > MAX_NETWORKS:
        raise InvalidInput(
            N_("at most {max_networks} addresses"), param="allowed_ips", max_networks=MAX_NETWORKS
        )
    return found


def parsed_networks(stored: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ip_network(text) for text in stored)


def network_of(address: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) an address is on; None for what is not an address."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return None
    prefix = 24 if parsed.version == 4 else 48
    return str(ip_network(f"{parsed}/{prefix}", strict=False))

"""Whether a webhook may reach an address: only a globally reachable one.

An IPv6 address that carries an IPv4 address is judged by the IPv4 address it leads to:
IPv4-mapped (::ffff:a.b.c.d), NAT64's well-known prefix (64:ff9b::a.b.c.d, which a DNS64
resolver hands out for every IPv4-only name) and 6to4 (2002:aabb:ccdd::/48). Python's
`ipaddress` calls the last two global whatever they carry, so that 64:ff9b::7f00:1 would
reach the server's own loopback through a NAT64 gateway. Where the IPv4 target cannot be
told, the address is refused: local-use NAT64 (64:ff9b:1::/48, where the network's
prefix length decides where the IPv4 address sits), Teredo (2001::/32, an obfuscated
client behind a relay), the deprecated IPv4-compatible ::a.b.c.d (::/96) and SIIT's
IPv4-translated ::ffff:0:a.b.c.d."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

_WELL_KNOWN_NAT64 = ip_network("64:ff9b::/96")
_UNCLEAR = (
    ip_network("64:ff9b:1::/48"),
    ip_network("2001::/32"),
    ip_network("::/96"),
    ip_network("::ffff:0:0:0/96"),
)


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _WELL_KNOWN_NAT64:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def is_public(address: str) -> bool:
    """Whether `address` (an IP address, with or without an IPv6 zone) is one webhooks may
    reach. Raises ValueError when it is not an IP address."""
    ip = ip_address(address.split("%")[0])
    if isinstance(ip, IPv6Address):
        if any(ip in network for network in _UNCLEAR):
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return embedded.is_global
    return ip.is_global

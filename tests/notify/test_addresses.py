"""Webhooks reach only public addresses, IPv6 addresses that carry an IPv4 address judged
by the IPv4 address they lead to: as literals, and as what names resolve to. (Only the
judgement is tested with public addresses: nothing here connects anywhere.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aisonar.notify.addresses import is_public

LEADING_INWARD = [
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the cloud metadata service
    "64:ff9b:1::808:808",  # local-use NAT64: where the IPv4 address sits is unclear
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo
    "2001::1",  # Teredo
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "::808:808",  # IPv4-compatible, deprecated whatever it carries
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.1.2.3",  # IPv4-mapped
    "::ffff:0:808:808",  # SIIT's IPv4-translated
    "fe80::1%eth0",
    "::1",
    "127.0.0.1",
    "100.64.0.1",
]
LEADING_OUT = ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "8.8.8.8", "2606:4700::1"]


@pytest.mark.parametrize("address", LEADING_INWARD)
def test_addresses_leading_to_private_networks_or_unclear_ones_are_refused(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", LEADING_OUT)
def test_addresses_carrying_a_public_ipv4_address_are_public(address: str) -> None:
    assert is_public(address)


# In a mount namespace of its own, with a hosts file of the test's own over /etc/hosts,
# the webhook client's resolver resolves each name through getaddrinfo as it would in
# production; it only resolves, and never connects.
RESOLVE = """
import asyncio, json, socket, sys
from aisonar.notify.webhook_client import ForbiddenAddress, PublicOnlyResolver

async def main() -> None:
    resolver = PublicOnlyResolver()
    judged = {}
    for name in sys.argv[1:]:
        try:
            await resolver.resolve(name, 443, socket.AF_UNSPEC)
            judged[name] = "resolved"
        except ForbiddenAddress:
            judged[name] = "refused"
    await resolver.close()
    print(json.dumps(judged))

asyncio.run(main())
"""


def resolved_with_hosts(tmp_path: Path, hosts: dict[str, str]) -> dict[str, str]:
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("".join(f"{address} {name}\n" for name, address in hosts.items()))
    command = 'mount --bind "$0" /etc/hosts && exec "$@"'
    python = [sys.executable, "-c", RESOLVE, *hosts]
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", command, str(hosts_file), *python],
        capture_output=True,
        text=True,
        check=True,
    )
    judged: dict[str, str] = json.loads(done.stdout)
    return judged


def test_names_resolving_to_addresses_leading_inward_are_refused(tmp_path: Path) -> None:
    inward = {
        f"inward-{number}.webhook.test": address
        for number, address in enumerate(LEADING_INWARD)
        if "%" not in address
    }
    outward = {"nat64-public.webhook.test": "64:ff9b::808:808"}
    judged = resolved_with_hosts(tmp_path, inward | outward)
    assert judged == dict.fromkeys(inward, "refused") | dict.fromkeys(outward, "resolved")

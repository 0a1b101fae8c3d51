"""The `aisonar` command line: one module per command group (`accounts`, `billing`,
`channels`, `limits`, `alerts`, `audit`, `usage`, `privacy`, `support`, `webhooks`,
`server`, ...), what they share in `context` and `output`. Its commands translate options
to the domain packages' use cases and print what they return; it owns no tables.

An entry point: it may import every layer below it (`testing`, `app`, the gateway, the
domain packages and the base); only `__main__` imports it."""

from __future__ import annotations

import click

from aisonar.cli.abuse import abuse_group
from aisonar.cli.accounts import key, org, user
from aisonar.cli.alerts import alert
from aisonar.cli.audit import audit
from aisonar.cli.billing import balance, code_group, ledger_command, markup, price
from aisonar.cli.channels import channel
from aisonar.cli.key_security import key_allow_ip, key_rotate
from aisonar.cli.limits import limits
from aisonar.cli.notices import notice
from aisonar.cli.policies import policy
from aisonar.cli.privacy import privacy
from aisonar.cli.retention import plan, retention
from aisonar.cli.secrets import secret
from aisonar.cli.server import demo, fake_upstream, migrate, serve
from aisonar.cli.site_analytics import site_analytics
from aisonar.cli.status import status
from aisonar.cli.support import support_group
from aisonar.cli.tokens import token
from aisonar.cli.usage import usage
from aisonar.cli.webhooks import webhook


@click.group()
@click.version_option(package_name="aisonar")
def main() -> None:
    """AI Sonar: an LLM API gateway with prepaid billing and usage monitoring."""


for command in (
    serve,
    migrate,
    demo,
    fake_upstream,
    org,
    user,
    key,
    token,
    channel,
    usage,
    balance,
    ledger_command,
    price,
    markup,
    limits,
    code_group,
    notice,
    webhook,
    alert,
    plan,
    retention,
    audit,
    privacy,
    support_group,
    policy,
    abuse_group,
    site_analytics,
    status,
    secret,
):
    main.add_command(command)
key.add_command(key_rotate)
key.add_command(key_allow_ip)

"""`aisonar alert ...`: an operator adds, lists, changes and deletes an organization's
rules at the command line; bad input exits 1 with the reason and changes nothing."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner, Result

from aisonar.alerts.evaluation import evaluate_alerts
from aisonar.cli import main
from tests.alerts.traffic import this_minute
from tests.api.people import make_org
from tests.support import Backend, cli_environment


async def run(backend: Backend, *args: str, ok: bool = True) -> Result:
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["alert", *args], env=cli_environment(backend)
    )
    assert (result.exit_code == 0) is ok, result.output
    return result


async def test_an_operator_manages_rules_from_the_command_line(backend: Backend) -> None:
    org, other = await make_org(backend.engine), await make_org(backend.engine)
    created = json.loads(
        (
            await run(
                backend,
                "create",
                org.name,
                "--kind",
                "latency",
                "--threshold",
                "1500",
                "--window",
                "30m",
                "--percentile",
                "p99",
                "--min-requests",
                "50",
                "--model",
                "gpt-4o",
                "--json",
            )
        ).stdout
    )
    assert (created["kind"], created["threshold"], created["window"]) == ("latency", "1500", "30m")
    assert (created["percentile"], created["min_requests"], created["model"]) == (
        "p99",
        50,
        "gpt-4o",
    )
    balance = json.loads(
        (
            await run(
                backend, "create", other.name, "--kind", "balance", "--threshold", "2", "--json"
            )
        ).stdout
    )
    await evaluate_alerts(backend.engine, this_minute())

    mine = json.loads((await run(backend, "list", "--org", org.name, "--json")).stdout)
    assert [(r["id"], r["state"]) for r in mine] == [(created["id"], "ok")]
    everyone = json.loads((await run(backend, "list", "--json")).stdout)
    states = {r["id"]: r["state"] for r in everyone}
    assert (states[created["id"]], states[balance["id"]]) == ("ok", "firing")
    table = (await run(backend, "list", "--org", other.name)).stdout
    assert table.splitlines()[0].split()[:4] == ["ID", "ORG_ID", "NAME", "KIND"]
    assert balance["id"] in table and "firing" in table

    changed = json.loads(
        (
            await run(backend, "update", created["id"], "--threshold", "900", "--disable", "--json")
        ).stdout
    )
    assert (changed["threshold"], changed["enabled"]) == ("900", False)

    refused = await run(backend, "create", org.name, "--kind", "cost", "--threshold", "0", ok=False)
    assert "must be greater than zero" in refused.output
    refused = await run(
        backend, "update", created["id"], "--percentile", "p50", "--window", "9d", ok=False
    )
    assert "1 minute to 7 days" in refused.output
    assert json.loads((await run(backend, "list", "--org", org.name, "--json")).stdout) == [changed]

    deleted = json.loads((await run(backend, "delete", created["id"], "--json")).stdout)
    assert deleted["id"] == created["id"]
    assert json.loads((await run(backend, "list", "--org", org.name, "--json")).stdout) == []
    missing = await run(backend, "delete", created["id"], ok=False)
    assert "no alert rule" in missing.output

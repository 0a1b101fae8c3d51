"""`aisonar balance|ledger|price`: exact decimal amounts, idempotent recharges, exports."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import pytest
from click.testing import CliRunner, Result

from aisonar.cli import main
from tests.support import Backend, cli_environment


@pytest.fixture
def aisonar(backend: Backend) -> Any:
    env = cli_environment(backend)

    async def invoke(*args: str, ok: bool = True) -> Result:
        result = await asyncio.to_thread(
            CliRunner().invoke, main, list(args), env=env, catch_exceptions=False
        )
        assert (result.exit_code == 0) is ok, result.output
        return result

    return invoke


async def test_recharge_show_and_export(aisonar: Any) -> None:
    org = f"pay-{secrets.token_hex(3)}"
    await aisonar("org", "create", org)
    first = json.loads(
        (
            await aisonar(
                "balance",
                "recharge",
                org,
                "12.50",
                "--note",
                "invoice 7",
                "--reference",
                "INV-7",
                "--idempotency-key",
                "k1",
                "--json",
            )
        ).stdout
    )
    again = json.loads(
        (
            await aisonar("balance", "recharge", org, "12.50", "--idempotency-key", "k1", "--json")
        ).stdout
    )
    assert first["id"] == again["id"] and first["balance_after"] == "12.50"
    await aisonar("balance", "recharge", org, "0.000001")
    shown = json.loads((await aisonar("balance", "show", org, "--json")).stdout)
    assert (shown["balance"], shown["balance_units"]) == ("12.500001", 12_500_001)
    assert "12.500001" in (await aisonar("balance", "show", org)).stdout

    lines = (await aisonar("ledger", "export", org, "--format", "jsonl")).stdout.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in entries] == [
        ("recharge", 12_500_000, 12_500_000),
        ("recharge", 1, 12_500_001),
    ]
    assert entries[0]["reference"] == "INV-7" and entries[0]["reason"] == "invoice 7"
    csv_text = (await aisonar("ledger", "export", org)).stdout
    assert csv_text.splitlines()[0].startswith("id,org_id,kind,amount")
    assert len(csv_text.splitlines()) == 3


@pytest.mark.parametrize("amount", ["-5", "0", "1.0000001", "ten"])
async def test_bad_amounts_change_nothing(aisonar: Any, amount: str) -> None:
    org = f"bad-{secrets.token_hex(3)}"
    await aisonar("org", "create", org)
    result = await aisonar("balance", "recharge", org, amount, ok=False)
    assert "Traceback" not in result.output
    assert (
        json.loads((await aisonar("balance", "show", org, "--json")).stdout)["balance_units"] == 0
    )


async def test_prices(aisonar: Any) -> None:
    model = f"house-model-{secrets.token_hex(3)}"
    await aisonar(
        "price", "set", model, "--input", "0.50", "--output", "1.5", "--cached-input", "0.05"
    )
    shown = json.loads((await aisonar("price", "show", model, "--json")).stdout)
    assert (shown["input"], shown["output"], shown["cached_input"]) == ("0.50", "1.50", "0.05")
    assert shown["cache_write"] == "0.50" and shown["version"].startswith("operator #")
    assert shown["source"] == "operator"
    await aisonar("price", "set", model, "--input", "0.60", "--output", "1.5")
    newer = json.loads((await aisonar("price", "show", model, "--json")).stdout)
    assert newer["input"] == "0.60" and newer["version"] != shown["version"]
    assert model in (await aisonar("price", "list")).stdout
    catalogue = json.loads((await aisonar("price", "show", "gpt-4o-mini", "--json")).stdout)
    assert catalogue["input"] == "0.15" and catalogue["version"].startswith("genai-prices")
    assert catalogue["source"] == "catalogue"
    assert "no price" in (await aisonar("price", "show", "no-such-model-xyz", ok=False)).output


async def test_markups(aisonar: Any) -> None:
    org = f"mk-{secrets.token_hex(3)}"
    await aisonar("org", "create", org, "--plan", "scale")
    assert json.loads((await aisonar("markup", "set", "1.25", "--org", org, "--json")).stdout) == {
        "scope": "organization",
        "name": org,
        "multiplier": "1.25",
    }
    listed = json.loads((await aisonar("markup", "list", "--json")).stdout)
    assert {"scope": "organization", "name": org, "multiplier": "1.25"} in listed
    assert {"scope": "plan", "name": "scale", "multiplier": "1"} in listed
    assert "exactly one" in (await aisonar("markup", "set", "2", ok=False)).output
    assert "positive" in (await aisonar("markup", "set", "0", "--org", org, ok=False)).output
    assert "no plan" in (await aisonar("markup", "set", "2", "--plan", "gold", ok=False)).output


async def test_codes_thresholds_and_notices(aisonar: Any) -> None:
    printed = (await aisonar("code", "create", "--amount", "5", "--count", "3")).stdout.split()
    assert len(printed) == 3 and all(code.startswith("SONAR-") for code in printed)
    batch = json.loads((await aisonar("code", "create", "--amount", "1.5", "--json")).stdout)
    assert batch["amount"] == "1.50" and len(batch["codes"]) == 1
    assert (
        "count"
        in (await aisonar("code", "create", "--amount", "1", "--count", "0", ok=False)).output
    )

    org = f"al-{secrets.token_hex(3)}"
    await aisonar("org", "create", org)
    await aisonar("balance", "recharge", org, "3")
    await aisonar("balance", "threshold", org, "2.50")
    # The recharge is announced; setting a threshold above the balance alone is not.
    listed = json.loads((await aisonar("notice", "list", "--org", org, "--json")).stdout)
    assert [(n["kind"], n["data"]["amount"]) for n in listed] == [("recharge_received", "3.00")]

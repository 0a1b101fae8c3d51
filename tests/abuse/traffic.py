"""What the abuse tests share: requests through the gateway from chosen client addresses
(the test client is on loopback, which AISONAR_TRUSTED_PROXIES trusts by default, so
X-Forwarded-For names the client as a reverse proxy would), and a detection round."""

from __future__ import annotations

import secrets

import openai

from aisonar.abuse.detection import Floors, detect
from aisonar.abuse.models import Finding, FindingKind
from aisonar.abuse.services import list_findings
from aisonar.abuse.tallies import RefusedKeys
from aisonar.clock import utcnow
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, writer_drained


def client(gateway: RunningGateway, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


async def chat_from(gateway: RunningGateway, secret: str, address: str) -> None:
    async with client(gateway, secret) as sdk:
        await sdk.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello"}],
            extra_headers={"X-Forwarded-For": address},
        )


def fresh_address() -> str:
    """An address of the benchmarking range (198.18.0.0/15) no other test uses."""
    return f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


async def detection_round(backend: Backend, gateway: RunningGateway) -> None:
    """A round as the gateway's own job runs it, with the refusals it counted."""
    await writer_drained(gateway)
    refused: RefusedKeys | None = gateway.app.runtime.services.keys.refused
    await detect(backend.engine, utcnow(), Floors.of(backend.settings), refused)


async def findings_about(backend: Backend, kind: FindingKind, subject_id: str) -> list[Finding]:
    async with backend.engine.connect() as conn:
        found = await list_findings(conn, kind=kind)
    return [finding for finding in found if finding.subject_id == subject_id]

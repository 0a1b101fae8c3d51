"""Sign-up abuse, with sign-up open: ten accounts signed up within minutes from ten
addresses of one /24 (each under the per-address allowance) are found as one network's
finding; two from another network are not."""

from __future__ import annotations

import secrets

import aiohttp

from aisonar.abuse.detection import Floors, detect
from aisonar.abuse.models import FindingKind, SubjectKind
from aisonar.clock import utcnow
from aisonar.testing.gateway_server import running_gateway
from tests.abuse.traffic import findings_about
from tests.api.test_signup import current_terms, form
from tests.support import Backend


async def test_many_sign_ups_from_one_network_are_found(backend: Backend) -> None:
    settings = backend.settings.model_copy(
        update={"signup_enabled": True, "signups_per_ip_per_hour": 2}
    )
    farm = f"198.19.{secrets.randbelow(256)}"
    elsewhere = f"198.18.{secrets.randbelow(256)}"
    floor = backend.settings.abuse_sign_ups_floor
    async with running_gateway(settings) as gateway, aiohttp.ClientSession() as http:
        terms = await current_terms(gateway.url)
        for number, address in [
            *((n, f"{farm}.{n + 1}") for n in range(floor)),
            *((floor + n, f"{elsewhere}.{n + 1}") for n in range(2)),
        ]:
            async with http.post(
                gateway.url + "/api/signup",
                json=form(f"farm-{secrets.token_hex(3)}-{number}", terms),
                headers={"X-Forwarded-For": address},
            ) as answer:
                assert answer.status == 201, await answer.text()
    await detect(backend.engine, utcnow(), Floors.of(backend.settings))
    [finding] = await findings_about(backend, FindingKind.SIGN_UP_ABUSE, f"{farm}.0/24")
    assert finding.subject_kind is SubjectKind.NETWORK and finding.org_id is None
    assert finding.evidence["accounts"] == finding.evidence["addresses"] == floor
    assert await findings_about(backend, FindingKind.SIGN_UP_ABUSE, f"{elsewhere}.0/24") == []

"""Text a client chose (a model name past its column, a NUL character, a Gemini URL's long
path) is recorded cut to its column, NUL as U+FFFD: on PostgreSQL such a row would fail
its batch, and every batch after it, and no usage would be recorded at all."""

from __future__ import annotations

import aiohttp

from aisonar.testing.gateway_server import RunningGateway
from tests.ingest.test_events import ingest_key, post_events, reported
from tests.support import Backend, Tenant, recorded_events

LONG_MODEL = "m" * 300
MODEL_LENGTH = 200  # usage_events.requested_model
ENDPOINT_LENGTH = 64  # usage_events.endpoint


async def test_client_text_past_its_column_or_with_nul_is_recorded_cut_and_replaced(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    gemini_path = f"/v1beta/models/{LONG_MODEL}:generateContent"
    chat = gateway.url + "/v1/chat/completions"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {tenant.secret}"}) as http:
        for model in (LONG_MODEL, "gpt\x00mini"):
            async with http.post(chat, json={"model": model, "messages": []}) as response:
                assert response.status == 404
        async with http.post(
            gateway.url + gemini_path,
            json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
            headers={"x-goog-api-key": tenant.secret},
        ) as response:
            assert response.status == 404
    # Recorded after them: the writer went on.
    secret = await ingest_key(backend, tenant.email)
    status, _, _ = await post_events(gateway.url, secret, {"events": [reported("r\x00")]})
    assert status == 202

    events = await recorded_events(backend, tenant, 4)
    assert sorted(event.requested_model for event in events) == [
        "gpt-4o-mini",
        "gpt\ufffdmini",
        "m" * MODEL_LENGTH,
        "m" * MODEL_LENGTH,
    ]
    assert gemini_path[:ENDPOINT_LENGTH] in {event.endpoint for event in events}
    assert [event.external_id for event in events if event.source == "ingest"] == ["r\ufffd"]

"""Every hold is positive and bounds the request: output limits in every dialect are
validated before anything is held or forwarded, the upstream is never allowed to write
more than was held for, and the fields that are billed are the fields the upstream reads."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from aisonar.billing.output_limits import model_output_limit
from aisonar.gateway.body.duplicate_fields import refuse_duplicate_fields
from aisonar.gateway.body.prompt_bound import MEDIA_ITEM_TOKENS, prompt_bound
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Tenant, make_tenant

HELLO = [{"role": "user", "content": "hello"}]
DEFAULT_MAX = 32_768  # Settings.default_max_output_tokens


async def post(
    gateway: RunningGateway, tenant: Tenant, path: str, body: bytes | dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    headers = {
        "Authorization": f"Bearer {tenant.secret}",
        "x-api-key": tenant.secret,
        "x-goog-api-key": tenant.secret,
        "Content-Type": "application/json",
    }
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with (
        aiohttp.ClientSession() as session,
        session.post(gateway.url + path, data=data, headers=headers) as response,
    ):
        return response.status, orjson.loads(await response.read())


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": HELLO, **fields}


def messages(**fields: Any) -> dict[str, Any]:
    return {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": HELLO, **fields}


def gemini(**config: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": "hello"}]}], **config}


def responses(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "input": "hello", **fields}


CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
GEMINI = "/v1beta/models/gemini-2.5-flash:generateContent"
RESPONSES = "/v1/responses"
ABSURD = [-1_000_000_000_000, -1, 0, 10**13, 1.5, True, "100", None]

BAD_LIMITS = [
    *[(CHAT, chat(max_tokens=v), "max_tokens") for v in ABSURD if v is not None],
    *[(CHAT, chat(max_completion_tokens=v), "max_completion_tokens") for v in ABSURD[:6]],
    *[(CHAT, chat(n=v), "n") for v in (-1, 0, 129, 2.5)],
    *[(MESSAGES, messages(max_tokens=v), "max_tokens") for v in ABSURD],
    *[
        (GEMINI, gemini(generationConfig={"maxOutputTokens": v}), "maxOutputTokens")
        for v in ABSURD[:6]
    ],
    *[
        (GEMINI, gemini(generation_config={"max_output_tokens": v}), "max_output_tokens")
        for v in ABSURD[:6]
    ],
    *[(GEMINI, gemini(generationConfig={"candidateCount": v}), "candidateCount") for v in (0, 9)],
    *[(RESPONSES, responses(max_output_tokens=v), "max_output_tokens") for v in ABSURD[:6]],
]


def error_message(path: str, document: dict[str, Any]) -> str:
    """The message of an error in the client's own format (and that it is that format)."""
    if path == MESSAGES:
        assert document["type"] == "error"
        assert document["error"]["type"] == "invalid_request_error"
        return str(document["error"]["message"])
    if path == GEMINI:
        assert document["error"]["status"] == "INVALID_ARGUMENT"
        return str(document["error"]["message"])
    assert document["error"]["type"] == "invalid_request_error"
    return str(document["error"]["message"])


@pytest.mark.parametrize(("path", "body", "field"), BAD_LIMITS)
async def test_an_output_limit_that_is_not_a_positive_bounded_integer_is_a_400_naming_it(
    gateway: RunningGateway,
    fake_upstream: FakeUpstream,
    tenant: Tenant,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    store = gateway.app.runtime.services.billing.store
    before = await store.live(tenant.org_id)
    forwarded = fake_upstream.received_count
    status, document = await post(gateway, tenant, path, body)
    assert status == 400
    assert field in error_message(path, document)
    assert fake_upstream.received_count == forwarded
    assert await store.live(tenant.org_id) == before


async def test_a_limit_past_the_models_own_is_refused_when_passed_through(
    gateway: RunningGateway, fake_upstream: FakeUpstream, tenant: Tenant
) -> None:
    limit = model_output_limit("gpt-4o-mini", "openai")
    assert limit == 16_384
    forwarded = fake_upstream.received_count
    status, document = await post(gateway, tenant, CHAT, chat(max_tokens=limit + 1))
    assert status == 400 and document["error"]["param"] == "max_tokens"
    assert "16384" in document["error"]["message"]
    status, _ = await post(gateway, tenant, CHAT, chat(max_tokens=limit))
    assert status == 200
    assert fake_upstream.received_count == forwarded + 1


async def test_a_limit_past_the_models_own_is_clamped_when_translated(
    gateway: RunningGateway, fake_upstream: FakeUpstream, tenant: Tenant
) -> None:
    # Claude Code asks for 32,000 tokens whatever the model.
    status, _ = await post(
        gateway, tenant, MESSAGES, messages(model="gpt-4o-mini", max_tokens=32_000)
    )
    assert status == 200
    assert fake_upstream.received[-1]["max_tokens"] == 16_384


@pytest.mark.parametrize(
    ("path", "body", "sent"),
    [
        # Passed through: the gateway adds its limit to the client's own bytes.
        (CHAT, chat(), lambda r: r["max_tokens"] == 16_384),
        (RESPONSES, responses(), lambda r: r["max_output_tokens"] == 16_384),
        (GEMINI, gemini(), lambda r: r["generationConfig"]["maxOutputTokens"] == DEFAULT_MAX),
        (
            GEMINI,
            gemini(generation_config={"temperature": 0.5}),
            lambda r: (
                r["generation_config"] == {"temperature": 0.5, "maxOutputTokens": DEFAULT_MAX}
            ),
        ),
        # Translated: the upstream's request carries it.
        (CHAT, chat(model="claude-haiku-4-5"), lambda r: r["max_tokens"] == DEFAULT_MAX),
        (
            "/v1beta/models/claude-haiku-4-5:generateContent",
            gemini(),
            lambda r: r["max_tokens"] == DEFAULT_MAX,
        ),
        (
            CHAT,
            chat(model="gemini-2.5-flash"),
            lambda r: r["generationConfig"]["maxOutputTokens"] == DEFAULT_MAX,
        ),
    ],
)
async def test_without_a_client_limit_the_upstream_gets_the_gateways_default(
    gateway: RunningGateway,
    fake_upstream: FakeUpstream,
    tenant: Tenant,
    path: str,
    body: dict[str, Any],
    sent: Any,
) -> None:
    status, _ = await post(gateway, tenant, path, body)
    assert status == 200
    assert sent(fake_upstream.received[-1])


async def test_a_claude_model_without_max_tokens_fits_a_small_balance(
    gateway: RunningGateway, backend: Any
) -> None:
    """The hold is the default output limit at the model's price, not its context window
    (the README's example on a fresh demo)."""
    tenant = await make_tenant(backend.engine, balance="1.00")
    status, _ = await post(gateway, tenant, CHAT, chat(model="claude-sonnet-4-5"))
    assert status == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (CHAT, b'{"model": "gpt-4o-mini", "model": "gpt-4o", "messages": []}'),
        (CHAT, b'{"model": "gpt-4o-mini", "m\\u006fdel": "gpt-4o", "messages": []}'),
        (CHAT, b'{"model": "gpt-4o-mini", "max_tokens": 1, "max_tokens": 500, "messages": []}'),
        (CHAT, b'{"model": "gpt-4o-mini", "stream": false, "stream": true, "messages": []}'),
        (CHAT, b'{"model": "gpt-4o-mini", "n": 1, "n": 100, "messages": []}'),
        (
            MESSAGES,
            b'{"model": "claude-haiku-4-5", "max_tokens": 10, "max_tokens": 60000,'
            b' "messages": [{"role": "user", "content": "hi"}]}',
        ),
        (
            GEMINI,
            b'{"contents": [], "generationConfig": {"maxOutputTokens": 5,'
            b' "maxOutputTokens": 60000}}',
        ),
        (
            GEMINI,
            b'{"contents": [], "generationConfig": {"maxOutputTokens": 5},'
            b' "generation_config": {"max_output_tokens": 60000}}',
        ),
        (
            GEMINI,
            b'{"contents": [], "generationConfig": {"maxOutputTokens": 5,'
            b' "max_output_tokens": 60000}}',
        ),
        (RESPONSES, b'{"model": "gpt-4o-mini", "input": "hi", "model": "gpt-4o"}'),
    ],
)
async def test_a_billed_field_named_twice_is_a_400(
    gateway: RunningGateway, fake_upstream: FakeUpstream, tenant: Tenant, path: str, body: bytes
) -> None:
    forwarded = fake_upstream.received_count
    status, document = await post(gateway, tenant, path, body)
    assert status == 400
    assert "more than once" in error_message(path, document)
    assert fake_upstream.received_count == forwarded


async def test_the_same_name_in_different_objects_is_no_duplicate(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "pick",
            "parameters": {"type": "object", "properties": {"model": {"type": "string"}}},
        },
    }
    status, _ = await post(gateway, tenant, CHAT, chat(tools=[tool], max_tokens=20))
    assert status == 200


async def test_tool_definitions_count_toward_the_prompt_bound(
    gateway: RunningGateway, backend: Any
) -> None:
    """A prompt is refused the same whether its text is a message or a tool's description."""
    text = "lorem ipsum " * 15_000  # 180 KB
    tenant = await make_tenant(backend.engine, balance="0.02")
    as_message = chat(max_tokens=10, messages=[{"role": "system", "content": text}, *HELLO])
    tool = {"type": "function", "function": {"name": "f", "description": text, "parameters": {}}}
    as_tool = chat(max_tokens=10, tools=[tool])
    for body in (as_message, as_tool):
        status, document = await post(gateway, tenant, CHAT, body)
        assert status == 402, document
    status, _ = await post(gateway, tenant, CHAT, chat(max_tokens=10))
    assert status == 200


def test_media_given_by_reference_adds_its_estimate_in_every_format() -> None:
    bodies = [
        {"content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
        {"content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]},
        {"content": [{"type": "document", "source": {"type": "url", "url": "https://x/y"}}]},
        {"input": [{"type": "input_image", "image_url": "https://x/y.png"}]},
        {"parts": [{"fileData": {"fileUri": "gs://x/y.pdf"}}]},
        {"parts": [{"file_data": {"file_uri": "gs://x/y.pdf"}}]},
    ]
    for document in bodies:
        body = orjson.dumps(document)
        assert prompt_bound(body) == len(body) + MEDIA_ITEM_TOKENS
    # The word "image" in a prompt's text is not an image.
    text = orjson.dumps({"content": 'say "type": "image"'})
    assert prompt_bound(text) == len(text)


def test_the_duplicate_scan_stays_linear_on_escapes() -> None:
    """A key of 8,000 escapes once took a minute of CPU to scan; it is one pass now."""
    body = b'{"' + b"\\u0041" * 8_000 + b'": 1, "model": "gpt-4o-mini", "messages": []}'
    refuse_duplicate_fields(body)
    spelled = b'{"model": "gpt-4o-mini", "' + b"\\u0041" * 8_000 + b'model": 1}'
    refuse_duplicate_fields(spelled)

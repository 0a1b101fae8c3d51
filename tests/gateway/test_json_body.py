"""A JSON body the parsers would fail on (nested deeper than they go, or holding what
one parser takes and another refuses) is refused whole, first, on every route that takes
JSON: a 400 in the client's own format, recorded as the 400 it is, nothing charged. At
the depth limit, a request is still served, translated to another format included."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from aisonar.gateway.body.json_body import MAX_JSON_DEPTH, json_depth_exceeds
from aisonar.store.tables import usage_events
from aisonar.testing.gateway_server import RunningGateway
from tests.ingest.test_events import ingest_key
from tests.support import Backend, Tenant, assert_ledger_invariant, writer_drained

TOO_DEEP = 1000
DEEP = "DEEP"


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


# Strings full of what the scan must not be fooled by: brackets, quotes, backslashes.
_text = st.text(alphabet=st.sampled_from('[]{}"\\ax\u00e9\u4e2d'), max_size=8)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(value=_json_values, ascii_only=st.booleans(), limit=st.integers(0, 12))
def test_the_depth_scan_agrees_with_a_parser(value: Any, ascii_only: bool, limit: int) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_depth_exceeds(body, limit) == (depth_of(value) > limit)


def test_the_depth_scan_reads_past_escapes_and_counts_objects() -> None:
    assert json_depth_exceeds(b'{"a":{"b":[1]}}', 2)
    assert not json_depth_exceeds(b'{"a":{"b":[1]}}', 3)
    assert not json_depth_exceeds(b'["\\\\", "\\"[[[[", "\\\\\\"{{{{"]', 1)
    assert json_depth_exceeds(b"[" * 5, 4)  # unclosed counts as deep


@dataclass(frozen=True)
class Route:
    path: str
    # What the answer's error looks like: openai, anthropic or gemini.
    dialect: str
    body: str
    metered: bool = True


_GEMINI = '{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"where":DEEP}'
ROUTES = [
    Route(
        "/v1/chat/completions",
        "openai",
        '{"model":"metered-model","max_tokens":5,"messages":[{"role":"user","content":DEEP}]}',
    ),
    Route(
        "/v1/chat/completions",
        "openai",
        '{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}],"x":DEEP}',
    ),
    Route(
        "/v1/messages",
        "anthropic",
        '{"model":"claude-haiku-4-5","max_tokens":5,"messages":DEEP}',
    ),
    Route(
        "/v1/messages/count_tokens",
        "anthropic",
        '{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"}],'
        '"tools":[{"name":"t","input_schema":DEEP}]}',
        metered=False,
    ),
    Route("/v1/responses", "openai", '{"model":"gpt-4o-mini","input":DEEP}'),
    Route("/v1/embeddings", "openai", '{"model":"text-embedding-3-small","input":"hi","x":DEEP}'),
    Route("/v1/models/gemini-2.5-flash:generateContent", "gemini", _GEMINI),
    Route("/v1beta/models/gemini-2.5-flash:generateContent", "gemini", _GEMINI),
    Route("/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "gemini", _GEMINI),
    Route("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "gemini", _GEMINI),
    Route("/api/me/redeem", "openai", '{"code":"X","x":DEEP}', metered=False),
]


def with_depth(template: str, levels: int) -> bytes:
    """The template with arrays nested `levels` deep in place of DEEP (written out: no
    encoder goes that deep)."""
    return template.replace(DEEP, "[" * levels + "]" * levels).encode()


def headers_for(secret: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {secret}",
        "x-api-key": secret,
        "x-goog-api-key": secret,
        "Content-Type": "application/json",
    }


def assert_client_error(dialect: str, answer: dict[str, Any]) -> str:
    """The message of an invalid-request error in the dialect's own shape."""
    if dialect == "anthropic":
        assert answer["type"] == "error"
        assert answer["error"]["type"] == "invalid_request_error"
        return str(answer["error"]["message"])
    if dialect == "gemini":
        assert answer["error"]["code"] == 400
        assert answer["error"]["status"] == "INVALID_ARGUMENT"
        return str(answer["error"]["message"])
    assert answer["error"]["type"] == "invalid_request_error"
    return str(answer["error"]["message"])


async def statuses_recorded(gateway: RunningGateway, backend: Backend, tenant: Tenant) -> list[int]:
    await writer_drained(gateway)
    async with backend.engine.connect() as conn:
        rows = await conn.execute(
            select(usage_events.c.status_code).where(usage_events.c.org_id == tenant.org_id)
        )
        return sorted(row.status_code for row in rows)


async def test_json_nested_too_deep_is_a_400_in_the_clients_format_and_charges_nothing(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    balance = await assert_ledger_invariant(backend.engine, tenant.org_id)
    async with aiohttp.ClientSession(headers=headers_for(tenant.secret)) as http:
        for route in ROUTES:
            body = with_depth(route.body, TOO_DEEP)
            async with http.post(gateway.url + route.path, data=body) as response:
                answer = await response.json(content_type=None)
                assert response.status == 400, (route, answer)
            message = assert_client_error(route.dialect, answer)
            assert f"more than {MAX_JSON_DEPTH} levels deep" in message
    await assert_all_refused_and_nothing_charged(gateway, backend, tenant, balance)


# msgspec, reading the few fields the gateway needs, takes these; orjson, which reads the
# whole body to rewrite or translate it, does not.
@pytest.mark.parametrize("value", ['"\\ud800"', '"\\udc00 low"', "1e400", "-1e400"])
async def test_json_only_one_parser_takes_is_a_400_in_the_clients_format(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, value: str
) -> None:
    balance = await assert_ledger_invariant(backend.engine, tenant.org_id)
    async with aiohttp.ClientSession(headers=headers_for(tenant.secret)) as http:
        for route in ROUTES:
            body = route.body.replace(DEEP, value).encode()
            async with http.post(gateway.url + route.path, data=body) as response:
                answer = await response.json(content_type=None)
                assert response.status == 400, (route, answer)
            assert "not valid JSON" in assert_client_error(route.dialect, answer)
    await assert_all_refused_and_nothing_charged(gateway, backend, tenant, balance)


async def assert_all_refused_and_nothing_charged(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, balance: int
) -> None:
    metered = sum(route.metered for route in ROUTES)
    assert await statuses_recorded(gateway, backend, tenant) == [400] * metered
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == balance
    live = await gateway.app.runtime.services.billing.store.live(tenant.org_id)
    assert live is None or (live.balance, live.held) == (balance, 0)


async def test_reports_nested_too_deep_are_refused(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    secret = await ingest_key(backend, tenant.email)
    event = '{"id":"e1","provider":"openai","model":"gpt-4o-mini","properties":{"a":DEEP}}'
    bodies = [
        ("/api/ingest/events", '{"events":[' + event + "]}"),
        ("/api/ingest/events", '{"events":DEEP}'),
        ("/v1/traces", '{"resourceSpans":DEEP}'),
        ("/v1/traces", '{"resourceSpans":[{"scopeSpans":[DEEP]}]}'),
    ]
    async with aiohttp.ClientSession() as http:
        for path, template in bodies:
            for encoding in ("identity", "gzip"):
                raw = with_depth(template, TOO_DEEP)
                data = gzip.compress(raw) if encoding == "gzip" else raw
                headers = {
                    "Authorization": f"Bearer {secret}",
                    "Content-Type": "application/json",
                    "Content-Encoding": encoding,
                }
                async with http.post(gateway.url + path, data=data, headers=headers) as response:
                    assert response.status == 400, (path, encoding, await response.read())
    assert await statuses_recorded(gateway, backend, tenant) == []


@pytest.mark.parametrize("model", ["metered-model", "claude-haiku-4-5", "gemini-2.5-flash"])
async def test_a_body_at_the_limit_is_served_in_any_format(
    gateway: RunningGateway, tenant: Tenant, model: str
) -> None:
    # A tool's schema takes the body to the limit: arrays of arrays of ... strings.
    schema: dict[str, Any] = {"type": "string"}
    while depth_of({"tools": [{"function": {"parameters": schema}}]}) < MAX_JSON_DEPTH:
        schema = {"type": "array", "items": schema}
    body = {
        "model": model,
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "t", "parameters": schema}}],
    }
    assert depth_of(body) == MAX_JSON_DEPTH
    async with (
        aiohttp.ClientSession(headers=headers_for(tenant.secret)) as http,
        http.post(gateway.url + "/v1/chat/completions", data=orjson.dumps(body)) as response,
    ):
        assert response.status == 200, await response.read()

"""Generated requests thrown at every inference endpoint of a real gateway over loopback
HTTP: JSON of any shape, the known fields given wrong types and out-of-range numbers,
duplicate keys, deep nesting, bytes that are not UTF-8, odd headers and query strings.
No answer is a 5xx, and a refused request charges nothing: none of their usage events
has a cost, and the balance ends where the served requests' costs take it, the sum of
the ledger. Each endpoint's counts of cases and answers are printed (`pytest -s`)."""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from aisonar.store.tables import usage_events
from aisonar.testing.gateway_server import free_port
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    settled_balance,
    start_gateway_process,
    wait_for_usage,
)

# Hypothesis draws each example in a thread of this process, and flags any move of the
# `random` module's shared state meanwhile as its strategies' own. Other code running in
# the process (client libraries' retry jitter) may move it; the strategies here never do.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)

EXAMPLES_PER_ENDPOINT = 30
GEMINI_FIELDS = ("contents", "generationConfig", "systemInstruction", "tools", "toolConfig")
CLAUDE, GEMINI, GPT = "claude-haiku-4-5", "gemini-2.5-flash", "gpt-4o-mini"
MODELS = (GPT, CLAUDE, GEMINI, "text-embedding-3-small", "metered-model", "no-such-model")
HELLO = [{"role": "user", "content": "hello"}]


@dataclass(frozen=True)
class Endpoint:
    path: str
    # A request the endpoint serves, which the examples start from.
    valid: dict[str, Any]
    # The fields it reads, which the examples give odd values.
    known: tuple[str, ...]
    query: str = ""
    # Whether each request it authenticates is recorded as a usage event.
    metered: bool = True


ENDPOINTS = [
    Endpoint(
        "/v1/chat/completions",
        {"model": GPT, "max_tokens": 5, "messages": HELLO},
        (
            *("model", "messages", "max_tokens", "max_completion_tokens", "n", "stream"),
            *("stream_options", "tools", "tool_choice", "response_format", "temperature"),
        ),
    ),
    Endpoint(
        "/v1/messages",
        {"model": CLAUDE, "max_tokens": 5, "messages": HELLO},
        (
            *("model", "messages", "max_tokens", "system", "stream", "tools", "tool_choice"),
            *("thinking", "stop_sequences", "temperature", "metadata"),
        ),
    ),
    Endpoint(
        "/v1/messages/count_tokens",
        {"model": CLAUDE, "messages": HELLO},
        ("model", "messages", "system", "tools", "tool_choice", "thinking"),
        metered=False,
    ),
    Endpoint(
        "/v1/responses",
        {"model": GPT, "max_output_tokens": 16, "input": "hello"},
        ("model", "input", "instructions", "max_output_tokens", "stream", "tools", "reasoning"),
    ),
    Endpoint(
        "/v1/embeddings",
        {"model": "text-embedding-3-small", "input": "hello"},
        ("model", "input", "dimensions", "encoding_format"),
    ),
    *(
        Endpoint(
            f"/{version}/models/{GEMINI}:{method}",
            {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]},
            GEMINI_FIELDS,
            query,
        )
        for version in ("v1", "v1beta")
        for method, query in (("generateContent", ""), ("streamGenerateContent", "alt=sse"))
    ),
    Endpoint(
        "/api/ingest/events",
        {"events": [{"id": "e", "provider": "openai", "model": GPT, "input_tokens": 1}]},
        ("events",),
        metered=False,
    ),
    Endpoint("/v1/traces", {"resourceSpans": []}, ("resourceSpans",), metered=False),
]

_numbers = (
    st.sampled_from(
        [-1, 0, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**400]
    )
    | st.integers()
    | st.floats()
)
_scalars = st.none() | st.booleans() | _numbers | st.text(max_size=20)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def one_in(draw: st.DrawFn, times: int) -> bool:
    return draw(st.integers(0, times - 1)) == 0


@st.composite
def documents(draw: st.DrawFn, endpoint: Endpoint) -> Any:
    """The endpoint's valid request with some known fields given any value, some extra
    fields, and maybe another model; or JSON of any shape."""
    if one_in(draw, 10):
        return draw(_json)
    document = dict(endpoint.valid)
    if "model" in document or one_in(draw, 4):
        models = st.text(max_size=10) if one_in(draw, 5) else st.sampled_from(MODELS)
        document["model"] = draw(models)
    for name in draw(st.lists(st.sampled_from(endpoint.known), max_size=2, unique=True)):
        document[name] = draw(_json)
    document.update(draw(st.dictionaries(st.text(max_size=8), _json, max_size=1)))
    return document


@st.composite
def bodies(draw: st.DrawFn, endpoint: Endpoint) -> bytes:
    """A document written out, then maybe spoiled: a key repeated, a value nested deep,
    bytes that are not UTF-8 put in, cut short; or bytes of any kind."""
    if one_in(draw, 15):
        return draw(st.binary(max_size=64))
    # NaN and Infinity are written out as such: not JSON either.
    body = json.dumps(draw(documents(endpoint))).encode()
    if one_in(draw, 2):
        return body
    spoil = draw(st.sampled_from(["duplicate", "deep", "bytes", "cut"]))
    if spoil == "duplicate" and body.startswith(b"{") and len(body) > 2:
        name = draw(st.sampled_from(endpoint.known))
        value = json.dumps(draw(_json)).encode()
        body = b'{"' + name.encode() + b'":' + value + b"," + body[1:]
    elif spoil == "deep":
        levels = draw(st.integers(100, 3000))
        deep = b"[" * levels + b"]" * levels
        body = body.replace(b"[]", deep, 1) if b"[]" in body else deep
    elif spoil == "bytes":
        at = draw(st.integers(0, len(body)))
        body = (
            body[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x00"]))
            + body[at:]
        )
    elif spoil == "cut":
        body = body[: draw(st.integers(0, len(body)))]
    return body


# What h11 sends: printable ASCII, without spaces at either end.
_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30).map(
    str.strip
)


@dataclass
class Sent:
    body: bytes
    headers: dict[str, str]
    query: str


@st.composite
def requests(draw: st.DrawFn, endpoint: Endpoint, secret: str) -> Sent:
    body = draw(bodies(endpoint))
    headers = {
        "Authorization": f"Bearer {secret}",
        "x-api-key": secret,
        "x-goog-api-key": secret,
        "Content-Type": "application/json"
        if one_in(draw, 2)
        else draw(st.sampled_from(["application/x-protobuf", "text/plain", ""]) | _header_text),
    }
    if one_in(draw, 4):
        compress = draw(st.booleans())
        headers["Content-Encoding"] = "gzip" if compress else draw(_header_text)
        body = gzip.compress(body) if compress else body
    for name in draw(
        st.lists(st.sampled_from(["anthropic-version", "anthropic-beta", "x-forwarded-for"]))
    ):
        headers[name] = draw(_header_text)
    parameters = draw(
        st.dictionaries(
            st.sampled_from(["alt", "key", "stream", "beta"]) | _header_text,
            _header_text,
            max_size=2,
        )
    )
    query = "&".join(part for part in (endpoint.query, urlencode(parameters)) if part)
    return Sent(body, headers, query)


@dataclass
class Outcomes:
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[tuple[int, Sent, bytes]] = field(default_factory=list)


def fuzz(url: str, endpoint: Endpoint, secret: str) -> Outcomes:
    """Send the endpoint the generated requests, one after another."""
    outcomes = Outcomes()
    with httpx.Client(timeout=30) as http:

        @settings(
            max_examples=EXAMPLES_PER_ENDPOINT,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(sent=requests(endpoint, secret))
        def send(sent: Sent) -> None:
            target = url + endpoint.path + (f"?{sent.query}" if sent.query else "")
            response = http.post(target, content=sent.body, headers=sent.headers)
            outcomes.statuses[response.status_code] += 1
            if response.status_code >= 500:
                outcomes.server_errors.append((response.status_code, sent, response.content[:300]))

        send()
    return outcomes


async def costs(backend: Backend, tenant: Tenant) -> tuple[int, list[int]]:
    """What the gateway charged for the requests it served, and for those it refused."""
    async with backend.engine.connect() as conn:
        rows = list(
            await conn.execute(
                select(usage_events.c.status_code, usage_events.c.cost).where(
                    usage_events.c.org_id == tenant.org_id, usage_events.c.source == "gateway"
                )
            )
        )
    served = sum(row.cost for row in rows if row.status_code < 400)
    return served, [row.cost for row in rows if row.status_code >= 400 and row.cost]


@pytest.fixture(scope="module")
async def gateway_process(backend: Backend) -> AsyncIterator[str]:
    """A gateway in a process of its own. In this one, Hypothesis draws each example in a
    thread and would take the gateway's use of `random` (it picks channels by weight)
    for the strategy's own; here only the fake upstream runs beside it."""
    port = free_port()
    process = await start_gateway_process(backend, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.path)
async def test_generated_requests_find_no_5xx_and_charge_no_refusal(
    gateway_process: str, backend: Backend, tenant: Tenant, endpoint: Endpoint
) -> None:
    funded = await assert_ledger_invariant(backend.engine, tenant.org_id)
    outcomes = await asyncio.to_thread(fuzz, gateway_process, endpoint, tenant.secret)
    statuses = dict(sorted(outcomes.statuses.items()))
    print(f"\n{endpoint.path}: {outcomes.statuses.total()} cases, statuses {statuses}")
    assert not outcomes.server_errors, outcomes.server_errors[:3]
    # The key is good: every request reaches the point where it is recorded.
    await wait_for_usage(
        backend.engine, tenant.org_id, outcomes.statuses.total() if endpoint.metered else 0
    )
    served, refused = await costs(backend, tenant)
    assert refused == []
    await settled_balance(backend.engine, tenant.org_id, funded - served)
    await assert_ledger_invariant(backend.engine, tenant.org_id)

"""Attribution through the gateway: the session, end user and properties a client tags a
request with (x-aisonar-* headers, or the body's own end-user field) land on its usage
event, are never sent upstream, and a header out of bounds is a 400 in the client's own
format that forwards and charges nothing."""

from __future__ import annotations

import hashlib
import json

import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from aisonar.gateway.attribution import MAX_PROPERTIES, UNATTRIBUTED, attribution_of
from aisonar.gateway.errors import InvalidRequest
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, recorded_events

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello"}]


def openai_client(gateway: RunningGateway, tenant: Tenant) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)


def anthropic_client(gateway: RunningGateway, tenant: Tenant) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gateway.url, api_key=tenant.secret, max_retries=0)


def sent_upstream(fake_upstream: FakeUpstream) -> tuple[dict[str, str], dict[str, object]]:
    """The headers and body of the last request the upstream received."""
    return fake_upstream.received_headers[-1], fake_upstream.received[-1]


async def test_headers_tag_the_usage_event_and_stay_out_of_the_upstream_request(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    async with openai_client(gateway, tenant) as client:
        await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=HELLO,
            max_tokens=5,
            extra_headers={
                "X-AISonar-Session-Id": "conv-42",
                "X-AISonar-User": "customer-7",
                "X-AISonar-Property-Feature": "summarize",
                "X-AISonar-Property-Plan": "pro tier",
            },
        )
        headers, body = sent_upstream(fake_upstream)
    assert not [name for name in headers if name.lower().startswith("x-aisonar")]
    assert "user" not in body
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.session_id, event.end_user) == ("conv-42", "customer-7")
    assert event.properties == {"feature": "summarize", "plan": "pro tier"}


async def test_the_bodys_end_user_counts_when_no_header_names_one(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    async with openai_client(gateway, tenant) as client:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, max_tokens=5, user="body-user"
        )
        # The client sent it in the body: it goes upstream as it came.
        assert sent_upstream(fake_upstream)[1]["user"] == "body-user"
        await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=HELLO,
            max_tokens=5,
            user="body-user",
            extra_headers={"x-aisonar-user": "header-user"},
        )
    long_id = json.dumps({"device_id": "d" * 64, "account_uuid": "a" * 36, "session_id": "s"})
    async with anthropic_client(gateway, tenant) as claude:
        await claude.messages.create(
            model="claude-haiku-4-5",
            max_tokens=5,
            messages=[{"role": "user", "content": "hi"}],
            metadata={"user_id": "claude-user"},
        )
        await claude.messages.create(
            model="claude-haiku-4-5",
            max_tokens=5,
            messages=[{"role": "user", "content": "hi"}],
            metadata={"user_id": long_id},
        )
    events = await recorded_events(backend, tenant, 4)
    assert [e.end_user for e in events] == [
        "body-user",
        "header-user",
        "claude-user",
        hashlib.sha256(long_id.encode()).hexdigest(),
    ]
    assert all(e.session_id is None and e.properties is None for e in events)


@pytest.mark.parametrize(
    ("headers", "param"),
    [
        ({"x-aisonar-session-id": "s" * 129}, "x-aisonar-session-id"),
        ({"x-aisonar-user": "tab\there"}, "x-aisonar-user"),
        ({"x-aisonar-property-a*b": "x"}, "x-aisonar-property-a*b"),
        ({"x-aisonar-property-feature": "v" * 257}, "x-aisonar-property-feature"),
    ],
    ids=["long session", "control character", "property name", "long property value"],
)
async def test_a_header_out_of_bounds_is_an_openai_400_that_changes_nothing(
    headers: dict[str, str],
    param: str,
    gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
) -> None:
    before = fake_upstream.received_count
    async with openai_client(gateway, tenant) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=HELLO, max_tokens=5, extra_headers=headers
            )
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error"
    assert body["param"] == param
    assert fake_upstream.received_count == before
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.status_code, event.cost, event.end_user, event.session_id) == (400, 0, None, None)


async def test_too_many_properties_is_an_anthropic_400(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    before = fake_upstream.received_count
    many = {f"x-aisonar-property-p{index}": "v" for index in range(MAX_PROPERTIES + 1)}
    async with anthropic_client(gateway, tenant) as claude:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await claude.messages.create(
                model="claude-haiku-4-5",
                max_tokens=5,
                messages=[{"role": "user", "content": "hi"}],
                extra_headers=many,
            )
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert f"at most {MAX_PROPERTIES}" in body["error"]["message"]
    assert fake_upstream.received_count == before
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 400 and event.properties is None


def test_the_bounds_hold_at_their_edges() -> None:
    at_most = {
        b"x-aisonar-session-id": b"s" * 128,
        b"x-aisonar-user": "ünïcode-user".encode(),
        **{f"x-aisonar-property-p{i}".encode(): b"v" * 256 for i in range(MAX_PROPERTIES)},
    }
    found = attribution_of(at_most, b"{}")
    assert found.session_id == "s" * 128 and found.end_user == "ünïcode-user"
    assert found.properties is not None and len(json.loads(found.properties)) == MAX_PROPERTIES
    for refused in (
        {b"x-aisonar-user": b""},
        {b"x-aisonar-user": b"\xff\xfe"},
        {b"x-aisonar-property-": b"v"},
    ):
        with pytest.raises(InvalidRequest):
            attribution_of(refused, b"{}")
    # A body's id that is not text, or not there, names no one.
    assert attribution_of({}, b'{"user": 42, "model": "m"}').end_user is None
    assert attribution_of({}, b'{"metadata": "user_id", "model": "m"}').end_user is None
    assert attribution_of({}, b'{"messages": [{"role": "user", "content": "hi"}]}') is UNATTRIBUTED
    spaced = b'{"messages": [], "metadata": {"user_id" : "u-9"}}'
    assert attribution_of({}, spaced).end_user == "u-9"

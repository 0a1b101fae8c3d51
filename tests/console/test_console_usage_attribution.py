"""The usage log shows whom and what each request was for (its end user and session) and
filters by them, its download with it."""

from __future__ import annotations

import json

import openai

from aisonar.accounts import services as accounts
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import fetch, signed_in
from tests.console.people import console_person
from tests.console.test_console_usage_export import USAGE, export_links
from tests.support import Backend, writer_drained


async def test_the_log_shows_and_filters_by_end_user_and_session(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        _, secret = await accounts.create_key(conn, person.email, name="attributed")
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=secret, max_retries=0
    ) as client:
        for end_user, session in (("alice<b>", "s-1"), ("bob", "s-1"), ("bob", "s-2")):
            await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hi"}],
                max_tokens=5,
                extra_headers={"x-aisonar-user": end_user, "x-aisonar-session-id": session},
            )
    await writer_drained(gateway)
    http = await signed_in(gateway.url, person.email)
    try:
        status, everything = await fetch(http, gateway.url + USAGE)
        assert status == 200 and everything.count("<tr>") == 4
        # Shown escaped, and a link to the log of that end user alone.
        assert "alice&lt;b&gt;" in everything and "alice<b>" not in everything
        assert 'href="/console/usage?end_user=alice%3Cb%3E"' in everything
        status, bobs = await fetch(http, gateway.url + USAGE + "?end_user=bob&session=s-2")
        assert status == 200 and bobs.count("<tr>") == 2
        for nul in ("?end_user=%00", "/export?session=a%00"):
            assert (await fetch(http, gateway.url + USAGE + nul))[0] == 400
        links = export_links(bobs)
        async with http.get(gateway.url + links["jsonl"]) as answer:
            [line] = [json.loads(text) for text in (await answer.text()).splitlines()]
        assert (line["end_user"], line["session_id"]) == ("bob", "s-2")
    finally:
        await http.close()

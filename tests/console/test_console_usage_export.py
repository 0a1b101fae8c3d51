"""The usage log's downloads: the filter the page shows, as CSV and JSON Lines, through
the export `GET /api/me/usage` streams. Each download holds exactly the requests the
filtered log lists (every page of it), only the person's own."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from urllib.parse import urlencode

import openai
import pytest
from playwright.async_api import Browser

from aisonar.accounts import services as accounts
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.log import usage_log
from tests.console.forms import fetch, signed_in
from tests.console.people import browsing_as, console_person, screenshot
from tests.support import Backend, writer_drained

USAGE = "/console/usage"


def export_links(page_html: str) -> dict[str, str]:
    """What the page's download buttons ask for, by the format they name: the export
    form's hidden fields (the log's filter) and the button's format."""
    form = page_html.split('id="usage-exports"')[1].split("</form>")[0]
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form))
    return {
        fmt: "/console/usage/export?"
        + urlencode(
            {name: html.unescape(value) for name, value in hidden.items()} | {"format": fmt}
        )
        for fmt in re.findall(r'name="format" value="(\w+)"', form)
    }


async def test_the_downloads_hold_what_the_filtered_log_lists(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    stranger = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        _, secret = await accounts.create_key(conn, person.email, name="export")
        _, theirs = await accounts.create_key(conn, stranger.email, name="theirs")
    for key, model in ((secret, "gpt-4o-mini"), (secret, "gpt-4o"), (theirs, "gpt-4o-mini")):
        async with openai.AsyncOpenAI(
            base_url=gateway.url + "/v1", api_key=key, max_retries=0
        ) as client:
            await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=5
            )
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=secret, max_retries=0
    ) as client:
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model="no-such-model", messages=[{"role": "user", "content": "hi"}]
            )
    await writer_drained(gateway)
    async with backend.engine.connect() as conn:
        everything = (await usage_log(conn, person.user_id)).requests
        mini = (await usage_log(conn, person.user_id, model="gpt-4o-mini")).requests
        failed = (await usage_log(conn, person.user_id, status_class="4")).requests
    assert len(everything) == 3 and len(mini) == 1 and len(failed) == 1

    http = await signed_in(gateway.url, person.email)
    try:
        for query, listed in (
            ("", everything),
            ("?model=gpt-4o-mini", mini),
            ("?status=4", failed),
        ):
            status, page_html = await fetch(http, gateway.url + USAGE + query)
            assert status == 200
            links = export_links(page_html)
            assert set(links) == {"csv", "jsonl"}
            async with http.get(gateway.url + links["csv"]) as answer:
                assert answer.status == 200
                assert answer.headers["content-type"].startswith("text/csv")
                assert 'filename="usage.csv"' in answer.headers["content-disposition"]
                rows = list(csv.DictReader(io.StringIO(await answer.text())))
            async with http.get(gateway.url + links["jsonl"]) as answer:
                assert answer.headers["content-type"].startswith("application/x-ndjson")
                lines = [json.loads(line) for line in (await answer.text()).splitlines()]
            # The same requests as the log, oldest first, with the log's figures.
            oldest_first = list(reversed(listed))
            assert [row["id"] for row in rows] == [entry.id for entry in oldest_first], query
            assert [line["id"] for line in lines] == [entry.id for entry in oldest_first]
            for line, entry in zip(lines, oldest_first, strict=True):
                assert line["user_id"] == person.user_id
                assert (line["requested_model"], line["status_code"]) == (
                    entry.model,
                    entry.status_code,
                )
                assert (line["input_tokens"], line["output_tokens"], line["cost"]) == (
                    entry.input_tokens,
                    entry.output_tokens,
                    entry.cost,
                )
        async with http.get(gateway.url + USAGE + "/export?format=csv&status=7") as bad:
            assert bad.status == 400
        async with http.get(gateway.url + USAGE + "/export?format=xml") as bad:
            assert bad.status == 400
    finally:
        await http.close()


async def test_the_download_starts_from_the_page(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        _, secret = await accounts.create_key(conn, person.email, name="export")
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=secret, max_retries=0
    ) as client:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
    await writer_drained(gateway)
    async with browsing_as(browser, gateway.url, person.email, locale="en-US") as seen:
        page = seen.page
        await page.click(".cookie-banner button[value=no]")
        await page.goto(gateway.url + USAGE + "?model=gpt-4o-mini")
        async with page.expect_download() as started:
            await page.click("#usage-exports button[value=jsonl]")
        download = await started.value
        assert download.suggested_filename == "usage.jsonl"
        path = await download.path()
        [line] = [json.loads(text) for text in path.read_text().splitlines()]
        assert line["requested_model"] == "gpt-4o-mini" and line["user_id"] == person.user_id
        await screenshot(page, "usage-export")

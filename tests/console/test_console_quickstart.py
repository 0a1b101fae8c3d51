"""Quick start: the snippets run as shown. Each one is taken from the page as text and
run against the gateway with one of the person's keys (the Python ones in a thread, as a
script would run them; curl as the shell would): the base URL and paths on the page are
the ones each SDK needs. The base URL is `AISONAR_PUBLIC_URL` when it is set; the models
offered are those the organization's list admits."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import shutil

from playwright.async_api import Browser, expect

from aisonar.accounts import services as accounts
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from aisonar.usage.log import usage_log
from tests.console.forms import element_text, fetch, signed_in
from tests.console.people import browsing_as, console_person, screenshot
from tests.support import Backend, writer_drained

QUICKSTART = "/console/quickstart"
KEY_VARIABLE = "AISONAR_API_KEY"


def run_python(code: str, secret: str) -> str:
    """The snippet run as a script with the key in its environment; what it prints."""
    printed = io.StringIO()
    os.environ[KEY_VARIABLE] = secret
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(code, "<snippet>", "exec"), {"__name__": "__main__"})
    finally:
        del os.environ[KEY_VARIABLE]
    return printed.getvalue()


async def run_shell(command: str, secret: str) -> str:
    shell = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        command,
        env={"PATH": os.environ["PATH"], KEY_VARIABLE: secret},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await shell.communicate()
    assert shell.returncode == 0
    return out.decode()


async def test_every_snippet_runs_against_the_gateway_as_shown(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        _, secret = await accounts.create_key(conn, person.email, name="quick start")
    http = await signed_in(gateway.url, person.email)
    try:
        # Each SDK's own provider's model by default.
        status, html = await fetch(http, gateway.url + QUICKSTART)
        assert status == 200 and element_text(html, "base-url") == gateway.url
        anthropic_code = element_text(html, "snippet-anthropic")
        gemini_code = element_text(html, "snippet-gemini")
        assert f'base_url="{gateway.url}"' in anthropic_code
        assert 'model="claude' in anthropic_code and 'model="gemini' in gemini_code
        answered = await asyncio.to_thread(run_python, anthropic_code, secret)
        assert answered.strip()
        answered = await asyncio.to_thread(run_python, gemini_code, secret)
        assert answered.strip()

        # A model chosen on the page, in every snippet.
        status, html = await fetch(http, gateway.url + QUICKSTART + "?model=gpt-4o-mini")
        assert 'value="gpt-4o-mini" selected' in html
        openai_code = element_text(html, "snippet-openai")
        assert f'base_url="{gateway.url}/v1"' in openai_code and '"gpt-4o-mini"' in openai_code
        answered = await asyncio.to_thread(run_python, openai_code, secret)
        assert answered.strip()
        expected = ["/v1/chat/completions", "/v1/messages"]
        if shutil.which("curl"):
            answered = await run_shell(element_text(html, "snippet-curl"), secret)
            assert '"chat.completion"' in answered
            expected.insert(0, "/v1/chat/completions")
        # An unknown model is not offered: the default comes back.
        status, html = await fetch(http, gateway.url + QUICKSTART + "?model=no-such-model")
        assert status == 200 and "no-such-model" not in html

        # Every snippet's request reached the gateway under the person's key.
        await writer_drained(gateway)
        async with backend.engine.connect() as conn:
            logged = (await usage_log(conn, person.user_id)).requests
        endpoints = sorted(entry.endpoint for entry in logged)
        assert endpoints[:-1] == expected and endpoints[-1].startswith("/v1beta/models/gemini")
        assert all(entry.status_code == 200 for entry in logged)
    finally:
        await http.close()


async def test_the_models_offered_are_those_the_organization_may_use(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        org = await accounts.get_org(conn, person.org_id)
        await accounts.set_org_models(conn, org.name, ["claude-*"])
    http = await signed_in(gateway.url, person.email)
    try:
        _, html = await fetch(http, gateway.url + QUICKSTART)
        choice = html.split('id="quickstart-model"')[1].split("</select>")[0]
        offered = re.findall(r'<option value="([^"]+)"', choice)
        assert offered and all(name.startswith("claude-") for name in offered)
        # Every snippet names a model the organization may use, whatever its SDK.
        for snippet in ("openai", "anthropic", "gemini"):
            assert 'model="claude-' in element_text(html, f"snippet-{snippet}")
    finally:
        await http.close()


async def test_the_public_url_is_the_base_url_when_it_is_set(backend: Backend) -> None:
    person = await console_person(backend.engine)
    settings = backend.settings.model_copy(update={"public_url": "https://sonar.example.com"})
    async with running_gateway(settings) as elsewhere:
        http = await signed_in(elsewhere.url, person.email)
        try:
            _, html = await fetch(http, elsewhere.url + QUICKSTART)
        finally:
            await http.close()
    assert element_text(html, "base-url") == "https://sonar.example.com"
    assert 'base_url="https://sonar.example.com/v1"' in element_text(html, "snippet-openai")
    assert "https://sonar.example.com/v1/chat/completions" in element_text(html, "snippet-curl")


async def test_quick_start_in_a_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with browsing_as(browser, gateway.url, person.email, locale="en-US") as seen:
        page = seen.page
        await seen.context.grant_permissions(
            ["clipboard-read", "clipboard-write"], origin=gateway.url
        )
        await page.click(".cookie-banner button[value=no]")
        await page.click("nav a[href='/console/quickstart']")
        assert page.url == gateway.url + QUICKSTART
        await page.select_option("#quickstart-model", "gpt-4o-mini")
        await page.click("#model-choice button[type=submit]")
        shown = await page.locator("#snippet-openai").text_content() or ""
        assert f'base_url="{gateway.url}/v1"' in shown
        copy = page.locator("button[data-copy='snippet-openai']")
        await copy.click()
        await expect(copy).to_have_text("Copied")
        copied = await page.evaluate("navigator.clipboard.readText()")
        assert copied == shown.strip()
        await screenshot(page, "quickstart")

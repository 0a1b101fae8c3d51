"""`aisonar demo`, the README's first command, serves a working key and a console
sign-in out of the box."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import openai

from tests.cli.demo_process import running_demo


async def test_demo_answers_with_the_key_it_prints(tmp_path: Path) -> None:
    async with running_demo(tmp_path) as demo:
        async with openai.AsyncOpenAI(
            base_url=f"http://127.0.0.1:{demo.port}/v1", api_key=demo.key, max_retries=5
        ) as client:
            reply = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}]
            )
        assert reply.choices[0].message.content == "Echo: Hello!"
        signed_in = re.search(rb"sign in as (\S+) with the password (\S+)", demo.printed)
        assert signed_in, demo.printed
        email, password = (part.decode() for part in signed_in.groups())
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            form = {"email": email, "password": password, "next": "/console"}
            sign_in = f"http://127.0.0.1:{demo.port}/console/sign-in"
            async with http.post(sign_in, data=form, allow_redirects=False) as answer:
                assert answer.status == 303 and answer.headers["location"] == "/console"
            channels = f"http://127.0.0.1:{demo.port}/console/operator/channels"
            async with http.get(channels) as page:
                assert page.status == 200 and "demo-fake-anthropic" in await page.text()

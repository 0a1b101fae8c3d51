"""`aisonar demo`, the README's first command, serves a working key and a console
sign-in out of the box."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import openai

from aisonar.testing.gateway_server import free_port


async def test_demo_answers_with_the_key_it_prints(tmp_path: Path) -> None:
    port, upstream_port = free_port(), free_port()
    env = {**os.environ, "AISONAR_DATA_DIR": str(tmp_path), "AISONAR_DATABASE_URL": ""}
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aisonar",
        "demo",
        "--port",
        str(port),
        "--upstream-port",
        str(upstream_port),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert demo.stdout is not None
    printed = b""
    try:
        while b"Press Ctrl+C" not in printed:
            printed += await asyncio.wait_for(demo.stdout.readline(), 60)
        found = re.search(rb"api_key=\"(sk-sonar-[\w-]+)\"", printed)
        assert found, printed
        async with openai.AsyncOpenAI(
            base_url=f"http://127.0.0.1:{port}/v1",
            api_key=found.group(1).decode(),
            max_retries=5,
        ) as client:
            reply = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}]
            )
        assert reply.choices[0].message.content == "Echo: Hello!"
        signed_in = re.search(rb"sign in as (\S+) with the password (\S+)", printed)
        assert signed_in, printed
        email, password = (part.decode() for part in signed_in.groups())
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            form = {"email": email, "password": password, "next": "/console"}
            sign_in = f"http://127.0.0.1:{port}/console/sign-in"
            async with http.post(sign_in, data=form, allow_redirects=False) as answer:
                assert answer.status == 303 and answer.headers["location"] == "/console"
            async with http.get(f"http://127.0.0.1:{port}/console/operator/channels") as page:
                assert page.status == 200 and "demo-fake-anthropic" in await page.text()
    finally:
        demo.send_signal(signal.SIGTERM)
        await demo.communicate()

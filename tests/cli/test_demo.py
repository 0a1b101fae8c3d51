"""`aisonar demo`, the README's first command, serves a working key out of the box."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

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
    finally:
        demo.send_signal(signal.SIGTERM)
        await demo.communicate()

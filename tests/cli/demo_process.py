"""`aisonar demo` in a process of its own, as the README's first command starts it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aisonar.testing.gateway_server import free_port


@dataclass(frozen=True)
class RunningDemo:
    port: int
    # What the demo printed up to "Press Ctrl+C".
    printed: bytes

    @property
    def key(self) -> str:
        found = re.search(rb"api_key=\"(sk-sonar-[\w-]+)\"", self.printed)
        assert found, self.printed
        return found.group(1).decode()


@asynccontextmanager
async def running_demo(data_dir: Path, port: int | None = None) -> AsyncIterator[RunningDemo]:
    port = port or free_port()
    env = {**os.environ, "AISONAR_DATA_DIR": str(data_dir), "AISONAR_DATABASE_URL": ""}
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aisonar",
        "demo",
        "--port",
        str(port),
        "--upstream-port",
        str(free_port()),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert demo.stdout is not None
    printed = b""
    try:
        while b"Press Ctrl+C" not in printed:
            printed += await asyncio.wait_for(demo.stdout.readline(), 60)
        yield RunningDemo(port, printed)
    finally:
        demo.send_signal(signal.SIGTERM)
        await demo.communicate()

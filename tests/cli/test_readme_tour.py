"""The README's five-minute tour, the docs' examples and the demo's banner run as written
against the demo: a newcomer's first requests (every model, every SDK) are answered, not
refused."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.cli.demo_process import RunningDemo, running_demo

README = Path(__file__).resolve().parents[2] / "README.md"
# The port the README's examples name.
README_PORT = 8400


def readme_python_blocks() -> list[str]:
    """The README's Python examples, then those of the pages under docs/."""
    pages = [README, *sorted((README.parent / "docs").rglob("*.md"))]
    return [
        block
        for page in pages
        for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    ]


def banner_python(demo: RunningDemo) -> str:
    printed = demo.printed.decode()
    start = printed.index("from openai import OpenAI")
    end = printed.index("print(reply.choices[0].message.content)", start)
    snippet = printed[start : end + len("print(reply.choices[0].message.content)")]
    return textwrap.dedent("  " + snippet)


async def run_python(code: str) -> str:
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_readme_and_the_banner_examples_are_answered(tmp_path: Path) -> None:
    blocks = readme_python_blocks()
    assert len(blocks) >= 2
    async with running_demo(tmp_path, README_PORT) as demo:
        for block in blocks:
            printed = await run_python(block.replace("sk-sonar-...", demo.key))
            assert "Echo:" in printed
        assert (await run_python(banner_python(demo))).startswith("Echo: Hello!")

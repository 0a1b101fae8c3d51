"""What every compatibility test asks and expects: the fake upstream echoes the last user
text, as text, as a tool call's `{"echo": ...}` arguments or as a JSON object."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import BaseModel

from aisonar.testing.fake_embeddings import unit_vector
from aisonar.testing.gateway_server import RunningGateway

PROMPT = "ping compat"
ECHO = "Echo: " + PROMPT
TOOL_ARGUMENTS = {"echo": PROMPT}
# The fake's full embedding sizes; a client may ask for fewer dimensions, a prefix.
EMBEDDING_SIZES = {"text-embedding-3-small": 1536, "gemini-embedding-001": 3072}


class Echo(BaseModel):
    """What the fake's structured answers parse into."""

    echo: str


def echo(echo: str) -> str:
    """Echo the given text back."""
    return "tool said " + echo


def openai_base(gateway: RunningGateway) -> str:
    return gateway.url + "/v1"


def assert_fake_embedding(vector: Sequence[float], text: str, model: str) -> None:
    assert vector, "no embedding"
    expected = unit_vector(text, EMBEDDING_SIZES[model])[: len(vector)]
    assert list(vector) == pytest.approx(expected, rel=1e-5, abs=1e-6)


ECHO_TOOL = {
    "type": "function",
    "function": {
        "name": "echo",
        "description": "Echo the given text back.",
        "parameters": {
            "type": "object",
            "properties": {"echo": {"type": "string"}},
            "required": ["echo"],
        },
    },
}


def assert_echoed(answer: Echo) -> None:
    """A structured answer echoes the prompt; some clients append the schema to it."""
    assert isinstance(answer, Echo)
    assert answer.echo.startswith(PROMPT), answer

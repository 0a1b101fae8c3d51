"""instructor against the gateway, run in its own environment (instructor.txt) by
tests/compat/test_instructor.py: its modes with OpenAI's and Anthropic's client on each
model, printed as JSON (`{client: {model: {mode: {"value": the object's fields} or
{"error": "..."}}}}`).

    python instructor_client.py MODEL...

with AISONAR_URL, AISONAR_KEY and AISONAR_PROMPT in the environment. `TOOLS partial` is
TOOLS mode streamed with `create_partial`: every partial object, in order."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import instructor  # type: ignore[import-not-found]  # not in the suite's environment
import openai
from pydantic import BaseModel


class Echo(BaseModel):
    echo: str


@dataclass(frozen=True)
class Target:
    wire: str
    model: str
    url: str
    key: str
    prompt: str

    def client(self, mode: Any) -> Any:
        if self.wire == "openai":
            chat = openai.OpenAI(base_url=self.url + "/v1", api_key=self.key, max_retries=0)
            return instructor.from_openai(chat, mode=mode)
        messages = anthropic.Anthropic(base_url=self.url, api_key=self.key, max_retries=0)
        return instructor.from_anthropic(messages, mode=mode)

    def request(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "response_model": Echo,
            "messages": [{"role": "user", "content": self.prompt}],
            "max_tokens": 1024,
            "max_retries": 0,
        }

    def create(self, mode: Any) -> dict[str, Any]:
        answer: Echo = self.client(mode).create(**self.request())
        return answer.model_dump()

    def create_partial(self, mode: Any) -> list[dict[str, Any]]:
        partials = self.client(mode).create_partial(**self.request())
        return [partial.model_dump() for partial in partials]


def modes(target: Target) -> dict[str, Callable[[], Any]]:
    Mode = instructor.Mode
    found: dict[str, Callable[[], Any]] = {
        "TOOLS": lambda: target.create(Mode.TOOLS),
        "TOOLS partial": lambda: target.create_partial(Mode.TOOLS),
    }
    # Anthropic's JSON modes only ask for JSON in the system prompt (its JSON_SCHEMA mode
    # falls back to that with the anthropic SDK instructor pins), which no fake reads.
    if target.wire == "openai":
        found["JSON_SCHEMA"] = lambda: target.create(Mode.JSON_SCHEMA)
        found["JSON"] = lambda: target.create(Mode.JSON)
    return found


def outcomes(target: Target) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, run in modes(target).items():
        try:
            results[name] = {"value": run()}
        except Exception as error:  # noqa: BLE001 - reported per mode, read by the test
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    return results


def main(models: list[str]) -> None:
    url, key, prompt = (os.environ[f"AISONAR_{name}"] for name in ("URL", "KEY", "PROMPT"))
    results = {
        wire: {model: outcomes(Target(wire, model, url, key, prompt)) for model in models}
        for wire in ("openai", "anthropic")
    }
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])

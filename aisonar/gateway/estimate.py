"""Estimate tokens when an upstream reports no usage: the prompt from the hub request, the
output from what was delivered, both counted offline. Always flagged as estimated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from aisonar.errors import AISonarError
from aisonar.gateway.relay import UNREADABLE
from aisonar.gateway.wire.adapter import UpstreamAdapter
from aisonar.gateway.wire.hub import JsonObject
from aisonar.gateway.wire.openai.format import delivered_text, response_text
from aisonar.token_usage import TokenUsage
from aisonar.usage.tokens import count_chat_prompt_tokens, count_text_tokens

# What a broken or unreadable document can raise while it is read for estimating.
_UNREADABLE = (AISonarError, *UNREADABLE)


class TokenEstimator:
    def __init__(
        self,
        adapter: UpstreamAdapter,
        model: str,
        body: bytes,
        hub_request: Callable[[], JsonObject],
    ) -> None:
        self._adapter = adapter
        self._model = model
        self._body = body
        self._hub_request = hub_request

    def input_tokens(self) -> int:
        try:
            hub = self._hub_request()
        except _UNREADABLE:
            # A request only its own provider understands: count its whole text.
            return count_text_tokens(self._body.decode(errors="replace"), self._model)
        tools = hub.get("tools")
        tool_tokens = count_text_tokens(orjson.dumps(tools).decode(), self._model) if tools else 0
        return count_chat_prompt_tokens(hub.get("messages"), self._model) + tool_tokens

    def prompt_only(self) -> TokenUsage:
        """For an answer abandoned before anything came back: the upstream read the prompt."""
        return TokenUsage(input_tokens=self.input_tokens(), estimated=True)

    def _usage(self, output_text: str) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens(),
            output_tokens=count_text_tokens(output_text, self._model),
            estimated=True,
        )

    def from_hub_chunks(self, chunks: list[JsonObject]) -> TokenUsage:
        return self._usage(delivered_text(chunks))

    def from_hub_response(self, hub: JsonObject) -> TokenUsage:
        return self._usage(response_text(hub))

    def from_events(self, events: list[bytes]) -> TokenUsage:
        """From the raw stream events the upstream delivered, in its own format."""
        reader = self._adapter.stream_reader(self._model)
        chunks: list[Any] = []
        for event in events:
            try:
                chunks.extend(reader.feed(event))
            except _UNREADABLE:
                continue
        return self.from_hub_chunks(chunks)

    def from_body(self, body: bytes) -> TokenUsage:
        """From a whole answer in the upstream's own format."""
        try:
            hub = self._adapter.response_to_hub(body, self._model)
        except _UNREADABLE:
            return self._usage("")
        return self.from_hub_response(hub)

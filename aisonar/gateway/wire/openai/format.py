"""The OpenAI wire format: the few request fields the gateway reads, body rewriting
and usage extraction. Pure functions, no I/O; nothing here models the whole body."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from aisonar.gateway.body.errors import invalid_body
from aisonar.gateway.body.output_limit import (
    OpenAIChoices,
    OutputTokens,
    insert_field,
    output_limit_field,
)
from aisonar.gateway.errors import InvalidRequest
from aisonar.token_usage import TokenUsage


class _StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class ChatRequest(msgspec.Struct):
    model: str
    messages: msgspec.Raw
    stream: bool | None = False
    stream_options: _StreamOptions | None = None
    max_tokens: OutputTokens | None = None
    max_completion_tokens: OutputTokens | None = None
    n: OpenAIChoices | None = None

    @property
    def client_wants_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    @property
    def output_limit(self) -> int | None:
        """The client's limit on output tokens; with both fields, the larger bounds it."""
        given = [n for n in (self.max_tokens, self.max_completion_tokens) if n is not None]
        return max(given) if given else None

    @property
    def output_field(self) -> str:
        return "max_tokens" if self.max_completion_tokens is None else "max_completion_tokens"


class EmbeddingsRequest(msgspec.Struct):
    model: str
    input: msgspec.Raw


_chat_decoder = msgspec.json.Decoder(ChatRequest)
_embeddings_decoder = msgspec.json.Decoder(EmbeddingsRequest)


def parse_chat_request(body: bytes) -> ChatRequest:
    try:
        request = _chat_decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise invalid_body(error) from None
    if not bytes(request.messages).lstrip().startswith(b"["):
        raise InvalidRequest("`messages` must be an array", param="messages")
    return request


def parse_embeddings_request(body: bytes) -> EmbeddingsRequest:
    try:
        return _embeddings_decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise invalid_body(error) from None


def rewrite_body(
    body: bytes,
    *,
    model: str,
    requested_model: str,
    force_usage: bool,
    output_limit: int | None = None,
) -> bytes:
    """The client's bytes, untouched unless the model name or the usage option must change,
    or the gateway's `output_limit` must be added to a body that sets none."""
    if model == requested_model and not force_usage:
        if output_limit is None:
            return body
        return insert_field(body, output_limit_field(model), output_limit)
    document = orjson.loads(body)
    document["model"] = model
    if output_limit is not None:
        document[output_limit_field(model)] = output_limit
    if force_usage:
        options = document.get("stream_options")
        document["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    return orjson.dumps(document)


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = 0
    # OpenRouter's: tokens written to a provider's prompt cache.
    cache_write_tokens: int | None = 0


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = 0


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int | None = 0
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None
    # DeepSeek's name for the cached part of prompt_tokens.
    prompt_cache_hit_tokens: int | None = 0


class _GroqExtras(msgspec.Struct):
    usage: _Usage | None = None


class _WithUsage(msgspec.Struct):
    usage: _Usage | None = None
    choices: list[msgspec.Raw] | None = None
    # Groq's streams also report usage in `x_groq` on the chunk that finishes the choice.
    x_groq: _GroqExtras | None = None


_usage_decoder = msgspec.json.Decoder(_WithUsage)


def _token_usage(usage: _Usage, reasoning_beside: bool) -> TokenUsage:
    """OpenAI counts cached tokens inside prompt_tokens and reasoning tokens inside
    completion_tokens; xAI counts reasoning beside them (`reasoning_beside`), which then
    joins the output, so that `output_tokens` is all the output as everywhere else."""
    prompt = usage.prompt_tokens_details or _PromptDetails()
    completion = usage.completion_tokens_details or _CompletionDetails()
    reasoning = completion.reasoning_tokens or 0
    output = usage.completion_tokens or 0
    return TokenUsage(
        input_tokens=usage.prompt_tokens,
        cached_input_tokens=max(prompt.cached_tokens or 0, usage.prompt_cache_hit_tokens or 0),
        cache_write_tokens=prompt.cache_write_tokens or 0,
        output_tokens=output + reasoning if reasoning_beside else output,
        reasoning_tokens=reasoning,
    )


def usage_of_object(usage: object, *, reasoning_beside: bool = False) -> TokenUsage | None:
    """The usage object of a decoded answer or chunk, in whichever host's fields it has."""
    try:
        return _token_usage(msgspec.convert(usage, _Usage), reasoning_beside)
    except msgspec.ValidationError:
        return None


@dataclass(frozen=True, slots=True)
class UsageReading:
    usage: TokenUsage | None
    # True when the document is a usage-only stream chunk (no choices).
    usage_only: bool


def read_usage(document: bytes, *, reasoning_beside: bool = False) -> UsageReading:
    """Usage from a response body or a stream chunk, as OpenAI and the compatible hosts
    report it (DeepSeek's cache hits, Groq's `x_groq`, OpenRouter's cache writes)."""
    try:
        decoded = _usage_decoder.decode(document)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return UsageReading(None, False)
    usage = decoded.usage
    if usage is None and decoded.x_groq is not None:
        usage = decoded.x_groq.usage
    if usage is None:
        return UsageReading(None, False)
    return UsageReading(_token_usage(usage, reasoning_beside), usage_only=not decoded.choices)


class OpenAIStreamUsage:
    """Usage of a chat-completions stream, from its usage chunk. When the gateway asked for
    that chunk and the client did not, the client does not see it."""

    # A usage object, not the `"usage": null` every chunk carries once usage was asked for.
    marker = re.compile(rb'"usage"\s*:\s*\{')

    def __init__(self, *, hide_usage_chunk: bool, reasoning_beside: bool = False) -> None:
        self._hide = hide_usage_chunk
        self._reasoning_beside = reasoning_beside
        self.usage: TokenUsage | None = None

    def observe(self, data: bytes) -> bool:
        reading = read_usage(data, reasoning_beside=self._reasoning_beside)
        if reading.usage is None:
            return True
        self.usage = reading.usage
        return not (self._hide and reading.usage_only)


def delivered_text(chunks: list[dict[str, Any]]) -> str:
    """The content, thinking and tool-call arguments of chat-completion chunks, for
    estimating their tokens."""
    pieces: list[str] = []
    for document in chunks:
        for choice in document.get("choices") or []:
            delta = choice.get("delta") or {}
            for name in ("content", "reasoning_content"):
                if isinstance(delta.get(name), str):
                    pieces.append(delta[name])
            for call in delta.get("tool_calls") or []:
                function = call.get("function") or {}
                pieces.append(str(function.get("name") or ""))
                pieces.append(str(function.get("arguments") or ""))
    return "".join(pieces)


def response_text(document: dict[str, Any]) -> str:
    """The content of a non-streaming chat completion, for estimating its tokens."""
    pieces: list[str] = []
    for choice in document.get("choices") or []:
        message = choice.get("message") or {}
        for name in ("content", "reasoning_content"):
            if isinstance(message.get(name), str):
                pieces.append(message[name])
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            pieces.append(str(function.get("name") or ""))
            pieces.append(str(function.get("arguments") or ""))
    return "".join(pieces)

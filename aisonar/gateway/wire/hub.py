"""The hub every translation passes through: OpenAI chat-completions documents as plain dicts.

A client's request is turned into a hub request, the hub request into the provider's request;
the provider's answer into a hub answer, the hub answer into the client's format. Each format
needs two adapters (to and from the hub), not one per pair of formats.

The hub is OpenAI's shape plus a few fields OpenAI lacks, so nothing is lost on the way:
- `reasoning_content` on an assistant message or a stream delta: thinking text.
- `thinking_budget` on a request: a thinking budget in tokens (Anthropic, Gemini).
- `prompt_tokens_details.cache_write_tokens` in usage: input written to a prompt cache.
- `DROPPED` on a request: the client's delivery-only fields the translation into the hub
  dropped (see `delivery`); the pipeline takes it out before the request goes on.
- `CARRIED_CACHE_HINTS` on a request: those of them that are carried all the same, as the
  `prompt_cache_breakpoint` of a content part (OpenAI's own field, `CACHE_BREAKPOINT`) or
  of a tool, to a provider that takes them; `delivery` takes it out, and the breakpoints
  for the others.
Hub stream chunks follow OpenAI's: `choices[0].delta` pieces, a chunk with `finish_reason`,
then one chunk with `choices: []` and the usage.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from aisonar.gateway.errors import InvalidRequest
from aisonar.token_usage import TokenUsage

JsonObject = dict[str, Any]


DROPPED = "aisonar_dropped_fields"
CARRIED_CACHE_HINTS = "aisonar_carried_cache_hints"
CACHE_BREAKPOINT: JsonObject = {"mode": "explicit"}


class UnsupportedFeature(InvalidRequest):
    """Request features the target format cannot express: refused, never dropped. It names
    every one of them (`features`), so the client can fix them all at once."""

    code = "unsupported_feature"

    def __init__(self, features: str | Sequence[str], target: str, detail: str = "") -> None:
        self.features = [features] if isinstance(features, str) else list(features)
        names = ", ".join(f"`{feature}`" for feature in self.features)
        message = f"{names} cannot be translated for {target}"
        super().__init__(
            f"{message}: {detail}" if detail else f"{message}.", param=", ".join(self.features)
        )


class Refusals:
    """Collects the refusals of a request's independent parts, to refuse them all at once:
    `with refusals.part(): ...` around each part, then `check()`."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._refused: list[UnsupportedFeature] = []

    @contextmanager
    def part(self) -> Iterator[None]:
        try:
            yield
        except UnsupportedFeature as refusal:
            self._refused.append(refusal)

    def check(self) -> None:
        if len(self._refused) == 1:
            raise self._refused[0]
        if self._refused:
            features = [feature for refusal in self._refused for feature in refusal.features]
            raise UnsupportedFeature(features, self._target)


def present(doc: JsonObject) -> JsonObject:
    """The fields that are set: an explicit null means the same as leaving a field out."""
    return {key: value for key, value in doc.items() if value is not None}


def refuse_unknown(doc: JsonObject, allowed: Collection[str], target: str, prefix: str) -> None:
    """Refuse the fields outside `allowed`, all of them, each named `prefix + field`."""
    unknown = [f"{prefix}{key}" for key in doc if key not in allowed]
    if unknown:
        raise UnsupportedFeature(unknown, target)


def note_dropped(hub: JsonObject, *paths: str) -> None:
    """Record client fields the translation dropped (delivery-only, see `delivery`)."""
    dropped: list[str] = hub.setdefault(DROPPED, [])
    dropped.extend(path for path in paths if path not in dropped)


def take_dropped(hub: JsonObject) -> list[str]:
    """The dropped fields recorded in a hub request, taken out of it."""
    dropped: list[str] = hub.pop(DROPPED, [])
    return dropped


# What reading a badly shaped document raises; `malformed` turns it into a 400.
SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError)


def malformed(error: Exception) -> InvalidRequest:
    if isinstance(error, KeyError):
        return InvalidRequest(f"Invalid request body: missing field `{error.args[0]}`.")
    return InvalidRequest(f"Invalid request body: {error}.")


def with_output_limit(hub: JsonObject, max_tokens: int) -> JsonObject:
    """The hub request limited to `max_tokens` output tokens a choice, in `max_tokens`
    alone: the gateway's bound, which every provider's request is built from."""
    hub.pop("max_completion_tokens", None)
    hub["max_tokens"] = max_tokens
    return hub


def hub_usage(usage: TokenUsage) -> JsonObject:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _detail(usage: JsonObject, group: str, name: str) -> int:
    details = usage.get(group)
    value = details.get(name) if isinstance(details, dict) else None
    return value if isinstance(value, int) else 0


def usage_from_hub(usage: JsonObject) -> TokenUsage:
    return TokenUsage(
        input_tokens=usage.get("prompt_tokens") or 0,
        cached_input_tokens=_detail(usage, "prompt_tokens_details", "cached_tokens"),
        cache_write_tokens=_detail(usage, "prompt_tokens_details", "cache_write_tokens"),
        output_tokens=usage.get("completion_tokens") or 0,
        reasoning_tokens=_detail(usage, "completion_tokens_details", "reasoning_tokens"),
    )


def hub_chunk(
    response_id: str,
    model: str,
    created: int,
    *,
    delta: JsonObject | None = None,
    finish_reason: str | None = None,
    usage: JsonObject | None = None,
) -> JsonObject:
    """One hub stream chunk: a delta (and/or finish reason) for choice 0, or usage alone."""
    choices = (
        []
        if delta is None and finish_reason is None
        else [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}]
    )
    chunk: JsonObject = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk

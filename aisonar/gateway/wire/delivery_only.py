"""The hub fields that only change how an answer is delivered, cached or accounted for,
and the providers that take them; the other providers' outbound translators ignore them,
and `delivery.drop_for_target` drops them and names them for the client."""

from __future__ import annotations

from collections.abc import Mapping

from aisonar.gateway.wire.hub import JsonObject

# Hub fields that only change delivery, and the providers that take them (the rest drop them).
_PROVIDERS_TAKING: Mapping[str, frozenset[str]] = {
    # Anthropic and Gemini streams always report usage.
    "stream_options": frozenset({"openai"}),
    "service_tier": frozenset({"openai"}),
    "prompt_cache_key": frozenset({"openai"}),
    "prompt_cache_retention": frozenset({"openai"}),
    "prompt_cache_options": frozenset({"openai"}),
    # OpenAI's stored completions and their tags.
    "store": frozenset({"openai"}),
    "metadata": frozenset({"openai"}),
    # The end user, for the provider's abuse tracking: Anthropic's `metadata.user_id`.
    "user": frozenset({"openai", "anthropic"}),
    "safety_identifier": frozenset({"openai", "anthropic"}),
    # Gemini has no switch for parallel function calls.
    "parallel_tool_calls": frozenset({"openai", "anthropic"}),
}


def ignored_by(provider: str) -> frozenset[str]:
    """The delivery-only hub fields `provider` has no place for: its outbound translator
    ignores them."""
    return frozenset(name for name, takers in _PROVIDERS_TAKING.items() if provider not in takers)


def lacked_by(provider: str, hub: JsonObject) -> list[str]:
    """The delivery-only fields `hub` sets that `provider` has no place for, in the table's
    order."""
    return [
        field
        for field, takers in _PROVIDERS_TAKING.items()
        if provider not in takers and hub.get(field) is not None
    ]

"""Offline token counting, used only when an upstream reports no usage.

`bpe-openai` ships the BPE files that tiktoken would download, so counting
works on machines with no network. Models it does not know are counted with
o200k_base: an estimate, and every caller flags it as such.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_FALLBACK_ENCODING = "o200k_base"
# OpenAI's documented per-message framing overhead for chat models.
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_REPLY = 3


@lru_cache(maxsize=64)
def _encoding_for(model: str) -> Any:
    # Imported on first use: loading the BPE tables takes about a second.
    import bpe_openai

    try:
        name = bpe_openai.encoding_name_for_model(model)
    except KeyError:
        name = _FALLBACK_ENCODING
    return bpe_openai.get_encoding(name)


def load_token_tables() -> None:
    """Load the BPE table most models are counted with (about a second), so the first
    count on an event loop does not stall it; run in a thread at startup."""
    _encoding_for(_FALLBACK_ENCODING)


def count_text_tokens(text: str, model: str) -> int:
    if not text:
        return 0
    return len(_encoding_for(model).encode(text))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def count_chat_prompt_tokens(messages: Any, model: str) -> int:
    """Estimate the prompt tokens of an OpenAI `messages` array."""
    if not isinstance(messages, list):
        return 0
    total = _TOKENS_PER_REPLY
    for message in messages:
        if not isinstance(message, dict):
            continue
        total += _TOKENS_PER_MESSAGE
        total += count_text_tokens(_content_text(message.get("content")), model)
        total += count_text_tokens(str(message.get("role", "")), model)
        for call in message.get("tool_calls") or []:
            function = call.get("function", {}) if isinstance(call, dict) else {}
            total += count_text_tokens(str(function.get("name", "")), model)
            total += count_text_tokens(str(function.get("arguments", "")), model)
    return total

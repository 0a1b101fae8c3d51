"""The fake upstream counts tokens in the tests' own process, and loading a tokenizer's tables
takes longer on a busy machine than the upstream timeout the tests set: a module whose first
request may be the session's first to count tokens loads them up front."""

from __future__ import annotations

import pytest

from aisonar.usage.tokens import count_text_tokens

MODELS = ("gpt-4o-mini", "gemini-2.5-flash", "claude-haiku-4-5")


@pytest.fixture(autouse=True, scope="module")
def tokenizers_loaded() -> None:
    for model in MODELS:
        count_text_tokens("warm", model)

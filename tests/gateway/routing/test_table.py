"""Which channels serve a model, in which order: priorities, weights, health, patterns."""

from __future__ import annotations

from collections import Counter

import pytest

from aisonar.accounts.models import KeyIdentity
from aisonar.channels.models import Channel, ChannelTimeouts, ChannelWithSecret, parse_model_map
from aisonar.errors import InvalidInput
from aisonar.gateway.errors import ModelNotAllowed, ModelNotFound, NoHealthyChannel
from aisonar.gateway.health import ChannelHealth
from aisonar.gateway.routing import ChannelTable

ANYONE = KeyIdentity("key", "usr", "org", None, None, True)
SERVER = ChannelTimeouts(connect_s=10, first_byte_s=300, total_s=600)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def channel(
    name: str, models: str, *, priority: int = 0, weight: int = 1, provider: str = "openai"
) -> ChannelWithSecret:
    return ChannelWithSecret(
        Channel(
            id=f"chn_{name}",
            name=name,
            provider=provider,
            base_url=f"http://{name}.example/v1",
            models=parse_model_map(models),
            enabled=True,
            priority=priority,
            weight=weight,
        ),
        "sk-test",
    )


def table(*channels: ChannelWithSecret, health: ChannelHealth | None = None) -> ChannelTable:
    return ChannelTable(list(channels), health or ChannelHealth(clock=Clock()), SERVER)


def order(routes_table: ChannelTable, model: str, identity: KeyIdentity = ANYONE) -> list[str]:
    return [route.channel.channel.name for route in routes_table.routes(identity, model)]


def test_higher_priority_comes_first_and_lower_ones_follow() -> None:
    routes = table(
        channel("backup", "m", priority=0),
        channel("primary", "m", priority=10),
        channel("last", "m", priority=-5),
    )
    assert order(routes, "m") == ["primary", "backup", "last"]


def test_traffic_within_a_priority_splits_by_weight() -> None:
    routes = table(channel("big", "m", weight=3), channel("small", "m", weight=1))
    firsts = Counter(order(routes, "m")[0] for _ in range(4000))
    assert 2800 < firsts["big"] < 3200
    # Both are always offered: the second is the failover.
    assert sorted(order(routes, "m")) == ["big", "small"]


def test_a_weight_of_zero_is_a_standby() -> None:
    routes = table(channel("standby", "m", weight=0), channel("a", "m"), channel("b", "m"))
    for _ in range(200):
        assert order(routes, "m")[-1] == "standby"


def test_a_channel_out_of_rotation_is_skipped_until_none_of_its_priority_is_left() -> None:
    health = ChannelHealth(clock=Clock(), min_requests=1)
    routes = table(
        channel("primary", "m", priority=1),
        channel("backup", "m", priority=0),
        health=health,
    )
    health.record_failure("chn_primary", "connect_error")
    assert order(routes, "m") == ["backup"]
    health.record_failure("chn_backup", "connect_error")
    with pytest.raises(NoHealthyChannel) as caught:
        routes.routes(ANYONE, "m")
    assert caught.value.status == 503 and caught.value.retry_after == "5"


def test_patterns_map_requested_names_to_upstream_names() -> None:
    routes = table(
        channel("anthropic", "claude-*", provider="anthropic"),
        channel("bedrock-like", "gpt-*=openai/gpt-*"),
        channel("exact", "gpt-4o=gpt-4o-2024-11-20"),
    )
    [claude] = routes.routes(ANYONE, "claude-haiku-4-5")
    assert claude.upstream_model == "claude-haiku-4-5" and claude.provider == "anthropic"
    both = {r.channel.channel.name: r.upstream_model for r in routes.routes(ANYONE, "gpt-4o")}
    assert both == {"bedrock-like": "openai/gpt-4o", "exact": "gpt-4o-2024-11-20"}
    [mini] = routes.routes(ANYONE, "gpt-4o-mini")
    assert mini.upstream_model == "openai/gpt-4o-mini"
    with pytest.raises(ModelNotFound):
        routes.routes(ANYONE, "gemini-2.5-flash")
    # Only names are listed; a pattern stands for more than can be listed.
    assert routes.models() == ["gpt-4o"]


def test_a_channel_listing_a_name_uses_its_own_mapping_over_its_pattern() -> None:
    routes = table(channel("both", "gpt-*,gpt-4o=gpt-4o-2024-11-20"))
    [route] = routes.routes(ANYONE, "gpt-4o")
    assert route.upstream_model == "gpt-4o-2024-11-20"


def test_keys_and_organizations_restrict_models_by_name_or_pattern() -> None:
    routes = table(channel("c", "gpt-4o,gpt-4o-mini,claude-*"))
    key_limited = KeyIdentity("k", "u", "o", frozenset({"claude-*"}), None, True)
    org_limited = KeyIdentity("k", "u", "o", None, None, True, org_models=frozenset({"gpt-4o*"}))
    both = KeyIdentity(
        "k", "u", "o", frozenset({"gpt-4o"}), None, True, org_models=frozenset({"gpt-4o*"})
    )
    assert order(routes, "claude-opus-4-1", key_limited) == ["c"]
    with pytest.raises(ModelNotAllowed):
        routes.routes(key_limited, "gpt-4o")
    assert order(routes, "gpt-4o-mini", org_limited) == ["c"]
    with pytest.raises(ModelNotAllowed):
        routes.routes(org_limited, "claude-haiku-4-5")
    # Both lists must admit the model.
    assert order(routes, "gpt-4o", both) == ["c"]
    with pytest.raises(ModelNotAllowed):
        routes.routes(both, "gpt-4o-mini")
    assert routes.models_for(both) == ["gpt-4o"]


def test_channel_timeouts_fall_back_to_the_servers() -> None:
    own = ChannelWithSecret(
        Channel(
            "chn_t",
            "t",
            "openai",
            "http://t/v1",
            {"m": "m"},
            True,
            timeouts=ChannelTimeouts(first_byte_s=2.5),
        ),
        "k",
    )
    [route] = table(own).routes(ANYONE, "m")
    assert route.timeouts.first_byte_s == 2.5
    assert route.timeouts.client.sock_connect == 10 and route.timeouts.client.total == 600


@pytest.mark.parametrize(
    "spec",
    ["a**", "a*=b*c*", "alias=gpt-*", "a,=b", "", "a=,"],
)
def test_bad_model_entries_are_refused(spec: str) -> None:
    with pytest.raises(InvalidInput):
        parse_model_map(spec)

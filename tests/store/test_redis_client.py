"""AISONAR_REDIS_URL's shapes: one server, a Redis Cluster's nodes, Sentinels and the
service they name; a malformed one is refused with what is wrong, before any connection."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aisonar.config import Settings
from aisonar.store.redis_client import Topology, topology


def test_a_cluster_url_names_its_nodes_and_credentials() -> None:
    assert topology("rediss+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2,[::1]:7002") == Topology(
        nodes=(("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002)),
        username="app",
        password="s@cret",
        tls=True,
    )


def test_a_sentinel_url_names_its_sentinels_service_and_database() -> None:
    assert topology("redis+sentinel://:pw@s1,s2:26380/mymaster/3") == Topology(
        nodes=(("s1", 26379), ("s2", 26380)),
        username=None,
        password="pw",
        tls=False,
        service="mymaster",
        db=3,
    )


@pytest.mark.parametrize(
    ("url", "wrong"),
    [
        ("redis+cluster://host:7000/2", "names no database"),
        ("redis+sentinel://host:26379", "names its service"),
        ("redis+sentinel://host/service/x", "is a number"),
        ("redis+cluster://host:port", "not a host:port"),
        ("redis+cluster://", "not a Redis Cluster or Sentinel URL"),
    ],
)
def test_a_malformed_url_says_what_is_wrong(url: str, wrong: str) -> None:
    with pytest.raises(ValueError, match=wrong):
        topology(url)


def test_settings_refuse_a_url_redis_does_not_take() -> None:
    with pytest.raises(ValidationError, match="redis\\+cluster://"):
        Settings(redis_url="http://127.0.0.1:6379")
    assert Settings(redis_url="redis+sentinel://h/s").redis_url == "redis+sentinel://h/s"

"""A Redis client from `AISONAR_REDIS_URL`: one server, a Redis Cluster or the master a
set of Sentinels names.

- `redis://[user:password@]host:port/db` (`rediss://` over TLS, `unix://path`): one server.
- `redis+cluster://[user:password@]host:port[,host:port...]` (`rediss+cluster://`): a
  Redis Cluster, found from any of the nodes listed. Every script's keys share one hash
  slot (their `{...}` tag: a request's is its organization's id, `org_scope`), so each
  stays one atomic call.
- `redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]`
  (`rediss+sentinel://`): the master the Sentinels name `service`; after a failover the
  client asks them again. The credentials are the master's.

Calls wait (up to `wait_s`) for one of `max_connections` connections (per node of a
cluster) rather than fail when many are in flight."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import RedisClusterException, RedisError
from redis.typing import EncodableT

RedisClient = Redis | RedisCluster
# What a call raises when Redis cannot answer it: a cluster none of whose nodes answer
# raises RedisClusterException, which is no RedisError.
UNREACHABLE = (RedisError, RedisClusterException, OSError)

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
_DEFAULT_PORT = 6379
_SENTINEL_PORT = 26379


@dataclass(frozen=True, slots=True)
class Topology:
    """A cluster's or Sentinels' address: its nodes, credentials and (Sentinel) service."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None
    password: str | None
    tls: bool
    service: str = ""
    db: int = 0


class _WaitingCluster(RedisCluster):
    """A cluster client whose calls wait for one of `waiting` connections per node rather
    than fail, and whose first call is made alone: redis-py 8's cluster client, given a
    burst of calls before it has learnt the cluster's nodes, closes connections under
    calls still using them (AttributeError on `writelines`)."""

    def __init__(self, *, waiting: int, **options: Any) -> None:
        super().__init__(max_connections=waiting, **options)
        self._places = asyncio.Semaphore(waiting)
        self._first = asyncio.Lock()
        self._warm = False

    async def execute_command(self, *args: EncodableT, **kwargs: Any) -> Any:
        if not self._warm:
            async with self._first:
                if not self._warm:
                    answer = await super().execute_command(*args, **kwargs)
                    self._warm = True
                    return answer
        async with self._places:
            return await super().execute_command(*args, **kwargs)


class _WaitingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The connections to the master the Sentinels name, waited for like a single
    server's: each new one asks a Sentinel where the master is."""


def org_scope(org_id: str) -> str:
    """The hash tag of an organization's counters: its balance, and its own, its users'
    and its keys' limits and quotas, so that one script can take them all on a cluster."""
    return f"{{{org_id}}}"


def topology(url: str) -> Topology:
    """The nodes of a `redis+cluster://` or `redis+sentinel://` URL; ValueError says what
    is wrong with one that is not well formed."""
    scheme, _, rest = url.partition("://")
    sentinel = scheme in SENTINEL_SCHEMES
    if not rest or scheme not in CLUSTER_SCHEMES + SENTINEL_SCHEMES:
        raise ValueError(f"not a Redis Cluster or Sentinel URL: {scheme}://")
    location, _, path = rest.partition("/")
    credentials, _, hosts = location.rpartition("@")
    username, _, password = credentials.partition(":")
    nodes = tuple(
        _node(node, _SENTINEL_PORT if sentinel else _DEFAULT_PORT) for node in hosts.split(",")
    )
    parts = [part for part in path.split("?")[0].split("/") if part]
    if not sentinel and parts:
        raise ValueError("a Redis Cluster URL names no database: a cluster has only db 0")
    if sentinel and not 1 <= len(parts) <= 2:
        raise ValueError("a Redis Sentinel URL names its service: redis+sentinel://host/service")
    if sentinel and len(parts) == 2 and not parts[1].isdigit():
        raise ValueError(f"the database of a Redis Sentinel URL is a number, not {parts[1]!r}")
    return Topology(
        nodes=nodes,
        username=unquote(username) or None,
        password=unquote(password) or None,
        tls=scheme.startswith("rediss"),
        service=unquote(parts[0]) if sentinel else "",
        db=int(parts[1]) if sentinel and len(parts) == 2 else 0,
    )


def _node(text: str, default_port: int) -> tuple[str, int]:
    host, colon, port = text.strip().rpartition(":")
    if not colon:
        host, port = port, str(default_port)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a host:port in a Redis URL: {text.strip()!r}")
    return host, int(port)


def connect(
    url: str, *, max_connections: int = 64, wait_s: float = 5.0, timeout_s: float = 5.0
) -> RedisClient:
    """The client `url` names (a single server's pool holds `max_connections`);
    connecting and each answer time out after `timeout_s`."""
    scheme = url.partition("://")[0]
    if scheme in CLUSTER_SCHEMES:
        where = topology(url)
        return _WaitingCluster(
            waiting=max_connections,
            startup_nodes=[ClusterNode(host, port) for host, port in where.nodes],
            username=where.username,
            password=where.password,
            ssl=where.tls,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
        )
    if scheme in SENTINEL_SCHEMES:
        where = topology(url)
        sentinels = Sentinel(  # type: ignore[no-untyped-call]
            list(where.nodes), sentinel_kwargs={"ssl": where.tls, "socket_timeout": timeout_s}
        )
        master: Redis = sentinels.master_for(
            where.service,
            username=where.username,
            password=where.password,
            db=where.db,
            ssl=where.tls,
            connection_pool_class=_WaitingSentinelPool,
            max_connections=max_connections,
            timeout=wait_s,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
        )
        return master
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=wait_s,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
    )
    return Redis(connection_pool=pool)


async def close(client: RedisClient) -> None:
    """Close the client and its connections."""
    if isinstance(client, RedisCluster):
        await client.aclose()
        return
    pool = client.connection_pool
    await client.aclose(close_connection_pool=True)
    if isinstance(pool, SentinelConnectionPool):
        # And the connections asking the Sentinels where the master is.
        await pool.sentinel_manager.aclose()

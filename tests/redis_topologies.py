"""Redis as a fleet runs it, started by the tests on free local ports, once per session
and only when a test asks: a Redis Cluster of three masters (`redis_cluster_url`) and a
master with a replica watched by a Sentinel (`redis_sentinel`). `topology_url` gives a
conformance suite's store the URL of the topology it is parametrized with."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# The topologies every store conformance suite runs against (besides in-process).
TOPOLOGIES = ["redis", "cluster", "sentinel"]
SERVICE = "aisonar-test"
_STARTUP_S = 30.0


def _free_port(*, bus: bool = False) -> int:
    """A port free now (and, for a cluster node, its bus port 10000 above)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if not bus:
            return port
        if port + 10000 < 65536:
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port


def _cli(port: int, *args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _wait(condition: str, ready: Iterator[bool]) -> None:
    deadline = time.monotonic() + _STARTUP_S
    for ok in ready:
        if ok:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Redis did not come up: {condition}")
        time.sleep(0.05)


def _answers(port: int) -> Iterator[bool]:
    while True:
        try:
            yield _cli(port, "ping") == "PONG"
        except subprocess.CalledProcessError:
            yield False


class _Servers:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, port: int, *options: str, sentinel: bool = False) -> None:
        workdir = self.root / name
        workdir.mkdir(parents=True)
        config = workdir / "redis.conf"
        config.write_text("\n".join(options) + "\n")
        command = ["redis-server", str(config), "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--dir", str(workdir), "--save", "", "--appendonly", "no"]
        if sentinel:
            command.append("--sentinel")
        with (workdir / "log").open("wb") as log:
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        _wait(f"{name} on {port}", _answers(port))

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=10)


def _needs_redis() -> None:
    if not os.environ.get("AISONAR_TEST_REDIS_URL"):
        pytest.skip("AISONAR_TEST_REDIS_URL is not set")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Three masters, no replicas: `redis+cluster://` naming one node, as an operator's
    setting may."""
    _needs_redis()
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as url:
        yield url


@contextmanager
def running_cluster(root: Path) -> Iterator[str]:
    """A Redis Cluster of three masters with its files under `root` (bench/fleet.py runs
    one too); its URL, naming one node."""
    servers = _Servers(root)
    ports = []
    try:
        for i in range(3):
            port = _free_port(bus=True)
            ports.append(port)
            servers.start(f"node{i}", port, "cluster-enabled yes", "cluster-node-timeout 2000")
        nodes = [f"127.0.0.1:{port}" for port in ports]
        create = ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0"]
        subprocess.run([*create, "--cluster-yes"], capture_output=True, check=True)
        _wait(
            "cluster state ok",
            ("cluster_state:ok" in _cli(port, "cluster", "info") for port in _repeat(ports)),
        )
        yield f"redis+cluster://{nodes[0]}"
    finally:
        servers.stop()


def _repeat(ports: list[int]) -> Iterator[int]:
    while True:
        yield from ports


@dataclass(frozen=True)
class SentinelSetup:
    url: str
    sentinel_port: int
    master_port: int
    replica_port: int

    def master(self) -> int:
        """The port of the master the Sentinel names now."""
        _, port = _cli(self.sentinel_port, "sentinel", "get-master-addr-by-name", SERVICE).split()
        return int(port)


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSetup]:
    """A master, its replica and one Sentinel (quorum 1) that fails over a master silent
    for a second: `redis+sentinel://host:port/aisonar-test`."""
    _needs_redis()
    servers = _Servers(tmp_path_factory.mktemp("redis-sentinel"))
    master, replica, sentinel = _free_port(), _free_port(), _free_port()
    try:
        servers.start("master", master)
        servers.start("replica", replica, f"replicaof 127.0.0.1 {master}")
        _wait(
            "replica in sync",
            ("master_link_status:up" in _cli(replica, "info", "replication") for _ in _repeat([0])),
        )
        servers.start(
            "sentinel",
            sentinel,
            f"sentinel monitor {SERVICE} 127.0.0.1 {master} 1",
            f"sentinel down-after-milliseconds {SERVICE} 1000",
            f"sentinel failover-timeout {SERVICE} 5000",
            sentinel=True,
        )
        yield SentinelSetup(
            f"redis+sentinel://127.0.0.1:{sentinel}/{SERVICE}", sentinel, master, replica
        )
    finally:
        servers.stop()


def topology_url(request: pytest.FixtureRequest, topology: str) -> str:
    """The URL of a Redis topology (one of TOPOLOGIES), started when first asked for."""
    if topology == "cluster":
        url: str = request.getfixturevalue("redis_cluster_url")
        return url
    if topology == "sentinel":
        setup: SentinelSetup = request.getfixturevalue("redis_sentinel")
        return setup.url
    _needs_redis()
    return os.environ["AISONAR_TEST_REDIS_URL"]

"""The deployment files, checked without a container runtime: the Dockerfile by hadolint,
deploy/compose.yaml against the Compose Specification's schema, deploy/kubernetes/
against Kubernetes' API schemas (the oldest and newest versions kubernetes-validate
ships); then what they say against the code: every command one the CLI takes, the same
the fleet runs, every setting a real one, probes on endpoints that answer, and grace
periods that outlast the server's own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import click
import yaml

from aisonar.cli import main
from aisonar.config import Settings
from aisonar.gateway.asgi import _DRAIN_TIMEOUT_S
from aisonar.testing.gateway_server import RunningGateway

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
BIN = Path(sys.executable).parent
# What every gateway of the fleet runs (bench/fleet.py adds a --port of its own to each, as
# its instances share one host), and the migrations before them.
FLEET_SERVE = ["aisonar", "serve", "--workers", "2"]
MIGRATE = ["aisonar", "migrate"]
OLDEST_KUBERNETES = "1.30"
# Where the image listens (its AISONAR_PORT), which the manifests and nginx name.
IMAGE_PORT = 8400


def tool(name: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / name), *arguments], cwd=ROOT, capture_output=True, text=True, check=False
    )


def parsed(command: list[str]) -> click.Context:
    """The context `aisonar` would run `command` in; a usage error for what it refuses."""
    assert command[0] == "aisonar"
    found: click.Command = main
    arguments = command[1:]
    while isinstance(found, click.Group):
        name, *arguments = arguments
        found = found.commands[name]
    return found.make_context(" ".join(command[: len(command) - len(arguments)]), arguments)


def interpolated(value: str) -> str:
    """A compose value with its `${NAME:-default}` given the default and its required
    `${NAME:?message}` a stand-in long enough to be a secret key."""
    value = re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", value)
    return re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: f"{m.group(1).lower()}-" + "s" * 32, value)


def settings_of(variables: dict[str, str]) -> Settings:
    """The settings these AISONAR_ variables make; every one of them must be a setting."""
    fields = {name[len("AISONAR_") :].lower(): value for name, value in variables.items()}
    unknown = sorted(set(fields) - set(Settings.model_fields))
    assert not unknown, f"not settings: {unknown}"
    return Settings.model_validate(fields)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def manifests() -> dict[str, dict[str, Any]]:
    """The Kubernetes objects by kind."""
    objects = [yaml.safe_load(path.read_text()) for path in sorted(KUBERNETES.glob("*.yaml"))]
    return {item["kind"]: item for item in objects}


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return float(match.group(1))


def test_the_dockerfile_passes_hadolint() -> None:
    linted = tool("hadolint", "Dockerfile")
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_image_runs_the_gateway_unprivileged_healthy_on_readyz() -> None:
    text = (ROOT / "Dockerfile").read_text()
    final = text[text.rindex("\nFROM ") :]
    user = re.search(r"^USER (\S+)", final, flags=re.MULTILINE)
    assert user and user.group(1).split(":")[0] not in ("root", "0")
    assert "AISONAR_HOST=0.0.0.0" in final
    assert f"AISONAR_PORT={IMAGE_PORT}" in final and f"EXPOSE {IMAGE_PORT}" in final
    assert f"http://127.0.0.1:{IMAGE_PORT}/readyz" in final.split("HEALTHCHECK", 1)[1]
    command = re.search(r"^CMD (\[.*\])$", final, flags=re.MULTILINE)
    assert command and parsed(yaml.safe_load(command.group(1))).command.name == "serve"


def test_the_compose_file_follows_the_compose_specification() -> None:
    checked = tool(
        "check-jsonschema", "--builtin-schema", "vendor.compose-spec", "deploy/compose.yaml"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_compose_fleet_runs_the_fleets_commands_after_its_migrations() -> None:
    services = compose()["services"]
    assert {"gateway", "migrate", "postgres", "pgbouncer", "redis", "nginx"} <= set(services)
    gateway, migrate = services["gateway"], services["migrate"]
    assert gateway["command"] == FLEET_SERVE and parsed(FLEET_SERVE).params["workers"] == 2
    assert migrate["command"] == MIGRATE and parsed(MIGRATE).command.name == "migrate"
    assert gateway["deploy"]["replicas"] >= 2
    assert gateway["depends_on"]["migrate"]["condition"] == "service_completed_successfully"

    serving = settings_of({k: interpolated(v) for k, v in gateway["environment"].items()})
    migrating = settings_of({k: interpolated(v) for k, v in migrate["environment"].items()})
    assert "@pgbouncer:6432/" in serving.database_url and serving.database_pgbouncer
    assert "@postgres:5432/" in migrating.database_url
    assert serving.redis_url == "redis://redis:6379/0"
    assert seconds(gateway["stop_grace_period"]) >= serving.shutdown_grace_s + _DRAIN_TIMEOUT_S
    # nginx sends to the gateways' port, and the gateways believe nginx's address.
    assert f"server gateway:{IMAGE_PORT} " in (DEPLOY / "nginx.conf").read_text()
    nginx_address = services["nginx"]["networks"]["default"]["ipv4_address"]
    assert nginx_address.rsplit(".", 1)[0] in serving.trusted_proxies


def test_the_kubernetes_manifests_follow_the_api_schemas() -> None:
    files = [str(path) for path in sorted(KUBERNETES.glob("*.yaml"))]
    for version in (OLDEST_KUBERNETES, None):
        chosen = ["-k", version] if version else []
        checked = tool("kubernetes-validate", "--strict", *chosen, *files)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_kubernetes_gateways_probe_serve_and_drain_as_the_server_does() -> None:
    objects = manifests()
    assert {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
    } <= set(objects)
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["command"] == FLEET_SERVE
    assert objects["Job"]["spec"]["template"]["spec"]["containers"][0]["command"] == MIGRATE
    (port,) = container["ports"]
    assert port["containerPort"] == IMAGE_PORT
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}

    config = objects["ConfigMap"]["data"]
    secret = objects["Secret"]["stringData"]
    settings = settings_of(
        config | {name: value for name, value in secret.items() if name.startswith("AISONAR_")}
    )
    assert "@pgbouncer:" in settings.database_url and settings.database_pgbouncer
    pause = float(container["lifecycle"]["preStop"]["exec"]["command"][1])
    needed = pause + settings.shutdown_grace_s + _DRAIN_TIMEOUT_S
    assert pod["spec"]["terminationGracePeriodSeconds"] >= needed
    sources = {
        ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]
    }
    assert sources == {
        objects["ConfigMap"]["metadata"]["name"],
        objects["Secret"]["metadata"]["name"],
    }

    labels = pod["metadata"]["labels"]
    assert objects["Service"]["spec"]["selector"].items() <= labels.items()
    pdb = objects["PodDisruptionBudget"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["minReplicas"] > pdb["maxUnavailable"]


async def test_the_probed_endpoints_answer(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/readyz", "/healthz"):
            async with session.get(gateway.url + path) as answer:
                assert answer.status == 200, path

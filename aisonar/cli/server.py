"""`aisonar serve|migrate|demo|fake-upstream`: running things."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.cli.context import load_settings, run_in_database
from aisonar.cli.demo import DEMO_MODELS, demo_banner, prepare_demo
from aisonar.config import Settings

# The server stack (uvicorn, aiohttp, the fake upstream) is imported inside the commands
# that run it, so the administrative verbs start quickly.


def _server_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    from aisonar.gateway.head_timeout import http_protocol

    return {
        "host": host,
        "port": port,
        "loop": "uvloop",
        # httptools, with a deadline for each request head (AISONAR_REQUEST_HEAD_TIMEOUT_S).
        "http": http_protocol(settings),
        "timeout_keep_alive": settings.keep_alive_s,
        "log_level": settings.log_level,
        "access_log": False,
        "lifespan": "on",
        # The app reads X-Forwarded-* from AISONAR_TRUSTED_PROXIES itself.
        "proxy_headers": False,
        # On SIGTERM/SIGINT uvicorn stops accepting, lets in-flight requests run this
        # long, then cancels them (the gateway ends each with a 503 in its own format).
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
    }


@click.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8400).")
@click.option("--workers", type=click.IntRange(min=1), default=1, help="Worker processes.")
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this PEM certificate chain (AISONAR_SSL_CERTFILE).",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The certificate's private key, if not in its file (AISONAR_SSL_KEYFILE).",
)
@click.option(
    "--tls-min-version",
    type=click.Choice(["1.2", "1.3"]),
    default=None,
    help="The oldest TLS accepted (default 1.3; AISONAR_TLS_MIN_VERSION).",
)
def serve(
    host: str | None,
    port: int | None,
    workers: int,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    tls_min_version: str | None,
) -> None:
    """Apply pending migrations, then run the gateway."""
    import uvicorn

    from aisonar.app import create_app, tune_collector
    from aisonar.gateway.tls import tls_options

    given = {
        "ssl_certfile": ssl_certfile,
        "ssl_keyfile": ssl_keyfile,
        "tls_min_version": tls_min_version,
    }
    settings = load_settings(**{name: value for name, value in given.items() if value})
    if workers > 1 and not settings.redis_url:
        raise click.ClickException(
            "--workers above 1 needs AISONAR_REDIS_URL: in-process balances and holds are "
            "not shared between processes, so several workers could overspend a balance"
        )

    async def nothing(_: AsyncConnection) -> None:
        return None

    run_in_database(nothing)
    options = _server_options(settings, host or settings.host, port or settings.port)
    options |= tls_options(settings)
    if workers > 1:
        # uvicorn's supervisor starts the workers; each builds its app from the environment.
        uvicorn.run("aisonar.app:app_from_environment", factory=True, workers=workers, **options)
        return
    app = create_app(settings)
    tune_collector()
    uvicorn.run(app, **options)


@click.command()
def migrate() -> None:
    """Apply pending database migrations."""

    async def nothing(_: AsyncConnection) -> None:
        return None

    run_in_database(nothing)
    click.echo("database is up to date")


@click.command("fake-upstream")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=8401)
@click.option("--latency", type=float, default=0.0, help="Seconds before a JSON response.")
@click.option("--ttft", type=float, default=0.0, help="Seconds before the first stream chunk.")
@click.option("--tps", type=float, default=0.0, help="Stream tokens per second (0: no pacing).")
def fake_upstream(host: str, port: int, latency: float, ttft: float, tps: float) -> None:
    """Run the fake OpenAI-compatible provider used by tests, the demo and benchmarks."""
    from aisonar.testing.fake_upstream import FakeUpstreamConfig, run

    run(host, port, FakeUpstreamConfig(latency_s=latency, ttft_s=ttft, tokens_per_second=tps))


@click.command()
@click.option("--port", type=int, default=None, help="Gateway port (default 8400).")
@click.option("--upstream-port", type=int, default=8401, help="Port of the built-in fake upstream.")
def demo(port: int | None, upstream_port: int) -> None:
    """Run the gateway with a built-in fake upstream and a ready demo key."""
    import uvicorn

    from aisonar.app import create_app
    from aisonar.testing.fake_upstream import FakeUpstream, FakeUpstreamConfig

    settings = load_settings()
    gateway_port = port or settings.port
    upstream_root = f"http://127.0.0.1:{upstream_port}"

    access = run_in_database(lambda conn: prepare_demo(conn, settings, upstream_root))

    async def serve_both() -> None:
        async with FakeUpstream(FakeUpstreamConfig(models=DEMO_MODELS), port=upstream_port) as fake:
            fake.trust_service_account(access.vertex_key)
            options = _server_options(settings, settings.host, gateway_port)
            click.echo(demo_banner(f"http://{settings.host}:{gateway_port}", access))
            await uvicorn.Server(uvicorn.Config(create_app(settings), **options)).serve()

    asyncio.run(serve_both())

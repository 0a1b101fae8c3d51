"""`aisonar serve --ssl-certfile/--ssl-keyfile` over real loopback TLS, with a certificate
made here: TLS 1.3 by default and TLS 1.2 refused, 1.2 only when the operator allows it;
the console answers over HTTPS with Strict-Transport-Security."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import signal
import ssl
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aisonar.console.security import STRICT_TRANSPORT_SECURITY
from aisonar.testing.gateway_server import free_port
from tests.support import Backend, cli_environment, make_tenant

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
BODY = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
# TLS has nothing to do with the database: SQLite alone.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def client_context(cert_path: Path, *, newest: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A client trusting the test certificate; with `newest`, offering nothing newer."""
    context = ssl.create_default_context(cafile=str(cert_path))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if newest is not None:
        context.maximum_version = newest
    return context


async def negotiated(port: int, context: ssl.SSLContext) -> str | None:
    """The TLS version a handshake with the server settles on."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        version: str | None = writer.get_extra_info("ssl_object").version()
        return version
    finally:
        writer.close()
        await writer.wait_closed()


async def start_tls_gateway(
    backend: Backend, port: int, cert_path: Path, options: list[str], env: dict[str, str]
) -> asyncio.subprocess.Process:
    """`aisonar serve` over TLS, returned once it answers /readyz over HTTPS."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aisonar",
        "serve",
        "--port",
        str(port),
        *options,
        env={**cli_environment(backend), "AISONAR_LOG_LEVEL": "warning", **env},
    )
    connector = aiohttp.TCPConnector(ssl=client_context(cert_path))
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(1200):
            if process.returncode is not None:
                raise AssertionError(f"the gateway exited with status {process.returncode}")
            try:
                async with session.get(f"https://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("the gateway did not start")


async def stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    await process.wait()


async def test_tls_1_3_is_served_and_1_2_refused_by_default(
    backend: Backend, tmp_path: Path
) -> None:
    cert_path, key_path = make_certificate(tmp_path)
    tenant = await make_tenant(backend.engine)
    port = free_port()
    options = ["--ssl-certfile", str(cert_path), "--ssl-keyfile", str(key_path)]
    server = await start_tls_gateway(backend, port, cert_path, options, {})
    try:
        assert await negotiated(port, client_context(cert_path)) == "TLSv1.3"
        # Refused in the handshake: an alert, or the connection reset (uvloop).
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            await negotiated(port, client_context(cert_path, newest=ssl.TLSVersion.TLSv1_2))

        connector = aiohttp.TCPConnector(ssl=client_context(cert_path))
        async with aiohttp.ClientSession(connector=connector) as session:
            url = f"https://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {tenant.secret}"}
            async with session.post(
                url + "/v1/chat/completions", data=BODY, headers=headers
            ) as answer:
                assert answer.status == 200
                assert (await answer.json())["object"] == "chat.completion"
            async with session.get(url + "/console/sign-in") as page:
                assert page.status == 200
                assert page.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
    finally:
        await stop(server)


@pytest.mark.skipif(not REDIS_URL, reason="AISONAR_TEST_REDIS_URL is not set")
async def test_tls_1_2_only_when_the_operator_allows_it(backend: Backend, tmp_path: Path) -> None:
    """The certificate and key in one file, from the environment, with two workers (each
    builds the TLS context it was sent)."""
    cert_path, key_path = make_certificate(tmp_path)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(cert_path.read_bytes() + key_path.read_bytes())
    port = free_port()
    env = {
        "AISONAR_SSL_CERTFILE": str(bundle),
        "AISONAR_TLS_MIN_VERSION": "1.2",
        "AISONAR_REDIS_URL": REDIS_URL or "",
    }
    server = await start_tls_gateway(backend, port, cert_path, ["--workers", "2"], env)
    try:
        tls12 = client_context(cert_path, newest=ssl.TLSVersion.TLSv1_2)
        for _ in range(4):  # whichever worker takes the connection
            assert await negotiated(port, tls12) == "TLSv1.2"
            assert await negotiated(port, client_context(cert_path)) == "TLSv1.3"
    finally:
        await stop(server)


def test_a_key_without_its_certificate_is_refused(backend: Backend, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aisonar.cli import main

    _, key_path = make_certificate(tmp_path)
    env = {**cli_environment(backend), "AISONAR_SSL_KEYFILE": str(key_path)}
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code != 0
    assert "AISONAR_SSL_KEYFILE needs AISONAR_SSL_CERTFILE" in result.output

"""PgBouncer from Debian's package in transaction mode, started on a free local port in
front of the tests' PostgreSQL server, with one server connection per database and user:
every transaction of every client shares it, so a prepared statement kept across
transactions would be found missing (the pooler discards it after each transaction, as
a deployment's should) or clash with another client's."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from aisonar.testing.gateway_server import free_port

_STARTUP_S = 20.0


def _config(port: int, server_host: str, server_port: int, workdir: Path) -> str:
    return f"""[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir / "users.txt"}
pool_mode = transaction
default_pool_size = 1
max_client_conn = 1000
server_reset_query = DISCARD ALL
server_reset_query_always = 1
logfile = {workdir / "pgbouncer.log"}
pidfile = {workdir / "pgbouncer.pid"}
"""


def running_pgbouncer(database_url: str) -> Iterator[str]:
    """PgBouncer in front of the server of `database_url` (a postgresql:// URL): the same
    URL with the pooler's host and port."""
    configured = make_url(database_url)
    port = free_port()
    # PgBouncer will not run as root; it drops to the postgres user, who must read this.
    workdir = Path(tempfile.mkdtemp(prefix="aisonar-pgbouncer-"))
    workdir.chmod(0o755)
    (workdir / "users.txt").write_text(f'"{configured.username or "postgres"}" ""\n')
    config = workdir / "pgbouncer.ini"
    config.write_text(
        _config(port, configured.host or "127.0.0.1", configured.port or 5432, workdir)
    )
    command = ["pgbouncer", str(config)]
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        command[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + _STARTUP_S
        while "listening on" not in _log(workdir):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"PgBouncer did not start: {_log(workdir)}")
            time.sleep(0.05)
        yield configured.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _log(workdir: Path) -> str:
    path = workdir / "pgbouncer.log"
    return path.read_text() if path.exists() else ""

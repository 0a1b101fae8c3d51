"""wrk: run it pinned to the load core, read its figures, and combine runs."""

from __future__ import annotations

import re
import statistics
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

# wrk and nginx run here; the gateway gets the other core.
LOAD_CORE = "1"
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str


def to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if match is None:
        raise ValueError(f"unexpected wrk duration {value!r}")
    return float(match[1]) * UNIT_MS[match[2]]


def _search(pattern: str, output: str) -> re.Match[str] | None:
    return re.search(pattern, output, re.MULTILINE)


def parse_wrk(output: str) -> WrkResult:
    """The figures from wrk's report (latencies from `--latency`, NaN when absent)."""
    rate = _search(r"^Requests/sec:\s+([\d.]+)", output)
    total = _search(r"^\s*(\d+) requests in ", output)
    if rate is None or total is None:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    p50 = _search(r"^\s+50%\s+(\S+)", output)
    p99 = _search(r"^\s+99%\s+(\S+)", output)
    non_2xx = _search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = _search(r"Socket errors:\s+(.+)$", output)
    return WrkResult(
        requests=int(total[1]),
        requests_per_s=float(rate[1]),
        p50_ms=to_ms(p50[1]) if p50 else float("nan"),
        p99_ms=to_ms(p99[1]) if p99 else float("nan"),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=errors[1].strip() if errors else "",
    )


def wrk_script(body: str, headers: Mapping[str, str]) -> str:
    """A wrk script POSTing `body` as JSON with `headers`."""
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{body}]==]"]
    lines.append('wrk.headers["Content-Type"] = "application/json"')
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    return "\n".join(lines) + "\n"


def lua_script(body: str, secret: str) -> str:
    return wrk_script(body, {"Authorization": f"Bearer {secret}"})


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> WrkResult:
    command = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    command += ["--latency", "-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


# ---------------------------------------------------------------- scenarios


def combined(
    results: list[WrkResult], rate: Callable[[list[float]], float] = statistics.median
) -> WrkResult:
    """Runs of one scenario as one: `rate` of their req/s, median p50 and p99, requests,
    non-2xx and socket errors summed or joined."""
    return WrkResult(
        requests=sum(r.requests for r in results),
        requests_per_s=rate([r.requests_per_s for r in results]),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        non_2xx=sum(r.non_2xx for r in results),
        socket_errors="; ".join(r.socket_errors for r in results if r.socket_errors),
    )

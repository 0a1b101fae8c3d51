"""What of an upstream's error reaches the client: its complaint, never its account."""

from __future__ import annotations

import orjson
import pytest

from aisonar.errors import AISonarError
from aisonar.gateway.errors import (
    UnreadableUpstream,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from aisonar.gateway.failover import (
    channel_fault,
    channel_retry_after,
    request_may_cause,
    retry_after_seconds,
)
from aisonar.gateway.upstream import upstream_error

SECRET = "sk-live-secret-0123456789"


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": "invalid_request_error"}})


@pytest.mark.parametrize(
    "leak",
    [
        SECRET,
        "sk-proj-AbCdEf0123456789",
        "org-Zx81LmQ0a7Uv",
        "key-abcdef123456",
        "AIzaSyA1234567890abcdefghijklmnopqrstu",
        "Bearer eyJhbGciOi.payload.sig",
    ],
)
def test_account_identifiers_are_removed_from_upstream_messages(leak: str) -> None:
    error = upstream_error(400, error_body(f"Bad request for {leak} today"), {}, SECRET)
    assert error.status == 400
    assert leak not in error.message and "[redacted]" in error.message
    assert "Bad request for" in error.message


@pytest.mark.parametrize(("upstream", "client"), [(401, 502), (403, 502)])
def test_a_refusal_of_the_gateways_credentials_is_a_bad_gateway(upstream: int, client: int) -> None:
    error = upstream_error(upstream, error_body(f"Incorrect API key {SECRET}"), {}, SECRET)
    assert error.status == client and SECRET not in error.message
    assert error.upstream_status == upstream and channel_fault(error) == f"http_{upstream}"


@pytest.mark.parametrize(
    ("upstream", "client", "fault"),
    [
        (500, 502, "http_500"),
        (502, 502, "http_502"),
        (503, 503, "http_503"),
        (504, 504, "http_504"),
        (529, 502, "http_529"),
        (429, 429, "http_429"),
        (408, 408, "http_408"),
        (400, 400, None),
        (404, 404, None),
        (413, 413, None),
    ],
)
def test_which_statuses_fail_over(upstream: int, client: int, fault: str | None) -> None:
    error = upstream_error(upstream, b"not json", {"Retry-After": "7"}, SECRET)
    assert error.status == client and channel_fault(error) == fault
    assert error.retry_after == "7"


@pytest.mark.parametrize(
    ("error", "by_request"),
    [
        (upstream_error(500, b"not json", {}, SECRET), True),
        (upstream_error(503, b"not json", {}, SECRET), True),
        (upstream_error(408, b"not json", {}, SECRET), True),
        (UpstreamTimeout("slow"), True),
        (UnreadableUpstream(), True),
        (UpstreamUnavailable("broke off"), True),
        (upstream_error(429, b"not json", {}, SECRET), False),
        (upstream_error(401, b"not json", {}, SECRET), False),
        (upstream_error(403, b"not json", {}, SECRET), False),
        (upstream_error(400, b'{"error": {"status": "API_KEY_INVALID"}}', {}, SECRET), False),
        (UpstreamUnreachable("refused"), False),
    ],
)
def test_which_channel_faults_a_request_may_have_caused(
    error: AISonarError, by_request: bool
) -> None:
    assert channel_fault(error) is not None
    assert request_may_cause(error) is by_request


@pytest.mark.parametrize(("upstream", "seconds"), [(429, 7.0), (503, 7.0), (500, None)])
def test_only_a_429_or_503_says_when_the_channel_is_back(
    upstream: int, seconds: float | None
) -> None:
    error = upstream_error(upstream, b"not json", {"Retry-After": "7"}, SECRET)
    assert channel_retry_after(error) == seconds


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("30") == 30.0
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    in_a_minute = retry_after_seconds("Fri, 01 Jan 2100 00:00:00 GMT")
    assert in_a_minute is not None and in_a_minute > 1e9

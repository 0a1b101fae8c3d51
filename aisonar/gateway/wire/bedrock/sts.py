"""Assuming a role with AWS STS: `AssumeRole`, a form-encoded POST signed with SigV4 for the
`sts` service, answered in XML with temporary keys, their session token and their expiry."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import aiohttp
from botocore.credentials import Credentials

from aisonar.gateway.errors import UpstreamRejected, UpstreamUnreachable
from aisonar.gateway.wire.bedrock.signing import sign

# Temporary keys are renewed this long before they expire.
REFRESH_BEFORE_S = 300.0
SESSION_DURATION_S = 3600
SESSION_NAME = "aisonar"
_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
_MAX_ANSWER = 64 * 1024
_TIMEOUT = aiohttp.ClientTimeout(total=15)


@dataclass(frozen=True)
class Role:
    """A role to assume with a key pair: where STS is, and the call's parameters."""

    sts_url: str
    region: str
    keys: Credentials
    role_arn: str
    external_id: str | None = None


@dataclass(frozen=True)
class TemporaryKeys:
    credentials: Credentials
    # time.monotonic() at which they expire.
    expires_at: float


def _refused(status: int, detail: str) -> UpstreamRejected:
    return UpstreamRejected(
        502,
        f"AWS STS refused to assume the channel's role (HTTP {status}{detail}).",
        "upstream_error",
        None,
        upstream_status=status,
    )


def assume_role_body(role: Role) -> bytes:
    fields = {
        "Action": "AssumeRole",
        "Version": "2011-06-15",
        "RoleArn": role.role_arn,
        "RoleSessionName": SESSION_NAME,
        "DurationSeconds": str(SESSION_DURATION_S),
    }
    if role.external_id is not None:
        fields["ExternalId"] = role.external_id
    return urlencode(fields).encode()


def read_credentials(answer: bytes, now: float) -> TemporaryKeys:
    """The keys of an `AssumeRoleResponse`, their expiry on the monotonic clock."""
    found = ElementTree.fromstring(answer).find(f"{_NS}AssumeRoleResult/{_NS}Credentials")
    if found is None:
        raise ValueError("no Credentials in the STS answer")
    fields = {}
    for name in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"):
        value = found.findtext(f"{_NS}{name}")
        if not value:
            raise ValueError(f"no {name} in the STS answer")
        fields[name] = value
    expires = datetime.fromisoformat(fields["Expiration"].replace("Z", "+00:00")).timestamp()
    credentials = Credentials(
        fields["AccessKeyId"], fields["SecretAccessKey"], fields["SessionToken"]
    )
    return TemporaryKeys(credentials, now + expires - time.time())


def _error_code(answer: bytes) -> str | None:
    try:
        return ElementTree.fromstring(answer).findtext(f"{_NS}Error/{_NS}Code")
    except ElementTree.ParseError:
        return None


async def assume_role(session: aiohttp.ClientSession, role: Role) -> TemporaryKeys:
    body = assume_role_body(role)
    url = role.sts_url.rstrip("/") + "/"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        **sign(role.keys, "sts", role.region, "POST", url, body),
    }
    try:
        async with session.post(url, data=body, headers=headers, timeout=_TIMEOUT) as response:
            answer = await response.content.read(_MAX_ANSWER)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise UpstreamUnreachable("AWS STS could not be reached to assume the role.") from error
    if response.status != 200:
        code = _error_code(answer)
        raise _refused(response.status, f": {code}" if code else "")
    try:
        return read_credentials(answer, time.monotonic())
    except (ElementTree.ParseError, ValueError) as error:
        raise _refused(response.status, ", an answer without credentials") from error

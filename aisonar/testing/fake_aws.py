"""AWS authentication as the fake Bedrock checks it: Signature Version 4, verified by
recomputing the signature with botocore's signer from the secret the fake knows (so a request
signed wrongly, or changed after signing, is refused as AWS refuses it), Bedrock API keys
(`Authorization: Bearer`), and an STS endpoint (`POST /`, `Action=AssumeRole`) that hands out
temporary credentials the fake then accepts, with their session token, until they expire.

The fake knows one key pair and one API key, `FAKE_AWS_KEYS` and `FAKE_BEDROCK_API_KEY`."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs

from aiohttp import web
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FAKE_AWS_ACCESS_KEY_ID = "AKIAFAKEAISONAR00001"
FAKE_AWS_SECRET_ACCESS_KEY = "fake/Secret+Access+Key/for/the/AISonar/fake0"
FAKE_BEDROCK_API_KEY = "ABSKZmFrZS1iZWRyb2NrLWFwaS1rZXk="
_MAX_SKEW_S = 300
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<headers>[^,]+),"
    r" ?Signature=(?P<sig>[0-9a-f]{64})$"
)
_ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$")
_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


class AwsError(Exception):
    """An error answered in AWS's JSON shape, its type in `x-amzn-ErrorType`."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


@dataclass
class _Temporary:
    secret: str
    token: str
    expires: float


@dataclass
class AwsState:
    """The temporary credentials STS handed out, and the roles assumed, in order."""

    temporary: dict[str, _Temporary] = field(default_factory=dict)
    assumed_roles: list[str] = field(default_factory=list)
    # Seconds the next temporary credentials last (STS's DurationSeconds when None).
    next_duration_s: float | None = None


AWS_STATE = web.AppKey("fake_aws_state", AwsState)


def _signature_mismatch() -> AwsError:
    return AwsError(
        403,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details.",
    )


def _secret_for(state: AwsState, key_id: str, token: str | None) -> str:
    if key_id == FAKE_AWS_ACCESS_KEY_ID:
        return FAKE_AWS_SECRET_ACCESS_KEY
    temporary = state.temporary.get(key_id)
    if temporary is None or token != temporary.token:
        raise AwsError(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    if temporary.expires <= time.time():
        raise AwsError(
            403, "ExpiredTokenException", "The security token included in the request is expired"
        )
    return temporary.secret


def verify_sigv4(request: web.Request, body: bytes, service: str) -> None:
    """Refuse the request unless it is signed for `service` with a key the fake knows."""
    found = _AUTHORIZATION.match(request.headers.get("Authorization", ""))
    if found is None:
        raise AwsError(
            403, "IncompleteSignatureException", "Authorization header requires a SigV4 signature."
        )
    if found["service"] != service:
        raise AwsError(
            403, "InvalidSignatureException", f"Credential should be scoped to {service}."
        )
    timestamp = request.headers.get("X-Amz-Date", "")
    try:
        signed_at = datetime.strptime(timestamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise _signature_mismatch() from None
    if abs(signed_at.timestamp() - time.time()) > _MAX_SKEW_S or found["date"] != timestamp[:8]:
        raise AwsError(403, "InvalidSignatureException", "Signature expired.")
    token = request.headers.get("X-Amz-Security-Token")
    secret = _secret_for(request.app[AWS_STATE], found["key"], token)
    names = found["headers"].split(";")
    headers = {name: request.headers.get(name, "") for name in names}
    signed = AWSRequest(
        method=request.method,
        url=f"{request.scheme}://{request.host}{request.raw_path}",
        data=body,
        headers=headers,
    )
    signed.context["timestamp"] = timestamp
    signer = SigV4Auth(Credentials(found["key"], secret, token), service, found["region"])
    expected = signer.signature(
        signer.string_to_sign(signed, signer.canonical_request(signed)), signed
    )
    if not secrets.compare_digest(expected, found["sig"]):
        raise _signature_mismatch()


def authenticate_bedrock(request: web.Request, body: bytes) -> None:
    """A Bedrock API key, or else a SigV4 signature for the `bedrock` service."""
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        if authorization.removeprefix("Bearer ") != FAKE_BEDROCK_API_KEY:
            raise AwsError(403, "AccessDeniedException", "Invalid API Key format or value.")
        return
    verify_sigv4(request, body, "bedrock")


def _sts_error(status: int, code: str, message: str) -> web.Response:
    document = (
        f'<ErrorResponse xmlns="{_STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{secrets.token_hex(16)}</RequestId>"
        "</ErrorResponse>"
    )
    return web.Response(status=status, text=document, content_type="text/xml")


async def assume_role(request: web.Request) -> web.Response:
    """STS's `AssumeRole`: the form-encoded query API, answered in XML."""
    body = await request.read()
    try:
        verify_sigv4(request, body, "sts")
    except AwsError as error:
        code = "SignatureDoesNotMatch" if error.kind == "InvalidSignatureException" else error.kind
        return _sts_error(error.status, code, error.message)
    form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
    if form.get("Action") != "AssumeRole" or form.get("Version") != "2011-06-15":
        return _sts_error(400, "InvalidAction", "Could not find operation.")
    role_arn = form.get("RoleArn", "")
    if not _ROLE_ARN.match(role_arn) or not form.get("RoleSessionName"):
        return _sts_error(400, "ValidationError", "RoleArn and RoleSessionName are required.")
    state = request.app[AWS_STATE]
    duration = state.next_duration_s or float(form.get("DurationSeconds", "3600"))
    state.next_duration_s = None
    key_id = "ASIA" + secrets.token_hex(8).upper()
    temporary = _Temporary(
        secrets.token_urlsafe(30), secrets.token_urlsafe(60), time.time() + duration
    )
    state.temporary[key_id] = temporary
    state.assumed_roles.append(role_arn)
    expiration = datetime.fromtimestamp(temporary.expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = (
        f'<AssumeRoleResponse xmlns="{_STS_NS}"><AssumeRoleResult><Credentials>'
        f"<AccessKeyId>{key_id}</AccessKeyId><SecretAccessKey>{temporary.secret}</SecretAccessKey>"
        f"<SessionToken>{temporary.token}</SessionToken><Expiration>{expiration}</Expiration>"
        f"</Credentials><AssumedRoleUser><Arn>{role_arn}/{form['RoleSessionName']}</Arn>"
        f"<AssumedRoleId>AROAFAKE:{form['RoleSessionName']}</AssumedRoleId></AssumedRoleUser>"
        f"</AssumeRoleResult><ResponseMetadata><RequestId>{secrets.token_hex(16)}</RequestId>"
        "</ResponseMetadata></AssumeRoleResponse>"
    )
    return web.Response(text=document, content_type="text/xml")

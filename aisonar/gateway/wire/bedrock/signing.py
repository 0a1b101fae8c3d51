"""Signature Version 4 with botocore's signer.

Only what the signature must cover is signed: the host, `X-Amz-Date`, the session token when
there is one, the method, the path and the body's SHA-256. Content-Type and the other headers
stay out of it, so no HTTP client's rewriting of them can break a signature. The URL signed is
the one aiohttp sends: yarl normalizes its escapes (`%3A` in a model id goes out as `:`), and
SigV4 covers the path as sent, escaped once more, as AWS expects of every service but S3."""

from __future__ import annotations

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

_SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


def sign(
    credentials: Credentials, service: str, region: str, method: str, url: str, body: bytes
) -> dict[str, str]:
    """The headers that sign this request for `service` in `region`."""
    request = AWSRequest(method=method, url=str(URL(url)), data=body)
    SigV4Auth(credentials, service, region).add_auth(request)
    return {name: request.headers[name] for name in _SIGNATURE_HEADERS if name in request.headers}

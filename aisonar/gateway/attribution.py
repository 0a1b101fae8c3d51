"""Attribution: the session, end user and custom properties a client tags a request with,
metadata stored on its usage event and never sent upstream.

Headers name them: `x-aisonar-session-id`, `x-aisonar-user` and one
`x-aisonar-property-<name>` per property. A header that breaks the bounds below is refused
with a 400 before anything is admitted or held. Without `x-aisonar-user`, the end user is
the one the body names for the provider: OpenAI's `user`, Anthropic's
`metadata.user_id`. The body is decoded for them only when it holds a `user` or `user_id`
key, by a decoder that skips every other field; a body's id that does not fit the bounds
(Claude Code's `user_id` is a JSON document some 150 characters long) is kept as its
SHA-256, which identifies the same user as steadily. The body itself goes upstream as it
came."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import msgspec
import orjson

from aisonar.gateway.errors import InvalidRequest

SESSION_HEADER = b"x-aisonar-session-id"
USER_HEADER = b"x-aisonar-user"
PROPERTY_PREFIX = b"x-aisonar-property-"
MAX_ID = 128
MAX_PROPERTIES = 20
MAX_PROPERTY_VALUE = 256
_PROPERTY_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
# A `user` or `user_id` key (a message's `"role": "user"` is no key).
_USER_KEY = re.compile(rb'"user(?:_id)?"\s*:')


@dataclass(frozen=True, slots=True)
class Attribution:
    session_id: str | None = None
    end_user: str | None = None
    # A JSON object of text values, names in lower case and sorted.
    properties: str | None = None


UNATTRIBUTED = Attribution()


class _BodyFields(msgspec.Struct):
    user: object = None
    metadata: object = None


_body_fields = msgspec.json.Decoder(_BodyFields)


def header_text(header: bytes, raw: bytes, limit: int) -> str:
    """A header's value: UTF-8, printable, not empty and at most `limit` characters."""
    name = header.decode("latin-1")
    try:
        value = raw.decode().strip()
    except UnicodeDecodeError:
        raise InvalidRequest(f"The {name} header is not UTF-8 text.", param=name) from None
    if not value or len(value) > limit or not value.isprintable():
        raise InvalidRequest(
            f"The {name} header must be printable text of 1 to {limit} characters.", param=name
        )
    return value


def _properties(headers: dict[bytes, bytes]) -> str | None:
    found: dict[str, str] = {}
    for header, raw in headers.items():
        if not header.startswith(PROPERTY_PREFIX):
            continue
        name = header[len(PROPERTY_PREFIX) :].decode("latin-1")
        if not _PROPERTY_NAME.fullmatch(name):
            raise InvalidRequest(
                f"The property name {name!r} must be 1 to 64 letters, digits, '_', '.' or '-'.",
                param=header.decode("latin-1"),
            )
        found[name] = header_text(header, raw, MAX_PROPERTY_VALUE)
    if len(found) > MAX_PROPERTIES:
        raise InvalidRequest(
            f"A request may carry at most {MAX_PROPERTIES} x-aisonar-property-* headers; "
            f"it has {len(found)}."
        )
    return orjson.dumps(dict(sorted(found.items()))).decode() if found else None


def _fitted(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    if len(value) <= MAX_ID and value.isprintable():
        return value
    return hashlib.sha256(value.encode(errors="surrogatepass")).hexdigest()


def _body_user(body: bytes) -> str | None:
    if not _USER_KEY.search(body):
        return None
    try:
        fields = _body_fields.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if fields.user is not None:
        return _fitted(fields.user)
    metadata = fields.metadata
    return _fitted(metadata.get("user_id")) if isinstance(metadata, dict) else None


def attribution_of(headers: dict[bytes, bytes], body: bytes) -> Attribution:
    """The request's attribution; InvalidRequest for a header out of bounds."""
    session = headers.get(SESSION_HEADER)
    user = headers.get(USER_HEADER)
    properties = _properties(headers)
    session_id = None if session is None else header_text(SESSION_HEADER, session, MAX_ID)
    end_user = _body_user(body) if user is None else header_text(USER_HEADER, user, MAX_ID)
    if session_id is None and end_user is None and properties is None:
        return UNATTRIBUTED
    return Attribution(session_id, end_user, properties)

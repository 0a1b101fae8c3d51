"""What the gateway takes as a JSON request body, checked as the body is read, before
any parser sees it.

Two parsers read a body: msgspec picks out the few fields the gateway needs, orjson reads
the whole document where it is rewritten or translated. msgspec takes some of what orjson
refuses (a lone surrogate escape, a number past a double's range); such a body is
refused here, in orjson's words, not halfway through the request.

Both, and the translators, recurse once per level of nesting: msgspec stops at Python's
recursion limit (a RecursionError, some 900 levels down from a request), orjson's encoder
at 255 levels. A body nested deeper than `MAX_JSON_DEPTH` is refused first, so that none
of them meets one. No real request comes near it: a message's content parts sit five
levels down, a tool's JSON Schema a few more."""

from __future__ import annotations

from itertools import accumulate

import orjson

from aisonar.gateway.errors import InvalidRequest

MAX_JSON_DEPTH = 128

_NOT_BRACKETS_OR_QUOTES = bytes(byte for byte in range(256) if byte not in b'[]{}"')
# Opening brackets become +1 and closing ones -1, as signed bytes.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether `body` nests arrays and objects more than `limit` levels deep, brackets in
    strings not counted. Linear, with the loops in C: the body may be megabytes long.
    For a body that is not JSON the answer does not matter: it is refused either way."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    # Escaped backslashes, then escaped quotes: what is left of each string is its two
    # quotes and the brackets in it.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = unescaped.translate(None, _NOT_BRACKETS_OR_QUOTES)
    # Two quotes side by side close a string and open the next, or open and close one
    # with no bracket in it: either way no bracket is lost by dropping them, and what is
    # between the remaining quotes is still string.
    outside = b"".join(skeleton.replace(b'""', b"").split(b'"')[::2])
    steps = outside.translate(_STEPS)
    if b"\x01" * (limit + 1) in steps:
        return True
    return max(accumulate(memoryview(steps).cast("b")), default=0) > limit


def check_json_body(body: bytes) -> None:
    """Raise InvalidRequest unless `body` is JSON that every parser here reads."""
    if json_depth_exceeds(body, MAX_JSON_DEPTH):
        raise InvalidRequest(
            f"The request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep."
        )
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"Request body is not valid JSON: {error}") from None

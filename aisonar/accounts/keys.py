"""API key (and access token) secrets: random, recognizable by prefix, stored only as a
SHA-256 hash.

A fast hash is right here: the secret has 256 bits of entropy, so there is
nothing to brute-force, and the hot path hashes every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

KEY_PREFIX = "sk-sonar-"
_DISPLAY_CHARS = 6


@dataclass(frozen=True)
class NewKeySecret:
    secret: str
    key_hash: str
    display_prefix: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key_secret(prefix: str = KEY_PREFIX) -> NewKeySecret:
    secret = prefix + secrets.token_urlsafe(32)
    return NewKeySecret(
        secret=secret,
        key_hash=hash_key(secret),
        display_prefix=secret[: len(prefix) + _DISPLAY_CHARS],
    )

"""Encryption at rest for upstream secrets: AES-256-GCM under a key derived from
AISONAR_SECRET_KEY, which the database never holds. While the secret key is rotated
(`aisonar secret rotate`), the key it replaces opens what it sealed; sealing always takes
the current key."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"
_NONCE_BYTES = 12


class SecretBoxError(ValueError):
    """The ciphertext is corrupt or was sealed under another secret key."""


def _aead(secret_key: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"aisonar-secret-box-v1"
    ).derive(secret_key.encode())
    return AESGCM(derived)


def _unpack(token: str) -> tuple[bytes, bytes]:
    version, _, payload = token.partition(":")
    if version != _VERSION:
        raise SecretBoxError(f"unknown secret format {version!r}")
    raw = base64.b64decode(payload)
    return raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]


class SecretBox:
    def __init__(self, secret_key: str, previous_key: str = "") -> None:
        self._aead = _aead(secret_key)
        self._keys = [self._aead] + ([_aead(previous_key)] if previous_key else [])

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), _VERSION.encode())
        return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, token: str) -> str:
        nonce, sealed = _unpack(token)
        for aead in self._keys:
            try:
                return aead.decrypt(nonce, sealed, _VERSION.encode()).decode()
            except InvalidTag:
                continue
        raise SecretBoxError("secret cannot be decrypted with this AISONAR_SECRET_KEY")

    def reseal(self, token: str) -> str | None:
        """`token` sealed anew under the current key, or None when it already is; the
        plain text lives only in this call's memory."""
        nonce, sealed = _unpack(token)
        try:
            self._aead.decrypt(nonce, sealed, _VERSION.encode())
        except InvalidTag:
            return self.seal(self.open(token))
        return None

"""Encryption at rest for upstream secrets: AES-256-GCM under a key derived from
AISONAR_SECRET_KEY, which the database never holds."""

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


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"aisonar-secret-box-v1"
        ).derive(secret_key.encode())
        self._aead = AESGCM(derived)

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), _VERSION.encode())
        return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, token: str) -> str:
        version, _, payload = token.partition(":")
        if version != _VERSION:
            raise SecretBoxError(f"unknown secret format {version!r}")
        raw = base64.b64decode(payload)
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], version.encode())
        except InvalidTag as error:
            raise SecretBoxError(
                "secret cannot be decrypted with this AISONAR_SECRET_KEY"
            ) from error
        return plain.decode()

"""Authenticate: hash the presented key and look it up, memory first."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.abuse.tallies import RefusedKeys
from aisonar.accounts.keys import hash_key
from aisonar.accounts.models import KeyIdentity, KeyScope
from aisonar.accounts.services import find_key_identity
from aisonar.clock import utcnow
from aisonar.gateway.errors import AddressNotAllowed, AuthenticationFailed, IngestOnlyKey
from aisonar.limits.services import effective_limits

_BEARER = "bearer "


class KeyCache:
    """A bounded LRU of key hash -> identity (None for unknown keys, so a flood of
    bad keys does not reach the database). Cleared whenever keys or users change. With
    abuse detection on, `refused` counts unknown keys per client address."""

    def __init__(
        self, engine: AsyncEngine, max_entries: int, refused: RefusedKeys | None = None
    ) -> None:
        self._engine = engine
        self._max_entries = max_entries
        self.refused = refused
        self._entries: OrderedDict[str, KeyIdentity | None] = OrderedDict()
        self._generation = 0

    def clear(self) -> None:
        self._entries.clear()
        self._generation += 1

    async def lookup(self, key_hash: str) -> KeyIdentity | None:
        if key_hash in self._entries:
            self._entries.move_to_end(key_hash)
            return self._entries[key_hash]
        generation = self._generation
        async with self._engine.connect() as conn:
            identity = await find_key_identity(conn, key_hash)
            if identity is not None:
                limits = await effective_limits(conn, identity.key_id)
                identity = dataclasses.replace(identity, limits=limits)
        # A change that landed while we were reading must not be overwritten by stale data.
        if generation == self._generation:
            self._entries[key_hash] = identity
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return identity


def presented_key(authorization: str | None, api_key_header: str | None) -> str | None:
    if authorization and authorization[: len(_BEARER)].lower() == _BEARER:
        return authorization[len(_BEARER) :].strip() or None
    return api_key_header or None


async def authenticate(
    cache: KeyCache, secret: str | None, client_ip: str | None, *, reporting: bool = False
) -> KeyIdentity:
    """The caller behind a key. `reporting` requests (usage ingestion) take a key of any
    scope; every other request needs one that may call models."""
    if not secret:
        raise AuthenticationFailed("Missing API key. Send it as `Authorization: Bearer <key>`.")
    identity = await cache.lookup(hash_key(secret))
    if identity is None:
        if cache.refused is not None:
            cache.refused.count(client_ip)
        raise AuthenticationFailed("Incorrect API key provided.")
    if not identity.active:
        raise AuthenticationFailed("This API key has been revoked or its user disabled.")
    if identity.expires_at is not None or identity.superseded_at is not None:
        now = utcnow()
        if identity.expires_at is not None and identity.expires_at <= now:
            raise AuthenticationFailed("This API key has expired.")
        if identity.superseded_at is not None and identity.superseded_at <= now:
            raise AuthenticationFailed("This API key was rotated; use its new secret.")
    if not identity.allows_address(client_ip):
        raise AddressNotAllowed(f"This API key may not be used from {client_ip or 'here'}.")
    if identity.scope is KeyScope.INGEST and not reporting:
        raise IngestOnlyKey()
    return identity

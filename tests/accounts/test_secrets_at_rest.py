"""API keys are stored only as hashes and upstream keys only encrypted."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from aisonar.crypto import SecretBox, SecretBoxError
from aisonar.store.tables import api_keys, channels
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY
from tests.support import Backend, Tenant, read_files_elsewhere


async def raw_database(backend: Backend) -> bytes:
    if backend.name == "sqlite":
        return read_files_elsewhere([str(p) for p in backend.settings.data_dir.glob("aisonar.db*")])
    async with backend.engine.connect() as conn:
        keys = await conn.execute(select(text("api_keys::text")).select_from(api_keys))
        chans = await conn.execute(select(text("channels::text")).select_from(channels))
        return "\n".join(str(row[0]) for row in [*keys, *chans]).encode()


async def test_no_secret_is_readable_in_the_database(backend: Backend, tenant: Tenant) -> None:
    raw = await raw_database(backend)
    assert UPSTREAM_KEY.encode() not in raw
    assert tenant.secret.encode() not in raw
    assert tenant.secret[len("sk-sonar-") + 6 :].encode() not in raw


async def test_channel_secret_opens_only_with_the_right_key(backend: Backend) -> None:
    async with backend.engine.connect() as conn:
        sealed = (
            await conn.execute(
                select(channels.c.api_key_encrypted).where(channels.c.name == "fake")
            )
        ).scalar_one()
    assert SecretBox(TEST_SECRET_KEY).open(sealed) == UPSTREAM_KEY
    with pytest.raises(SecretBoxError):
        SecretBox("another-secret-key-" + "y" * 32).open(sealed)

"""A person's export sent as a ZIP download, as the API's `GET /api/me/export` and
`GET /api/users/{id}/export` and the console's privacy page send it: the archive
(`exports/personal/archive.py`) is built in an anonymous temporary file (gone from the disk
once closed, whatever happens), the export audited, then the file streamed."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import BinaryIO

from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.audit.models import Actor
from aisonar.clock import utcnow
from aisonar.exports.services import Exported, archive_name, record_export, write_archive

_READ_BYTES = 1024 * 1024


async def _sent(file: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(file.read, _READ_BYTES):
            yield chunk
    finally:
        file.close()


async def archive_download(
    engine: AsyncEngine, actor: Actor, exported: Exported
) -> StreamingResponse:
    at = utcnow()
    # Closed by _sent once sent, or below if the archive cannot be made.
    file = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        async with engine.connect() as conn:
            files = await write_archive(conn, exported, file, at)
        async with engine.begin() as conn:
            await record_export(conn, actor, exported, files)
        size = file.tell()
        file.seek(0)
    except BaseException:
        file.close()
        raise
    name = archive_name(exported.person.id, at)
    return StreamingResponse(
        _sent(file),
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "content-length": str(size),
        },
    )

"""Exports' use cases, as the front ends (`api`, `console`, `cli`) call them: usage
events, ledger entries and the audit log streamed out in an `ExportFormat`; a person's
personal data export (what it holds, counted against their allowance; the ZIP archive
written and audited); and the spreadsheet-safe CSV writer for tables people open in a
spreadsheet. The front ends import exports from here, never its other modules; the use
cases live in the modules named below, one source each."""

from __future__ import annotations

from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.models import Actor
from aisonar.clock import utcnow
from aisonar.exports import EXPORT_FORMATS, MEDIA_TYPES, ExportFormat
from aisonar.exports.audit import export_audit
from aisonar.exports.ledger import export_ledger
from aisonar.exports.personal.archive import archive_name, record_export, write_archive
from aisonar.exports.personal.models import Exported
from aisonar.exports.personal.requests import count_export, own_export
from aisonar.exports.spreadsheet import SpreadsheetWriter
from aisonar.exports.usage import export_usage

__all__ = [
    "EXPORT_FORMATS",
    "MEDIA_TYPES",
    "ExportFormat",
    "Exported",
    "SpreadsheetWriter",
    "archive_name",
    "count_export",
    "export_audit",
    "export_ledger",
    "export_personal_data",
    "export_usage",
    "own_export",
    "record_export",
    "write_archive",
]


async def export_personal_data(
    conn: AsyncConnection, exported: Exported, target: BinaryIO, *, actor: Actor
) -> list[str]:
    """Write the person's archive to `target` and audit who exported it; returns the names
    of its files."""
    files = await write_archive(conn, exported, target, utcnow())
    await record_export(conn, actor, exported, files)
    return files

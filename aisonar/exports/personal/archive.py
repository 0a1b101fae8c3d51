"""The personal data export as a ZIP archive: README.txt first (what each file holds and
what its fields mean), then one file per part (`parts.py`): JSON documents (UTF-8,
indented) and CSV tables. A table is compressed into the archive as it is read, so a
person's million usage events never sit in memory; the compressing runs in a worker
thread, so the server keeps answering meanwhile. The archive goes to a file the caller
gives (a temporary one for a download), which must be seekable."""

from __future__ import annotations

import asyncio
import textwrap
import zipfile
from datetime import datetime
from typing import BinaryIO

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.exports.personal.models import DocumentPart, Exported, Part
from aisonar.exports.personal.parts import PARTS

README = "README.txt"
# Deflate's fastest level: usage and ledger CSV compress at 260 MiB/s to a seventh, where
# the default level takes three times as long for an archive a fifth smaller.
_COMPRESS_LEVEL = 1
_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NAIVE_UTC | orjson.OPT_APPEND_NEWLINE
_WIDTH = 88

_INTRODUCTION = """\
Everything AI Sonar holds about you, as of the time above, one file per kind of record.
Below: what each file holds, and what each of its fields means.

Formats. The .json files are UTF-8 JSON, indented: a record, or a list of records. The
.csv files are UTF-8 CSV with a header row, for the parts that may be long (usage,
ledger, audit); they are CSV only. In CSV a nested value (a list, a mapping) is one cell
of JSON, and a text that starts with =, +, -, @, a tab or a carriage return begins with
an added ' so that a spreadsheet shows it rather than runs it. Times are ISO 8601, in
UTC. Amounts of money are integers in micro-units of the operator's currency (1 credit =
1,000,000) unless a field says "in credits".

Never in it: the secrets of your API keys and access tokens, your password, the codes
mailed to you or redeemed by you, the ids and secrets of your sign-in sessions (nor the
hashes AI Sonar keeps of any of these); nor what you sent to the models and what they
answered, which is never stored."""


def archive_name(user_id: str, at: datetime) -> str:
    return f"aisonar-export-{user_id}-{at:%Y-%m-%d}.zip"


def _included(exported: Exported) -> list[Part]:
    return [part for part in PARTS if exported.confidential or not part.confidential]


def _wrapped(text: str, indent: str, hanging: str = "") -> str:
    return textwrap.fill(text, _WIDTH, initial_indent=indent, subsequent_indent=indent + hanging)


def readme(exported: Exported, at: datetime) -> str:
    person = exported.person
    lines = [
        "AI Sonar: personal data export",
        "",
        f"Person: {person.name} <{person.email}> (user id {person.id})",
        f"Organization: {person.org_name} ({person.org_id})",
        f"Exported at: {at.isoformat()}",
        "",
        _INTRODUCTION,
    ]
    for part in _included(exported):
        lines += ["", part.file, _wrapped(part.description, "  ")]
        lines += [
            _wrapped(f"- {name}: {meaning}", "  ", "  ") for name, meaning in part.fields.items()
        ]
    left_out = [part for part in PARTS if part not in _included(exported)]
    if left_out:
        lines += ["", "Left out: this export was made by an admin of your organization."]
        lines += [_wrapped(f"- {part.file}: {part.description}", "  ", "  ") for part in left_out]
    return "\n".join(lines) + "\n"


async def _write_part(
    conn: AsyncConnection, exported: Exported, part: Part, archive: zipfile.ZipFile
) -> None:
    if isinstance(part, DocumentPart):
        document = orjson.dumps(await part.gather(conn, exported), option=_JSON_OPTIONS)
        await asyncio.to_thread(archive.writestr, part.file, document)
        return
    with archive.open(part.file, "w", force_zip64=True) as member:
        async for chunk in part.stream(conn, exported):
            await asyncio.to_thread(member.write, chunk)


async def write_archive(
    conn: AsyncConnection, exported: Exported, target: BinaryIO, at: datetime
) -> list[str]:
    """Write the archive to `target`; returns the names of its files."""
    with zipfile.ZipFile(
        target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_COMPRESS_LEVEL
    ) as archive:
        archive.writestr(README, readme(exported, at))
        for part in _included(exported):
            await _write_part(conn, exported, part, archive)
        return archive.namelist()


async def record_export(
    conn: AsyncConnection, actor: Actor, exported: Exported, files: list[str]
) -> None:
    """Audit who exported whose data, and which files it held."""
    await audit.record(
        conn,
        actor,
        "user.export",
        object_kind="user",
        object_id=exported.person.id,
        org_id=exported.person.org_id,
        changes=audit.created({"files": files}),
    )

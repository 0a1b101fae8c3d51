"""What `aisonar usage|ledger|audit export` share: the format, where the export goes
(standard output, or a file with --output), and writing it as it streams."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import click

from aisonar.exports.services import EXPORT_FORMATS

F = TypeVar("F", bound=Callable[..., Any])


def export_options(default_format: str) -> Callable[[F], F]:
    """--format and --output."""

    def decorate(command: F) -> F:
        command = click.option(
            "--output",
            type=click.Path(dir_okay=False, writable=True, path_type=Path),
            help="Write to this file instead of standard output.",
        )(command)
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(EXPORT_FORMATS),
            default=default_format,
            show_default=True,
        )(command)

    return decorate


def check_destination(fmt: str, output: Path | None) -> None:
    if fmt == "parquet" and output is None and sys.stdout.isatty():
        raise click.UsageError(
            "Parquet is binary: write it to a file with --output FILE, or redirect "
            "standard output to one."
        )


async def write_export(chunks: AsyncIterator[bytes], output: Path | None) -> None:
    if output is None:
        await _copy(chunks, sys.stdout.buffer)
        return
    with output.open("wb") as file:
        await _copy(chunks, file)


async def _copy(chunks: AsyncIterator[bytes], stream: BinaryIO) -> None:
    async for chunk in chunks:
        stream.write(chunk)
    stream.flush()

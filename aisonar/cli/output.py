"""Command-line output: a plain table for people, JSON with --json."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click
import orjson


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def as_record(item: Any) -> dict[str, Any]:
    is_instance = dataclasses.is_dataclass(item) and not isinstance(item, type)
    record = dataclasses.asdict(item) if is_instance else dict(item)
    return {key: _plain(value) for key, value in record.items()}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" if k != v else str(k) for k, v in value.items())
    return str(value)


def emit(items: Sequence[Any], columns: Sequence[str], *, as_json: bool) -> None:
    records = [as_record(item) for item in items]
    if as_json:
        click.echo(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode())
        return
    rows = [[_cell(record.get(column)) for column in columns] for record in records]
    widths = [
        max([len(column), *(len(row[i]) for row in rows)]) for i, column in enumerate(columns)
    ]
    header = "  ".join(column.upper().ljust(w) for column, w in zip(columns, widths, strict=True))
    click.echo(header.rstrip())
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def emit_page(
    items: Sequence[Any], limit: int | None, columns: Sequence[str], *, as_json: bool
) -> None:
    """A page read with one row more than `limit`: its rows, and on standard error how to
    ask for the next page when that row says there is one (standard output stays the
    table or the JSON list)."""
    shown = items if limit is None else items[:limit]
    emit(shown, columns, as_json=as_json)
    if limit is not None and len(items) > limit:
        click.echo(f"more: --after {as_record(shown[-1])['id']}", err=True)


def emit_one(item: Any, *, as_json: bool) -> None:
    record = as_record(item)
    if as_json:
        click.echo(orjson.dumps(record, option=orjson.OPT_INDENT_2).decode())
        return
    width = max(len(key) for key in record)
    for key, value in record.items():
        click.echo(f"{key.ljust(width)}  {_cell(value)}")


def emit_with_secret(item: Any, secret: str, *, as_json: bool) -> None:
    """A record whose secret is shown this once (a new key, token or rotated key)."""
    if as_json:
        emit_one({**as_record(item), "secret": secret}, as_json=True)
        return
    emit_one(item, as_json=False)
    click.echo(f"secret          {secret}")
    click.echo("Store the secret now: it is shown only once.", err=True)

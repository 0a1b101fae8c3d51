"""A usage event as the database holds it. Some of its text comes from clients: a model
name, a Gemini URL's path, an error message quoting them. PostgreSQL refuses text longer
than its column, or holding a NUL character; one refused row would fail its whole batch,
and the writer, retrying that batch, every batch behind it. So the text is cut to its
column and NUL becomes U+FFFD, on every backend alike."""

from __future__ import annotations

import dataclasses

from sqlalchemy import String

from aisonar.store.tables import usage_events
from aisonar.usage.models import UsageEvent

_LENGTHS = {
    column.name: column.type.length
    for column in usage_events.columns
    if isinstance(column.type, String) and column.type.length
}


def storable(event: UsageEvent) -> UsageEvent:
    """The event, or a copy with its text fitted to the columns."""
    fitted: UsageEvent | None = None
    for name, length in _LENGTHS.items():
        value: str | None = getattr(event, name)
        if value is not None and (len(value) > length or "\x00" in value):
            fitted = fitted or dataclasses.replace(event)
            setattr(fitted, name, value.replace("\x00", "\ufffd")[:length])
    return fitted or event

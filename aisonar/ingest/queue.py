"""Handing reported events to the usage writer, all of a batch or none of it."""

from __future__ import annotations

from aisonar.errors import AISonarError
from aisonar.gateway.services import GatewayServices
from aisonar.usage.models import UsageEvent


class IngestionBacklogged(AISonarError):
    status = 503
    kind = "overloaded_error"
    code = "ingestion_backlogged"
    retry_after = "1"

    def __init__(self) -> None:
        super().__init__(
            "The usage writer is behind; nothing of this batch was taken. Retry it shortly."
        )


def queue_events(services: GatewayServices, events: list[UsageEvent]) -> None:
    writer = services.writer
    if not writer.has_room_for(len(events)):
        raise IngestionBacklogged()
    for event in events:
        writer.submit(event)

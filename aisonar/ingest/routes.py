"""Ingest's routes, which the app mounts on the gateway's beside the relay's: usage
reported by clients that call providers themselves, and their OTLP traces. Ingest sits
above the gateway (it takes its HTTP exchange, errors and key authentication), so the
gateway does not import these: the app hands them to it."""

from __future__ import annotations

from aisonar.gateway.endpoint import Endpoint
from aisonar.ingest.events import ingest_events
from aisonar.ingest.otlp import receive_traces

ROUTES = {
    "/api/ingest/events": Endpoint("POST", ingest_events, json_body=False),
    "/v1/traces": Endpoint("POST", receive_traces, json_body=False),
}

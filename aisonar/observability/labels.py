"""The labels of a finished request, from its usage event: a handful of values each,
whatever clients send, so the series stay bounded.

Models are named as the channel table names them (requested names, aliases, upstream
names); a name only a `*` pattern matched is kept while there are fewer than
`ROUTED_MODEL_LIMIT` of those, and an unknown model is `_OTHER`. Error types are bounded
the same way. Tenant labels are added only when the operator asks for them."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from aisonar.channels.model_names import is_pattern
from aisonar.observability.channel_view import ChannelView
from aisonar.observability.semconv import (
    OTHER,
    TENANT_ATTRIBUTES,
    operation_name,
    provider_name,
)
from aisonar.usage.models import UsageEvent

ROUTED_MODEL_LIMIT = 100
ERROR_TYPE_LIMIT = 50
_STATUS_CLASSES = tuple(f"{digit}xx" for digit in range(10))


class RequestLabels(NamedTuple):
    operation: str
    provider: str
    request_model: str
    response_model: str
    error_type: str
    status_class: str
    # The ids of the tenant labels the settings enabled, in their order.
    tenant: tuple[str, ...]


class BoundedValues:
    """Values admitted as they are first seen, up to `limit`; any newer one is `_OTHER`."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def label(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value


def listed_models(table: ChannelView) -> frozenset[str]:
    """Every model name the channels list outright, requested and upstream."""
    names: set[str] = set()
    for entry in table.channels.values():
        for name, upstream in entry.channel.models.items():
            names.update(model for model in (name, upstream) if not is_pattern(model))
    return frozenset(names)


class ModelNames:
    """Model label values, following the channel table as it is replaced."""

    def __init__(self, routed_limit: int = ROUTED_MODEL_LIMIT) -> None:
        self._channels: Callable[[], ChannelView] | None = None
        self._table: ChannelView | None = None
        self._listed: frozenset[str] = frozenset()
        self._routed = BoundedValues(routed_limit)

    def watch(self, channels: Callable[[], ChannelView]) -> None:
        self._channels = channels

    def listed(self) -> frozenset[str]:
        if self._channels is not None:
            table = self._channels()
            if table is not self._table:
                self._table, self._listed = table, listed_models(table)
        return self._listed

    def label(self, name: str | None, listed: frozenset[str], routed: bool) -> str:
        if not name:
            return ""
        if name in listed:
            return name
        # Only a request a channel took can add a name: an unknown model never does.
        return self._routed.label(name) if routed else OTHER


class RequestLabeller:
    def __init__(self, tenant_labels: tuple[str, ...] = ()) -> None:
        self.models = ModelNames()
        self._errors = BoundedValues(ERROR_TYPE_LIMIT)
        # The tenant attributes are named as the usage event's fields (org_id ...).
        self.tenant_attributes = tuple(TENANT_ATTRIBUTES[label] for label in tenant_labels)

    def labels(self, event: UsageEvent) -> RequestLabels:
        listed = self.models.listed()
        routed = event.channel_id is not None
        return RequestLabels(
            operation_name(event.endpoint),
            provider_name(event.provider),
            self.models.label(event.requested_model, listed, routed),
            self.models.label(event.upstream_model, listed, routed),
            self._error_type(event),
            _STATUS_CLASSES[min(event.status_code // 100, 9)],
            self._tenant(event) if self.tenant_attributes else (),
        )

    def _error_type(self, event: UsageEvent) -> str:
        if event.error_type is not None:
            return self._errors.label(event.error_type)
        # An error status without a domain error (none today): the status, as the
        # conventions suggest.
        return str(event.status_code) if event.status_code >= 400 else ""

    def _tenant(self, event: UsageEvent) -> tuple[str, ...]:
        return tuple(getattr(event, field) or "" for field in self.tenant_attributes)

"""Accounts as the rest of the code sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_address

from aisonar.channels.model_names import allows
from aisonar.limits.models import UNLIMITED, EffectiveLimits


class KeyScope(StrEnum):
    """What a key may do: everything (the gateway and reporting usage), or only report
    usage, the key an application that calls providers itself is given."""

    ALL = "all"
    INGEST = "ingest"


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"
    SCALE = "scale"
    ENTERPRISE = "enterprise"


# 1.00 credit, in micro-units, until the operator sets another.
DEFAULT_LOW_BALANCE_THRESHOLD = 1_000_000


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    plan: str
    created_at: datetime
    # Micro-units; the balance falling below it emits a `balance_low` notice (0: never).
    low_balance_threshold: int
    # Days its raw usage events are kept, when it has its own window; else its plan's.
    retention_days: int | None = None
    # The custom properties its usage is rolled up by (`usage.attribution_rollups`).
    dimension_properties: tuple[str, ...] = ()


@dataclass(frozen=True)
class User:
    id: str
    org_id: str
    org_name: str
    email: str
    name: str
    role: str
    created_at: datetime
    disabled: bool
    # The language notices and the console speak to them in (`en`, `zh-Hans`).
    language: str = "en"
    company: str | None = None
    # False until they have a password to sign in with: invited, or using keys only.
    password_set: bool = False


@dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: str
    org_id: str
    name: str
    display_prefix: str
    models: tuple[str, ...] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    # Addresses (CIDR) it may be used from; None is anywhere.
    allowed_ips: tuple[str, ...] | None = None
    # After a rotation: until when the previous secret still works.
    previous_valid_until: datetime | None = None
    scope: KeyScope = KeyScope.ALL


Network = IPv4Network | IPv6Network


@dataclass(frozen=True)
class KeyIdentity:
    """What the hot path needs to know about the caller behind a key."""

    key_id: str
    user_id: str
    org_id: str
    models: frozenset[str] | None
    expires_at: datetime | None
    active: bool
    # Price multipliers in parts per million: the plan's, and the organization's own.
    plan_markup_ppm: int = 1_000_000
    org_markup_ppm: int | None = None
    # The organization's own model list (names or `*` patterns); None allows every model.
    org_models: frozenset[str] | None = None
    # The rate limits and quotas its requests are checked against (none: unlimited).
    limits: EffectiveLimits = UNLIMITED
    # The networks it may be used from; None is anywhere.
    networks: tuple[Network, ...] | None = None
    # Set when this is a rotated-out secret: it works until then.
    superseded_at: datetime | None = None
    scope: KeyScope = KeyScope.ALL

    def allows_address(self, address: str | None) -> bool:
        if self.networks is None:
            return True
        if address is None:
            return False
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def may_use(self, model: str) -> bool:
        """Both the key's list and its organization's admit the model (no list: any)."""
        return (self.models is None or model in self.models or allows(self.models, model)) and (
            self.org_models is None or model in self.org_models or allows(self.org_models, model)
        )

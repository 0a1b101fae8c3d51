"""The management API's request and response bodies. Amounts are decimal strings of
credits ("12.50"), as everywhere people read them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from aisonar.accounts.models import ApiKey, KeyScope, Organization, Plan, User
from aisonar.accounts.services import (
    AccessToken,
    EmailText,
    GraceSeconds,
    NameText,
    OrgName,
    PasswordText,
    RetentionDays,
    Threshold,
)
from aisonar.billing.services import format_amount
from aisonar.i18n import Language
from aisonar.store.roles import Role

_STRICT = ConfigDict(extra="forbid")


class OrgOut(BaseModel):
    id: str
    name: str
    plan: str
    # Names or `*` patterns its keys may use; null is every model.
    models: list[str] | None
    # Credits; the balance falling below it sends a `balance_low` notice ("0.00": never).
    low_balance_threshold: str
    # Days its raw usage is kept, when it has its own window (Enterprise); null: its plan's.
    retention_days: int | None
    # The custom properties its usage is rolled up by, so that summaries by them read
    # rollups rather than every event.
    dimension_properties: list[str]
    created_at: datetime

    @classmethod
    def of(cls, org: Organization, models: list[str] | None) -> OrgOut:
        return cls(
            id=org.id,
            name=org.name,
            plan=org.plan,
            models=models,
            low_balance_threshold=format_amount(org.low_balance_threshold),
            retention_days=org.retention_days,
            dimension_properties=list(org.dimension_properties),
            created_at=org.created_at,
        )


class OrgCreate(BaseModel):
    model_config = _STRICT
    name: OrgName
    plan: Plan = Plan.FREE
    models: list[str] | None = None


class UserOut(BaseModel):
    id: str
    org_id: str
    org_name: str
    email: str
    name: str
    role: str
    disabled: bool
    created_at: datetime
    # The language notices and the console speak to them in.
    language: Language
    company: str | None
    # False until they have a password to sign in with: a member invited by email who
    # has not chosen one yet (`POST /api/users/{id}/invite` sends the invitation again),
    # or one who uses only the keys and tokens made for them.
    password_set: bool

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(**vars(user))


class UserCreate(BaseModel):
    model_config = _STRICT
    email: EmailText
    name: NameText = ""
    role: Role = Role.USER
    # The password they first sign in with; none: they use only the keys made for them,
    # unless `invite` is set.
    password: PasswordText | None = None
    # Mail them an invitation to choose their password (only without `password`): a link
    # to the console's password page, good once for 7 days. Refused, creating nothing,
    # when this server sends no email (AISONAR_SMTP_URL unset).
    invite: bool = False
    # The language the console, notices and the invitation speak to them in; by default
    # the inviter's when `invite` is set, else English.
    language: Language | None = None


class UserChange(BaseModel):
    model_config = _STRICT
    name: NameText | None = None
    role: Role | None = None
    # True stops the user's keys, tokens and sessions; false lets them back in.
    disabled: bool | None = None
    # Operators only, at once, unconfirmed: every session of the user ends, and both the
    # previous and the new address are told. People change their own with
    # `POST /api/me/email`.
    email: EmailText | None = None


class OrgChange(BaseModel):
    model_config = _STRICT
    plan: Plan | None = None
    # Names or `*` patterns its keys may use; an empty list is refused, null lifts it.
    models: list[str] | None = None
    # Credits ("5.00"); "0" turns the low-balance notice off.
    low_balance_threshold: Threshold | None = None
    # Its own raw-usage retention in days; null returns it to its plan's.
    retention_days: RetentionDays | None = None
    # The custom properties (at most 5) to roll its usage up by; [] or null: none. A newly
    # marked one's rollups are built from the raw events kept.
    dimension_properties: list[str] | None = None


class KeyOut(BaseModel):
    id: str
    user_id: str
    org_id: str
    name: str
    display_prefix: str
    models: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    # Addresses (CIDR) it may be used from; null is anywhere.
    allowed_ips: list[str] | None
    # After a rotation: until when the previous secret still works.
    previous_valid_until: datetime | None
    # all: the gateway and ingestion; ingest: only reporting usage.
    scope: KeyScope

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        fields = vars(key) | {
            "models": None if key.models is None else list(key.models),
            "allowed_ips": None if key.allowed_ips is None else list(key.allowed_ips),
        }
        return cls(**fields)


class KeyCreate(BaseModel):
    model_config = _STRICT
    name: str = Field(default="", max_length=200)
    # Models (names) the key may use; null is every model its organization allows.
    models: list[str] | None = None
    expires_at: datetime | None = None
    # Addresses or CIDR blocks it may be used from; null is anywhere.
    allowed_ips: list[str] | None = None
    # ingest: a key that can only report usage (`/api/ingest/events`, `/v1/traces`).
    scope: KeyScope = KeyScope.ALL


class KeyRotate(BaseModel):
    model_config = _STRICT
    # How long the current secret keeps working beside the new one (0 to 30 days).
    grace_s: GraceSeconds = 3600


class KeyAllowedIps(BaseModel):
    model_config = _STRICT
    allowed_ips: list[str] | None


class KeyCreated(KeyOut):
    # Shown once: it is stored only as a hash.
    secret: str


class TokenOut(BaseModel):
    id: str
    user_id: str
    name: str
    display_prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: AccessToken) -> TokenOut:
        return cls(**vars(token))


class TokenCreate(BaseModel):
    model_config = _STRICT
    name: str = Field(default="", max_length=200)
    expires_at: datetime | None = None


class TokenCreated(TokenOut):
    secret: str

"""Settings: the only reader of the environment (`AISONAR_*`) and of the optional TOML file."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Literal, TypedDict
from urllib.parse import unquote

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SECRET = "change-me"
# The tenant labels `metrics_tenant_labels` may name, in the order they are added.
TENANT_LABELS = ("org", "user", "key")
_MIN_SECRET_LENGTH = 32


class EngineOptions(TypedDict):
    pool_size: int
    max_overflow: int
    pgbouncer: bool


# One server, a Redis Cluster, or the master Sentinels name (`store/redis_client.py`).
REDIS_SCHEMES = (
    "redis://",
    "rediss://",
    "unix://",
    "redis+cluster://",
    "rediss+cluster://",
    "redis+sentinel://",
    "rediss+sentinel://",
)


class InsecureSettings(Exception):
    """Raised when production settings would be unsafe."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AISONAR_", extra="ignore")

    env: Literal["development", "production"] = "development"
    data_dir: Path = Path("aisonar-data")
    database_url: str = ""
    # PostgreSQL at scale (docs/scale-out.md): the connections each server process keeps
    # open, and opens beyond them under load; whether AISONAR_DATABASE_URL is PgBouncer
    # (or another pooler) in transaction mode, so that no prepared statement is reused;
    # and a read-only replica that analytics and exports read (empty: the database).
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pgbouncer: bool = False
    database_read_url: str = ""
    secret_key: str = ""
    # During a rotation of AISONAR_SECRET_KEY (`aisonar secret rotate`): the key it
    # replaces, still accepted for opening secrets sealed under it, never for sealing.
    secret_key_previous: str = ""
    config_file: Path | None = None

    host: str = "127.0.0.1"
    port: int = 8400
    log_level: str = "info"
    # TLS served by `aisonar serve` itself (PEM files; the key may sit in the certificate's
    # file), and the oldest version it accepts: 1.3, or 1.2 when the operator allows it.
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    tls_min_version: Literal["1.2", "1.3"] = "1.3"

    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    # A connection that has not sent a whole request head (request line and headers) this
    # long after opening, or after the first byte of its next request, is closed (slowloris).
    request_head_timeout_s: float = Field(default=30.0, gt=0)
    # How long a connection may idle between requests. Longer than the idle timeouts of
    # clients' pools and load balancers (httpx 5 s, aiohttp 15 s, AWS ALB 60 s), so that
    # they close first: a server closing first races a client reusing the connection,
    # whose request then meets a reset.
    keep_alive_s: float = Field(default=75.0, gt=0)
    upstream_connect_timeout_s: float = Field(default=10.0, gt=0)
    upstream_total_timeout_s: float = Field(default=600.0, gt=0)
    upstream_max_connections: int = Field(default=1000, gt=0)
    # Until the response headers of a whole answer, or the first chunk of a stream.
    upstream_first_byte_timeout_s: float = Field(default=300.0, gt=0)
    # Channels tried for one request at most (each channel once).
    failover_max_attempts: int = Field(default=3, ge=1, le=10)
    # The circuit breaker takes a channel out of rotation when, within the window, it had
    # at least `min_requests` requests and `failure_percent` of them failed, not counting
    # the failures a request may have provoked (5xx, timeouts) of the `min_keys - 1` keys
    # with the most; then its first cooldown (doubled at each new opening) and the
    # longest one, and how often channels whose cooldown ended are probed.
    channel_breaker_window_s: float = Field(default=60.0, gt=0)
    channel_breaker_min_requests: int = Field(default=5, ge=1)
    channel_breaker_failure_percent: int = Field(default=50, ge=1, le=100)
    channel_breaker_min_keys: int = Field(default=2, ge=1)
    channel_cooldown_s: float = Field(default=5.0, gt=0)
    channel_max_cooldown_s: float = Field(default=300.0, gt=0)
    channel_probe_interval_s: float = Field(default=1.0, gt=0)
    # When the limit store (Redis) cannot be reached: admit requests without their rate
    # limits (true), or refuse them with 503 (false).
    rate_limits_fail_open: bool = True
    # The same for spend quotas: admit requests without their quotas (true), or refuse
    # them with 503 (false, the default: money is not spent on a guess).
    spend_quotas_fail_open: bool = False
    # Password sign-in: how long a session lasts, and the failed sign-ins allowed within
    # the window before sign-in is refused with 429: to one account from one address, from
    # one address to any accounts, and to one account from everywhere (a ceiling that
    # refuses only the addresses that failed on the account, so no one can lock out its
    # person from elsewhere).
    session_lifetime_s: int = Field(default=12 * 3600, gt=0)
    signin_failures_per_account_ip: int = Field(default=5, gt=0)
    signin_failures_per_ip: int = Field(default=20, gt=0)
    signin_failures_per_account: int = Field(default=20, gt=0)
    signin_failure_window_s: float = Field(default=900.0, gt=0)
    # Self-service sign-up (an organization on the Free plan and its admin), and how many
    # sign-ups one address may make per hour.
    signup_enabled: bool = False
    signups_per_ip_per_hour: int = Field(default=5, gt=0)
    # Requests to change one's email address (each mails a code to the new address, and
    # checks the password) one person may make per hour.
    email_changes_per_hour: int = Field(default=5, gt=0)
    # Forgotten-password resets (each may mail a token) asked for one address, and from
    # one client address, per hour.
    password_resets_per_hour: int = Field(default=3, gt=0)
    password_resets_per_ip_per_hour: int = Field(default=20, gt=0)
    # How long after proving their password (signing in, or `POST
    # /api/session/reauthenticate`) a signed-in person may make the most sensitive changes.
    reauth_window_s: int = Field(default=600, gt=0)
    # Where people reach this server (e.g. https://sonar.example.com), for links in
    # emails; empty: emails give the path and the token instead of a link.
    public_url: str = ""
    # Personal data exports (each reads all of someone's records) one person may ask the
    # management API for per hour.
    exports_per_hour: int = Field(default=5, gt=0)
    # Support messages (opening a request counts as one) one person may write per hour.
    support_messages_per_hour: int = Field(default=30, gt=0)

    # Account deletion: who approves requests besides operators (`org_admin`: also the
    # admins of the person's organization), and how long after approval the personal data
    # is erased (0: at once; at most 30 days, the promise made to the person).
    deletion_approval: Literal["operator", "org_admin"] = "operator"
    deletion_erasure_delay_hours: float = Field(default=0.0, ge=0, le=30 * 24)
    # How often each server looks for approved requests that are due.
    deletion_interval_s: float = Field(default=300.0, gt=0)

    # Email notices: the SMTP server (smtp://user:password@host:port, upgraded with STARTTLS
    # when offered, or smtps:// for TLS from the start) and the From address. No URL, no
    # email; the inbox and webhooks still work.
    smtp_url: str = ""
    smtp_from: str = "AI Sonar <noreply@localhost>"
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    # Webhooks: how long an endpoint has to answer, and whether endpoints may sit on private
    # networks (loopback, 10/8, link-local ...), which is refused unless set.
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_allow_private_networks: bool = False
    # Email and webhook deliveries: attempts in all, the pause after the first failure (five
    # times longer after each next one) and the longest pause; and how often to look for work.
    notify_max_attempts: int = Field(default=8, ge=1)
    notify_retry_first_s: float = Field(default=10.0, gt=0)
    notify_retry_max_s: float = Field(default=6 * 3600.0, gt=0)
    notify_poll_interval_s: float = Field(default=1.0, gt=0)
    # Keys expiring within this many days get a notice (once).
    key_expiry_notice_days: int = Field(default=7, ge=1)
    # How often each server evaluates the alert rules (servers sharing a database notify
    # each change of state once).
    alert_interval_s: float = Field(default=60.0, gt=0)
    # Abuse detection (docs/abuse.md): on, the gateway counts refused keys per address and
    # each server looks for shared keys, key scans and stuffing runs every interval; the
    # floors below which no signal fires, whatever the baseline.
    abuse_detection: bool = True
    abuse_interval_s: float = Field(default=30.0, gt=0)
    abuse_key_addresses_floor: int = Field(default=20, ge=2)
    abuse_key_networks_floor: int = Field(default=8, ge=2)
    abuse_key_refusals_floor: int = Field(default=30, ge=2)
    abuse_sign_in_accounts_floor: int = Field(default=10, ge=2)
    # Velocity: a key's requests, or its spend in whole credits, within ten minutes.
    abuse_velocity_requests_floor: int = Field(default=100, ge=2)
    abuse_velocity_spend_floor: int = Field(default=5, ge=1)
    # A model is expensive from this output price on, whole credits per million tokens.
    abuse_expensive_output_price: int = Field(default=30, ge=1)
    # Sign-ups from one network (/24, /48) within an hour.
    abuse_sign_ups_floor: int = Field(default=10, ge=2)

    # Retention: raw usage events follow their plan (or organization); minute rollups and
    # hour and day rollups are kept these many days. A run every `retention_interval_s`
    # deletes in batches of `retention_batch_size`, pausing `retention_pause_s` between.
    minute_rollup_retention_days: int = Field(default=30, ge=1)
    rollup_retention_days: int = Field(default=730, ge=1)
    retention_interval_s: float = Field(default=3600.0, gt=0)
    retention_batch_size: int = Field(default=5000, gt=0)
    retention_pause_s: float = Field(default=0.05, ge=0)
    # How often hour and day rollups are rebuilt from the minutes (summaries read the
    # minutes not covered yet, so this bounds how many they read, not how fresh they are).
    rollup_compaction_interval_s: float = Field(default=60.0, gt=0)
    usage_batch_size: int = Field(default=1000, gt=0)
    usage_flush_interval_s: float = Field(default=0.25, gt=0)
    usage_queue_size: int = Field(default=100_000, gt=0)
    cache_poll_interval_s: float = Field(default=0.25, gt=0)
    redis_url: str = ""
    # Off: requests are priced and recorded but no balance is held or charged
    # (monitoring-only deployments, and the benchmark's billing-off baseline).
    billing_enabled: bool = True
    ledger_flush_interval_s: float = Field(default=0.25, gt=0)
    default_max_output_tokens: int = Field(default=32_768, gt=0)
    currency: str = "USD"
    payment_webhook_secret: str = ""
    redeem_failures_per_hour: int = Field(default=10, gt=0)
    key_cache_size: int = Field(default=100_000, gt=0)
    # On SIGTERM/SIGINT: how long in-flight requests may run before they are cut off.
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    # The reverse proxies in front of the server (addresses or networks, comma separated;
    # `*`: any): their X-Forwarded-For and X-Forwarded-Proto name the client and the
    # scheme, and only through them is `country_header` believed.
    trusted_proxies: str = "127.0.0.1"

    # Site analytics (the console's page views, with consent): the header a trusted proxy
    # puts the visitor's country in (ISO 3166 alpha-2, e.g. CF-IPCountry; empty: no
    # country), the path prefixes of the pages counted (comma separated), and the page
    # views one address may report per minute.
    country_header: str = ""
    site_analytics_paths: str = "/"
    site_pageviews_per_ip_per_minute: int = Field(default=60, gt=0)

    # Tenant labels on the request and cost metrics: any of org, user, key (comma
    # separated). Off by default: each adds a series per tenant.
    metrics_tenant_labels: str = ""
    # The bearer token `/metrics` asks for; empty: it answers only on the loopback address.
    metrics_token: str = ""
    # OTLP/HTTP export of each request's span and of the metrics (e.g.
    # http://collector:4318); empty: nothing of OpenTelemetry is started. Headers are
    # `name=value` pairs, comma separated, as OTEL_EXPORTER_OTLP_HEADERS.
    otlp_endpoint: str = ""
    otlp_headers: str = ""
    otlp_metrics_interval_s: float = Field(default=60.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        config_file = os.environ.get("AISONAR_CONFIG_FILE")
        if config_file:
            sources += (TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)),)
        return sources

    @field_validator("metrics_tenant_labels")
    @classmethod
    def _known_tenant_labels(cls, value: str) -> str:
        unknown = set(split_list(value)) - set(TENANT_LABELS)
        if unknown:
            raise ValueError(f"unknown tenant labels {sorted(unknown)}: use {TENANT_LABELS}")
        return value

    @field_validator("otlp_headers")
    @classmethod
    def _well_formed_headers(cls, value: str) -> str:
        otlp_header_pairs(value)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        for item in split_list(value):
            if item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError as error:
                    raise ValueError(f"{item!r} is not an address or a network") from error
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if value and not value.startswith(REDIS_SCHEMES):
            raise ValueError(f"give a URL starting with one of {', '.join(REDIS_SCHEMES)}")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("give an http:// or https:// URL, or nothing")
        return value.rstrip("/")

    @field_validator("site_analytics_paths")
    @classmethod
    def _absolute_paths(cls, value: str) -> str:
        prefixes = split_list(value)
        if not prefixes or not all(prefix.startswith("/") for prefix in prefixes):
            raise ValueError("give one or more path prefixes, each starting with /")
        return value

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.env == "production" and (
            not self.secret_key
            or self.secret_key == DEFAULT_SECRET
            or len(self.secret_key) < _MIN_SECRET_LENGTH
        ):
            raise InsecureSettings(
                "AISONAR_SECRET_KEY must be set to a random value of at least "
                f"{_MIN_SECRET_LENGTH} characters in production"
            )
        return self

    @model_validator(mode="after")
    def _key_with_its_certificate(self) -> Settings:
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("AISONAR_SSL_KEYFILE needs AISONAR_SSL_CERTFILE")
        return self

    @property
    def tenant_labels(self) -> tuple[str, ...]:
        chosen = set(split_list(self.metrics_tenant_labels))
        return tuple(label for label in TENANT_LABELS if label in chosen)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'aisonar.db').resolve()}"

    @property
    def resolved_read_database_url(self) -> str:
        """Where analytics and exports read: the replica, else the database."""
        if self.database_read_url:
            return normalize_database_url(self.database_read_url)
        return self.resolved_database_url

    def engine_options(self) -> EngineOptions:
        """How this process connects to PostgreSQL (`store.engine.create_engine`)."""
        return EngineOptions(
            pool_size=self.database_pool_size,
            max_overflow=self.database_max_overflow,
            pgbouncer=self.database_pgbouncer,
        )

    def make_data_dir(self) -> None:
        """The data directory, created readable by this service's user only when missing
        (one made by the operator keeps its mode)."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def resolved_secret_key(self) -> str:
        """The configured secret or, in development, one kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.make_data_dir()
        value = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(value)
        return value


def normalize_database_url(url: str) -> str:
    """Pick the async driver for a plain `postgresql://` or `sqlite://` URL."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def split_list(value: str) -> list[str]:
    """The items of a comma-separated setting, stripped, empty ones left out."""
    return [item.strip() for item in value.split(",") if item.strip()]


def otlp_header_pairs(value: str) -> dict[str, str]:
    """`name=value,name2=value2` (values URL-encoded) as a dict; a pair without `=` is
    refused."""
    pairs: dict[str, str] = {}
    for item in split_list(value):
        name, equals, header = item.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"OTLP header {item!r} is not name=value")
        pairs[name.strip()] = unquote(header.strip())
    return pairs

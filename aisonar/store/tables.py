"""Table definitions (SQLAlchemy Core). Migrations in `migrations/` create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)

# People's rights and the operator's documents, and abuse detection, are in modules of
# their own; every table is importable from here.
from aisonar.store.abuse_tables import abuse_findings, abuse_tallies
from aisonar.store.attribution_tables import attribution_rollups
from aisonar.store.metadata import metadata
from aisonar.store.privacy_tables import (
    consents,
    deletion_requests,
    password_resets,
    policies,
    policy_acknowledgements,
    site_page_views,
    support_messages,
    support_requests,
)
from aisonar.store.rollup_columns import HISTOGRAM_BUCKETS, ROLLUP_DIMENSIONS, ROLLUP_SUMS

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("plan", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The sum of the organization's ledger entries, kept in the same transaction as each
    # append so it can be read without summing; tests check the two agree.
    Column("balance", BigInteger, nullable=False, server_default="0"),
    # Parts per million on top of the plan's markup; null is 1x.
    Column("markup_ppm", BigInteger),
    # Crossing below it emits a notice (1.00 credit unless the operator sets another).
    Column("low_balance_threshold", BigInteger, nullable=False, server_default="1000000"),
    # The models (names or `*` patterns) its keys may use; null is every model.
    Column("models", JSON),
    # Its own raw-usage retention in days (Enterprise); null follows its plan.
    Column("retention_days", Integer),
    # The custom properties its usage is rolled up by (`attribution_rollups`), as a JSON
    # list of names; null is none.
    Column("dimension_properties", JSON),
)

plans = Table(
    "plans",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("markup_ppm", BigInteger, nullable=False, server_default="1000000"),
    # Days raw usage events of its organizations are kept (rollups and the ledger longer).
    Column("retention_days", Integer, nullable=False, server_default="90"),
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("password_hash", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
    # The language notices and the console speak to them in.
    Column("language", String(16), nullable=False, server_default="en"),
    # The company they work for, as they gave it (sign-up, `PATCH /api/me`); erased with them.
    Column("company", String(200)),
    # The newest notice they marked read: those after it are unread.
    Column("notices_read_through", Integer),
)

# What a user chose not to receive, by notice kind and channel; anything absent is on.
# Security notices cannot be turned off.
notice_opt_outs = Table(
    "notice_opt_outs",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("channel", String(16), primary_key=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("display_prefix", String(32), nullable=False),
    Column("models", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    # After a rotation the previous secret's hash, accepted until `previous_valid_until`.
    Column("previous_key_hash", String(64), unique=True),
    Column("previous_valid_until", DateTime(timezone=True)),
    # Addresses (CIDR) the key may be used from; null is anywhere.
    Column("allowed_ips", JSON),
    # When its owner was told it expires soon (once per key).
    Column("expiry_noticed_at", DateTime(timezone=True)),
    # all: the gateway and ingestion; ingest: only reporting usage (accounts/keys.py).
    Column("scope", String(16), nullable=False, server_default="all"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("provider", String(32), nullable=False),
    Column("base_url", String(2000), nullable=False),
    Column("api_key_encrypted", Text, nullable=False),
    Column("models", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("weight", Integer, nullable=False, server_default="1"),
    # Seconds; null takes the server's setting.
    Column("timeout_connect_s", Float),
    Column("timeout_first_byte_s", Float),
    Column("timeout_total_s", Float),
    # The provider's own settings ({"api_version": ...}); null: none (channels/options.py).
    Column("options", JSON),
)

# Every administrative and security action, appended in the transaction of the change;
# never updated. `changes` holds {field: [before, after]}, never a secret.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("actor_user_id", String(32)),
    Column("ip", String(64)),
    Column("action", String(64), nullable=False),
    Column("object_kind", String(32), nullable=False),
    Column("object_id", String(64), nullable=False),
    Column("org_id", String(32)),
    Column("changes", JSON, nullable=False),
    Index(None, "org_id", "id"),
    Index(None, "at"),
)

# Password sign-in sessions: the cookie's secret stored as a SHA-256 hash.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ip", String(64)),
    Column("ended_at", DateTime(timezone=True)),
    # When its person last proved their password in it (signing in, re-authenticating):
    # the most sensitive changes need that to be recent.
    Column("authenticated_at", DateTime(timezone=True), nullable=False),
)

# Personal access tokens for the management API: shown once, stored as a SHA-256 hash.
access_tokens = Table(
    "access_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("display_prefix", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

usage_events = Table(
    "usage_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("org_id", String(32)),
    Column("user_id", String(32)),
    Column("key_id", String(32)),
    Column("client_ip", String(64)),
    Column("endpoint", String(64), nullable=False),
    Column("requested_model", String(200)),
    Column("upstream_model", String(200)),
    Column("channel_id", String(32)),
    Column("stream", Boolean, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("error_type", String(64)),
    Column("error_message", String(500)),
    Column("input_tokens", BigInteger, nullable=False),
    Column("cached_input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("cache_write_tokens", BigInteger, nullable=False, server_default="0"),
    Column("tokens_estimated", Boolean, nullable=False),
    Column("cost", BigInteger, nullable=False, server_default="0"),
    Column("price_version", String(64)),
    Column("latency_ms", Integer, nullable=False),
    Column("ttft_ms", Integer),
    # Null when the first channel tried answered; else every attempt in order:
    # [{"channel_id", "outcome", "latency_ms"}, ...], the last one the answering channel's.
    Column("attempts", JSON),
    # Null when no rate limit applies to the key; else "admitted", "refused: <limit>" or
    # "unchecked: <why>" (the limit store could not be reached and limits fail open).
    Column("limit_decision", String(300)),
    # The upstream's provider (openai, anthropic, gemini, ...), when one was reached.
    Column("provider", String(32)),
    # gateway: a request through the gateway; ingest or otel: reported by an application
    # (usage events, or OpenTelemetry GenAI spans).
    Column("source", String(16), nullable=False, server_default="gateway"),
    # What an application reported with an ingested event: its own id for the event (the
    # stored id is derived from it and the organization).
    Column("external_id", String(200)),
    # Attribution (gateway/attribution.py, or as reported): the end user, custom
    # properties (a flat JSON object) and the session.
    Column("end_user", String(200)),
    Column("properties", JSON),
    Column("session_id", String(128)),
    Index(None, "org_id", "started_at"),
    Index(None, "org_id", "end_user", "started_at"),
    Index(None, "org_id", "session_id", "started_at"),
    Index(None, "user_id", "started_at"),
    Index(None, "key_id", "started_at"),
    Index(None, "started_at"),
)

# Each combination of dimensions usage is summed by, once; a dimension a request lacks is
# "" so that the combination is unique.
rollup_dimensions = Table(
    "rollup_dimensions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *(
        Column(name, String(200 if name == "model" else 32), nullable=False)
        for name in ROLLUP_DIMENSIONS
    ),
    UniqueConstraint(*ROLLUP_DIMENSIONS, name="uq_rollup_dimensions_combination"),
    Index(None, "org_id"),
)

# Usage summed per minute, hour and day (granularity in seconds) and combination of
# dimensions (a star: the narrow key keeps each batch's upserts cheap). The organization
# is repeated here so that its queries read one range of the primary key.
usage_rollups = Table(
    "usage_rollups",
    metadata,
    Column("granularity", Integer, primary_key=True),
    Column("org_id", String(32), primary_key=True),
    Column("bucket_start", DateTime(timezone=True), primary_key=True),
    Column("dimensions_id", Integer, primary_key=True),
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in ROLLUP_SUMS),
    Index(None, "granularity", "bucket_start"),
)

# One row: the hour and day rollups hold the sums of every minute before
# `compacted_through`, and only those; the minutes from it on are read for the rest
# (`usage/compaction.py`).
rollup_compaction = Table(
    "rollup_compaction",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("compacted_through", DateTime(timezone=True), nullable=False),
)

# Every change to keys, users, organizations or channels appends a row here; each
# running server polls it to drop stale cache entries within a fraction of a second.
change_log = Table(
    "change_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


# Append-only: every movement of money, in micro-units. Nothing updates or deletes a row.
# The ledger's payment entries, as a literal: a query finds them by the partial index
# only when its condition holds this very text (a bound pattern would not match it).
PAYMENT_KEYS = text("idempotency_key LIKE 'payment:%'")
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("reference", String(200)),
    Column("idempotency_key", String(200)),
    Column("request_id", String(40)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "org_id", "id"),
    Index(None, "org_id", "idempotency_key", unique=True),
    # A payment event credits once, whichever organization it names.
    Index(
        "ix_ledger_entries_payment_key",
        "idempotency_key",
        unique=True,
        sqlite_where=PAYMENT_KEYS,
        postgresql_where=PAYMENT_KEYS,
    ),
)

# Operator prices; the newest row for a model wins and its id is the price version.
model_prices = Table(
    "model_prices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(200), nullable=False, index=True),
    Column("input", BigInteger, nullable=False),
    Column("cached_input", BigInteger, nullable=False),
    Column("cache_write", BigInteger, nullable=False),
    Column("output", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


# Codes are stored only as hashes; redeeming one is a single conditional UPDATE.
redemption_codes = Table(
    "redemption_codes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("batch", String(32), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("redeemed_at", DateTime(timezone=True)),
    Column("redeemed_by_org", String(32)),
    Column("redeemed_by_user", String(32)),
)

# Events for people (low balance, key created, ...): the in-app inbox, and the source of
# email and webhook deliveries.
notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False),
    Column("user_id", String(32)),
    Column("kind", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # When the notifier turned it into email and webhook deliveries; null until then.
    Column("dispatched_at", DateTime(timezone=True)),
    # The channels it goes out by: all of them, but for an alert rule's notices, which go
    # by the rule's.
    Column("by_email", Boolean, nullable=False, server_default=true()),
    Column("by_webhook", Boolean, nullable=False, server_default=true()),
    Column("to_inbox", Boolean, nullable=False, server_default=true()),
    Index(None, "org_id", "created_at"),
    Index(None, "dispatched_at", "id"),
)

# Where an organization's notices are POSTed, signed with the endpoint's secret (sealed at
# rest, as channel keys are). A deleted endpoint stays for its delivery log.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("url", String(2048), nullable=False),
    Column("secret", String(300), nullable=False),
    # The notice kinds it receives; null is every kind.
    Column("kinds", JSON),
    Column("description", String(200), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
)

# One notice on its way to one mailbox (email: user_id) or endpoint (webhook), with its
# retries; the webhook delivery log reads them.
notice_deliveries = Table(
    "notice_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", Integer, ForeignKey("notices.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("user_id", String(32)),
    Column("endpoint_id", String(32), ForeignKey("webhook_endpoints.id")),
    # An email sent elsewhere than to the user's current address: the address an
    # `email_changed` notice also tells.
    Column("address", String(320)),
    # pending, delivered or failed (out of attempts).
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    # A sender owns a pending delivery until then; another may take it over after.
    Column("leased_until", DateTime(timezone=True)),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "status", "next_attempt_at"),
    Index(None, "endpoint_id", "id"),
)

# Rate limits and spend quotas per plan (by name), organization, user or key (by id);
# null is no limit at that level. Spend caps are micro-units per UTC day and month.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("subject_kind", String(16), primary_key=True),
    Column("subject_id", String(32), primary_key=True),
    Column("rpm", Integer),
    Column("tpm", Integer),
    Column("concurrent", Integer),
    Column("daily_spend", BigInteger),
    Column("monthly_spend", BigInteger),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# An organization's alert rules: a condition on its usage (cost, error rate, a latency
# percentile over a window) or its balance, ok or firing. Each change of state bumps
# `revision`, as does every edit, so servers evaluating at once change it once.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False, server_default=""),
    # cost, error_rate, latency, ttft or balance.
    Column("kind", String(16), nullable=False),
    # Micro-credits (cost, balance), millionths (error_rate) or milliseconds (latency, ttft).
    Column("threshold", BigInteger, nullable=False),
    Column("window_s", Integer),
    Column("percentile", String(3)),
    Column("min_requests", Integer),
    Column("model", String(200)),
    Column("source", String(16)),
    Column("enabled", Boolean, nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_changed_at", DateTime(timezone=True), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Only this end user's usage counts, or only that with this custom property's value.
    Column("end_user", String(200)),
    Column("property_name", String(64)),
    Column("property_value", String(256)),
    # The channels its notices go by: email, inbox and webhook, or some of them.
    Column(
        "channels", JSON, nullable=False, server_default=text("""'["email", "inbox", "webhook"]'""")
    ),
    Index(None, "enabled", "id"),
)

# Each time an alert rule fired: what was measured against which threshold, when it
# resolved (null while it fires), and the notices that told of both, whose deliveries say
# whom they reached. Kept as long as the organization's usage events.
alert_firings = Table(
    "alert_firings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", String(32), ForeignKey("alert_rules.id"), nullable=False),
    Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False),
    Column("fired_at", DateTime(timezone=True), nullable=False),
    # The measure and the threshold as the notice showed them, in the rule's unit.
    Column("observed", String(40), nullable=False),
    Column("threshold", String(40), nullable=False),
    Column("channels", JSON, nullable=False),
    Column("fired_notice_id", Integer, ForeignKey("notices.id"), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_observed", String(40)),
    # Null when it resolved without a notice (the rule was turned off).
    Column("resolved_notice_id", Integer, ForeignKey("notices.id")),
    Index(None, "rule_id", "id"),
    Index(None, "org_id", "fired_at"),
)

# A person's pending change of email address (one at most: a new request replaces it):
# the new address, and the hash of the code mailed to it that confirms the change.
email_changes = Table(
    "email_changes",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

__all__ = [
    "HISTOGRAM_BUCKETS",
    "ROLLUP_DIMENSIONS",
    "ROLLUP_SUMS",
    "abuse_findings",
    "abuse_tallies",
    "attribution_rollups",
    "consents",
    "deletion_requests",
    "metadata",
    "password_resets",
    "policies",
    "policy_acknowledgements",
    "site_page_views",
    "support_messages",
    "support_requests",
]

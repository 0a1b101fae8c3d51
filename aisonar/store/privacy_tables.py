"""The tables of people's rights and the operator's documents: deletion requests,
support requests, policies with their acknowledgements, consents, password resets, and
the aggregated site analytics. Part of `tables.metadata`; `tables` re-exports them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from aisonar.store.metadata import metadata

# A person's request to have their account deleted (`privacy/`): requested (the account is
# disabled at once), then approved or rejected with a reason, then completed once the
# personal data is erased; the receipt says what was erased and what was kept, and why.
deletion_requests = Table(
    "deletion_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    # What the person said, if anything; erased with the rest.
    Column("reason", String(500)),
    # requested, approved, rejected or completed.
    Column("status", String(16), nullable=False),
    Column("decided_by", String(320)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", String(500)),
    # Approved: erased from then on (the decision plus the configured delay).
    Column("erase_after", DateTime(timezone=True)),
    # A server erasing it owns it until a while after this (a crash mid-way is retried).
    Column("erasure_started_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    # When the erased bytes were also gone from the database's files (privacy/storage.py).
    Column("storage_compacted_at", DateTime(timezone=True)),
    Column("receipt", JSON),
    Index(None, "status", "erase_after"),
)

# A person's support request and its conversation with the operators (`support/`): only
# the person and the operators read it, not their organization's admins. Erased with the
# person.
support_requests = Table(
    "support_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("subject", String(200), nullable=False),
    # open or closed.
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The last message or change of status.
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Index(None, "user_id", "updated_at"),
    Index(None, "status", "updated_at"),
)

support_messages = Table(
    "support_messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("request_id", String(32), ForeignKey("support_requests.id"), nullable=False),
    # Who wrote it: the person (user) or an operator; none for the command line.
    Column("author_user_id", String(32), ForeignKey("users.id")),
    Column("author_role", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "request_id", "created_at"),
)

# The operator's privacy policy and terms, one row per published version (`privacy/`):
# the current one of a kind is its highest version. A material change asks everyone to
# acknowledge it again.
policies = Table(
    "policies",
    metadata,
    Column("id", String(32), primary_key=True),
    # privacy or terms.
    Column("kind", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    # Markdown.
    Column("body", Text, nullable=False),
    Column("material", Boolean, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    # Who published it (an email, `command line`); an erased operator's becomes anonymous.
    Column("published_by", String(320), nullable=False),
    # SHA-256 of the body, hex.
    Column("digest", String(64), nullable=False),
    # A material version's announcement: the last person (by id) told so far, and when
    # everyone was (privacy/policies.py resumes an announcement a server left half done).
    Column("announced_through", String(32)),
    Column("announced_at", DateTime(timezone=True)),
    UniqueConstraint("kind", "version"),
)

# That a person read a version of a policy (or accepted the terms at sign-up), and when.
policy_acknowledgements = Table(
    "policy_acknowledgements",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("policy_id", String(32), ForeignKey("policies.id"), primary_key=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=False),
)

# Each choice a person made about a purpose (analytics), or declared at sign-up (terms,
# age), appended and never changed: the latest entry of a purpose is their current choice.
consents = Table(
    "consents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("granted", Boolean, nullable=False),
    # The policy in force when the choice was made (the privacy policy; the terms for
    # their acceptance); null when none was published.
    Column("policy_id", String(32), ForeignKey("policies.id")),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # api or signup.
    Column("source", String(16), nullable=False),
    Index(None, "user_id", "purpose", "id"),
)

# The console's page views, counted with the visitor's consent: aggregates only, one row
# per day and combination, with no address, person or cookie in it (an empty string
# where a dimension is unknown, so that every combination has one key).
site_page_views = Table(
    "site_page_views",
    metadata,
    Column("day", Date, primary_key=True),
    Column("path", String(200), primary_key=True),
    Column("referrer_domain", String(253), primary_key=True),
    Column("browser_family", String(64), primary_key=True),
    Column("device_type", String(16), primary_key=True),
    Column("country", String(2), primary_key=True),
    Column("views", BigInteger, nullable=False),
)

# A token mailed to a person to set their password, by `purpose`: `reset`, a forgotten
# password asked for by email (good once, for an hour), or `invitation`, a new member's
# first password (good once, for 7 days). Only the hash is kept; a newer token of the
# same purpose deletes the person's unused ones. `requested_ip`: where the request (the
# reset's, or the inviter's) came from.
password_resets = Table(
    "password_resets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("requested_ip", String(64)),
    Column("purpose", String(16), nullable=False, server_default="reset"),
)

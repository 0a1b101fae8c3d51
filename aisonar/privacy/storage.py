"""Making erased bytes unreadable in the database's files, after an erasure committed.

SQLite zeroes freed space itself (`secure_delete`), but its write-ahead log keeps old
page images until it is checkpointed and truncated. PostgreSQL's plain VACUUM leaves old
tuple bytes in the pages and their indexes, so the tables that held the person are
rewritten (VACUUM FULL; it locks each for the seconds the rewrite takes), and of the
usage events only the day partitions holding theirs.

Either way a transaction older than the erasure keeps the old rows alive: SQLite cannot
truncate the log past its snapshot, and PostgreSQL copies rows such a transaction may
still see into the rewritten table (on PostgreSQL, a writing transaction in any database
of the server counts). So compaction waits a little for those to end, and otherwise
reports that it could not be done yet; the erasure job tries again on its next round
until it is. Old WAL segments of PostgreSQL keep the bytes until they are recycled and
overwritten; backups follow the operator's own retention."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import String, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.clock import as_utc, utcnow
from aisonar.store.engine import BUSY_TIMEOUT_MS
from aisonar.store.tables import (
    abuse_findings,
    access_tokens,
    api_keys,
    attribution_rollups,
    audit_log,
    consents,
    deletion_requests,
    email_changes,
    notice_deliveries,
    notice_opt_outs,
    notices,
    password_resets,
    policies,
    policy_acknowledgements,
    rate_limits,
    sessions,
    support_messages,
    support_requests,
    usage_events,
    users,
)

# Every table that held the person's data but the usage events (rewritten by partition);
# the attribution rollups named their requests' end users.
ERASED_TABLES = (
    users,
    attribution_rollups,
    audit_log,
    notices,
    notice_deliveries,
    sessions,
    access_tokens,
    email_changes,
    notice_opt_outs,
    api_keys,
    rate_limits,
    deletion_requests,
    support_requests,
    support_messages,
    policy_acknowledgements,
    consents,
    policies,
    password_resets,
    abuse_findings,
)
_ATTEMPTS = 25
_PAUSE_S = 0.2
_CHECKPOINT_BUSY_MS = 50
# Transactions begun before the erasure committed, which may still see what it erased: a
# writing one anywhere on the server, or any open one in this database.
_OLDER_TRANSACTIONS = text(
    "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
    "AND xact_start < :committed "
    "AND (backend_xid IS NOT NULL OR (datname = current_database() "
    "AND backend_xmin IS NOT NULL))"
)


async def compact_storage(engine: AsyncEngine, user_id: str, committed: datetime) -> bool:
    """Rewrite what held the person's erased data, whose erasure committed before
    `committed`; False when a transaction older than that still holds the old rows after
    a few seconds (try again later)."""
    if engine.dialect.name == "sqlite":
        return await _truncate_wal(engine)
    async with engine.connect() as conn:
        if not await _older_transactions_ended(conn, committed):
            return False
        partitions = await conn.execute(
            select(literal_column("tableoid::regclass::text", String))
            .select_from(usage_events)
            .where(usage_events.c.user_id == user_id)
            .distinct()
        )
        names = [*(table.name for table in ERASED_TABLES), *partitions.scalars()]
        await conn.rollback()
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql(f"VACUUM FULL {', '.join(names)}")
    return True


async def _older_transactions_ended(conn: AsyncConnection, committed: datetime) -> bool:
    for attempt in range(_ATTEMPTS):
        older = await conn.execute(_OLDER_TRANSACTIONS, {"committed": committed})
        found = older.scalar_one()
        await conn.rollback()
        if not found:
            return True
        if attempt + 1 < _ATTEMPTS:
            await asyncio.sleep(_PAUSE_S)
    return False


async def _truncate_wal(engine: AsyncEngine) -> bool:
    """Checkpoint and truncate the WAL; a reader in the middle of a transaction holds it
    back. The checkpoint waits on the connection's busy timeout (ten seconds, for
    writers), shortened meanwhile so that the attempts take about as long as on
    PostgreSQL."""
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f"PRAGMA busy_timeout={_CHECKPOINT_BUSY_MS}")
        try:
            for attempt in range(_ATTEMPTS):
                busy = (await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()[0]
                if not busy:
                    return True
                if attempt + 1 < _ATTEMPTS:
                    await asyncio.sleep(_PAUSE_S)
            return False
        finally:
            await conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


async def server_now(engine: AsyncEngine) -> datetime:
    """The database server's clock, which times PostgreSQL's transactions (SQLite's
    server is this process)."""
    if engine.dialect.name == "sqlite":
        return utcnow()
    async with engine.connect() as conn:
        return as_utc((await conn.execute(text("SELECT clock_timestamp()"))).scalar_one())

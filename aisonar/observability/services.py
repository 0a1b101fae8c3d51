"""Observability's use cases, as the front ends (`api`, `console`, `cli`) call them: what
operators check first, which needs no running server (the version, and whether the
database and Redis answer, with their figures). The front ends import observability from
here, never its other modules; the metrics themselves are the app's and the gateway's."""

from __future__ import annotations

from aisonar.observability.system_status import (
    DatabaseStatus,
    RedisStatus,
    aisonar_version,
    database_status,
    redis_status,
)

__all__ = ["DatabaseStatus", "RedisStatus", "aisonar_version", "database_status", "redis_status"]

"""Usage's use cases, as the front ends (`api`, `console`, `cli`) call them: a person's or
an organization's usage log, page by page, and retention (deleting the usage data past
its window now rather than at the next background run). The front ends import usage from
here (its types from `models`), never its other modules; the use cases live in the
modules named below."""

from __future__ import annotations

from aisonar.usage.log import STATUS_CLASSES, LogPosition, usage_log
from aisonar.usage.retention import RetentionPolicy, RetentionReport, run_retention

__all__ = [
    "STATUS_CLASSES",
    "LogPosition",
    "RetentionPolicy",
    "RetentionReport",
    "run_retention",
    "usage_log",
]

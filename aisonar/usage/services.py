"""Usage's use cases, as the front ends (`api`, `console`, `cli`) call them: a person's or
an organization's usage log, page by page, the custom properties an organization's usage
is rolled up by, and retention (deleting the usage data past
its window now rather than at the next background run). The front ends import usage from
here (its types from `models`), never its other modules; the use cases live in the
modules named below."""

from __future__ import annotations

from aisonar.usage.attribution_rollups import MOST_MARKED, mark_properties
from aisonar.usage.log import STATUS_CLASSES, LogPosition, usage_log
from aisonar.usage.retention import RetentionPolicy, RetentionReport, run_retention

__all__ = [
    "MOST_MARKED",
    "STATUS_CLASSES",
    "LogPosition",
    "RetentionPolicy",
    "RetentionReport",
    "mark_properties",
    "run_retention",
    "usage_log",
]

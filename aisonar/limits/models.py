"""Rate limits and spend quotas as configured: per key, user, organization, and as
defaults per plan; and per end user of an organization's application (one setting, on
the organization, counted for each end user a request names on its own). The narrowest
applicable limits all apply; the tightest one decides."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from enum import Enum, StrEnum

from aisonar.billing.money import MAX_UNITS


class SubjectKind(StrEnum):
    PLAN = "plan"
    ORG = "org"
    USER = "user"
    KEY = "key"
    # Every end user of an organization (the subject's id is the organization's).
    END_USER = "end_user"


# Requests per minute, tokens per minute (input plus output), requests in flight.
COUNT_DIMENSIONS = ("rpm", "tpm", "concurrent")
# Spend caps in micro-units per UTC calendar day and month.
SPEND_DIMENSIONS = ("daily_spend", "monthly_spend")
DIMENSIONS = COUNT_DIMENSIONS + SPEND_DIMENSIONS

# What the columns hold: counts are 32-bit integers, spend caps 64-bit micro-units.
MAX_COUNT = 2**31 - 1
MAX_SPEND = MAX_UNITS


@dataclass(frozen=True)
class Subject:
    """Who a limit is set on: a plan by name, an organization, user or key by id."""

    kind: SubjectKind
    id: str


@dataclass(frozen=True)
class LimitSet:
    """One subject's own limits; None is no limit at that level."""

    rpm: int | None = None
    tpm: int | None = None
    concurrent: int | None = None
    daily_spend: int | None = None
    monthly_spend: int | None = None

    def get(self, dimension: str) -> int | None:
        value: int | None = getattr(self, dimension)
        return value

    def is_empty(self) -> bool:
        return all(self.get(dimension) is None for dimension in DIMENSIONS)

    def items(self) -> Iterator[tuple[str, int]]:
        """The dimensions that have a limit, with it."""
        for dimension in DIMENSIONS:
            value = self.get(dimension)
            if value is not None:
                yield dimension, value


class Clear(Enum):
    """In a change: remove the limit of that dimension."""

    CLEAR = "none"


CLEAR = Clear.CLEAR
Change = int | Clear | None


@dataclass(frozen=True)
class LimitChanges:
    """For each dimension: a new limit, CLEAR to remove it, or None to leave it as is."""

    rpm: Change = None
    tpm: Change = None
    concurrent: Change = None
    daily_spend: Change = None
    monthly_spend: Change = None

    def get(self, dimension: str) -> Change:
        value: Change = getattr(self, dimension)
        return value

    def is_empty(self) -> bool:
        return all(self.get(field.name) is None for field in fields(self))

    def apply(self, current: LimitSet) -> LimitSet:
        values: dict[str, int | None] = {}
        for dimension in DIMENSIONS:
            change = self.get(dimension)
            if change is None:
                values[dimension] = current.get(dimension)
            elif isinstance(change, Clear):
                values[dimension] = None
            else:
                values[dimension] = change
        return LimitSet(**values)


@dataclass(frozen=True)
class AppliedLimits:
    """Limits from one level that apply to a request: those set on `source`, counted
    against `counted` (the same subject, except that a plan's defaults count per
    organization). A plan level holds only the dimensions its organization leaves unset."""

    source: Subject
    counted: Subject
    # The organization's name, the user's email, the key's id or the plan's name.
    label: str
    limits: LimitSet


def end_user_subject(org_id: str, end_user: str) -> Subject:
    """What an end user's requests are counted against: the end user of that organization
    (`spent.py` reads the id back)."""
    return Subject(SubjectKind.END_USER, f"{org_id}:{end_user}")


@dataclass(frozen=True)
class EffectiveLimits:
    """Every level that applies to a subject, narrowest first (key, user, organization,
    plan); each is checked on its own counter, and any one of them can refuse. The
    organization's limits for each of its end users apply, in addition, to a request
    that names one, counted per end user."""

    levels: tuple[AppliedLimits, ...]
    end_users: AppliedLimits | None = None

    def for_end_user(self, end_user: str) -> Iterator[tuple[str, int, AppliedLimits]]:
        """(dimension, limit, level) of the end-user limits, counted for `end_user`."""
        level = self.end_users
        if level is None:
            return
        counted = end_user_subject(level.source.id, end_user)
        named = AppliedLimits(level.source, counted, f"{end_user} of {level.label}", level.limits)
        for dimension, value in level.limits.items():
            yield dimension, value, named

    def entries(self) -> Iterator[tuple[str, int, AppliedLimits]]:
        """(dimension, limit, level) for every limit that applies, by dimension."""
        for dimension in DIMENSIONS:
            for level in self.levels:
                value = level.limits.get(dimension)
                if value is not None:
                    yield dimension, value, level

    def tightest(self, dimension: str) -> int | None:
        """The smallest limit of a dimension over every level (None: unlimited)."""
        found = [value for name, value, _ in self.entries() if name == dimension]
        return min(found) if found else None


UNLIMITED = EffectiveLimits(())

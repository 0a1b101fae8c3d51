"""Findings: a signal of abuse that fired, with its subject, its evidence as figures and
its review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aisonar.errors import AISonarError
from aisonar.i18n import N_


class FindingKind(StrEnum):
    # One key used from more addresses or new networks in an hour than it ever was.
    KEY_SHARING = "key_sharing"
    # One address presenting many keys the gateway does not know.
    KEY_SCANNING = "key_scanning"
    # One address failing to sign in to many accounts.
    CREDENTIAL_STUFFING = "credential_stuffing"
    # One key's requests or spend over minutes far above its own recent rate.
    VELOCITY = "velocity"
    # One key's first call in a month to a model priced at or above a floor.
    EXPENSIVE_MODEL = "expensive_model"
    # Many accounts signed up from one network.
    SIGN_UP_ABUSE = "sign_up_abuse"


class SubjectKind(StrEnum):
    KEY = "key"
    ADDRESS = "address"
    # A /24 (IPv4) or /48 (IPv6).
    NETWORK = "network"


class FindingStatus(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    # Confirmed abuse: a key finding's key is revoked.
    CONFIRMED = "confirmed"


class Decision(StrEnum):
    DISMISS = "dismiss"
    CONFIRM = "confirm"


@dataclass(frozen=True)
class Signal:
    """What a detector found, before it is a finding: who, and the figures."""

    kind: FindingKind
    subject_kind: SubjectKind
    subject_id: str
    evidence: dict[str, Any]
    # The window it was measured over starts here; one finding per kind, subject and
    # window start.
    window_start: datetime
    org_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Finding:
    id: str
    kind: FindingKind
    org_id: str | None
    user_id: str | None
    subject_kind: SubjectKind
    subject_id: str
    evidence: dict[str, Any]
    detected_at: datetime
    status: FindingStatus
    reviewed_at: datetime | None
    reviewed_by: str | None


class AlreadyReviewed(AISonarError):
    status = 409
    kind = "conflict_error"
    code = "finding_already_reviewed"

    def __init__(self, finding_id: str, status: FindingStatus) -> None:
        super().__init__(
            N_("The finding {finding_id} was already reviewed: {status}."),
            finding_id=finding_id,
            status=status.value,
        )

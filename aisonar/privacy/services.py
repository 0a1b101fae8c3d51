"""Privacy's use cases, as the front ends (`api`, `console`, `cli`) call them: a person's
request to delete their account, its decision by an operator or an organization's admin
and the erasure it leads to; the versioned policies, published, announced and
acknowledged; consents, given and withdrawn, with their history; and the cookies the
server sets (the consent and language cookies, and what a consent cookie says). The
front ends import privacy from here, never its other modules; the use cases live in the
modules named below, one concern each, and the types they take and give come with them."""

from __future__ import annotations

from aisonar.privacy.acknowledgements import PolicyStanding, acknowledge, standings
from aisonar.privacy.consents import (
    AGE_CONFIRMED,
    TERMS,
    Consent,
    Purpose,
    consent_history,
    current_choices,
    purpose_named,
    record_choice,
)
from aisonar.privacy.cookies import (
    CONSENT_COOKIE,
    CONSENT_MAX_AGE_S,
    LANGUAGE_COOKIE,
    LANGUAGE_MAX_AGE_S,
    ConsentChoice,
    consent_choice,
)
from aisonar.privacy.deciding import (
    Approval,
    ReasonText,
    Rejection,
    approve_deletion_request,
    decidable,
    decider_scope,
    reject_deletion_request,
)
from aisonar.privacy.end_users import forget_end_user
from aisonar.privacy.erasure_job import erase_request
from aisonar.privacy.policies import (
    MAX_BODY_CHARS,
    MAX_TITLE_CHARS,
    Policy,
    PolicyKind,
    announce,
    current_policies,
    current_policy,
    list_policies,
    policy_kind,
    publish_policy,
)
from aisonar.privacy.requests import (
    DeletionRequest,
    DeletionStatus,
    approve_request,
    count_requests,
    get_request,
    list_requests,
    reject_request,
    request_deletion,
)
from aisonar.privacy.sign_up import TooManySignUps, sign_up

__all__ = [
    "AGE_CONFIRMED",
    "CONSENT_COOKIE",
    "CONSENT_MAX_AGE_S",
    "LANGUAGE_COOKIE",
    "LANGUAGE_MAX_AGE_S",
    "MAX_BODY_CHARS",
    "MAX_TITLE_CHARS",
    "TERMS",
    "Approval",
    "Consent",
    "ConsentChoice",
    "DeletionRequest",
    "DeletionStatus",
    "Policy",
    "PolicyKind",
    "PolicyStanding",
    "Purpose",
    "ReasonText",
    "Rejection",
    "TooManySignUps",
    "acknowledge",
    "announce",
    "approve_deletion_request",
    "approve_request",
    "consent_choice",
    "consent_history",
    "count_requests",
    "current_choices",
    "current_policies",
    "current_policy",
    "decidable",
    "decider_scope",
    "erase_request",
    "forget_end_user",
    "get_request",
    "list_policies",
    "list_requests",
    "policy_kind",
    "publish_policy",
    "purpose_named",
    "record_choice",
    "reject_deletion_request",
    "reject_request",
    "request_deletion",
    "sign_up",
    "standings",
]

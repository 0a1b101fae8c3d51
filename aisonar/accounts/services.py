"""Accounts' use cases, as the front ends (`api`, `console`, `cli`) and the other packages
call them: organizations, users and API keys created, listed, looked up and revoked
(`directory`), and what every front end asks for a signed-in caller: who reaches which
organization, user and key (`access`), pages of them in SQL (`listing`), organizations'
settings, people's membership and invitations, keys' changes and rotation, access tokens,
sign-in sessions, passwords (changed, set for someone, proved again, forgotten and
reset), email changes, plans and markups. The front ends import accounts from here (its
types from `models`), never its other modules; the use cases live in the modules named
below, one concern each, and the types they take and give come with them. Those modules
build on `directory` and never import this one."""

from __future__ import annotations

from aisonar.accounts.access import (
    administered_org,
    member_of,
    reachable_key,
    reachable_user,
    visible_org,
)
from aisonar.accounts.directory import (
    create_key,
    create_org,
    create_user,
    find_key_identity,
    get_key,
    get_org,
    get_org_by_name,
    get_user,
    get_user_by_email,
    list_keys,
    list_orgs,
    list_users,
    org_models,
    revoke_key,
    set_org_models,
    validate_email,
    validate_model_list,
)
from aisonar.accounts.email_change import confirm_email_change, pending_email_change
from aisonar.accounts.email_change_requests import ask_for_email_change
from aisonar.accounts.forgotten_password import ask_for_reset, complete_reset, send_reset_mail
from aisonar.accounts.invitations import Invited, invited_by, pending_invitations
from aisonar.accounts.key_changes import (
    GraceSeconds,
    NewKey,
    Rotation,
    allow_ips_of,
    create_key_for,
    revoke_key_of,
    rotate_key_of,
)
from aisonar.accounts.listing import (
    ORG_CHOICES,
    OrgChoices,
    Page,
    UserSearch,
    active_key_counts,
    count_keys,
    count_orgs,
    count_users,
    keys_page,
    member_counts,
    members_by_id,
    org_choices,
    org_names,
    orgs_page,
    plan_counts,
    users_by_id,
    users_page,
)
from aisonar.accounts.login import change_password
from aisonar.accounts.markups import (
    Markup,
    MarkupSetting,
    MultiplierText,
    list_markups,
    org_markups,
    plan_markups,
    set_org_markup,
    set_plan_markup,
)
from aisonar.accounts.members import (
    EmailText,
    MemberChange,
    NameText,
    NewMember,
    PasswordText,
    add_member_and_invite,
    change_member,
    invite_again,
)
from aisonar.accounts.membership import set_org_plan, update_user
from aisonar.accounts.networks import network_of
from aisonar.accounts.organizations import (
    NewOrg,
    OrgName,
    OrgSettings,
    PlanRetention,
    RetentionDays,
    Threshold,
    add_org,
    change_org_settings,
)
from aisonar.accounts.password_reset import RESET_PAGE
from aisonar.accounts.password_set import set_member_password, set_password
from aisonar.accounts.passwords import hash_password
from aisonar.accounts.plans import PlanInfo, list_plans, set_org_retention, set_plan_retention
from aisonar.accounts.principal import Principal
from aisonar.accounts.reauthentication import prove_password, recently_authenticated
from aisonar.accounts.rotation import rotate_key, set_allowed_ips
from aisonar.accounts.sessions import (
    COOKIE_NAME,
    CSRF_HEADER,
    ActiveSession,
    NewSession,
    active_session,
    end_session,
)
from aisonar.accounts.sign_in import sign_in_with_password
from aisonar.accounts.throttle import TooManySignIns
from aisonar.accounts.tokens import (
    AccessToken,
    NewToken,
    count_tokens,
    create_token,
    get_token,
    list_tokens,
    principal_for_token,
    revoke_token,
)

__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "ORG_CHOICES",
    "RESET_PAGE",
    "AccessToken",
    "ActiveSession",
    "EmailText",
    "GraceSeconds",
    "Invited",
    "Markup",
    "MarkupSetting",
    "MemberChange",
    "MultiplierText",
    "NameText",
    "NewKey",
    "NewMember",
    "NewOrg",
    "NewSession",
    "NewToken",
    "OrgChoices",
    "OrgName",
    "OrgSettings",
    "Page",
    "PasswordText",
    "PlanInfo",
    "PlanRetention",
    "Principal",
    "RetentionDays",
    "Rotation",
    "Threshold",
    "TooManySignIns",
    "UserSearch",
    "active_key_counts",
    "active_session",
    "add_member_and_invite",
    "add_org",
    "administered_org",
    "allow_ips_of",
    "ask_for_email_change",
    "ask_for_reset",
    "change_member",
    "change_org_settings",
    "change_password",
    "complete_reset",
    "confirm_email_change",
    "count_keys",
    "count_orgs",
    "count_tokens",
    "count_users",
    "create_key",
    "create_key_for",
    "create_org",
    "create_token",
    "create_user",
    "end_session",
    "find_key_identity",
    "get_key",
    "get_org",
    "get_org_by_name",
    "get_token",
    "get_user",
    "get_user_by_email",
    "hash_password",
    "invite_again",
    "invited_by",
    "keys_page",
    "list_keys",
    "list_markups",
    "list_orgs",
    "list_plans",
    "list_tokens",
    "list_users",
    "member_counts",
    "member_of",
    "members_by_id",
    "network_of",
    "org_choices",
    "org_markups",
    "org_models",
    "org_names",
    "orgs_page",
    "pending_email_change",
    "pending_invitations",
    "plan_counts",
    "plan_markups",
    "principal_for_token",
    "prove_password",
    "reachable_key",
    "reachable_user",
    "recently_authenticated",
    "revoke_key",
    "revoke_key_of",
    "revoke_token",
    "rotate_key",
    "rotate_key_of",
    "send_reset_mail",
    "set_allowed_ips",
    "set_member_password",
    "set_org_markup",
    "set_org_models",
    "set_org_plan",
    "set_org_retention",
    "set_password",
    "set_plan_markup",
    "set_plan_retention",
    "sign_in_with_password",
    "update_user",
    "users_by_id",
    "users_page",
    "validate_email",
    "validate_model_list",
    "visible_org",
]

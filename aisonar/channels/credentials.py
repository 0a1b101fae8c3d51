"""A channel's credentials: the one sealed secret holds an API key, or for a cloud
provider a JSON document (Microsoft Entra ID client credentials, an AWS access key pair,
a Google service account). Each shape is checked when a channel is created or its secret
changed; the adapters read them with the functions here. None of it is ever logged,
audited or shown: an error names the field at fault, never its value."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aisonar.channels.models import Provider
from aisonar.errors import InvalidInput
from aisonar.i18n import N_

ENTRA_AUTHORITY = "https://login.microsoftonline.com"
_SERVICE_ACCOUNT_FIELDS = ("client_email", "private_key", "token_uri")


@dataclass(frozen=True)
class EntraClient:
    """An app registration's client credentials (the OAuth 2.0 client credentials grant)."""

    tenant_id: str
    client_id: str
    client_secret: str
    authority_host: str = ENTRA_AUTHORITY

    @property
    def token_url(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}/oauth2/v2.0/token"


@dataclass(frozen=True)
class AwsKeys:
    """An AWS access key pair, with a session token for temporary keys, and the role to
    assume with them when one is given (with the external id its trust policy may ask
    for, through STS's regional endpoint unless `sts_endpoint` names another)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    sts_endpoint: str | None = None


def _bad(reason: str, **values: str) -> InvalidInput:
    return InvalidInput(reason, param="api_key", **values)


def _document(secret: str) -> dict[str, Any] | None:
    """The secret's JSON object, or None for a plain key."""
    if not secret.lstrip().startswith("{"):
        return None
    try:
        document = json.loads(secret)
    except ValueError as error:
        raise _bad(N_("the credentials are not a valid JSON document")) from error
    if not isinstance(document, dict):
        raise _bad(N_("the credentials are not a valid JSON document"))
    return document


def _fields(
    document: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]
) -> dict[str, str]:
    unknown = sorted(set(document) - set(required) - set(optional))
    if unknown:
        raise _bad(N_("the credentials take no field {field!r}"), field=unknown[0])
    for name in required:
        if name not in document:
            raise _bad(N_("the credentials need the field {field!r}"), field=name)
    for name, value in document.items():
        if not isinstance(value, str) or not value.strip():
            raise _bad(N_("the field {field!r} is a non-empty string"), field=name)
    return {name: value.strip() for name, value in document.items()}


def _http_url(value: str, field: str) -> str:
    url = value.rstrip("/")
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise _bad(N_("the field {field!r} is an http(s) URL"), field=field)
    return url


def entra_client(secret: str) -> EntraClient | None:
    """Entra ID client credentials, or None when the secret is an Azure API key."""
    document = _document(secret)
    if document is None:
        return None
    fields = _fields(
        document,
        ("tenant_id", "client_id", "client_secret"),
        ("authority_host",),
    )
    authority = _http_url(fields.pop("authority_host", ENTRA_AUTHORITY), "authority_host")
    return EntraClient(**fields, authority_host=authority)


def aws_keys(secret: str) -> AwsKeys | None:
    """An AWS access key pair, or None when the secret is a Bedrock API key."""
    document = _document(secret)
    if document is None:
        return None
    fields = _fields(
        document,
        ("access_key_id", "secret_access_key"),
        ("session_token", "role_arn", "external_id", "sts_endpoint"),
    )
    if "role_arn" not in fields and ("external_id" in fields or "sts_endpoint" in fields):
        raise _bad(N_("the credentials need the field {field!r}"), field="role_arn")
    if "sts_endpoint" in fields:
        fields["sts_endpoint"] = _http_url(fields["sts_endpoint"], "sts_endpoint")
    return AwsKeys(**fields)


def service_account(secret: str) -> dict[str, Any]:
    """A Google service account's key file, as Google Cloud's console downloads it."""
    document = _document(secret)
    if document is None or document.get("type") != "service_account":
        raise _bad(N_("Vertex AI credentials are a service account's JSON key file"))
    for name in _SERVICE_ACCOUNT_FIELDS:
        value = document.get(name)
        if not isinstance(value, str) or not value.strip():
            raise _bad(N_("the service account's key file needs the field {field!r}"), field=name)
    if not _is_rsa_key(document["private_key"]):
        raise _bad(N_("the service account's private_key is no RSA private key in PEM"))
    return document


def _is_rsa_key(pem: str) -> bool:
    """Whether `pem` is what a service account signs its token requests with."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return isinstance(key, rsa.RSAPrivateKey)


def validate_credentials(provider: str, secret: str) -> None:
    """Refuse credentials of the wrong shape for the provider before they are stored."""
    if not secret.strip():
        raise _bad(N_("the credentials must not be empty"))
    if provider == Provider.AZURE:
        entra_client(secret)
    elif provider == Provider.BEDROCK:
        aws_keys(secret)
    elif provider == Provider.VERTEX:
        service_account(secret)

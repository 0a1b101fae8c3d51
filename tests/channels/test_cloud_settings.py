"""A cloud provider's options and credentials, read as the adapters read them."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aisonar.channels.credentials import (
    ENTRA_AUTHORITY,
    AwsKeys,
    aws_keys,
    entra_client,
    service_account,
    validate_credentials,
)
from aisonar.channels.options import default_base_url, parse_options, validate_options
from aisonar.errors import InvalidInput


def test_bedrock_and_vertex_endpoints_follow_from_their_options() -> None:
    assert default_base_url("bedrock", {"region": "eu-west-1"}) == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com"
    )
    assert default_base_url("vertex", {"project": "p", "location": "us-central1"}) == (
        "https://us-central1-aiplatform.googleapis.com"
    )
    assert default_base_url("vertex", {"project": "p", "location": "global"}) == (
        "https://aiplatform.googleapis.com"
    )
    assert default_base_url("azure", {"api_version": "2024-10-21"}) is None
    assert default_base_url("openai", {}) == "https://api.openai.com/v1"


def test_options_are_parsed_from_the_command_line_and_checked_per_provider() -> None:
    options = parse_options(["api_version = 2024-10-21"])
    assert validate_options("azure", options) == {"api_version": "2024-10-21"}
    with pytest.raises(InvalidInput, match="NAME=VALUE"):
        parse_options(["api_version"])
    with pytest.raises(InvalidInput, match="needs the option"):
        validate_options("vertex", {"project": "p"})
    with pytest.raises(InvalidInput, match="it takes: none"):
        validate_options("anthropic", {"region": "x"})


def test_entra_credentials_or_an_azure_key() -> None:
    assert entra_client("plain-azure-key") is None
    client = entra_client(json.dumps({"tenant_id": "t", "client_id": "c", "client_secret": "s"}))
    assert client is not None
    assert client.token_url == f"{ENTRA_AUTHORITY}/t/oauth2/v2.0/token"
    custom = entra_client(
        json.dumps(
            {
                "tenant_id": "t",
                "client_id": "c",
                "client_secret": "s",
                "authority_host": "https://login.microsoftonline.us/",
            }
        )
    )
    assert custom is not None and custom.authority_host == "https://login.microsoftonline.us"
    with pytest.raises(InvalidInput, match="http"):
        entra_client(
            json.dumps(
                {"tenant_id": "t", "client_id": "c", "client_secret": "s", "authority_host": "x"}
            )
        )


def test_aws_keys_or_a_bedrock_api_key() -> None:
    assert aws_keys("bedrock-api-key") is None
    keys = {"access_key_id": "AKIA", "secret_access_key": "s", "role_arn": "arn:aws:iam::1:role/r"}
    assert aws_keys(json.dumps(keys)) == AwsKeys("AKIA", "s", None, "arn:aws:iam::1:role/r")
    with pytest.raises(InvalidInput, match="non-empty string"):
        aws_keys(json.dumps({"access_key_id": "AKIA", "secret_access_key": 3}))


def test_vertex_takes_only_a_service_account_key_file() -> None:
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    account = {
        "type": "service_account",
        "client_email": "a@p.iam.gserviceaccount.com",
        "private_key": pem.decode(),
        "token_uri": "https://oauth2.googleapis.com/token",
        "project_id": "p",
    }
    assert service_account(json.dumps(account))["project_id"] == "p"
    with pytest.raises(InvalidInput, match="service account"):
        validate_credentials("vertex", "an-api-key")
    with pytest.raises(InvalidInput, match="token_uri"):
        service_account(json.dumps({**account, "token_uri": ""}))
    with pytest.raises(InvalidInput, match="RSA"):
        service_account(json.dumps({**account, "private_key": "-----BEGIN PRIVATE KEY-----"}))
    with pytest.raises(InvalidInput, match="must not be empty"):
        validate_credentials("openai", "  ")

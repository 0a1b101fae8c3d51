"""Amazon Bedrock upstreams: the base URL is the region's runtime endpoint
(`https://bedrock-runtime.{region}.amazonaws.com`, from the channel's `region` option); the
gateway appends `/model/{modelId}/converse` (or `/converse-stream`). The model id is the
upstream name of the channel's model map: a foundation model id
(`anthropic.claude-sonnet-4-5-20250929-v1:0`), an inference profile
(`us.anthropic.claude-sonnet-4-5-20250929-v1:0`) or an ARN.

The secret is an AWS key pair (each request signed with SigV4, `signer`) or a Bedrock API key
(a fixed `Authorization: Bearer` header). The health probe lists the foundation models of the
control plane (`bedrock.{region}`, the runtime host's sibling)."""

from __future__ import annotations

from urllib.parse import quote

import orjson

from aisonar.channels.credentials import aws_keys
from aisonar.channels.models import Channel, ChannelWithSecret
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.adapter import StreamUsage
from aisonar.gateway.wire.bedrock.format import converse_body_usage
from aisonar.gateway.wire.bedrock.hub_upstream import hub_request_to_converse
from aisonar.gateway.wire.bedrock.replies import ConverseStreamToHub, converse_response_to_hub
from aisonar.gateway.wire.bedrock.signer import BedrockSigner
from aisonar.gateway.wire.hub import JsonObject
from aisonar.token_usage import TokenUsage

_RUNTIME_HOST = "://bedrock-runtime."
_CONTROL_HOST = "://bedrock."


class BedrockProvider:
    name = "bedrock"
    prices_client_names = False

    def headers(self, channel: ChannelWithSecret) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, application/vnd.amazon.eventstream",
            "Accept-Encoding": "identity",
        }
        if aws_keys(channel.api_key) is None:
            headers["Authorization"] = f"Bearer {channel.api_key}"
        return headers

    def signer(self, channel: ChannelWithSecret) -> BedrockSigner | None:
        keys = aws_keys(channel.api_key)
        return None if keys is None else BedrockSigner(keys, channel.channel.options["region"])

    def url(self, channel: Channel, model: str, stream: bool) -> str:
        method = "converse-stream" if stream else "converse"
        # `:` stays as it is (the HTTP client would unescape it anyway), `/` of an ARN is
        # escaped.
        return f"{channel.base_url}/model/{quote(model, safe=':')}/{method}"

    def path_url(self, channel: Channel, model: str, path: str) -> str:
        # Clients of another format reach Bedrock only through the hub (`url`).
        raise InvalidRequest(f"`{path}` has no counterpart on Bedrock.", param="model")

    def models_url(self, channel: Channel) -> str:
        return channel.base_url.replace(_RUNTIME_HOST, _CONTROL_HOST, 1) + "/foundation-models"

    def refused_answer(self, status: int, body: bytes, stream: bool) -> None:
        return None

    def passthrough_body(self, body: bytes) -> bytes:
        # No client speaks Converse: a request for Bedrock is always translated.
        raise TypeError("a request for Bedrock is always translated")

    def request_from_hub(self, hub: JsonObject) -> bytes:
        return orjson.dumps(hub_request_to_converse(hub))

    def response_to_hub(self, body: bytes, model: str) -> JsonObject:
        return converse_response_to_hub(orjson.loads(body), model)

    def stream_reader(self, model: str) -> ConverseStreamToHub:
        return ConverseStreamToHub(model)

    def body_usage(self, body: bytes) -> TokenUsage | None:
        return converse_body_usage(body)

    def stream_usage(self, *, hide_usage_chunk: bool) -> StreamUsage:
        # No client speaks Converse: a Bedrock stream is always translated (`stream_reader`).
        raise TypeError("a Bedrock stream is always translated")

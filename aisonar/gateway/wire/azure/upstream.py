"""Azure OpenAI upstreams: OpenAI's wire format on an Azure resource. The base URL is the
resource endpoint (`https://NAME.openai.azure.com`); a model's upstream name is its
deployment, reached at `/openai/deployments/{deployment}/{path}?api-version=...` with the
channel's `api_version` option; the Responses API is on the v1 surface,
`/openai/v1/responses`, where the deployment goes in the body's `model` as OpenAI's does.
The secret is an API key (the `api-key` header) or Entra ID client credentials (a
bearer token per request, `entra.py`).

Azure speaks OpenAI's format, content-filter fields aside (which OpenAI clients get as
they are and the translations ignore, `finish_reason: content_filter` included, which
they map), so the adapter is the OpenAI one, given by the registry, on other paths and
credentials: the format's folders do not import each other."""

from __future__ import annotations

from urllib.parse import quote

import orjson

from aisonar.channels.credentials import entra_client
from aisonar.channels.models import Channel, ChannelWithSecret
from aisonar.gateway.body.output_limit import output_limit_field
from aisonar.gateway.wire.adapter import HubReader, StreamUsage, UpstreamAdapter
from aisonar.gateway.wire.azure.content_filter import refused_answer
from aisonar.gateway.wire.azure.entra import EntraSigner
from aisonar.gateway.wire.hub import JsonObject
from aisonar.token_usage import TokenUsage

RESPONSES_PATH = "/responses"


def deployment_url(channel: Channel, deployment: str, path: str) -> str:
    version = quote(channel.options["api_version"], safe="")
    name = quote(deployment, safe="")
    return f"{channel.base_url}/openai/deployments/{name}{path}?api-version={version}"


class AzureProvider:
    name = "openai"
    prices_client_names = True

    def __init__(self, openai: UpstreamAdapter, served_model: str | None = None) -> None:
        self._openai = openai
        # The model the deployment serves (the name the client asked for), when known: an
        # o-series or GPT-5 model under a deployment name of the operator's own takes
        # `max_completion_tokens`, which its deployment's name does not show.
        self._limit_field = None if served_model is None else output_limit_field(served_model)

    def serving(self, served_model: str) -> AzureProvider:
        """This adapter for a route whose deployment serves `served_model`."""
        return AzureProvider(self._openai, served_model)

    def headers(self, channel: ChannelWithSecret) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Accept-Encoding": "identity",
        }
        if entra_client(channel.api_key) is None:
            headers["api-key"] = channel.api_key
        return headers

    def signer(self, channel: ChannelWithSecret) -> EntraSigner | None:
        client = entra_client(channel.api_key)
        return None if client is None else EntraSigner(client)

    def url(self, channel: Channel, model: str, stream: bool) -> str:
        return deployment_url(channel, model, "/chat/completions")

    def path_url(self, channel: Channel, model: str, path: str) -> str:
        if path == RESPONSES_PATH:
            return f"{channel.base_url}/openai/v1{RESPONSES_PATH}"
        return deployment_url(channel, model, path)

    def models_url(self, channel: Channel) -> str:
        version = quote(channel.options["api_version"], safe="")
        return f"{channel.base_url}/openai/models?api-version={version}"

    def refused_answer(self, status: int, body: bytes, stream: bool) -> bytes | None:
        return refused_answer(status, body, stream)

    def passthrough_body(self, body: bytes) -> bytes:
        return self._openai.passthrough_body(body)

    def request_from_hub(self, hub: JsonObject) -> bytes:
        body = self._openai.request_from_hub(hub)
        if self._limit_field != "max_completion_tokens" or b'"max_tokens"' not in body:
            return body
        request = orjson.loads(body)
        request[self._limit_field] = request.pop("max_tokens")
        return orjson.dumps(request)

    def response_to_hub(self, body: bytes, model: str) -> JsonObject:
        return self._openai.response_to_hub(body, model)

    def stream_reader(self, model: str) -> HubReader:
        return self._openai.stream_reader(model)

    def body_usage(self, body: bytes) -> TokenUsage | None:
        return self._openai.body_usage(body)

    def stream_usage(self, *, hide_usage_chunk: bool) -> StreamUsage:
        return self._openai.stream_usage(hide_usage_chunk=hide_usage_chunk)

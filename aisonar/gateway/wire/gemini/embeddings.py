"""Gemini's `:embedContent` and `:batchEmbedContents`: the requests read, and their
translation to and from OpenAI's `/embeddings` for models served by OpenAI channels.

A content's parts are embedded together, so their texts are joined into one OpenAI input.
OpenAI has no `taskType` or `title`: they are dropped in translation. The answer reports
`usageMetadata` in Gemini's own shape, as the Gemini API does for embeddings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import orjson

from aisonar.gateway.body.duplicate_fields import DuplicateField, refuse_duplicate_fields
from aisonar.gateway.body.errors import invalid_body
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.gemini.format import gemini_usage
from aisonar.gateway.wire.openai.format import read_usage
from aisonar.token_usage import TokenUsage
from aisonar.usage.tokens import count_text_tokens

# The Gemini API's own limit on one batch.
MAX_BATCH = 100

_Dimensions = Annotated[int, msgspec.Meta(ge=1)]


class _Part(msgspec.Struct):
    text: str | None = None


class _Content(msgspec.Struct):
    parts: list[_Part]


class _EmbedRequest(msgspec.Struct):
    content: _Content
    model: str | None = None
    # Google's JSON parser takes each field in camelCase or in snake_case.
    outputDimensionality: _Dimensions | None = None
    output_dimensionality: _Dimensions | None = None

    def dimensions(self) -> int | None:
        if self.outputDimensionality is not None and self.output_dimensionality is not None:
            raise DuplicateField("outputDimensionality")
        return self.outputDimensionality or self.output_dimensionality


class _BatchRequest(msgspec.Struct):
    requests: list[_EmbedRequest]


_single_decoder = msgspec.json.Decoder(_EmbedRequest)
_batch_decoder = msgspec.json.Decoder(_BatchRequest)


class _OpenAIEmbedding(msgspec.Struct):
    index: int
    embedding: list[float]


class _OpenAIEmbeddings(msgspec.Struct):
    data: list[_OpenAIEmbedding]


class _GeminiUsage(msgspec.Struct):
    usageMetadata: dict[str, Any] | None = None


_openai_decoder = msgspec.json.Decoder(_OpenAIEmbeddings)
_usage_decoder = msgspec.json.Decoder(_GeminiUsage)


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    """One `:embedContent` (`batch` False, one request) or `:batchEmbedContents`."""

    batch: bool
    requests: list[_EmbedRequest]

    def texts(self) -> list[str | None]:
        """Each content's text, None for one holding something other than text."""
        return [
            None
            if any(part.text is None for part in request.content.parts)
            else " ".join(part.text for part in request.content.parts if part.text is not None)
            for request in self.requests
        ]

    def estimate(self, model: str) -> TokenUsage:
        """The prompt's tokens counted offline, for an upstream that reported none."""
        texts = [text for text in self.texts() if text is not None]
        return TokenUsage(
            input_tokens=sum(count_text_tokens(text, model) for text in texts), estimated=True
        )

    def names_other_model(self, upstream_model: str) -> bool:
        """Whether a request names a model other than the upstream's by its resource name."""
        return any(
            request.model is not None and request.model != f"models/{upstream_model}"
            for request in self.requests
        )


def parse_embed_request(body: bytes, *, batch: bool) -> EmbedRequest:
    try:
        requests = _batch_decoder.decode(body).requests if batch else [_single_decoder.decode(body)]
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise invalid_body(error) from None
    refuse_duplicate_fields(body)
    if not requests:
        raise InvalidRequest("`requests` must hold at least one request.", param="requests")
    if len(requests) > MAX_BATCH:
        raise InvalidRequest(f"At most {MAX_BATCH} requests can be in one batch.", param="requests")
    for request in requests:
        if not request.content.parts:
            raise InvalidRequest("`content.parts` must not be empty.", param="content.parts")
        request.dimensions()
    return EmbedRequest(batch, requests)


def with_upstream_model(body: bytes, upstream_model: str) -> bytes:
    """The client's request with every `model` it names set to the upstream's, which must
    be the URL's model at Gemini."""
    document = orjson.loads(body)
    name = f"models/{upstream_model}"
    for request in document.get("requests", [document]):
        if "model" in request:
            request["model"] = name
    return orjson.dumps(document)


def openai_embeddings_request(request: EmbedRequest, model: str) -> bytes:
    texts = request.texts()
    if any(text is None for text in texts):
        raise InvalidRequest(
            "Only text can be embedded by a model served through an OpenAI-format channel.",
            param="content.parts",
        )
    dimensions = {item.dimensions() for item in request.requests}
    if len(dimensions) > 1:
        raise InvalidRequest(
            "Every request of a batch must ask for the same `outputDimensionality` when the"
            " model is served through an OpenAI-format channel.",
            param="outputDimensionality",
        )
    document: dict[str, Any] = {"model": model, "input": texts, "encoding_format": "float"}
    [wanted] = dimensions
    if wanted is not None:
        document["dimensions"] = wanted
    return orjson.dumps(document)


def gemini_embeddings_usage(body: bytes) -> TokenUsage | None:
    try:
        metadata = _usage_decoder.decode(body).usageMetadata
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return gemini_usage(metadata) if metadata else None


def gemini_embeddings_answer(
    request: EmbedRequest, values: list[list[float]], tokens: int
) -> bytes:
    usage = {"promptTokenCount": tokens, "totalTokenCount": tokens}
    if request.batch:
        answer: dict[str, Any] = {"embeddings": [{"values": vector} for vector in values]}
    else:
        answer = {"embedding": {"values": values[0]}}
    return orjson.dumps({**answer, "usageMetadata": usage})


def from_openai_embeddings(
    request: EmbedRequest, body: bytes, estimate: Callable[[], TokenUsage]
) -> tuple[bytes, TokenUsage]:
    """OpenAI's answer in Gemini's shape, and its usage (`estimate` where it reports none).
    Raises ValueError when the answer is not the embeddings asked for."""
    try:
        data = _openai_decoder.decode(body).data
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ValueError("not an embeddings answer") from error
    if sorted(item.index for item in data) != list(range(len(request.requests))):
        raise ValueError("the answer's embeddings are not one per input")
    values = [item.embedding for item in sorted(data, key=lambda item: item.index)]
    usage = read_usage(body).usage or estimate()
    return gemini_embeddings_answer(request, values, usage.input_tokens), usage

"""OpenAI's `/embeddings` for a model served by a Gemini channel: the inputs sent as one
`:batchEmbedContents` (a request per input), the answer read back into OpenAI's list,
as floats or, as the `openai` SDK asks by default, base64 of little-endian float32."""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.gemini.format import gemini_usage
from aisonar.token_usage import TokenUsage


class _Options(msgspec.Struct):
    input: str | list[str]
    encoding_format: str = "float"
    dimensions: int | None = None


class _Values(msgspec.Struct):
    values: list[float]


class _Answer(msgspec.Struct):
    embeddings: list[_Values]
    usageMetadata: dict[str, Any] | None = None


_options_decoder = msgspec.json.Decoder(_Options)
_answer_decoder = msgspec.json.Decoder(_Answer)


class GeminiEmbeddings:
    """One OpenAI embeddings request bound for a Gemini model."""

    def __init__(self, body: bytes, requested_model: str) -> None:
        try:
            options = _options_decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            raise InvalidRequest(
                "`input` must be a string or an array of strings for a model served by a"
                " Gemini channel (token arrays cannot be sent to Gemini).",
                param="input",
            ) from None
        if options.encoding_format not in ("float", "base64"):
            raise InvalidRequest(
                "`encoding_format` must be float or base64.", param="encoding_format"
            )
        if options.dimensions is not None and options.dimensions < 1:
            raise InvalidRequest("`dimensions` must be at least 1.", param="dimensions")
        self.texts = [options.input] if isinstance(options.input, str) else options.input
        if not self.texts:
            raise InvalidRequest("`input` must not be empty.", param="input")
        self._options = options
        self._requested_model = requested_model

    def request(self, upstream_model: str) -> bytes:
        """The `:batchEmbedContents` body."""
        name = f"models/{upstream_model}"
        requests: list[dict[str, Any]] = []
        for text in self.texts:
            request: dict[str, Any] = {"model": name, "content": {"parts": [{"text": text}]}}
            if self._options.dimensions is not None:
                request["outputDimensionality"] = self._options.dimensions
            requests.append(request)
        return orjson.dumps({"requests": requests})

    def answer(self, body: bytes, estimate: Callable[[], TokenUsage]) -> tuple[bytes, TokenUsage]:
        """Gemini's answer in OpenAI's shape, and its usage (`estimate` where it reports
        none). Raises ValueError when it is not one embedding per input."""
        try:
            decoded = _answer_decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise ValueError("not a batchEmbedContents answer") from error
        if len(decoded.embeddings) != len(self.texts):
            raise ValueError("the answer's embeddings are not one per input")
        metadata = decoded.usageMetadata
        usage = gemini_usage(metadata) if metadata else estimate()
        data = [
            {"object": "embedding", "index": index, "embedding": self._encoded(item.values)}
            for index, item in enumerate(decoded.embeddings)
        ]
        tokens = usage.input_tokens
        document = {
            "object": "list",
            "data": data,
            "model": self._requested_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return orjson.dumps(document), usage

    def _encoded(self, values: list[float]) -> list[float] | str:
        if self._options.encoding_format == "float":
            return values
        floats = array("f", values)
        if sys.byteorder == "big":
            floats.byteswap()
        return base64.b64encode(floats.tobytes()).decode()

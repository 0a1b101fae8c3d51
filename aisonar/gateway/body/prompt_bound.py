"""The most tokens a request's prompt can bill, from its bytes: no whole-body model.

A token is at least one byte of the text it encodes, so the size of the body bounds the
tokens of everything the provider bills as prompt (messages, system, tool definitions,
schemas, inline images and documents). Media given by reference (a URL, a file id) costs
tokens its bytes do not show: each such item adds `MEDIA_ITEM_TOKENS`, an estimate above
what the providers bill one image at their default detail (Anthropic about 1,600 tokens for
1.15 megapixels, OpenAI's gpt-4o 765 to 1,105, Gemini 258 a tile). A multi-page document by
reference can cost more; the hold is then exceeded and the real cost still charged."""

from __future__ import annotations

import re

MEDIA_ITEM_TOKENS = 2_000

# One match per media item, in each wire format: OpenAI chat parts (`image_url`,
# `input_audio`, `file`), Anthropic blocks (`image`, `document`), Responses items
# (`input_image`, `input_file`), Gemini parts (`inlineData`, `fileData`, either spelling).
_MEDIA_ITEM = re.compile(
    rb'"type"\s*:\s*"(?:image_url|input_audio|file|image|document|input_image|input_file)"'
    rb'|"(?:inline_?[dD]ata|file_?[dD]ata)"\s*:'
)


def prompt_bound(body: bytes) -> int:
    return len(body) + MEDIA_ITEM_TOKENS * len(_MEDIA_ITEM.findall(body))

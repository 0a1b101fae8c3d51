"""A channel's provider options: the settings a cloud provider needs besides its base URL
and credentials (Azure's API version, an AWS region, a Google Cloud project and
location), and the OpenAI-compatible host an OpenAI channel is (its preset). None of them
is secret; they are stored and shown as they are."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aisonar.channels.models import DEFAULT_BASE_URLS, Provider
from aisonar.channels.presets import PRESET_OPTION, PRESETS, preset_named
from aisonar.errors import InvalidInput
from aisonar.i18n import N_

# Values go into URLs (a region's host name, a project's path): plain words only.
_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


@dataclass(frozen=True)
class OptionNames:
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()

    @property
    def known(self) -> frozenset[str]:
        return self.required | self.optional


# The options each provider takes; a provider not named takes none.
PROVIDER_OPTIONS: dict[str, OptionNames] = {
    # An OpenAI-compatible host by name (channels/presets.py): deepseek, groq, ollama, ...
    Provider.OPENAI: OptionNames(optional=frozenset({PRESET_OPTION})),
    # The `api-version` query parameter of every Azure OpenAI request (e.g. 2024-10-21).
    Provider.AZURE: OptionNames(required=frozenset({"api_version"})),
    # The AWS region of the Bedrock runtime endpoint (e.g. us-east-1).
    Provider.BEDROCK: OptionNames(required=frozenset({"region"})),
    # The Google Cloud project and the region (or `global`) of the Vertex AI endpoint.
    Provider.VERTEX: OptionNames(required=frozenset({"project", "location"})),
}
_NONE = OptionNames()


def parse_options(items: Iterable[str]) -> dict[str, str]:
    """`["api_version=2024-10-21", ...]` (the CLI's repeated `--option`) -> a mapping."""
    options: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise InvalidInput(
                N_("an option is NAME=VALUE, not {item!r}"), param="options", item=item
            )
        options[name.strip()] = value.strip()
    return options


def validate_options(provider: str, options: Mapping[str, str]) -> dict[str, str]:
    """The options a provider takes, every required one given and none it does not know."""
    names = PROVIDER_OPTIONS.get(provider, _NONE)
    for name, value in options.items():
        if name not in names.known:
            known = ", ".join(sorted(names.known)) or "none"
            raise InvalidInput(
                N_("the {provider} provider has no option {name!r} (it takes: {known})"),
                param="options",
                provider=provider,
                name=name,
                known=known,
            )
        if not isinstance(value, str) or not _VALUE.fullmatch(value.strip()):
            raise InvalidInput(
                N_("option {name!r} takes 1 to 200 letters, digits, `.`, `_` or `-`"),
                param="options",
                name=name,
            )
    preset = options.get(PRESET_OPTION)
    if provider == Provider.OPENAI and preset is not None and preset.strip() not in PRESETS:
        raise InvalidInput(
            N_("there is no preset {preset!r} (there are: {known})"),
            param="options",
            preset=preset,
            known=", ".join(PRESETS),
        )
    missing = sorted(names.required - set(options))
    if missing:
        raise InvalidInput(
            N_("the {provider} provider needs the option(s) {missing}"),
            param="options",
            provider=provider,
            missing=", ".join(missing),
        )
    return {name: value.strip() for name, value in options.items()}


def default_base_url(provider: str, options: Mapping[str, str]) -> str | None:
    """The provider's public endpoint, or its preset's, where it has one; Azure's is the
    operator's own resource, so it has none."""
    preset = preset_named(provider, options)
    if preset is not None:
        return preset.base_url
    if provider == Provider.BEDROCK and "region" in options:
        return f"https://bedrock-runtime.{options['region']}.amazonaws.com"
    if provider == Provider.VERTEX and "location" in options:
        location = options["location"]
        if location == "global":
            return "https://aiplatform.googleapis.com"
        return f"https://{location}-aiplatform.googleapis.com"
    return DEFAULT_BASE_URLS.get(provider)

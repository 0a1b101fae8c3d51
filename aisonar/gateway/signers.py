"""Each channel's signer (`wire/adapter.Signer`), kept across the channel table's
rebuilds while what it depends on stays the same, so that a token it cached outlives
changes to other channels (or to this one's models, weight or timeouts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aisonar.channels.models import ChannelWithSecret
from aisonar.gateway.wire.adapter import Signer, UpstreamAdapter

# What a signer is made from: provider, base URL, options, secret.
_Basis = tuple[str, str, tuple[tuple[str, str], ...], str]


def _basis(entry: ChannelWithSecret) -> _Basis:
    channel = entry.channel
    options: Mapping[str, str] = channel.options
    return channel.provider, channel.base_url, tuple(sorted(options.items())), entry.api_key


class Signers:
    def __init__(self) -> None:
        self._kept: dict[str, tuple[_Basis, Signer | None]] = {}

    def for_channel(self, entry: ChannelWithSecret, adapter: UpstreamAdapter) -> Signer | None:
        basis = _basis(entry)
        kept = self._kept.get(entry.channel.id)
        if kept is not None and kept[0] == basis:
            return kept[1]
        signer = adapter.signer(entry)
        self._kept[entry.channel.id] = (basis, signer)
        return signer

    def forget_except(self, channel_ids: Iterable[str]) -> None:
        keep = set(channel_ids)
        self._kept = {key: value for key, value in self._kept.items() if key in keep}

"""The browser family and the kind of device behind a User-Agent, the only things a page
view keeps of it. ua-parser names the browser and recognises crawlers; the device type
follows the browsers' own conventions ("Mobi" on phones, Android without "Mobile" on
tablets). What is not a browser is a bot, and bots are not counted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import ua_parser

# Longer User-Agents are cut before they are parsed: no browser sends one, and the
# parser's regular expressions should not be fed arbitrary lengths.
_LONGEST_PARSED = 512
_LONGEST_FAMILY = 64
# Words that name where a browser runs, not which browser it is ("Chrome Mobile iOS").
_PLATFORM_WORDS = frozenset({"Mobile", "iOS"})


class DeviceType(StrEnum):
    DESKTOP = "desktop"
    MOBILE = "mobile"
    TABLET = "tablet"
    BOT = "bot"


@dataclass(frozen=True)
class Visitor:
    browser: str
    device: DeviceType


def _browser(family: str) -> str:
    words = [word for word in family.split() if word not in _PLATFORM_WORDS]
    return " ".join(words)[:_LONGEST_FAMILY] or "Other"


def _device(user_agent: str, device_brand: str | None) -> DeviceType:
    if "iPad" in user_agent or "Tablet" in user_agent or "Tablet" in (device_brand or ""):
        return DeviceType.TABLET
    if "Android" in user_agent and "Mobile" not in user_agent:
        return DeviceType.TABLET
    if "Mobi" in user_agent or "iPhone" in user_agent:
        return DeviceType.MOBILE
    return DeviceType.DESKTOP


def classify(user_agent: str) -> Visitor:
    """Parse once per distinct User-Agent (the parser caches); the first call loads the
    parser's rules, a fraction of a second, so callers run it off the event loop."""
    agent = user_agent[:_LONGEST_PARSED]
    # Every browser's User-Agent has started so for decades; scripts' do not.
    if not agent.startswith("Mozilla/"):
        return Visitor("Other", DeviceType.BOT)
    parsed = ua_parser.parse(agent)
    family = parsed.user_agent.family if parsed.user_agent else "Other"
    browser = _browser(family)
    crawler = parsed.device is not None and parsed.device.family == "Spider"
    if crawler or family.startswith("Headless"):
        return Visitor(browser, DeviceType.BOT)
    brand = parsed.device.brand if parsed.device else None
    return Visitor(browser, _device(agent, brand))

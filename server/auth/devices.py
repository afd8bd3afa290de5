"""A passkey's default name, readable by the person who made it: the device and the browser it was made
with (「iPhone の Safari」「Android の Chrome」「Windows の Edge」), never the raw user-agent string.

A pure function of the request's ``User-Agent`` and the low-entropy client hints Chromium browsers send on
secure origins (``Sec-CH-UA-Platform``, ``Sec-CH-UA``); the hints win where present because a reduced
user agent may hide the real platform. An iPad that asks for desktop sites (the default since iPadOS 13)
says it is a Mac and is named so: nothing in the request tells them apart. The person can rename the
passkey on the account page; the name then follows ``server.auth.names`` like any other.
"""

from __future__ import annotations

import re

__all__ = ["FALLBACK_NAME", "device_name"]

FALLBACK_NAME = "パスキー"

# (pattern on the user agent, device), first match wins: iPad and iPhone before Mac (their agents say
# "like Mac OS X"), Android before Linux, Chrome OS before Linux.
_DEVICES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), d) for p, d in (
    (r"\biPad\b", "iPad"),
    (r"\biPhone\b", "iPhone"),
    (r"\biPod\b", "iPod"),
    (r"\bAndroid\b", "Android"),
    (r"\bWindows\b", "Windows"),
    (r"\bCrOS\b", "Chromebook"),
    (r"\bMacintosh\b|\bMac OS X\b", "Mac"),
    (r"\bLinux\b|\bX11\b", "Linux"),
))

# Sec-CH-UA-Platform values (the registry of the spec) -> device.
_PLATFORMS = {"android": "Android", "windows": "Windows", "macos": "Mac", "ios": "iPhone", "chrome os": "Chromebook",
              "chromeos": "Chromebook", "linux": "Linux"}

# (pattern on the user agent, browser), first match wins: browsers built on Chrome name themselves next to
# "Chrome/", and everything on iOS says "Safari/", so the specific ones come first.
_BROWSERS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), b) for p, b in (
    (r"\bLine/", "LINE"),
    (r"\bEdg(?:e|A|iOS)?/", "Edge"),
    (r"\bOPR/|\bOPiOS/|\bOpera\b", "Opera"),
    (r"\bSamsungBrowser/", "Samsung Internet"),
    (r"\bYJApp-", "Yahoo! JAPAN"),
    (r"\bFirefox/|\bFxiOS/", "Firefox"),
    (r"\bCriOS/|\b(?:Headless)?Chrome/|\bChromium/", "Chrome"),
    (r"\bVersion/[\d.]+.*\bSafari/|\b(?:iPhone|iPad|iPod)\b.*\bMobile/", "Safari"),
))

# Sec-CH-UA brands -> browser; "Chromium" and the GREASE brands ("Not A;Brand") say nothing.
_BRANDS = {"microsoft edge": "Edge", "google chrome": "Chrome", "opera": "Opera", "samsung internet": "Samsung Internet",
           "yandex": "Yandex", "brave": "Brave", "vivaldi": "Vivaldi"}
_BRAND = re.compile(r'"([^"]*)"\s*;\s*v=')


def _hint_value(value: str | None) -> str:
    """A structured-header string (``"Android"``) without its quotes, lower case."""
    return (value or "").strip().strip('"').strip().lower()


def _first(table: tuple[tuple[re.Pattern[str], str], ...], text: str) -> str | None:
    return next((name for pattern, name in table if pattern.search(text)), None)


def device_name(user_agent: str | None, platform_hint: str | None = None, brands_hint: str | None = None) -> str:
    """「{device} の {browser}」, or the one of the two that is known, or 「パスキー」 when neither is."""
    ua = (user_agent or "")[:1000]
    device = _PLATFORMS.get(_hint_value(platform_hint)) or _first(_DEVICES, ua)
    if device == "iPhone" and re.search(r"\biPad\b", ua):
        device = "iPad"  # the platform hint says iOS for both
    brands = [b.lower() for b in _BRAND.findall(brands_hint or "")]
    browser = next((_BRANDS[b] for b in brands if b in _BRANDS), None) or _first(_BROWSERS, ua)
    if device and browser:
        return f"{device} の {browser}"
    return device or browser or FALLBACK_NAME

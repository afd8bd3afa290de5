"""Choice lists the shipped library repeats in several procedures stay one list.

The definition format has no shared choice lists (each procedure is a self-contained, versioned file), so
the copies are pinned here instead: a label changed in one procedure and not the others fails.
"""

from __future__ import annotations

from procedure_definitions.library import load_library
from procedure_definitions.model import ChoiceField, procedure_fields

__all__: list[str] = []

# 世帯のおもな仕事 (人口動態調査): the same six categories on 出生届, 死亡届 and 婚姻届.
HOUSEHOLD_OCCUPATION = "household_occupation"
OCCUPATION_PROCEDURES = {"shussei", "shibo", "konin"}
# The stored values are the statistics' categories 1-6 in order; staff and exports read them.
OCCUPATION_VALUES = ["agriculture", "self_employed", "employee_small", "employee_large", "other_work", "unemployed"]


def _occupation_fields() -> dict[str, ChoiceField]:
    out: dict[str, ChoiceField] = {}
    for proc in load_library().latest_procedures():
        for field, _ in procedure_fields(proc):
            if field.id == HOUSEHOLD_OCCUPATION:
                assert isinstance(field, ChoiceField), proc.id
                out[proc.id] = field
    return out


def test_household_occupation_is_one_list_in_every_procedure() -> None:
    fields = _occupation_fields()
    assert set(fields) == OCCUPATION_PROCEDURES
    first = fields["shussei"]
    for pid, field in fields.items():
        assert [c.value for c in field.choices] == OCCUPATION_VALUES, pid
        assert field.choices == first.choices, f"{pid}: choice labels differ from shussei's"
        assert field.hint == first.hint, f"{pid}: hint differs from shussei's"


def test_household_occupation_labels_are_short_in_every_language() -> None:
    # Each option is read on a phone before choosing: a plain label, the detail in the one hint.
    for pid, field in _occupation_fields().items():
        for c in field.choices:
            assert len(c.label.ja) <= 25, (pid, c.value, c.label.ja)
            assert c.label.en and c.label.ja_easy, (pid, c.value)
        assert field.hint is not None and field.hint.en and field.hint.ja_easy, pid

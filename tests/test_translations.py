"""Translations as CSV: export, import with no change (same bytes, same model), changed texts land, errors located."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import msgspec
import nbformat
import pytest

from madoguchi.cli import main
from procedure_definitions.library import DEFAULT_LIBRARY
from procedure_definitions.loader import load_file, load_text
from procedure_definitions.model import Definition
from procedure_definitions.translations import (
    BOM,
    COLUMNS,
    TranslationError,
    apply_texts,
    read_csv,
    texts_of,
    to_csv,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(Path(DEFAULT_LIBRARY).glob("*/*.yaml"))
NOTEBOOK = ROOT / "notebooks" / "kainu-toroku.ipynb"


def rows_of(csv_text: str) -> list[list[str]]:
    assert csv_text.startswith(BOM)
    return list(csv.reader(io.StringIO(csv_text.removeprefix(BOM), newline="")))


def write_rows(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return BOM + out.getvalue()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_export_then_import_with_no_change_gives_the_same_file_and_model(path: Path, tmp_path: Path) -> None:
    out_csv, out_yaml = tmp_path / "t.csv", tmp_path / "new.yaml"
    assert main(["translations", "export", str(path), "--out", str(out_csv)]) == 0
    rows = rows_of(out_csv.read_text(encoding="utf-8"))
    assert tuple(rows[0]) == COLUMNS
    original = load_file(path)
    assert len(rows) - 1 == len(texts_of(original.definition)) > 0
    assert main(["translations", "import", str(path), str(out_csv), "--out", str(out_yaml)]) == 0
    assert out_yaml.read_bytes() == path.read_bytes()
    assert load_file(out_yaml).definition == original.definition


def _translated(value: str, lang: str) -> str:
    # Characters that need quoting in flow and block YAML, a line break, and a change to see.
    return f"{value} ★{lang}: a, {{b}} #c" if lang != "ja" else value + "（改）"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_text_changed_lands_and_nothing_else_changes(path: Path) -> None:
    """Each language of each text changed, added where missing: the model is the original with these texts."""
    source = path.read_text(encoding="utf-8")
    res = load_text(source, str(path))
    entries = texts_of(res.definition)
    rows = {e.key: {lang: _translated(e.texts.get(lang, e.texts["ja"]), lang) for lang in ("ja", "en", "ja-easy")}
            for e in entries}
    new = apply_texts(source, res, rows)
    again = load_text(new, str(path))
    assert [p.format() for p in again.problems if p.severity == "error"] == []
    assert {e.key: e.texts for e in texts_of(again.definition)} == rows
    # Everything but the texts is the same: put the old texts back into the new model and compare.
    restored = msgspec.to_builtins(again.definition)
    for e in entries:
        node = restored
        for seg in e.path[:-1]:
            node = node[seg]
        node[e.path[-1]] = e.texts
    assert msgspec.convert(restored, Definition) == res.definition


SAMPLE = """\
kind: procedure
id: sample
version: 1.0.0
# the title stays a shorthand string until someone translates it
title: 見本の手続
department: {id: shimin, name: {ja: 市民課, en: Citizens Division}}
sections:
  - id: main
    title:
      ja: 内容   # block mapping
      en: Contents
    fields:
      - id: who
        type: text
        label: {ja: 名前, en: Name, ja-easy: なまえ}
        help: |
          長い説明です。
          二行目。
      - id: kind
        type: choice
        label: 種類
        choices:
          - {value: a, label: {ja: エー}}
          - {value: b, label: ビー}
"""


def _apply(changes: dict[str, dict[str, str]]) -> tuple[str, Any]:
    res = load_text(SAMPLE, "sample.yaml")
    assert res.ok, [p.format() for p in res.problems]
    new = apply_texts(SAMPLE, res, changes)
    return new, load_text(new, "sample.yaml").definition


def test_a_changed_en_text_lands_in_the_yaml_and_the_rest_keeps_its_bytes() -> None:
    new, proc = _apply({"sections[main].fields[who].label": {"ja": "名前", "en": "Full name", "ja-easy": "なまえ"}})
    assert "label: {ja: 名前, en: Full name, ja-easy: なまえ}" in new
    assert proc.sections[0].fields[0].label.en == "Full name"
    assert new.replace("Full name", "Name") == SAMPLE  # one value rewritten, nothing else


def test_texts_are_added_to_shorthands_flow_and_block_mappings_and_after_block_scalars() -> None:
    new, proc = _apply({
        "title": {"ja": "見本の手続", "en": "Sample"},
        "sections[main].title": {"ja": "内容", "en": "Contents", "ja-easy": "なかみ"},
        "sections[main].fields[who].help": {"ja": "長い説明です。\n二行目。\n", "en": "Long help.\nLine two.\n"},
        "sections[main].fields[kind].choices[a].label": {"ja": "エー", "en": "A: first"},
        "sections[main].fields[kind].choices[b].label": {"ja": "ビー", "en": "B, {second}"},
    })
    assert "# the title stays a shorthand string until someone translates it" in new
    assert "ja: 内容   # block mapping" in new
    assert proc.title.en == "Sample"
    assert proc.sections[0].title.ja_easy == "なかみ"
    who, kind = proc.sections[0].fields
    assert who.help.ja == "長い説明です。\n二行目。\n" and who.help.en == "Long help.\nLine two.\n"
    assert [c.label.en for c in kind.choices] == ["A: first", "B, {second}"]


def test_an_emptied_language_is_taken_away_and_a_missing_column_keeps_it() -> None:
    _, proc = _apply({"sections[main].fields[who].label": {"ja": "名前", "en": "", "ja-easy": "なまえ"}})
    label = proc.sections[0].fields[0].label
    assert (label.ja, label.en, label.ja_easy) == ("名前", None, "なまえ")
    _, proc = _apply({"sections[main].fields[who].label": {"ja": "氏名"}})  # a CSV with only key,ja
    label = proc.sections[0].fields[0].label
    assert (label.ja, label.en, label.ja_easy) == ("氏名", "Name", "なまえ")


def test_keys_name_items_by_id_or_choice_value_in_file_order() -> None:
    res = load_text(SAMPLE, "sample.yaml")
    keys = [e.key for e in texts_of(res.definition, res.located)]
    assert keys == ["title", "department.name", "sections[main].title", "sections[main].fields[who].label",
                    "sections[main].fields[who].help", "sections[main].fields[kind].label",
                    "sections[main].fields[kind].choices[a].label", "sections[main].fields[kind].choices[b].label"]
    rows = rows_of(to_csv(texts_of(res.definition, res.located)))
    assert rows[4] == ["sections[main].fields[who].label", "名前", "Name", "なまえ"]


@pytest.fixture
def sample_files(tmp_path: Path) -> tuple[Path, Path]:
    yaml_path = tmp_path / "sample.yaml"
    yaml_path.write_text(SAMPLE, encoding="utf-8")
    csv_path = tmp_path / "sample.csv"
    assert main(["translations", "export", str(yaml_path), "--out", str(csv_path)]) == 0
    return yaml_path, csv_path


def test_import_write_changes_the_file_in_place(sample_files: tuple[Path, Path]) -> None:
    yaml_path, csv_path = sample_files
    rows = rows_of(csv_path.read_text(encoding="utf-8"))
    rows[1][2] = "Sample procedure"  # title's en
    csv_path.write_text(write_rows(rows), encoding="utf-8", newline="")
    assert main(["translations", "import", str(yaml_path), str(csv_path), "--write"]) == 0
    assert load_file(yaml_path).definition.title.en == "Sample procedure"


@pytest.mark.parametrize(("edit", "where", "code", "message"), [
    (lambda rows: rows[3].__setitem__(0, "sections[main].titel"), "4:1", "PD253",
     "unknown text key 'sections[main].titel' (did you mean 'sections[main].title'?)"),
    (lambda rows: rows[2].__setitem__(1, ""), "3:2", "PD254", "department.name: the Japanese text (ja) is required"),
    (lambda rows: rows.append(list(rows[1])), "10:1", "PD254", "key 'title' is given twice (first in row 2)"),
    (lambda rows: rows[0].__setitem__(3, "easy"), "1:4", "PD254", "unknown or repeated column 'easy'"),
    (lambda rows: rows[5].append("extra"), "6:5", "PD254", "5 cells but 4 columns"),
])
def test_bad_rows_are_located_and_nothing_is_written(sample_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                                      edit: object, where: str, code: str, message: str) -> None:
    yaml_path, csv_path = sample_files
    rows = rows_of(csv_path.read_text(encoding="utf-8"))
    rows[1][2] = "changed"  # a good change in the same file: still nothing is written
    edit(rows)  # type: ignore[operator]
    csv_path.write_text(write_rows(rows), encoding="utf-8", newline="")
    capsys.readouterr()
    assert main(["translations", "import", str(yaml_path), str(csv_path), "--write"]) == 1
    out = capsys.readouterr().out
    assert f"{csv_path}:{where}: {code} " in out and message in out, out
    assert yaml_path.read_text(encoding="utf-8") == SAMPLE


@pytest.mark.parametrize("bad", ["x\r\ny", "x\ry", "x\u0085y", "x\x0cy", "x\x0by", "x\x1by", "x\u202ey"],
                         ids=["crlf", "cr", "nel", "ff", "vt", "esc", "bidi"])
def test_a_cell_with_a_stray_line_break_is_located_in_the_csv(sample_files: tuple[Path, Path], bad: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The CSV's cell is named (row 2 = title, column 3 = en), never the YAML the text would be written into."""
    yaml_path, csv_path = sample_files
    rows = rows_of(csv_path.read_text(encoding="utf-8"))
    rows[1][2] = bad
    csv_path.write_text(write_rows(rows), encoding="utf-8", newline="")
    capsys.readouterr()
    assert main(["translations", "import", str(yaml_path), str(csv_path), "--write"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{csv_path}:2:3: PD254 translations CSV: title (en): ") and "please report" not in out, out
    assert f"{yaml_path}:" not in out and yaml_path.read_text(encoding="utf-8") == SAMPLE


def test_read_csv_reports_every_problem_at_once() -> None:
    res = load_text(SAMPLE, "sample.yaml")
    text = write_rows([list(COLUMNS), ["nope", "x", "", ""], ["title", "", "", ""]])
    with pytest.raises(TranslationError) as info:
        read_csv(text, "t.csv", texts_of(res.definition))
    assert [(p.line, p.col, p.code) for p in info.value.problems] == [(2, 1, "PD253"), (3, 2, "PD254")]


def test_a_csv_that_is_not_utf8_is_located(sample_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    yaml_path, csv_path = sample_files
    csv_path.write_bytes("key,ja\ntitle,見本\n".encode("shift_jis"))
    assert main(["translations", "import", str(yaml_path), str(csv_path)]) == 1
    assert f"{csv_path}:1:1: PD254 translations CSV: not UTF-8" in capsys.readouterr().out


NOTEBOOKS = [NOTEBOOK, ROOT / "notebooks" / "new-procedure.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_round_trip_byte_for_byte(path: Path, tmp_path: Path) -> None:
    out_csv, out_nb = tmp_path / "nb.csv", tmp_path / "nb.ipynb"
    assert main(["translations", "export", str(path), "--out", str(out_csv)]) == 0
    assert main(["translations", "import", str(path), str(out_csv), "--out", str(out_nb)]) == 0
    assert out_nb.read_bytes() == path.read_bytes()


def test_notebook_texts_land_in_the_cells_they_came_from(tmp_path: Path) -> None:
    out_csv, out_nb = tmp_path / "nb.csv", tmp_path / "nb.ipynb"
    assert main(["translations", "export", str(NOTEBOOK), "--out", str(out_csv)]) == 0
    rows = rows_of(out_csv.read_text(encoding="utf-8"))
    change = {  # key -> (column, text): a YAML text, a help cell's text, a help cell added, a YAML text added
        "title": (2, "Dog registration (changed)"),
        "sections[dog].fields[dog_name].help": (2, "Changed EN help"),
        "sections[owner].fields[dog_location].help": (2, "Where the dog is kept, in English"),
        "sections[dog].fields[breed].choices[chihuahua].label": (3, "チワワ（やさしい）"),
    }
    for row in rows:
        if row[0] in change:
            col, text = change[row[0]]
            row[col] = text
    out_csv.write_text(write_rows(rows), encoding="utf-8", newline="")
    assert main(["translations", "import", str(NOTEBOOK), str(out_csv), "--out", str(out_nb)]) == 0
    proc = load_file(out_nb).definition
    assert proc.title.en == "Dog registration (changed)"
    fields = {f.id: f for s in proc.sections for f in s.fields}
    assert fields["dog_name"].help.en == "Changed EN help"
    assert fields["dog_location"].help.en == "Where the dog is kept, in English"
    assert fields["breed"].choices[2].label.ja_easy == "チワワ（やさしい）"
    old, new = NOTEBOOK.read_text(encoding="utf-8"), out_nb.read_text(encoding="utf-8")
    assert '"help:dog_location:en"' in new and '"help:dog_location:en"' not in old  # a new help cell
    assert "The name you call the dog by" in old and "The name you call the dog by" not in new
    # Everything else as it was: the other texts, every other cell and the saved outputs.
    nb_old, nb_new = nbformat.reads(old, as_version=4), nbformat.reads(new, as_version=4)
    assert len(nb_new.cells) == len(nb_old.cells) + 1
    assert [c.outputs for c in nb_new.cells if c.cell_type == "code"] == [
        c.outputs for c in nb_old.cells if c.cell_type == "code"]
    before = {e.key: e.texts for e in texts_of(load_file(NOTEBOOK).definition)}
    after = {e.key: e.texts for e in texts_of(proc)}
    assert {k for k in before if before[k] != after[k]} == set(change)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_text_of_a_notebook_changed_lands(path: Path) -> None:
    from procedure_definitions.translations_nb import apply_texts_notebook

    source = path.read_text(encoding="utf-8")
    res = load_file(path)
    rows = {e.key: {lang: _translated(e.texts.get(lang, e.texts["ja"]), lang).strip() for lang in ("ja", "en", "ja-easy")}
            for e in texts_of(res.definition)}
    new = apply_texts_notebook(source, res, rows)  # raises unless the model is the original with these texts
    assert {e.key: e.texts for e in texts_of(load_text_nb(new))} == rows


def load_text_nb(text: str) -> Any:
    from procedure_definitions.loader import load_source

    return load_source(text, "nb.ipynb", notebook=True).definition


def test_a_broken_definition_is_reported_not_exported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SAMPLE.replace("type: text", "type: txt"), encoding="utf-8")
    assert main(["translations", "export", str(bad)]) == 1
    assert f"{bad}:" in capsys.readouterr().out


def test_a_help_cell_shared_by_two_targets_is_refused(tmp_path: Path) -> None:
    from nbformat.v4 import new_markdown_cell, new_notebook

    from procedure_definitions.translations_nb import apply_texts_notebook

    head = new_markdown_cell("```yaml\n" + SAMPLE.replace("        help: |\n          長い説明です。\n          二行目。\n", "")
                             + "```")
    head.metadata["tags"] = ["procedure"]
    shared = new_markdown_cell("共通の説明")
    shared.metadata["tags"] = ["help:who", "help:section:main"]
    path = tmp_path / "shared.ipynb"
    nbformat.write(new_notebook(cells=[head, shared]), path)
    res = load_file(path)
    assert res.ok, [p.format() for p in res.problems]
    with pytest.raises(TranslationError, match="also holds help:section:main: give each help its own cell"):
        apply_texts_notebook(path.read_text(encoding="utf-8"), res,
                             {"sections[main].fields[who].help": {"ja": "名前の説明"}})

"""Procedure notebooks: extraction, line map, help injection, the nbconvert exporter, the shipped notebook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from procedure_definitions.notebook import (
    ExtractedNotebook,
    NotebookError,
    apply_help,
    extract,
    ipynb_position,
    notebook_to_yaml,
    to_mapping,
    to_yaml,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "notebooks" / "kainu-toroku.ipynb"

HEAD = """kind: procedure
id: nb-sample
version: 1.0.0
title: {ja: 見本}
department: {id: shimin, name: {ja: 市民課}}
sections:
  - id: main
    title: {ja: 内容}
    fields:
      - id: who
        type: text
        required: true
        label: {ja: "名前 \\"ニックネーム\\""}
        hint: {ja: ひらがなで}
"""
TAIL = """      - id: people
        type: group
        label: {ja: 対象者}
        fields:
          - id: person
            type: name
            label: {ja: 氏名}
"""


def tagged(cell: Any, *tags: str) -> Any:
    cell.metadata["tags"] = list(tags)
    return cell


def sample_notebook() -> Any:
    return new_notebook(
        cells=[
            new_markdown_cell("# 見本の手続"),
            tagged(new_raw_cell(HEAD), "procedure"),
            tagged(new_markdown_cell("名前の**説明**です。"), "help:who"),
            tagged(new_markdown_cell("Your name."), "help:who:en"),
            new_code_cell("print('not part of the definition')"),
            tagged(new_code_cell("%%yaml\n" + TAIL), "procedure"),
            tagged(new_markdown_cell("対象者の説明"), "help:person", "help:section:main"),
            tagged(new_markdown_cell("なまえ を かいて"), "help:person:ja-easy"),
        ]
    )


@pytest.fixture
def nb_path(tmp_path: Path) -> Path:
    path = tmp_path / "sample.ipynb"
    nbformat.write(sample_notebook(), path)
    return path


def test_extract_concatenates_procedure_cells_and_drops_cell_magic(nb_path: Path) -> None:
    ex = extract(nb_path)
    assert ex.errors == []
    assert ex.yaml_text == HEAD + TAIL
    assert "%%yaml" not in ex.yaml_text and "print(" not in ex.yaml_text
    data = yaml.safe_load(ex.yaml_text)
    assert [f["id"] for f in data["sections"][0]["fields"]] == ["who", "people"]


def test_line_map_points_at_the_json_string_of_each_yaml_line(nb_path: Path) -> None:
    ex = extract(nb_path)
    file_lines = nb_path.read_text(encoding="utf-8").splitlines()
    yaml_lines = ex.yaml_text.splitlines(keepends=True)
    assert len(ex.line_map) == len(yaml_lines) and all(ex.exact)
    for yaml_line, (line, offset) in zip(yaml_lines, ex.line_map, strict=True):
        raw = file_lines[line - 1]
        # Column 1 of the YAML line is file column 1 + offset: just after the opening quote.
        assert raw[offset - 1] == '"'
        assert json.loads(raw.strip().rstrip(",")) == yaml_line


def test_markdown_cells_contribute_their_yaml_fences(tmp_path: Path) -> None:
    prose = "犬について。\n\n```yaml\n" + HEAD + "```\n\nあいだの文章\n\n~~~yml\n" + TAIL + "~~~\n"
    nb = new_notebook(cells=[tagged(new_markdown_cell(prose), "procedure"), new_markdown_cell("```yaml\nx: 1\n```")])
    path = tmp_path / "fenced.ipynb"
    nbformat.write(nb, path)
    ex = extract(path)
    assert ex.errors == [] and ex.yaml_text == HEAD + TAIL  # untagged cells stay prose
    file_lines = path.read_text(encoding="utf-8").splitlines()
    for yaml_line, (line, offset) in zip(ex.yaml_text.splitlines(keepends=True), ex.line_map, strict=True):
        assert json.loads(file_lines[line - 1].strip().rstrip(",")) == yaml_line
        assert file_lines[line - 1][offset - 1] == '"'


def test_ipynb_position_counts_escaped_characters(nb_path: Path) -> None:
    ex = extract(nb_path)
    yaml_lines = ex.yaml_text.splitlines()
    i = next(n for n, text in enumerate(yaml_lines) if "ニックネーム" in text)
    col = yaml_lines[i].index("ニックネーム") + 1
    line, file_col = ipynb_position(ex, i + 1, col)
    raw = nb_path.read_text(encoding="utf-8").splitlines()[line - 1]
    assert raw[file_col - 1 :].startswith("ニックネーム")


def test_in_memory_notebook_maps_like_the_written_file(nb_path: Path) -> None:
    assert extract(nbformat.read(nb_path, as_version=4)).line_map == extract(nb_path).line_map
    assert extract(nb_path.read_text(encoding="utf-8")).line_map == extract(nb_path).line_map


def test_help_cells_by_target_and_language(nb_path: Path) -> None:
    ex = extract(nb_path)
    assert ex.help == {
        "who": {"ja": "名前の**説明**です。", "en": "Your name."},
        "person": {"ja": "対象者の説明", "ja-easy": "なまえ を かいて"},
        "section:main": {"ja": "対象者の説明"},
    }


def test_help_is_injected_into_fields_groups_and_sections(nb_path: Path) -> None:
    data = to_mapping(extract(nb_path))
    section = data["sections"][0]
    who, people = section["fields"]
    assert who["help"] == {"ja": "名前の**説明**です。", "en": "Your name."}
    assert list(who)[-1] == "help" and list(who).index("help") == list(who).index("hint") + 1
    assert people["fields"][0]["help"] == {"ja": "対象者の説明", "ja-easy": "なまえ を かいて"}
    assert section["help"] == "対象者の説明"  # ja only: the plain-string shorthand
    assert list(section).index("help") == list(section).index("title") + 1


def test_apply_help_reports_unknown_targets_and_merges_languages() -> None:
    raw: dict[str, Any] = {
        "kind": "procedure",
        "sections": [{"id": "s", "title": "T", "fields": [{"id": "a", "label": "A", "help": "既存"}]}],
    }
    same = raw["sections"][0]["fields"][0]
    unmatched = apply_help(raw, {"a": {"en": "English"}, "nope": {"ja": "x"}, "section:zz": {"ja": "y"}})
    assert unmatched == ["nope", "section:zz"]
    assert raw["sections"][0]["fields"][0] is same  # changed in place: the loader keeps positions for it
    assert same["help"] == {"ja": "既存", "en": "English"}


def test_apply_help_on_life_event_questions_and_bad_shapes() -> None:
    event: dict[str, Any] = {"kind": "life_event", "questions": [{"id": "has_dog", "label": "犬"}]}
    assert apply_help(event, {"has_dog": {"ja": "飼い犬"}}) == []
    assert event["questions"][0]["help"] == "飼い犬"
    assert apply_help({"sections": "not a list"}, {"a": {"ja": "x"}}) == ["a"]


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([new_markdown_cell("just prose")], "no cell is tagged 'procedure'"),
        ([tagged(new_markdown_cell("x"), "procedure"), tagged(new_raw_cell("kind: procedure"), "procedure")],
         "has no ```yaml block"),
        ([tagged(new_raw_cell("kind: procedure"), "procedure"), tagged(new_markdown_cell("x"), "help:")],
         "malformed help tag"),
        ([tagged(new_raw_cell("kind: procedure"), "procedure"), tagged(new_markdown_cell("x"), "help:a:fr")],
         "malformed help tag"),
        ([tagged(new_raw_cell("kind: procedure"), "procedure"), tagged(new_code_cell("x"), "help:a")],
         "belongs on a markdown cell"),
        ([tagged(new_raw_cell("kind: procedure"), "procedure"), tagged(new_markdown_cell("x"), "help:a:en")],
         "has no Japanese text"),
        ([tagged(new_raw_cell("kind: procedure"), "procedure"), tagged(new_markdown_cell("a\x1bb"), "help:a")],
         "a control character (U+001B)"),
        ([tagged(new_raw_cell("kind: procedure"), "procedure"), tagged(new_markdown_cell("a\u202eb"), "help:a")],
         "a bidirectional control character (U+202E)"),
    ],
)
def test_problems_are_reported_not_raised(tmp_path: Path, cells: list[Any], message: str) -> None:
    path = tmp_path / "bad.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    ex = extract(path)
    assert any(message in e for e in ex.errors), ex.errors


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON"),
        ('{"nbformat": 3, "cells": []}', "only nbformat 4"),
        ('["a list"]', "no 'cells' list"),
    ],
)
def test_unreadable_notebooks_give_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "x.ipynb"
    path.write_text(content, encoding="utf-8")
    ex = extract(path)
    assert ex.yaml_text == "" and any(message in e for e in ex.errors)
    assert any("cannot read" in e for e in extract(tmp_path / "missing.ipynb").errors)


def test_to_mapping_raises_one_error_listing_every_problem(tmp_path: Path) -> None:
    nb = new_notebook(
        cells=[
            tagged(new_raw_cell("kind: procedure\nid: [unclosed\n"), "procedure"),
        ]
    )
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(NotebookError, match="invalid YAML"):
        notebook_to_yaml(path)
    with pytest.raises(NotebookError, match="matches no field"):
        to_mapping(ExtractedNotebook("kind: procedure\n", [(1, 0)], {"ghost": {"ja": "x"}}, []))


def test_exporter_output_round_trips_through_yaml(nb_path: Path) -> None:
    from procedure_definitions.notebook import ProcedureYAMLExporter

    exporter = ProcedureYAMLExporter()
    output, resources = exporter.from_notebook_node(nbformat.read(nb_path, as_version=4))
    assert resources["output_extension"] == ".yaml"
    assert yaml.safe_load(output) == to_mapping(extract(nb_path))
    assert output == to_yaml(extract(nb_path)) == notebook_to_yaml(nb_path)
    assert output.startswith("kind: procedure\nid: nb-sample\n")  # key order as written
    assert "見本" in output  # allow_unicode


def test_exporter_is_registered_with_nbconvert() -> None:
    from nbconvert.exporters import get_exporter

    try:
        exporter = get_exporter("madoguchi_yaml")
    except ValueError:
        pytest.skip("package not installed (pip install -e .): entry point missing")
    assert exporter.__name__ == "ProcedureYAMLExporter"


def test_shipped_notebook_loads_cleanly_and_exports() -> None:
    from procedure_definitions.loader import load_file

    result = load_file(SHIPPED)
    assert [p.format() for p in result.problems] == []
    proc = result.definition
    assert proc.id == "kainu-toroku"
    data = yaml.safe_load(notebook_to_yaml(SHIPPED))
    assert data["id"] == "kainu-toroku"
    dog = next(s for s in data["sections"] if s["id"] == "dog")
    dog_name = next(f for f in dog["fields"] if f["id"] == "dog_name")
    assert set(dog_name["help"]) == {"ja", "en", "ja-easy"}


def test_loader_reports_positions_inside_the_notebook(tmp_path: Path) -> None:
    from procedure_definitions.loader import load_file

    text = HEAD.replace("id: nb-sample", "id: nb-sample\nbogus_key: 1") + TAIL
    path = tmp_path / "typo.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("prose"), tagged(new_raw_cell(text), "procedure")]), path)
    problems = load_file(path).problems
    assert problems, "an unknown key must be reported"
    first = problems[0]
    raw = path.read_text(encoding="utf-8").splitlines()[first.line - 1]
    assert raw[first.col - 1 :].startswith("bogus_key")


@pytest.mark.parametrize("kind", ["raw", "markdown"])
@pytest.mark.parametrize("one_string", [False, True], ids=["list-source", "one-string-source"])
def test_positions_for_list_and_one_string_sources(tmp_path: Path, kind: str, one_string: bool) -> None:
    """nbformat allows a cell's ``source`` as a list of lines (what Jupyter writes) or as ONE string: both give
    the file's true line and column (check and drafts push both go through load_file / load_source)."""
    from procedure_definitions.loader import load_file, load_source

    text = HEAD.replace("        hint:", "        maxx: 3\n        hint:") + TAIL
    cell = new_raw_cell(text) if kind == "raw" else new_markdown_cell('前書き "引用"\n\n```yaml\n' + text + "```\n")
    nb = new_notebook(cells=[new_markdown_cell("prose\nmore prose"), tagged(cell, "procedure"), new_code_cell("x = 1")])
    path = tmp_path / "nb_bad.ipynb"
    if one_string:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        nbformat.write(nb, path)
    raw_text = path.read_text(encoding="utf-8")
    starts = "kind: procedure" if kind == "raw" else "前書き"
    assert (f'"source": "{starts}' in raw_text) == one_string  # the form under test is the one written
    for result in (load_file(path), load_source(raw_text, str(path), notebook=True)):
        bad = next(p for p in result.problems if p.code == "PD101")
        raw = raw_text.splitlines()[bad.line - 1]
        assert raw[bad.col - 1 :].startswith("maxx: 3"), (bad.format(), raw[:80])


def test_shipped_notebook_has_saved_outputs() -> None:
    nb = nbformat.read(SHIPPED, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs for c in code), "run the notebook and save its outputs"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


@pytest.mark.slow
def test_shipped_notebook_executes_without_errors() -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(SHIPPED, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(SHIPPED.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    html = "".join(
        o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "飼い犬の登録" in html and "<table>" in html


def test_preview_renders_labels_choices_documents_and_fee_as_plain_html() -> None:
    from procedure_definitions.loader import load_file
    from procedure_definitions.preview import render_procedure

    proc = load_file(SHIPPED).definition
    html = render_procedure(proc)
    assert "<script" not in html
    for text in ("飼い犬の登録", "犬の名前", "※必須", "※任意", "トイ・プードル", "3,000円", "持ち物", "表示条件"):
        assert text in html, text
    assert "迷子になったとき" in html  # help from a notebook cell, inside <details>
    assert "Dog registration" in render_procedure(proc, "en")


def test_preview_escapes_html() -> None:
    import msgspec

    from procedure_definitions.model import Procedure
    from procedure_definitions.preview import render_procedure

    proc = msgspec.convert(
        {
            "kind": "procedure",
            "id": "x",
            "version": "1.0.0",
            "title": {"ja": "<b>太字</b>"},
            "department": {"id": "d", "name": {"ja": "課"}},
            "sections": [{"id": "s", "title": {"ja": "頁"}, "fields": [
                {"id": "a", "type": "text", "label": {"ja": "<script>alert(1)</script>"}}
            ]}],
        },
        Procedure,
    )
    html = render_procedure(proc)
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "<b>太字" not in html

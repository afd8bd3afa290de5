"""A static HTML preview of a procedure: what the resident will be asked, for authors and reviewers.

Plain HTML with a small inline style sheet and no JavaScript, so it renders inside a notebook, on GitHub
and offline. It shows every field (conditional ones marked with their condition) rather than running the
form logic: the preview is for reading a definition, the PWA is for filling it in.
"""

from __future__ import annotations

from html import escape

from .model import (
    ChoiceField,
    FieldBase,
    GroupField,
    MultiChoiceField,
    NoticeField,
    NumberField,
    Procedure,
    Section,
    Text,
)

__all__ = ["TYPE_LABELS", "render_procedure"]

# How each field type is described to a Japanese reader of the preview.
TYPE_LABELS: dict[str, str] = {
    "text": "文字",
    "longtext": "文章",
    "number": "数値",
    "yesno": "はい／いいえ",
    "choice": "選択（1つ）",
    "multichoice": "選択（複数）",
    "date": "日付",
    "wareki": "日付（和暦表示）",
    "email": "メールアドレス",
    "phone": "電話番号",
    "name": "氏名",
    "kana": "フリガナ",
    "postal_code": "郵便番号",
    "address": "住所",
    "my_number": "個人番号",
    "corporate_number": "法人番号",
    "attachment": "添付（写真・ファイル）",
    "group": "繰り返し",
    "person": "世帯員から選択",
    "notice": "お知らせ",
}

_STYLE = (
    ".mdg-preview{font-family:'Noto Sans JP',-apple-system,BlinkMacSystemFont,sans-serif;color:#333;"
    "max-width:40em;line-height:1.6}"
    ".mdg-preview section{border-top:2px solid #0017c1;margin-top:1em;padding-top:.4em}"
    ".mdg-field{margin:.6em 0;padding:.4em .6em;border-left:4px solid #ccc}"
    ".mdg-req{color:#ce0000;font-size:.85em}.mdg-opt{color:#666;font-size:.85em}"
    ".mdg-type{background:#eef;border-radius:3px;padding:0 .3em;font-size:.8em}"
    ".mdg-hint,.mdg-meta{color:#666;font-size:.9em}"
    ".mdg-cond{color:#927200;font-size:.85em}"
    ".mdg-notice{background:#fffbe6}.mdg-help{white-space:pre-wrap;font-size:.9em}"
)


def _t(text: Text | None, lang: str) -> str:
    """The text in ``lang`` (``ja``, ``en`` or ``ja-easy``), falling back to Japanese; HTML-escaped."""
    if text is None:
        return ""
    value = {"en": text.en, "ja-easy": text.ja_easy}.get(lang) or text.ja
    return escape(value)


def _help(text: Text | None, lang: str) -> str:
    # Help is markdown; shown as wrapped plain text in a <details> (opens without JavaScript).
    if text is None:
        return ""
    return f'<details><summary>詳しい説明</summary><div class="mdg-help">{_t(text, lang)}</div></details>'


def _choices(field: ChoiceField | MultiChoiceField, lang: str) -> str:
    items = "".join(
        f"<li>{_t(c.label, lang)} <code>{escape(c.value)}</code></li>" for c in field.choices
    )
    return f"<ul>{items}</ul>" if items else ""


def _badges(field: FieldBase) -> str:
    tag = str(field.__struct_config__.tag)
    parts = [f'<span class="mdg-type">{escape(TYPE_LABELS.get(tag, tag))}</span>']
    if isinstance(field, NoticeField):
        return parts[0]
    if field.required:
        parts.insert(0, '<span class="mdg-req">※必須</span>')
    elif field.calculate is None:
        parts.insert(0, '<span class="mdg-opt">※任意</span>')
    if field.staff_only:  # filled at the counter: residents never see it (docs/procedure-format.md)
        parts.append('<span class="mdg-type">職員のみ</span>')
    return " ".join(parts)


def _meta(field: FieldBase) -> str:
    notes: list[str] = []
    if field.prefill:
        notes.append(f"登録情報から自動入力（{escape(field.prefill)}）")
    if field.calculate:
        notes.append(f"自動計算: <code>{escape(field.calculate)}</code>")
    if isinstance(field, NumberField) and field.unit is not None:
        notes.append(f"単位: {_t(field.unit, 'ja')}")
    conds = []
    if field.show_if:
        conds.append(f"表示条件: <code>{escape(field.show_if)}</code>")
    if field.required_if:
        conds.append(f"必須条件: <code>{escape(field.required_if)}</code>")
    out = f'<div class="mdg-meta">{"／".join(notes)}</div>' if notes else ""
    if conds:
        out += f'<div class="mdg-cond">{"／".join(conds)}</div>'
    return out


def _field(field: FieldBase, lang: str) -> str:
    css = "mdg-field mdg-notice" if isinstance(field, NoticeField) else "mdg-field"
    body = [f"<div><strong>{_t(field.label, lang)}</strong> {_badges(field)}</div>"]
    if field.hint is not None:
        body.append(f'<div class="mdg-hint">{_t(field.hint, lang)}</div>')
    body.append(_help(field.help, lang))
    if isinstance(field, NoticeField) and field.text is not None:
        body.append(f"<p>{_t(field.text, lang)}</p>")
    if isinstance(field, ChoiceField | MultiChoiceField):
        body.append(_choices(field, lang))
    if isinstance(field, GroupField):
        inner = "".join(_field(sub, lang) for sub in field.fields)
        body.append(f"<div>{inner}</div>")
    body.append(_meta(field))
    return f'<div class="{css}" id="field-{escape(field.id)}">{"".join(body)}</div>'


def _section(section: Section, lang: str) -> str:
    cond = (
        f'<div class="mdg-cond">表示条件: <code>{escape(section.show_if)}</code></div>' if section.show_if else ""
    )
    fields = "".join(_field(f, lang) for f in section.fields)
    staff = ' <span class="mdg-type">職員のみ</span>' if section.staff_only else ""
    title = f"<h3>{_t(section.title, lang)}{staff}</h3>"
    return f'<section id="section-{escape(section.id)}">{title}{cond}{_help(section.help, lang)}{fields}</section>'


def _documents(proc: Procedure, lang: str) -> str:
    if not proc.documents:
        return ""
    items = []
    for doc in proc.documents:
        note = f'<div class="mdg-hint">{_t(doc.note, lang)}</div>' if doc.note else ""
        cond = f' <span class="mdg-cond">（条件: <code>{escape(doc.required_if)}</code>）</span>' if doc.required_if else ""
        items.append(f"<li>{_t(doc.label, lang)}{cond}{note}</li>")
    return f"<h3>持ち物</h3><ul>{''.join(items)}</ul>"


def _fee(proc: Procedure, lang: str) -> str:
    if proc.fee is None:
        return "<p>手数料: 無料</p>"
    per = f"（{_t(proc.fee.per, lang)}）" if proc.fee.per else ""
    return f"<p>手数料: {proc.fee.amount:,}円{per}</p>"


def render_procedure(proc: Procedure, lang: str = "ja") -> str:
    """The whole procedure as one self-contained HTML fragment (``lang``: ja, en or ja-easy)."""
    desc = f"<p>{_t(proc.description, lang)}</p>" if proc.description else ""
    head = (
        f"<h2>{_t(proc.title, lang)}</h2>"
        f'<div class="mdg-meta">{escape(proc.id)} {escape(proc.version)} ・ {_t(proc.department.name, lang)}</div>'
    )
    sections = "".join(_section(s, lang) for s in proc.sections)
    return (
        f'<div class="mdg-preview"><style>{_STYLE}</style>{head}{desc}'
        f"{_fee(proc, lang)}{_documents(proc, lang)}{sections}</div>"
    )

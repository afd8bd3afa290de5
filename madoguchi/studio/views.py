"""How drafts, diffs and previews look in a notebook (``_repr_html_``): plain HTML, every value escaped.

Check results are the located ``path:line:col: CODE message`` lines of ``madoguchi check``; the estimate is
shown against the 60-second goal; a link goes to the console page (the preview is ``draft.preview()``).
"""

from __future__ import annotations

from html import escape
from typing import Any

from procedure_definitions.timing import BUDGET_SECONDS

__all__ = ["GOAL_SECONDS", "HTMLView", "diff_html", "draft_html", "preview_html"]

GOAL_SECONDS = int(BUDGET_SECONDS)  # the goal `madoguchi check` holds definitions to (PD401)


class HTMLView:
    """Something a notebook shows as HTML (``IPython.display.HTML`` when IPython is there)."""

    def __init__(self, html: str, **attrs: Any) -> None:
        self.html = html
        for k, v in attrs.items():
            setattr(self, k, v)

    def _repr_html_(self) -> str:
        return self.html


def _link(url: str | None, text: str) -> str:
    return f'<a href="{escape(url)}" target="_blank" rel="noopener">{escape(text)}</a>' if url else ""


def draft_html(d: dict[str, Any], links: dict[str, str]) -> str:
    ok = bool(d.get("ok"))
    badge = ("<strong style=\"color:#0a6b2d\">✓ エラーなし / no errors</strong>" if ok else
             "<strong style=\"color:#b00020\">✗ エラーあり / has errors</strong>")
    head = (f"<h4 style=\"margin:0\">{escape(str(d.get('procedure_id') or d.get('filename') or ''))} "
            f"{escape(str(d.get('version') or ''))} <small>(draft {escape(str(d.get('id', '')))}, "
            f"rev {escape(str(d.get('revision', '')))}, {escape(str(d.get('state', '')))})</small></h4>")
    lines = [str(x) for x in d.get("lines") or []]
    problems = (f"<pre style=\"white-space:pre-wrap\">{escape(chr(10).join(lines))}</pre>" if lines else "")
    est = d.get("estimate_seconds")
    if isinstance(est, int | float):
        within = est <= GOAL_SECONDS
        over = "" if within else ' <strong style="color:#b00020">(over)</strong>'
        estimate = (f"<p>推定所要時間 / estimate: <strong>{est:g} 秒</strong> "
                    f"{'≤' if within else '>'} 目標 {GOAL_SECONDS} 秒 / goal{over}</p>")
    else:
        estimate = ""
    scen = d.get("scenarios") or []
    scenarios = ""
    if scen:
        items = "".join(
            f"<li>{'✓' if s.get('ok') else '✗'} {escape(str(s.get('name', '')))}"
            + (f": {escape('; '.join(str(e) for e in s.get('errors') or []))}" if s.get("errors") else "") + "</li>"
            for s in scen if isinstance(s, dict))
        scenarios = f"<p>シナリオ / scenarios:</p><ul>{items}</ul>"
    live = d.get("live_version")
    live_line = f"<p>公開中 / live: {escape(str(live))}</p>" if live else ""
    # the console page, where a preview link is made when asked (so is draft.preview()); the draft's "preview"
    # URL is the POST that makes one: a link to it would answer 405
    nav = " · ".join(x for x in (_link(links.get("console"), "コンソール / console"),
                                 "プレビュー / preview: <code>draft.preview()</code>") if x)
    return f"<div>{head}<p>{badge}</p>{problems}{estimate}{scenarios}{live_line}<p>{nav}</p></div>"


def _text(value: Any) -> str:
    """A text the server sends as ``{ja, en}`` (or plain): Japanese first, as the console shows it."""
    if isinstance(value, dict):
        return str(value.get("ja") or value.get("en") or "")
    return "" if value is None else str(value)


def diff_html(diff: dict[str, Any]) -> str:
    changes = [c for c in diff.get("changes") or [] if isinstance(c, dict)]
    against = diff.get("against")
    title = (f"<p>比較対象 / against: {escape(str(against))}</p>" if against else
             "<p>公開中の版はありません / nothing live yet</p>")
    if not changes:
        return title + "<p>変更なし / no changes</p>"
    rows = "".join(
        "<tr>"
        f"<td>{'⚠ 破壊的 / breaking' if c.get('breaking') else ''}</td>"
        f"<td>{escape(str(c.get('kind', '')))}</td><td><code>{escape(str(c.get('path') or c.get('field_id') or ''))}</code></td>"
        f"<td>{escape(_text(c.get('message')))}</td><td>{escape(_text(c.get('effect')))}</td></tr>"
        for c in changes)
    head = ("<tr><th scope=\"col\"></th><th scope=\"col\">種類 / kind</th><th scope=\"col\">場所 / where</th>"
            "<th scope=\"col\">変更 / change</th><th scope=\"col\">スマホの下書きへの影響 / effect on drafts</th></tr>")
    return f"{title}<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def preview_html(url: str, qr_svg: str, expires_at: str | None) -> str:
    """The draft in a phone-sized frame (the real app renderer) and its QR code to open it on a phone."""
    return (f"<div style=\"display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap\">"
            f"<iframe src=\"{escape(url)}\" title=\"プレビュー / preview\" width=\"390\" height=\"760\" "
            f"style=\"border:1px solid #999;border-radius:12px\"></iframe>"
            f"<div><div style=\"width:220px\">{qr_svg}</div>"
            f"<p>{_link(url, 'スマホで開く / open on a phone')}</p>"
            + (f"<p><small>期限 / expires: {escape(expires_at)}</small></p>" if expires_at else "")
            + "</div></div>")

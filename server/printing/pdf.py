"""HTML to PDF: the one place the server makes a PDF (the 申請書 of a submission, the visit's 受付案内票).

WeasyPrint lays out the HTML and CSS and embeds the fonts it used, subset. The templates name one font,
:data:`FONT_FAMILY`, installed on the server (``fonts-noto-cjk`` on Debian, docs/deploy.md), so a form prints
the same on every machine and a name with an IVS (邊󠄂) keeps its selector in the text layer. When WeasyPrint,
Pango or the font is missing the render raises :class:`PrintingUnavailable` (the routes answer 503
problem+json), never a half-rendered PDF in a fallback font that would print differently elsewhere.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["FONT_FAMILY", "PrintingUnavailable", "html_to_pdf", "htmls_to_pdf", "printing_problem", "warm_up"]

log = logging.getLogger(__name__)
# WeasyPrint reports every step of every render at INFO ("Step 5 - Creating layout"): seven lines per printed form
# in a city's server log. Its warnings (a font or resource it could not use) still show.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

FONT_FAMILY = "Noto Sans CJK JP"

# WeasyPrint shares Pango's and fontconfig's caches between threads, which are not documented as safe to use
# from several at once: one render at a time per process (about 100 ms each, docs/benchmarks.md).
_lock = threading.Lock()


class PrintingUnavailable(Exception):
    """The server cannot print: ``reason`` says what is missing (shown to staff and in the log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _weasyprint() -> Any:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the package is there but Pango's libraries are not
        raise PrintingUnavailable(f"WeasyPrint cannot be loaded ({exc.__class__.__name__}: {exc}); "
                                  "install the Python package weasyprint and Pango (docs/deploy.md)") from exc
    return weasyprint


def html_to_pdf(html: str) -> bytes:
    """The PDF of ``html`` (self-contained: no file or network fetches; blocking, call it off the event loop).

    Raises :class:`PrintingUnavailable` when the font the templates name was not the one used: fontconfig
    substitutes another family for a missing one without a word, and that PDF would not be the same form.
    """
    return htmls_to_pdf([html])


def htmls_to_pdf(htmls: list[str]) -> bytes:
    """One PDF of several documents, each laid out on its own (its own pages, page numbers and styles), their
    pages one after the other: every 申請書 of a visit printed at once. As :func:`html_to_pdf` otherwise."""
    weasyprint = _weasyprint()
    with _lock:
        # Inline data only: a template (a city's layout included) may embed an image as a data: URL, but the
        # server never reads a file or fetches a URL for a form (WeasyPrint logs and skips any other).
        fetcher = weasyprint.urls.URLFetcher(allowed_protocols={"data"})
        docs = [weasyprint.HTML(string=h, url_fetcher=fetcher).render() for h in htmls]
        doc = docs[0] if len(docs) == 1 else docs[0].copy([p for d in docs for p in d.pages])
        pdf: bytes = doc.write_pdf()
        families = {f.family for f in doc.fonts.values()}
    if FONT_FAMILY not in families:
        raise PrintingUnavailable(f"the font '{FONT_FAMILY}' is not installed (used instead: "
                                  f"{', '.join(sorted(families)) or 'none'}); install fonts-noto-cjk (docs/deploy.md)")
    return pdf


def printing_problem(exc: PrintingUnavailable) -> Any:
    """The 503 problem+json a route answers when the server cannot print (logged once per failure)."""
    from server.problems import Problem

    log.error("printing unavailable: %s", exc.reason)
    return Problem(503, "printing-unavailable", f"This server cannot print forms: {exc.reason}")


def warm_up() -> str | None:
    """Render a one-line form once (``madoguchi serve`` runs it in a background thread at start): the first
    render of a process loads WeasyPrint, Pango and the font (about 1.5 s), which the first clerk to print would
    otherwise wait for; and a server that cannot print says so in its log at start, not at the first print.
    Returns what is missing, or None."""
    try:
        html_to_pdf(f'<p style="font-family: \'{FONT_FAMILY}\'">申請書</p>')
    except PrintingUnavailable as exc:
        log.warning("printed forms unavailable (GET /console/submissions/{id}/form.pdf answers 503): %s", exc.reason)
        return exc.reason
    return None

"""Printed forms: the 申請書 of a submission (``form``), HTML to PDF (``pdf``, the one renderer) and the
console route that serves it (``routes``)."""

from .form import FormMeta, form_context, form_html
from .pdf import FONT_FAMILY, PrintingUnavailable, html_to_pdf

__all__ = ["FONT_FAMILY", "FormMeta", "PrintingUnavailable", "form_context", "form_html", "html_to_pdf"]

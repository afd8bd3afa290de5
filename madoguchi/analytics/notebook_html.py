"""A notebook as ONE HTML file that opens with no network: nbconvert's lab template minus everything it links from
CDNs (require.js, widgets, MathJax, mermaid): the template ``madoguchi-offline`` shipped here.

``python -m madoguchi.analytics.notebook_html executed.ipynb out.html``; charts must be inline already (the
analytics notebook enables Altair's ``svg`` renderer).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["TEMPLATE", "TEMPLATES", "export_html", "main"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "madoguchi-offline"


def export_html(nb: Any) -> str:
    """``nb``: a notebook node (nbformat) or a path. The HTML text."""
    import nbformat
    from nbconvert import HTMLExporter

    if isinstance(nb, str | Path):
        nb = nbformat.read(str(nb), as_version=4)
    exporter = HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATES)])
    body, _ = exporter.from_notebook_node(nb)
    return str(body)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m madoguchi.analytics.notebook_html NOTEBOOK.ipynb OUT.html", file=sys.stderr)
        return 2
    Path(args[1]).write_text(export_html(args[0]), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The city's analytics (EBPM): de-identified tables, figures in DuckDB SQL, Altair charts, one offline report.

``dataset`` reads the tables (a SQLite file opened read-only, or ``GET /api/analytics/dataset`` with an
analytics token); ``metrics`` computes one DataFrame per figure; ``charts`` draws them; ``report`` writes one
self-contained HTML file. Definitions of every figure: docs/analytics.md.

Never imports ``server`` (the server imports this package for its console page and API). pandas, DuckDB and
Altair are imported by the submodules only, so ``madoguchi --help`` stays fast.
"""

from __future__ import annotations

__all__: list[str] = []

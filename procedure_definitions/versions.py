"""Definition versions: the one version rule and ordering of the project (Semantic Versioning 2.0.0).

Every place that checks a version string or picks, sorts or compares versions uses this module: the loader
(``PD107``), the library's ``latest``, the server catalog, the PWA build and ``madoguchi list``. The PWA's
``pwa/js/versions.js`` implements the same order; ``tests/conformance/versions.json`` pins both.

Precedence (semver.org, section 11): ``MAJOR.MINOR.PATCH`` numerically; a pre-release sorts before its
release (``1.0.0-rc.1 < 1.0.0``); pre-release identifiers compare left to right, numeric ones numerically
and below alphanumeric ones (compared in ASCII order), and a longer list wins when all before are equal.
Build metadata (``+...``) has no precedence; two versions that differ only there are ordered by it as text,
so that the order is total and ``sorted``/``max`` never depend on input order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["InvalidVersion", "compare", "is_valid", "latest", "sort_versions", "version_key"]

# semver.org's grammar (numeric identifiers without leading zeros, no empty identifiers).
_NUM = r"0|[1-9]\d*"
_PRE_ID = rf"(?:{_NUM}|\d*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,
)


class InvalidVersion(ValueError):
    """Not a semantic version: it has no place in the order."""


def is_valid(version: object) -> bool:
    return isinstance(version, str) and _SEMVER.fullmatch(version) is not None


def version_key(version: str) -> tuple[Any, ...]:
    """Sort key that orders versions by semver precedence (raises :class:`InvalidVersion`)."""
    m = _SEMVER.fullmatch(version) if isinstance(version, str) else None
    if m is None:
        raise InvalidVersion(f"not a semantic version: {version!r}")
    pre = m["pre"]
    # A release sorts after every pre-release of the same MAJOR.MINOR.PATCH: (1,) > (0, ...).
    # Per identifier, numeric (0, n, "") sorts before alphanumeric (1, 0, text).
    pre_key: tuple[Any, ...] = (1,) if pre is None else (0, *(
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")))
    return (int(m["major"]), int(m["minor"]), int(m["patch"]), pre_key, m["build"] or "")


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b``."""
    ka, kb = version_key(a), version_key(b)
    return (ka > kb) - (ka < kb)


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Oldest first."""
    return sorted(versions, key=version_key)


def latest(versions: Iterable[str]) -> str:
    """The highest version (ValueError when there is none)."""
    return max(versions, key=version_key)

"""``StudioError``: every failure the notebook client reports, with the server's problem title and detail
(RFC 9457) or OAuth error, never a raw httpx traceback."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["StudioError", "error_from_response"]


class StudioError(Exception):
    """A refusal or failure: ``title`` (what), ``detail`` (why), ``status`` (HTTP), ``type`` (problem type or
    OAuth error code), ``problem`` (the whole problem document, e.g. ``errors`` of a validation)."""

    def __init__(self, title: str, *, detail: str | None = None, status: int | None = None, type: str | None = None,
                 problem: dict[str, Any] | None = None) -> None:
        super().__init__(title if not detail else f"{title}: {detail}")
        self.title = title
        self.detail = detail
        self.status = status
        self.type = type
        self.problem = problem or {}

    @property
    def slug(self) -> str | None:
        """The problem type's last part (``reauth-required``, ``token-scope``) or the OAuth error."""
        return self.type.rsplit("/", 1)[-1] if self.type else None


def error_from_response(r: httpx.Response) -> StudioError:
    """The server's refusal as a ``StudioError`` (problem+json, RFC 6749 JSON, or anything else)."""
    ctype = r.headers.get("content-type", "")
    body: Any = None
    if "json" in ctype:
        try:
            body = r.json()
        except ValueError:
            body = None
    if isinstance(body, dict) and "title" in body:
        return StudioError(str(body.get("title")), detail=body.get("detail"), status=r.status_code,
                           type=body.get("type"), problem=body)
    if isinstance(body, dict) and "error" in body:
        return StudioError(str(body["error"]), detail=body.get("error_description"), status=r.status_code,
                           type=str(body["error"]), problem=body)
    return StudioError(f"HTTP {r.status_code}", detail=r.text[:300] or None, status=r.status_code)

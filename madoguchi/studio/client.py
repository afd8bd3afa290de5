"""``Studio`` (a signed-in connection to a Madoguchi server) and ``Draft`` (one draft as the server checked it).

Every call goes to the drafts API (docs/api.md "Drafts"); the token travels in the ``Authorization`` header
only, is refreshed when it expires (a sign-in's refresh token, rotated and kept in the keyring) and is never
printed: ``repr`` masks it. Failures are ``StudioError`` with the server's problem title and detail.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from madoguchi.studio import signin
from madoguchi.studio.errors import StudioError, error_from_response
from madoguchi.studio.views import HTMLView, diff_html, draft_html, preview_html
from procedure_definitions.japan import JST
from procedure_definitions.loader import _read_text, _Unreadable  # one way to read a definition file

__all__ = ["Draft", "Studio", "connect"]


class _Bearer(httpx.Auth):
    """Sends the access token; on 401 ``token-invalid`` refreshes once (sign-in tokens) and retries."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.studio._tokens.access_token}"
        response = yield request
        if response.status_code == 401 and self.studio._tokens.refresh_token:
            response.read()
            if self.studio._refresh():
                request.headers["Authorization"] = f"Bearer {self.studio._tokens.access_token}"
                yield request


def _html(html: str, **attrs: Any) -> Any:
    """``IPython.display.HTML`` when IPython is there (a notebook shows it), else an object with ``_repr_html_``."""
    try:
        from IPython.display import HTML
    except ImportError:
        return HTMLView(html, **attrs)
    out = HTML(html)
    for k, v in attrs.items():
        setattr(out, k, v)
    return out


class Studio:
    """A connection to one server as one signed-in configurator. Make it with :func:`connect`."""

    def __init__(self, server: str, tokens: signin.TokenSet, *, client: httpx.Client | None = None) -> None:
        self.server = signin._server(server)
        self._tokens = tokens
        self._http = client or httpx.Client(timeout=60)
        self._api = httpx.Client(base_url=self.server, timeout=60, auth=_Bearer(self),
                                 headers={"Accept": "application/json"})
        self.account: dict[str, Any] = {}

    def __repr__(self) -> str:
        who = self.account.get("display_name") or "?"
        # a token given as it is (MADOGUCHI_TOKEN, token=) carries no scopes until the server names them
        scopes = list(self._tokens.scopes) if self._tokens.scopes or self.account else "unknown"
        return (f"Studio(server={self.server!r}, account={who!r}, scopes={scopes!r}, "
                f"token={signin.mask(self._tokens.access_token)})")

    def close(self) -> None:
        self._api.close()
        self._http.close()

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _refresh(self) -> bool:
        # Another client of this server (a second notebook, the CLI) may have rotated the sign-in since: the
        # keyring then holds the live refresh token and ours is spent (using it again would be a replay).
        refresh = (signin.load_refresh(self.server) if self._tokens.refresh_token else None) \
            or self._tokens.refresh_token
        if not refresh:
            return False
        try:
            new = signin.refresh_tokens(self._http, self.server, refresh)
        except StudioError:
            signin.forget_refresh(self.server)
            return False
        new.source = self._tokens.source
        self._tokens = new
        signin.save_refresh(self.server, new.refresh_token)
        return True

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; the decoded JSON (or text) of a 2xx answer, else ``StudioError``."""
        try:
            r = self._api.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StudioError(f"could not reach {self.server}: {exc.__class__.__name__}") from None
        if r.status_code >= 400:
            raise error_from_response(r)
        if r.status_code == 204 or not r.content:
            return None
        return r.json() if "json" in r.headers.get("content-type", "") else r.text

    def whoami(self) -> dict[str, Any]:
        """The account and token the server sees (``GET /api/me/token``)."""
        out = self.request("GET", "/api/me/token")
        self.account = dict(out.get("account") or {})
        token = out.get("token")
        if isinstance(token, dict) and isinstance(token.get("scopes"), list):
            self._tokens.scopes = tuple(str(s) for s in token["scopes"])  # the server's word, for every token
        return dict(out)

    # -- drafts ---------------------------------------------------------------------------------------

    def push(self, path_or_text: str | Path, filename: str | None = None) -> Draft:
        """Upload a definition as a draft (``POST /api/drafts``): a path to a .yaml/.yml or .ipynb file (the
        notebook's JSON is sent as it is), or the YAML text itself with ``filename``. Pushing the same
        procedure again replaces its open draft (revision + 1). Drafts with errors are stored too: see
        ``.ok`` and ``.lines``."""
        source, name = _source(path_or_text, filename)
        return self._post_draft(source, name)

    def _post_draft(self, source: str, filename: str) -> Draft:
        """``POST /api/drafts`` with this exact text (``madoguchi drafts push`` reads the file itself)."""
        return Draft(self, self.request("POST", "/api/drafts", json={"filename": filename, "source": source}))

    def drafts(self) -> list[Draft]:
        """The drafts on the server, open ones first (``GET /api/drafts``)."""
        out = self.request("GET", "/api/drafts")
        rows = out.get("drafts", []) if isinstance(out, dict) else out
        return [Draft(self, row) for row in rows or []]

    def draft(self, draft_id: str) -> Draft:
        return Draft(self, self.request("GET", f"/api/drafts/{draft_id}"))


def _source(path_or_text: str | Path, filename: str | None) -> tuple[str, str]:
    if isinstance(path_or_text, Path) or ("\n" not in path_or_text and len(path_or_text) < 1000
                                           and Path(path_or_text).suffix.lower() in (".yaml", ".yml", ".ipynb")):
        path = Path(path_or_text)
        try:
            text = _read_text(path)  # the loader's one way to read a definition file (UTF-8, size-bounded)
        except _Unreadable as exc:
            raise StudioError(f"cannot read {path}", detail=str(exc)) from None
        if path.suffix.lower() == ".ipynb":
            try:
                json.loads(text)  # the server reads the notebook's JSON; refuse garbage here, clearly
            except ValueError:
                raise StudioError(f"{path} is not a notebook (not JSON)") from None
        return text, filename or path.name
    return str(path_or_text), filename or "draft.yaml"


class Draft:
    """One draft as the server checked it. Shown in a notebook as its check results, the time estimate
    against 60 s and links; ``.preview()``, ``.scenarios()``, ``.validate()``, ``.diff()``,
    ``.request_publish()`` work on it."""

    def __init__(self, studio: Studio, data: Mapping[str, Any]) -> None:
        self._studio = studio
        self.data: dict[str, Any] = dict(data)

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        return f"Draft(id={self.id!r}, procedure={self.data.get('procedure_id')!r}, version={self.data.get('version')!r}, {state})"

    @property
    def id(self) -> str:
        return str(self.data.get("id"))

    @property
    def ok(self) -> bool:
        return bool(self.data.get("ok"))

    @property
    def problems(self) -> list[dict[str, Any]]:
        return list(self.data.get("problems") or [])

    @property
    def lines(self) -> list[str]:
        return [str(x) for x in self.data.get("lines") or []]

    @property
    def estimate_seconds(self) -> int | None:
        v = self.data.get("estimate_seconds")
        return int(v) if isinstance(v, int | float) else None

    @property
    def urls(self) -> dict[str, str]:
        """The draft's links made absolute (``self``, ``console``, ``preview``)."""
        urls = self.data.get("urls") or {}
        return {k: (v if str(v).startswith("http") else self._studio.server + str(v)) for k, v in urls.items() if v}

    def _repr_html_(self) -> str:
        return draft_html(self.data, self.urls)

    def refresh(self) -> Draft:
        """Read the draft again from the server (another push may have changed it)."""
        self.data = dict(self._studio.request("GET", f"/api/drafts/{self.id}"))
        return self

    def preview(self) -> Any:
        """The preview link (``POST /api/drafts/{id}/preview``) shown as a phone-sized frame of the real app and
        the QR code to open it on a phone. ``.url`` and ``.qr_svg`` hold them."""
        out = self._studio.request("POST", f"/api/drafts/{self.id}/preview")
        return _html(preview_html(out["url"], out.get("qr_svg", ""), out.get("expires_at")), url=out["url"],
                     qr_svg=out.get("qr_svg", ""), expires_at=out.get("expires_at"))

    def scenarios(self) -> list[dict[str, Any]]:
        """The definition's scenarios, run by the server (``POST /api/drafts/{id}/scenarios``)."""
        out = self._studio.request("POST", f"/api/drafts/{self.id}/scenarios")
        return list(out.get("scenarios", []) if isinstance(out, dict) else out or [])

    def validate(self, answers: Mapping[str, Any], filer: str = "resident") -> list[dict[str, Any]]:
        """The server's exact validation of ``answers`` for this draft: the errors (empty: valid)."""
        out = self._studio.request("POST", f"/api/drafts/{self.id}/validate",
                                   json={"answers": dict(answers), "filer": filer})
        return list(out.get("errors", []) if isinstance(out, dict) else out or [])

    def diff(self) -> Any:
        """What changed against the live version (``GET /api/drafts/{id}/diff``), as a table; ``.changes``,
        ``.breaking`` and ``.against`` hold the data."""
        out = self._studio.request("GET", f"/api/drafts/{self.id}/diff")
        data = out if isinstance(out, dict) else {"changes": out}
        return _html(diff_html(data), changes=list(data.get("changes") or []), breaking=bool(data.get("breaking")),
                     against=data.get("against"))

    def request_publish(self, live_from: dt.datetime | str | None = None, closes_at: dt.datetime | str | None = None,
                        message: str | Mapping[str, str] | None = None) -> str:
        """Ask for this draft to be published: returns the approval URL, where a configurator approves it in
        the console with a passkey. Publishing itself is never done with a token. ``live_from``/``closes_at``:
        datetimes (without a zone: Japan time) or ISO 8601 text with an offset; ``message``: the text shown
        after ``closes_at`` (a str is Japanese, or ``{"ja", "en", "ja-easy"}``)."""
        body: dict[str, Any] = {}
        if live_from is not None:
            body["live_from"] = _when(live_from)
        if closes_at is not None:
            body["closes_at"] = _when(closes_at)
        if message is not None:
            body["close_message"] = {"ja": message} if isinstance(message, str) else dict(message)
        out = self._studio.request("POST", f"/api/drafts/{self.id}/publish-request", json=body)
        url = str(out["approval_url"])
        return url if url.startswith("http") else self._studio.server + url




def _when(value: dt.datetime | str) -> str:
    """ISO 8601 with an offset, as the API takes it; a datetime without a zone is Japan time (the city's)."""
    if isinstance(value, str):
        return value
    return (value if value.tzinfo is not None else value.replace(tzinfo=JST)).isoformat(timespec="seconds")


def connect(server: str, *, flow: signin.Flow = "auto", token: str | None = None,
            scopes: Sequence[str] = ("drafts",), **sign_in_options: Any) -> Studio:
    """Sign in to ``server`` and return a :class:`Studio`.

    The token comes from ``token``, else ``MADOGUCHI_TOKEN``, else the OS keyring (a refresh token from an
    earlier sign-in), else a sign-in in the browser with your passkey: ``flow="loopback"`` on this computer,
    ``"device"`` when the kernel runs elsewhere (a code to type on ``/console/device``), ``"auto"`` picks.
    Nothing secret is printed or stored in the notebook.
    """
    http = httpx.Client(timeout=60)
    tokens = signin.obtain(server, client=http, flow=flow, token=token, scopes=scopes, **sign_in_options)
    studio = Studio(server, tokens, client=http)
    studio.whoami()
    return studio

"""Input limits (``server/input_limits.py``): deep JSON and out-of-range integers get a 4xx problem on every
route, never a 5xx or a traceback.

The route list is the server's own OpenAPI document, so a new route is covered without touching this test:
every operation gets huge integers in its path and query parameters and, when it takes a JSON body, a too
deep document and one with a huge integer; as a signed-in admin (who passes every role guard, so handlers
and body decoding are reached) and anonymously.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.input_limits import MAX_DEPTH, MAX_SAFE_INT, json_problem
from tests.server.conftest import start_server
from testsupport.servers import AppServer

HUGE = [2**63, 2**64 + 1, -(2**63) - 1, MAX_SAFE_INT + 1, 10**30]


class Tracebacks(logging.Handler):
    """Collects log records that carry an exception (what a 500 leaves in the server log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp: Path = tmp_path_factory.mktemp("limits")
    s = start_server(tmp)
    yield s
    s.stop()


@pytest.fixture()
def tracebacks() -> Iterator[Tracebacks]:
    h = Tracebacks()
    root = logging.getLogger()
    root.addHandler(h)
    yield h
    root.removeHandler(h)


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _operations(srv: AppServer) -> list[tuple[str, str, dict[str, Any]]]:
    doc = httpx.get(srv.url + "/schema/openapi.json").json()
    ops = [(path, method.upper(), op) for path, ops in doc["paths"].items() for method, op in ops.items()
           if method in ("get", "post", "put", "patch", "delete", "head")]
    # Litestar answers OPTIONS on every path with a handler of its own.
    return ops + [(path, "OPTIONS", next(iter(ops.values()))) for path, ops in doc["paths"].items()]


def _fill(path: str, op: dict[str, Any], value: int) -> str:
    def sub(m: re.Match[str]) -> str:
        spec: dict[str, Any] = next((p for p in op.get("parameters", []) if p["name"] == m.group(1)), {})
        return str(value) if spec.get("schema", {}).get("type") == "integer" else "x" * 64
    return re.sub(r"\{([^}]+)\}", sub, path)


def _query(op: dict[str, Any], value: int) -> dict[str, str]:
    return {p["name"]: str(value) for p in op.get("parameters", []) if p["in"] == "query"}


def _check(r: httpx.Response, where: str) -> None:
    assert r.status_code < 500, f"{where} -> {r.status_code} {r.text[:300]}"
    if r.status_code >= 400 and r.request.method != "HEAD":
        assert r.headers["content-type"].startswith("application/problem+json"), where


def test_every_route_refuses_deep_json_and_huge_integers(srv: AppServer, tracebacks: Tracebacks) -> None:
    admin = srv.login("admin")
    anonymous = srv.client()
    anonymous.cookies.set("madoguchi_csrf", "t")
    anonymous.headers["X-CSRF-Token"] = "t"
    ops = _operations(srv)
    assert len(ops) > 20
    reached = 0
    for who in ("admin", "anonymous"):
        for path, method, op in ops:
            # Signing out ends the session the rest of the run needs: those get a session of their own.
            client = anonymous if who == "anonymous" else (srv.login("admin") if "logout" in path else admin)
            for n in HUGE:
                url = _fill(path, op, n)
                r = client.request(method, url, params=_query(op, n))
                _check(r, f"{method} {url}?{_query(op, n)}")
                # Each query parameter alone too: another one's refusal must not hide it.
                for name, value in _query(op, n).items():
                    r = client.request(method, _fill(path, op, 1), params={name: value})
                    _check(r, f"{method} {path}?{name}={value}")
                    reached += r.status_code == 400 and r.json()["type"].endswith("/integer-out-of-range")
            if "requestBody" in op:
                url = _fill(path, op, 1)
                for body in (_nested(MAX_DEPTH + 1), _nested(5000), b'{"size": %d, "n": [%d]}' % (2**64, 2**63),
                             b"[" + b"9" * 5000 + b"]"):
                    r = client.request(method, url, content=body, headers={"Content-Type": "application/json"})
                    _check(r, f"{method} {url} body {body[:40]!r}")
    assert reached > 10, "the signed-in requests reached the parameter check"
    assert not tracebacks.records, [r.getMessage() for r in tracebacks.records]


def test_the_refusals_name_the_limit(srv: AppServer, tracebacks: Tracebacks) -> None:
    c = srv.login("admin")
    deep = c.post("/sync/push", content=_nested(MAX_DEPTH + 1), headers={"Content-Type": "application/json"})
    assert deep.status_code == 400
    assert deep.json()["type"].endswith("/json-too-deep") and deep.json()["max_depth"] == MAX_DEPTH
    # At the limit it is the endpoint's own validation that answers, not the limit.
    ok_depth = c.post("/sync/push", content=_nested(MAX_DEPTH - 1), headers={"Content-Type": "application/json"})
    assert ok_depth.status_code == 400 and "json-too-deep" not in ok_depth.json()["type"]
    # A push with a client_seq past 2^53 − 1 (the device's counter must stay exact in JavaScript).
    big = c.post("/sync/push", content=b'{"mutations": [{"client_seq": 9007199254740992}]}',
                 headers={"Content-Type": "application/json"})
    assert big.status_code == 400 and big.json()["type"].endswith("/integer-out-of-range")
    # Digits in strings are text, not numbers; brackets in strings are not structure.
    text = c.post("/sync/push", json={"mutations": [], "x": "9" * 40 + "[" * 100}).json()
    assert "integer-out-of-range" not in text["type"] and "json-too-deep" not in text["type"]
    for url in (f"/api/conflicts/{2**63}", f"/api/conflicts/{MAX_SAFE_INT + 1}"):
        r = c.get(url)
        assert r.status_code == 400 and r.json()["type"].endswith("/integer-out-of-range"), r.text
    assert c.get(f"/api/conflicts/{MAX_SAFE_INT}").status_code == 404
    for url, q in (("/sync/pull", {"cursor": str(2**64)}), ("/sync/pull", {"limit": "-" + "9" * 30}),
                   ("/api/conflicts", {"cursor": str(2**63)}), ("/console/conflicts", {"cursor": str(2**63)})):
        r = c.get(url, params=q)
        assert r.status_code == 400 and r.json()["type"].endswith("/integer-out-of-range"), (url, r.text)
    assert not tracebacks.records


def _depth(o: Any) -> int:
    if isinstance(o, list):
        return 1 + max((_depth(x) for x in o), default=0)
    if isinstance(o, dict):
        return 1 + max((_depth(x) for x in o.values()), default=0)
    return 0


def test_the_depth_and_integer_scan_agrees_with_the_decoded_document() -> None:
    """json_problem reads bytes without decoding: compared with the decoded document on random documents
    around the limit whose strings hold brackets, quotes, backslashes and digits."""
    import json
    import random

    leaves: list[Any] = [1, "a[", "]}", 'q"x', 2.5, "\\", "][", "1234567890123456789", -3]
    rng = random.Random(11)

    def gen(d: int) -> Any:  # a spine of depth d with short side branches
        if d == 0:
            return rng.choice([*leaves, MAX_SAFE_INT + 1] if rng.random() < 0.01 else leaves)
        side = [rng.choice(leaves) for _ in range(rng.randint(0, 2))]
        return side + [gen(d - 1)] if rng.random() < 0.5 else {**{f"s{i}": x for i, x in enumerate(side)}, "k": gen(d - 1)}

    refused = 0
    for _ in range(400):
        doc = gen(rng.randint(MAX_DEPTH - 4, MAX_DEPTH + 4))
        body = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode()
        problem = json_problem(body)
        expected = _depth(doc) > MAX_DEPTH or str(MAX_SAFE_INT + 1) in json.dumps(doc)  # only ever a number
        assert (problem is not None) == expected, (_depth(doc), problem)
        refused += problem is not None
    assert 50 < refused < 350
    # Unclosed brackets are as deep as the decoder would go.
    assert json_problem(b"[" * 5000) is not None and json_problem(b"]" * 5000 + b"[" * 10) is None


def test_every_number_literal_beyond_the_safe_range_is_refused_whatever_its_syntax() -> None:
    """Integers, fractions and exponents alike: refused exactly when the literal's exact value (a Fraction,
    no float rounding) lies beyond ±MAX_SAFE_INT; the same literal inside a string is text."""
    import random
    from fractions import Fraction

    rng = random.Random(53)
    edges = ["9007199254740991", "9007199254740992", "900719925474099", "90071992547409910", "1", "0", "12345678"]
    checked = refused = 0
    for _ in range(3000):
        whole = rng.choice(edges) if rng.random() < 0.5 else str(rng.randint(0, 10 ** rng.randint(0, 20)))
        frac = rng.choice(["", "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 4))),
                           ".0", ".5", ".0001"])
        exp = rng.choice(["", "", f"e{rng.randint(-20, 20)}", f"E+{rng.randint(0, 17)}", "e-1", "E16", "e0"])
        literal = rng.choice(["", "-"]) + whole + frac + exp
        expected = abs(Fraction(literal)) > MAX_SAFE_INT
        problem = json_problem(f'{{"a": [{literal}], "s": "{literal}"}}'.encode())
        assert (problem is not None) == expected, literal
        assert json_problem(f'{{"s": "{literal}"}}'.encode()) is None, literal
        checked += 1
        refused += expected
    assert 300 < refused < checked - 300
    for huge in (b"1e400", b"1E999999999999999999", b"-1e16", b"9007199254740991.000001"):
        problem = json_problem(b"[" + huge + b"]")
        assert problem is not None and problem.slug == "integer-out-of-range", huge
    for tiny in (b"1e-400", b"0e999999999999999999", b"9007199254740991.0", b"-9.007199254740991E15"):
        assert json_problem(b"[" + tiny + b"]") is None, tiny


BAD_BODIES = [_nested(MAX_DEPTH + 1), b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), b'{"x": 9007199254740992}',
              b'{"x": 1e400}', b'{"x": "\xff\xfe"}', b"NaN"]


def test_every_endpoint_that_takes_a_body_refuses_one_beyond_the_limits(srv: AppServer,
                                                                         tracebacks: Tracebacks) -> None:
    """Endpoints that never read their body (``/auth/login/options``, ``/auth/logout``, ...) refuse what the
    others refuse: a JSON body past the limits or not JSON at all is a 400 problem on every POST/PUT/PATCH/
    DELETE, whether or not the OpenAPI document says the endpoint takes one."""
    admin = srv.login("admin")
    ops = [(p, m, op) for p, m, op in _operations(srv) if m in ("POST", "PUT", "PATCH", "DELETE")]
    assert any(p == "/auth/login/options" for p, _, _ in ops)
    for path, method, op in ops:
        client = srv.login("admin") if "logout" in path else admin
        url = _fill(path, op, 1)
        for body in BAD_BODIES:
            r = client.request(method, url, content=body, headers={"Content-Type": "application/json"})
            # A role guard may refuse the admin before any body is read (403); the upload takes no JSON (415).
            assert r.status_code in (400, 403, 415) and r.headers["content-type"].startswith("application/problem+json"), (
                method, url, body[:20], r.status_code, r.text[:200])
        if "logout" in path:
            assert client.get("/api/me/profile").status_code != 401, "a refused logout signed nobody out"
    bodyless = ["/auth/login/options", "/auth/reauth/options", "/auth/passkeys/options", "/auth/recovery-codes",
                "/auth/logout", "/auth/logout-all"]
    for path in bodyless:
        for body in BAD_BODIES:
            r = srv.login("admin").post(path, content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 400, (path, body[:20], r.status_code)
    # What the PWA sends to them stays accepted: an empty object, or no body at all.
    assert admin.post("/auth/login/options", json={}).status_code == 200
    assert admin.post("/auth/reauth/options").status_code == 200
    assert not tracebacks.records, [r.getMessage() for r in tracebacks.records]


def test_integer_query_parameters_are_one_plain_decimal(srv: AppServer, tracebacks: Tracebacks) -> None:
    """``1e3`` is not read as 1000, ``9007199254740993.0`` does not slip past the range as 2^53, a repeated
    parameter is not silently the last one; the console answers what the API answers."""
    c = srv.login("admin")
    malformed = ["1e3", "10.0", "9007199254740993.0", "-0.0", "+5", " 5", "", "abc", "0x10", "１"]
    for url, name in (("/sync/pull", "cursor"), ("/sync/pull", "limit"), ("/api/conflicts", "cursor"),
                      ("/api/conflicts", "limit"), ("/console/conflicts", "cursor")):
        for value in malformed:
            r = c.get(url, params={name: value})
            assert r.status_code == 400, (url, name, value, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["type"].endswith("/bad-request") and r.json()["errors"][0]["path"] == name, r.text
        r = c.get(f"{url}?{name}=1&{name}=2")
        assert r.status_code == 400 and r.json()["errors"][0]["path"] == name, (url, r.text)
        fine = "0" if (url, name) == ("/sync/pull", "cursor") else "1"  # cursor 1 may be ahead of the log: 409
        assert c.get(url, params={name: fine}).status_code == 200
    # One range rule for conflict cursors, API and console.
    for url in ("/api/conflicts", "/console/conflicts"):
        for cursor in ("-1", "0"):
            r = c.get(url, params={"cursor": cursor})
            assert r.status_code == 400 and r.json()["type"].endswith("/bad-request"), (url, cursor, r.text)
    assert c.get("/sync/pull", params={"cursor": "-1"}).status_code == 400
    assert c.get("/sync/pull", params={"cursor": "0", "limit": "5"}).status_code == 200
    assert not tracebacks.records, [r.getMessage() for r in tracebacks.records]

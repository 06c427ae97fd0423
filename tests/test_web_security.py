"""Security of the web app (issue 8): sign-in limits before hashing and bounded password
checks, server-side sessions (sign-out, idle timeout, revocation, live streams), Secure
``__Host-`` cookies and HSTS, metrics on their own listener with fixed labels, bounded
form bodies and no API docs by default."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import text

from hub.accounts.attempts import LimitRule, MemoryAttemptStore
from hub.cli import main
from hub.metrics import HTTP_METHODS, exposition
from hub.settings import MetricsSettings, Settings, WebSettings
from hub.web.app import create_web_app
from hub.web.auth import DEV_SESSION_COOKIE, SESSION_COOKIE
from hub.web.operator import safe_text
from tests.test_web_inbox import PASSWORD, WebServer, client, csrf, sign_in, start_web

DEV = WebSettings(secure_cookies=False)  # httpx sends no Secure cookie over plain http


@pytest.fixture
def make_web(tmp_path: Path, database_url: str) -> Iterator[Any]:
    """Start a web server with the given settings (stopped at the end), over each store
    backend (PostgreSQL: marker postgres); the servers of one test share the database."""
    stops: list[Any] = []

    def make(settings: WebSettings = DEV, clock: Callable[[], float] = time.time) -> WebServer:
        server, stop = start_web(tmp_path / f"web{len(stops)}", settings, database_url, clock)
        stops.append(stop)
        return server

    yield make
    for stop in stops:
        stop()


def users_cli(web: WebServer, *args: str, stdin: str | None = None) -> None:
    """``signalhub users ...`` on the web server's database (HUB_DATABASE_URL), recorded
    on its bus (HUB_BUS)."""
    result = CliRunner().invoke(main, ["users", *args], input=stdin,
                                env={"HUB_DATABASE_URL": web.database, "HUB_BUS": web.bus_url})
    assert result.exit_code == 0, result.output


class CountedVerify:
    """Wraps argon2's verify: how many password checks ran, and at most at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = self.running = self.peak = 0
        self._lock = threading.Lock()
        real = PasswordHasher.verify

        def verify(hasher: PasswordHasher, hashed: str | bytes, password: str | bytes
                   ) -> bool:
            with self._lock:
                self.calls += 1
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                return real(hasher, hashed, password)
            finally:
                with self._lock:
                    self.running -= 1

        monkeypatch.setattr(PasswordHasher, "verify", verify)


def login_attempt(web: WebServer, username: str, password: str = "wrong-password",
                  forwarded_for: str | None = None) -> httpx.Response:
    c = client(web)
    token = csrf(c.get("/login").text)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return c.post("/login", data={"username": username, "password": password,
                                  "csrf_token": token}, headers=headers)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# --- finding: 40 concurrent failed sign-ins took the process to 1.9 GiB ----------------


def test_concurrent_password_checks_are_bounded(make_web: Any, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    web = make_web(DEV.model_copy(update={"login_concurrency": 2,
                                          "login_failures_per_address": 100}))
    counted = CountedVerify(monkeypatch)
    clients = [client(web) for _ in range(40)]
    tokens = [csrf(c.get("/login").text) for c in clients]
    barrier = threading.Barrier(len(clients))
    responses: list[httpx.Response] = []
    peak_rss, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak_rss[0] = max(peak_rss[0], _rss())
            time.sleep(0.005)

    def attempt(i: int) -> None:
        barrier.wait()
        responses.append(clients[i].post("/login", data={
            "username": f"nobody-{i}", "password": "wrong-password", "csrf_token": tokens[i]}))

    before = _rss()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    done.set()
    sampler.join(5)

    assert len(responses) == 40
    assert {r.status_code for r in responses} <= {401, 429}
    assert counted.peak <= 2, f"{counted.peak} Argon2 checks at once"
    assert counted.calls == sum(r.status_code == 401 for r in responses)
    for r in responses:
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1
    # 64 MiB per Argon2 check: 40 at once would be 2.5 GiB, two at once 128 MiB
    assert peak_rss[0] - before < 512 * 2**20, (peak_rss[0] - before) / 2**20


def test_sign_in_limits_apply_before_hashing(make_web: Any, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    web = make_web(DEV.model_copy(update={
        "trusted_proxies": ["127.0.0.1"],  # X-Forwarded-For picks the client address
        "login_failures_per_account_and_address": 2, "login_failures_per_account": 3,
        "login_failures_per_address": 4, "login_checks_per_minute": 12}))
    counted = CountedVerify(monkeypatch)

    # per username and address: the third attempt is refused unhashed, on the login page
    for _ in range(2):
        assert login_attempt(web, "bob", forwarded_for="10.0.0.1").status_code == 401
    blocked = login_attempt(web, "bob", PASSWORD, forwarded_for="10.0.0.1")
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 300
    assert "Te veel pogingen om in te loggen" in blocked.text
    assert 'name="password"' in blocked.text  # the login form, to try again later
    assert counted.calls == 2
    # per username, from any address
    assert login_attempt(web, "bob", forwarded_for="10.0.0.2").status_code == 401
    assert login_attempt(web, "bob", PASSWORD, forwarded_for="10.0.0.3").status_code == 429
    assert counted.calls == 3
    # a correct password takes its attempt back: alice's sign-ins do not add up
    for _ in range(4):
        assert login_attempt(web, "alice", PASSWORD, forwarded_for="10.0.0.4"
                             ).status_code == 303
    # per address, any username
    for name in ("u1", "u2", "u3"):
        assert login_attempt(web, name, forwarded_for="10.0.0.5").status_code == 401
    assert login_attempt(web, "u4", forwarded_for="10.0.0.5").status_code == 401
    assert login_attempt(web, "u5", forwarded_for="10.0.0.5").status_code == 429
    # all password checks of the app per minute: 3 + 4 + 4 so far, one left
    assert login_attempt(web, "u6", forwarded_for="10.0.0.6").status_code == 401
    assert login_attempt(web, "ada", PASSWORD, forwarded_for="10.0.0.7").status_code == 429
    assert counted.calls == 12


def test_the_attempt_store_forgets_old_entries_and_stays_bounded() -> None:
    now = [1000.0]
    store = MemoryAttemptStore(max_keys=100, clock=lambda: now[0])
    rule = LimitRule(limit=3, window=60.0)
    for i in range(1000):
        assert store.try_add([(f"k{i}", rule)], now[0]) is None
        assert len(store) <= 100
    for _ in range(3):
        assert store.try_add([("k999", rule)], now[0]) in (None, pytest.approx(60.0))
    assert store.try_add([("k999", rule)], now[0]) == pytest.approx(60.0)
    now[0] += 61.0
    assert store.try_add([("fresh", rule)], now[0]) is None
    assert len(store) == 1  # every expired key is gone


# --- finding: sign-out did not end a session; no idle timeout; streams ran on ----------


def test_signing_out_ends_the_session_on_the_server(make_web: Any) -> None:
    web = make_web()
    alice = sign_in(web, "alice")
    copied = client(web)
    cookie = alice.cookies[DEV_SESSION_COOKIE]
    copied.cookies.set(DEV_SESSION_COOKIE, cookie)
    assert copied.get("/api/me").status_code == 200
    # the cookie carries a random id only; the file keeps its hash only
    payload = cookie.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(data) == {"s"} and "alice" not in cookie
    with web.users.database.read() as db:
        (stored,) = db.execute(text("SELECT id_hash FROM sessions WHERE username = 'alice'")
                               ).one()
    assert stored != data["s"] and len(stored) == 64

    page = alice.get("/inbox")
    assert alice.post("/logout", data={"csrf_token": csrf(page.text)}).status_code == 303
    assert copied.get("/api/me").status_code == 401
    assert copied.get("/inbox").status_code == 303  # to the login page


def test_sessions_end_when_idle_and_after_their_lifetime(make_web: Any) -> None:
    now = [time.time()]
    web = make_web(DEV.model_copy(update={"session_idle_timeout": 60.0,
                                          "session_max_age": 150.0}), lambda: now[0])

    def raw_cookie(c: httpx.Client) -> dict[str, str]:
        """The session cookie as a header: the server decides, not the client's jar."""
        return {"Cookie": f"{DEV_SESSION_COOKIE}={c.cookies[DEV_SESSION_COOKIE]}"}

    idle, busy = raw_cookie(sign_in(web, "alice")), raw_cookie(sign_in(web, "bob"))
    c = client(web)
    for _ in range(4):  # 120 s in all, never 60 s without a request
        now[0] += 30
        assert c.get("/api/me", headers=busy).status_code == 200  # in use: not idle
    assert c.get("/api/me", headers=idle).status_code == 401
    now[0] += 29
    assert c.get("/api/me", headers=busy).status_code == 200  # 149 s after sign-in
    now[0] += 2
    assert c.get("/api/me", headers=busy).status_code == 401  # 151 s after sign-in


def test_disabling_changing_teams_or_password_ends_sessions_at_once(make_web: Any) -> None:
    web = make_web()
    alice, ada, bob = sign_in(web, "alice"), sign_in(web, "ada"), sign_in(web, "bob")
    users_cli(web, "teams", "ada", "--team", "team-a")  # unchanged: sessions go on
    assert ada.get("/api/me").status_code == 200
    users_cli(web, "disable", "alice")
    users_cli(web, "teams", "ada", "--team", "team-b")
    users_cli(web, "password", "bob", "--password-stdin", stdin="a new passphrase\n")
    for c in (alice, ada, bob):
        assert c.get("/api/me").status_code == 401
    assert sign_in(web, "ada").get("/api/me").json()["teams"] == ["team-b"]
    assert login_attempt(web, "bob", PASSWORD).status_code == 401
    assert login_attempt(web, "bob", "a new passphrase").status_code == 303


@pytest.mark.parametrize("change", [("disable", "alice"),
                                    ("teams", "alice", "--team", "team-b")])
def test_a_live_stream_ends_when_its_session_does(make_web: Any, change: tuple[str, ...]
                                                  ) -> None:
    web = make_web()
    alice = sign_in(web, "alice")
    lines: list[str] = []
    with alice.stream("GET", "/inbox/events", timeout=httpx.Timeout(10.0)) as stream:
        assert stream.status_code == 200
        users_cli(web, *change)
        changed = time.monotonic()
        for line in stream.iter_lines():
            lines.append(line)
        ended = time.monotonic() - changed
    assert ended < 6.0, ended
    assert "event: signed-out" in lines


# --- finding: the cookie was Secure only over https; no HSTS ----------------------------


def test_the_session_cookie_is_secure_and_host_only_by_default(make_web: Any) -> None:
    web = make_web(WebSettings())
    r = client(web).get("/login")  # plain http, no proxy
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite", "path"} <= attributes
    assert "domain" not in attributes and "path=/" in cookie.lower().replace(" ", "")
    assert "samesite=lax" in cookie.lower()
    assert "strict-transport-security" not in r.headers  # not over TLS
    assert 'id="plain-http"' not in r.text  # browsers keep it on 127.0.0.1
    elsewhere = client(web).get("/login", headers={"Host": "hub.example.org"})
    assert 'id="plain-http"' in elsewhere.text  # they refuse it there: the page says so

    dev = make_web(DEV)
    cookie = client(dev).get("/login").headers["set-cookie"]
    assert cookie.startswith(f"{DEV_SESSION_COOKIE}=") and "secure" not in cookie.lower()


def test_hsts_over_tls_and_from_a_trusted_proxy_only(make_web: Any) -> None:
    tls = {"X-Forwarded-Proto": "https"}
    untrusted = make_web(WebSettings())
    assert "strict-transport-security" not in client(untrusted).get("/login", headers=tls
                                                                    ).headers
    proxied = make_web(WebSettings(trusted_proxies=["127.0.0.1/32"]))
    r = client(proxied).get("/login", headers=tls)
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in client(proxied).get("/login").headers

    async def over_tls() -> httpx.Response:  # the app itself sees an https request
        transport = httpx.ASGITransport(app=create_web_app(proxied.deps))
        async with httpx.AsyncClient(transport=transport, base_url="https://hub") as direct:
            return await direct.get("/login")

    r = asyncio.run(over_tls())
    assert int(r.headers["strict-transport-security"].split("=")[1]) >= 31536000
    assert "secure" in r.headers["set-cookie"].lower()


# --- finding: /metrics without login, client-chosen method labels -----------------------


def test_invented_methods_make_no_new_series(make_web: Any) -> None:
    web = make_web()
    c = client(web)
    for method in ("FOO", "XYZZY-1", "PROPFIND", "get"):
        c.request(method, "/login")
    lines = [line for line in exposition().decode().splitlines()
             if line.startswith("signalhub_http_request_duration_seconds_count")]
    methods = {m for line in lines for m in re.findall(r'method="([^"]*)"', line)}
    assert methods <= HTTP_METHODS | {"other"}
    assert "other" in methods


def test_metrics_have_their_own_listener_and_optional_token(tmp_path: Path,
                                                            database_url: str) -> None:
    from hub.app import HubProcess
    from hub.config import load_config

    token = "m" * 40
    settings = Settings(bus=f"embedded:{tmp_path / 'hub.db'}", state_dir=tmp_path / "state",
                        database_url=SecretStr(database_url),
                        metrics={"address": "127.0.0.1:0", "token": token})
    config = load_config(Path(__file__).parent.parent / "examples" / "hub.yaml")
    process = HubProcess(settings, config, port=0, web_port=0)
    process.start()
    try:
        assert process.web_url is not None and process.metrics_url is not None
        assert process.metrics_url.endswith("/metrics")
        ports = {urlsplit(u).port for u in (process.url, process.web_url)}
        assert urlsplit(process.metrics_url).port not in ports
        with httpx.Client(timeout=10.0) as http:
            assert http.get(f"{process.web_url}/metrics").status_code == 404
            assert http.get(f"{process.url}/metrics").status_code == 404
            refused = http.get(process.metrics_url)
            assert refused.status_code == 401 and "bearer" in refused.headers[
                "www-authenticate"].lower()
            wrong = http.get(process.metrics_url, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            ok = http.get(process.metrics_url, headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and "signalhub_consumer_lag_messages" in ok.text
    finally:
        process.stop()
    off = HubProcess(settings.model_copy(update={"metrics": MetricsSettings(address="")}), config,
                     port=0, web_port=None)
    try:
        off.start()
        assert off.metrics_url is None
    finally:
        off.stop()


# --- finding: forms read whole before their size check; API docs ------------------------


def _raw_request(web: WebServer, head: str) -> socket.socket:
    host, port = web.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(head.encode())
    return sock


def test_oversized_forms_are_refused_before_they_are_read(make_web: Any) -> None:
    web = make_web()
    form = "application/x-www-form-urlencoded"
    # declared too large: 413 at once, nothing of the body sent
    sock = _raw_request(web, f"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: {form}\r\n"
                             "Content-Length: 50000000\r\n\r\n")
    with sock:
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    # chunked, no length: 413 once the limit passes, long before 4 MB are sent
    sock = _raw_request(web, f"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: {form}\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"a" * 8192
    sent, answer = 0, b""
    with sock:
        sock.settimeout(0.02)
        while sent < 4 * 2**20:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                answer = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if answer:
                break
        if not answer:
            sock.settimeout(5)
            answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:40]
    assert sent < 2**20, sent


def test_no_api_docs_unless_enabled(make_web: Any) -> None:
    web = make_web()
    c = client(web)
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert c.get(path).status_code == 404, path
    enabled = client(make_web(DEV.model_copy(update={"openapi": True})))
    assert enabled.get("/openapi.json").status_code == 200
    assert enabled.get("/docs").status_code == 404 and enabled.get("/redoc").status_code == 404


def test_operators_see_no_versioned_pseudonym() -> None:
    subject = "ps1-" + "ab" * 20
    masked = safe_text(f"no team for {subject} in GM9999")
    assert subject not in masked and "ab" * 20 not in masked and "GM9999" in masked

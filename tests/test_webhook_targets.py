"""Webhook targets: https to public hosts only, internal ones only when hub.yaml lists them,
checked when the configuration loads and again, by resolved address, at every delivery."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import yaml

from connectors.sinks.runner import SinkRunner
from connectors.sinks.webhook import Backoff, WebhookSink
from hub.bus.base import TopicSpec
from hub.config import load_config
from hub.connect import Connection, connect
from hub.deadletters import DeadLetterWriter
from hub.errors import ConfigError
from hub.events import AlertUrgency, TeamAlert
from hub.inbox import InboxStore
from hub.router import alert_id_for
from hub.settings import Settings
from hub.topics import DEADLETTER
from hub.webhook_signing import new_secret
from hub.webhook_targets import IPAddress, TargetPolicy
from tests.bus_records import read_records

SECRET = new_secret()  # made per test run
PUBLIC_NAME = "hooks.example.org"
FAST = Backoff(base=0.01, cap=0.02)


# --- at config load ------------------------------------------------------------------------


def write_config(tmp_path: Path, url: str, allow: list[str] | None = None) -> Path:
    data: dict[str, Any] = {
        "municipalities": [{"code": "GM9999", "name": "Voorbeeld", "areas": ["7511-7548"]}],
        "teams": [{"id": "team-a", "name": "A", "municipality": "GM9999", "role": "debt",
                   "areas": ["7511-7548"], "event_types": ["debt-signal"],
                   "deliveries": {"webhook": {"url": url, "secret_env": "HOOK_KEY"}}}],
        "policies": {},
    }
    if allow is not None:
        data["webhooks"] = {"allow_private": allow}
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://127.0.0.1:8081/api/me", "127.0.0.1 is a loopback address"),
        ("not a url", "'not a url' is not an absolute https URL"),
        ("ftp://cases.example.org/", "is not an absolute https URL"),
        ("http://cases.example.org/hook", "plain http is refused: use https"),
        ("https://10.1.2.3/hook", "10.1.2.3 is a private address"),
        ("https://[::1]/hook", "::1 is a loopback address"),
        ("https://[fc00::5]/hook", "fc00::5 is a private address"),
        ("https://[::ffff:192.168.1.9]/hook", "is a private address"),
        ("https://100.64.0.1/hook", "100.64.0.1 is a non-public address"),
        ("https://0.0.0.0/hook", "0.0.0.0 is an unspecified address, never a webhook target"),
        ("https://localhost:8443/hook", "localhost is a loopback address"),
        ("https://2130706433/hook", "as four decimal numbers"),
        ("https://0x7f.1/hook", "as four decimal numbers"),
        ("https://user:pw@cases.example.org/", "carries no credentials"),
    ],
)
def test_config_refuses_unsafe_webhook_urls(tmp_path: Path, url: str, rule: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, url))
    message = str(caught.value)
    assert f"{tmp_path / 'hub.yaml'}: teams[0].deliveries.webhook.url: team 'team-a': " in message
    assert rule in message, message
    if "address" in rule and "never" not in rule:
        assert "webhooks.allow_private" in message  # says how to open it


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("https://cases.example.org/hook", None),
        ("https://10.1.2.3/hook", ["10.1.2.0/24"]),
        ("https://[fd00::7]/hook", ["fd00::/8"]),
        ("https://case-system.local/hook", ["Case-System.Local"]),
        ("https://localhost:8443/hook", ["localhost"]),
        ("http://127.0.0.1:8081/hook", ["127.0.0.1"]),
        ("http://case-system.local/hook", ["case-system.local"]),  # loopback checked at delivery
    ],
)
def test_the_allow_list_opens_internal_targets(
    tmp_path: Path, url: str, allow: list[str] | None
) -> None:
    config = load_config(write_config(tmp_path, url, allow))
    assert config.webhooks.allow_private == (allow or [])


@pytest.mark.parametrize(
    ("url", "allow", "rule"),
    [
        ("http://10.1.2.3/hook", ["10.1.2.0/24"], "plain http is refused"),
        ("https://10.1.3.3/hook", ["10.1.2.0/24"], "10.1.3.3 is a private address"),
        ("https://169.254.169.254/", ["case-system.local"], "is a link-local address"),
    ],
)
def test_the_allow_list_opens_only_what_it_lists(
    tmp_path: Path, url: str, allow: list[str], rule: str
) -> None:
    with pytest.raises(ConfigError, match=rule):
        load_config(write_config(tmp_path, url, allow))


def test_config_refuses_bad_allow_list_entries(tmp_path: Path) -> None:
    allow = ["10.1.2.0/24", "10.1.2.7/24", "not a host", "0.0.0.0/0", "224.0.0.0/4"]
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, "https://cases.example.org/", allow))
    message = str(caught.value)
    assert "webhooks.allow_private[0]" not in message
    assert "webhooks.allow_private[1]: Value error, '10.1.2.7/24'" in message
    assert "has host bits set" in message
    assert "webhooks.allow_private[2]: Value error, 'not a host' is not an IP address" in message
    for k in (3, 4):
        assert f"webhooks.allow_private[{k}]" in message
    assert "never webhook targets" in message


def test_the_sink_checks_its_url_when_made(embedded: Connection) -> None:
    with pytest.raises(ConfigError, match="team team-a: webhook url: 127.0.0.1 is a loopback"):
        WebhookSink("team-a", "http://127.0.0.1:8081/", SECRET, writer(embedded))


# --- at delivery: the resolved addresses -----------------------------------------------------


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Connection]:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as connection:
        connection.bus.create_topic(TopicSpec(DEADLETTER, 1))
        yield connection


def writer(conn: Connection) -> DeadLetterWriter:
    return DeadLetterWriter(conn.bus, conn.serde)


def make_alert() -> TeamAlert:
    event_id = str(uuid.uuid4())
    return TeamAlert(
        alert_id=alert_id_for(event_id, "team-a"), event_id=event_id, event_type="debt-signal",
        team_id="team-a", municipality_code="GM9999", subject_ref="ps1-" + "ab" * 20,
        urgency=AlertUrgency.NORMAL, due_date=None, fields={"creditor_type": "ENERGY"},
        prior_signals_180d=0, legal_basis="GDPR 6(1)(e); Wgs art. 3",
        created_at=datetime(2024, 5, 14, 9, 30, tzinfo=UTC),
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736", source="urn:nld:oin:00000009999999999000",
    )


def dead_letters(conn: Connection) -> list[dict[str, Any]]:
    return read_records(conn, DEADLETTER)


class Recording(httpx.MockTransport):
    """Answers 200 to every request and notes what would have been sent, and where:
    (URL, headers, extensions) as they were when it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, httpx.Headers, dict[str, Any]]] = []
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((str(request.url), request.headers.copy(), dict(request.extensions)))
        return httpx.Response(200)


class Resolver:
    """A name lookup that answers from a table (and counts the lookups)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in self.table[host]]


def deliver_one(conn: Connection, url: str, resolver: Resolver, **options: Any) -> WebhookSink:
    sink = WebhookSink("team-a", url, SECRET, writer(conn), backoff=FAST, resolve=resolver,
                       **{"max_attempts": 3, **options})
    sink.add(make_alert())
    conn.bus.produce(sink.flush())  # the runner commits them with the batch
    sink.close()
    return sink


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (["127.0.0.1"], "127.0.0.1, which is a loopback address"),
        (["10.0.0.5"], "10.0.0.5, which is a private address"),
        (["169.254.169.254"], "169.254.169.254, which is a link-local address"),
        (["::1"], "::1, which is a loopback address"),
        (["fc00::1"], "fc00::1, which is a private address"),
        (["::ffff:127.0.0.1"], "::ffff:7f00:1, which is a loopback address"),
        (["0.0.0.0"], "0.0.0.0, which is an unspecified address"),
        (["224.0.0.1"], "224.0.0.1, which is a multicast address"),
        (["93.184.215.14", "127.0.0.1"], "127.0.0.1, which is a loopback address"),
    ],
)
def test_a_public_name_resolving_inwards_is_a_dead_letter_and_nothing_is_sent(
    embedded: Connection, addresses: list[str], refused: str
) -> None:
    transport = Recording()
    resolver = Resolver({PUBLIC_NAME: addresses})
    sink = deliver_one(embedded, f"https://{PUBLIC_NAME}/signalhub", resolver,
                       transport=transport)
    assert transport.sent == [] and sink.failed == 1 and sink.delivered == 0
    assert resolver.lookups == [PUBLIC_NAME]  # permanent: not retried
    [dl] = dead_letters(embedded)
    assert dl["reason_code"] == "DELIVERY_FAILED" and dl["stage"] == "webhook:team-a"
    assert dl["attempts"] == 1 and dl["error_class"] == "DeliveryFailed"
    assert f"{PUBLIC_NAME} resolves to {refused}" in dl["error_message"]


def test_the_request_goes_to_the_address_that_was_checked(embedded: Connection) -> None:
    transport = Recording()
    resolver = Resolver({PUBLIC_NAME: ["93.184.215.14"]})
    sink = deliver_one(embedded, f"https://{PUBLIC_NAME}:8443/signalhub", resolver,
                       transport=transport)
    assert sink.delivered == 1 and resolver.lookups == [PUBLIC_NAME]  # one lookup only
    [(url, headers, extensions)] = transport.sent
    assert url == "https://93.184.215.14:8443/signalhub"
    assert headers["Host"] == f"{PUBLIC_NAME}:8443"
    assert extensions["sni_hostname"] == PUBLIC_NAME  # TLS checks the name


def test_an_unresolvable_name_is_retried_like_a_connection_error(embedded: Connection) -> None:
    resolver = Resolver({})
    deliver_one(embedded, f"https://{PUBLIC_NAME}/signalhub", resolver)
    assert resolver.lookups == [PUBLIC_NAME] * 3
    [dl] = dead_letters(embedded)
    assert dl["attempts"] == 3 and "ConnectError" in dl["error_message"]


def test_plain_http_to_a_listed_name_must_stay_on_this_machine(embedded: Connection) -> None:
    transport = Recording()
    deliver_one(embedded, "http://case-system.local/hook",
                Resolver({"case-system.local": ["10.1.2.3"]}), transport=transport,
                targets=TargetPolicy.from_entries(["case-system.local"]))
    assert transport.sent == []
    [dl] = dead_letters(embedded)
    assert dl["attempts"] == 1 and "plain http is refused" in dl["error_message"]


# --- a real receiver: http on loopback, https with a certificate for the name ---------------


class Received:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []


@pytest.fixture
def tls_ca() -> trustme.CA:
    return trustme.CA()


def serve(received: Received, tls: ssl.SSLContext | None = None) -> tuple[
        ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.requests.append({"host": self.headers["Host"], "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    return server, thread


@pytest.fixture
def servers() -> Iterator[list[tuple[ThreadingHTTPServer, threading.Thread]]]:
    running: list[tuple[ThreadingHTTPServer, threading.Thread]] = []
    yield running
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_listed_name_on_loopback_gets_http(
    embedded: Connection, servers: list[Any]
) -> None:
    received = Received()
    servers.append(serve(received))
    port = servers[0][0].server_address[1]
    resolver = Resolver({"case-system.local": ["127.0.0.1"]})  # not in any real DNS
    sink = deliver_one(embedded, f"http://case-system.local:{port}/hook", resolver,
                       targets=TargetPolicy.from_entries(["case-system.local"]))
    assert sink.delivered == 1 and dead_letters(embedded) == []
    assert [r["host"] for r in received.requests] == [f"case-system.local:{port}"]


@pytest.mark.parametrize("cert_name", ["case-system.local", "someone-else.example"])
def test_https_is_pinned_to_the_address_and_verified_against_the_name(
    embedded: Connection, servers: list[Any], tls_ca: trustme.CA, cert_name: str
) -> None:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert(cert_name).configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    tls_ca.configure_trust(client_tls)
    received = Received()
    servers.append(serve(received, server_tls))
    port = servers[0][0].server_address[1]
    sink = deliver_one(
        embedded, f"https://case-system.local:{port}/hook",
        Resolver({"case-system.local": ["127.0.0.1"]}),
        targets=TargetPolicy.from_entries(["case-system.local"]),
        transport=httpx.HTTPTransport(verify=client_tls), max_attempts=2,
    )
    if cert_name == "case-system.local":
        assert sink.delivered == 1 and len(received.requests) == 1
        assert received.requests[0]["host"] == f"case-system.local:{port}"
    else:  # the certificate does not name the host: never sent
        assert sink.delivered == 0 and received.requests == []
        [dl] = dead_letters(embedded)
        assert dl["attempts"] == 2 and "ConnectError" in dl["error_message"]


def test_the_runner_gives_the_sink_the_configurations_allow_list(
    tmp_path: Path, embedded: Connection
) -> None:
    config = load_config(write_config(tmp_path, "https://10.1.2.3/hook", ["10.1.2.0/24"]))
    store = InboxStore(tmp_path / "inbox.db")
    runner = SinkRunner(embedded, config, store, {"HOOK_KEY": SECRET})
    assert set(runner.workers) == {"team-a/inbox", "team-a/webhook"}
    runner.close()
    store.close()

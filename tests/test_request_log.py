"""Access lines and trace ids of the ingest API and the web app, over real HTTP (uvicorn
on a free port): one JSON access line per request, the request's trace id (from an
incoming ``traceparent`` or made) on every line written while handling it and in the
``X-Trace-Id`` header, and no BSN from a path or query string in the log."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from pydantic import SecretStr

from connectors.sources.http_ingest import create_app
from hub.accounts import UserStore
from hub.config import load_config
from hub.connect import Connection, connect
from hub.inbox import InboxStore
from hub.logging import configure_logging
from hub.pseudonym import Pseudonymiser
from hub.request_log import trace_id_of
from hub.serving import serve, server_address, stop
from hub.settings import Settings
from hub.sources import SourceRegistry
from hub.store import open_database
from hub.web.app import create_web_app
from hub.web.deps import WebDeps

GM = "GM0344"
BSN = "123456782"  # passes the 11-test (fictional)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """configure_logging writing JSON to a StringIO at DEBUG; logging restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = sys.excepthook, threading.excepthook
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    yield out
    sys.excepthook, threading.excepthook = hooks
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    text = out.getvalue()
    assert BSN not in text, f"a BSN in the log:\n{text}"
    return [json.loads(line) for line in text.splitlines()]  # every line is JSON


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as opened:
        yield opened


@contextmanager
def served(app: FastAPI) -> Iterator[httpx.Client]:
    server, thread = serve(app, "127.0.0.1", 0)
    host, port = server_address(server)
    try:
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=30,
                          trust_env=False) as client:
            yield client
    finally:
        stop(server, thread)


@contextmanager
def ingest(conn: Connection, tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    db = open_database(tmp_path / "store.db")
    with closing(db), SourceRegistry(db) as registry:
        _, key = registry.add("energie", "urn:nld:oin:00000001234567890000", ["debt-signal"])
        app = create_app(conn, registry, Pseudonymiser({GM: SecretStr("s" * 40)}),
                         idempotency_store_path=db,
                         consent_ledger_path=tmp_path / "http-consent-ledger.db")
        with served(app) as client:
            yield client, key


def debt() -> dict[str, Any]:
    return {"bsn": BSN, "municipality_code": GM, "postcode": "3511AB", "house_number": 12,
            "creditor_type": "ENERGY", "signal_kind": "ARREARS",
            "arrears_amount_cents": 12_345, "arrears_since": "2025-01-01",
            "signal_date": "2025-02-01", "crisis": False, "objection_recorded": False}


def access(events: list[dict[str, Any]], path: str) -> dict[str, Any]:
    [line] = [e for e in events if e.get("logger") == "signalhub.access"
              and e["path"] == path]
    return line


def test_ingest_access_line_and_handler_lines_share_the_incoming_trace_id(
        conn: Connection, tmp_path: Path, log: io.StringIO) -> None:
    with ingest(conn, tmp_path) as (client, key):
        r = client.post(f"/v1/signals/debt?bsn={BSN}&note=x", json=debt(),
                        headers={"Authorization": f"Bearer {key}", "traceparent": TRACEPARENT})
        assert r.status_code == 202, r.text
        assert r.headers["x-trace-id"] == TRACE
        made = client.get("/healthz", headers={"traceparent": "00-" + "0" * 32 + "-"
                                               + "1" * 16 + "-01"})  # invalid: a new id
    events = lines(log)
    line = access(events, "/v1/signals/debt")
    assert line["trace_id"] == TRACE and line["level"] == "info"
    assert line["method"] == "POST" and line["status"] == 202 and line["app"] == "ingest"
    assert line["route"] == "/v1/signals/debt" and line["query"] == ["bsn", "note"]
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    [accepted] = [e for e in events if e["event"] == "events accepted"]
    assert accepted["trace_id"] == TRACE  # a line from inside the handler
    health = access(events, "/healthz")
    assert health["level"] == "debug" and health["trace_id"] == made.headers["x-trace-id"]
    assert health["trace_id"] != TRACE and len(health["trace_id"]) == 32
    # outside of a request no line has a trace id
    assert not [e for e in events if "trace_id" in e and e["event"] == "http ingest started"]


def test_a_bsn_in_the_path_never_reaches_the_log(conn: Connection, tmp_path: Path,
                                                 log: io.StringIO) -> None:
    with ingest(conn, tmp_path) as (client, key):
        r = client.get(f"/v1/people/{BSN}?bsn={BSN}&{BSN}=1",
                       headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 404
    line = access(lines(log), "/v1/people/[redacted]")
    assert line["route"] == "<unmatched>" and line["status"] == 404
    assert line["query"] == ["bsn", "[redacted]"]


def test_an_internal_error_carries_the_trace_id_in_every_line(
        conn: Connection, tmp_path: Path, log: io.StringIO,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"disk on fire near {BSN}")

    with ingest(conn, tmp_path) as (client, key):
        monkeypatch.setattr(conn.bus, "produce", broken)
        r = client.post("/v1/signals/debt", json=debt(),
                        headers={"Authorization": f"Bearer {key}", "traceparent": TRACEPARENT})
    assert r.status_code == 500
    assert r.json()["trace_id"] == TRACE and r.headers["x-trace-id"] == TRACE
    events = lines(log)
    failed = [e for e in events if e["event"] == "request failed: internal error"]
    server = [e for e in events if e["logger"] == "uvicorn.error" and "exception" in e]
    line = access(events, "/v1/signals/debt")
    assert failed and server and line["status"] == 500 and line["level"] == "warning"
    assert all(e["trace_id"] == TRACE for e in [*failed, *server, line])


def test_web_app_lines_carry_the_trace_id(conn: Connection, tmp_path: Path,
                                          log: io.StringIO) -> None:
    users, inbox = UserStore(tmp_path / "users.db"), InboxStore(tmp_path / "inbox.db")
    deps = WebDeps(conn=conn, config=load_config(EXAMPLE), inbox=inbox, users=users,
                   secret_key="k" * 48, state_dir=tmp_path, counts=dict)
    try:
        with served(create_web_app(deps)) as client:
            r = client.get(f"/inbox?q={BSN}", headers={"traceparent": TRACEPARENT})
            assert r.status_code == 303 and r.headers["x-trace-id"] == TRACE
            assert client.get("/login").headers["x-trace-id"] != TRACE
    finally:
        users.close()
        inbox.close()
    line = access(lines(log), "/inbox")
    assert line["app"] == "web" and line["status"] == 303 and line["query"] == ["q"]
    assert line["trace_id"] == TRACE and line["route"] == "/inbox"


@pytest.mark.parametrize(("header", "expected"), [
    (TRACEPARENT, TRACE),
    (f"01-{TRACE}-00f067aa0ba902b7-01-later-fields", TRACE),  # a later version
    (f"00-{TRACE}-00f067aa0ba902b7-01-extra", None),  # version 00 has four fields
    (f"ff-{TRACE}-00f067aa0ba902b7-01", None),
    (f"00-{TRACE.upper()}-00f067aa0ba902b7-01", None),
    (f"00-{TRACE}-0000000000000000-01", None),
    ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", None),
    ("garbage", None), (None, None),
])
def test_traceparent_parsing(header: str | None, expected: str | None) -> None:
    assert trace_id_of(header) == expected

"""Metrics of the hub: the families after routing, no personal data in labels, health."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from connectors.sinks.inbox import InboxStore
from connectors.sources.http_ingest import serve, server_address, stop
from hub.config import load_config
from hub.connect import Connection, connect
from hub.events import DebtSignal
from hub.intake import SignalPublisher
from hub.metrics import HttpMetricsMiddleware
from hub.router import Router
from hub.samples import sample_debt
from hub.settings import Settings
from hub.web.accounts import UserStore
from hub.web.app import create_web_app
from hub.web.deps import WebDeps
from hub.web.metrics import create_metrics_app

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"


@contextmanager
def running(app: FastAPI) -> Iterator[httpx.Client]:
    """The app served by uvicorn on a free port, and a client for it."""
    server, thread = serve(app, "127.0.0.1", 0)
    host, port = server_address(server)
    try:
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=30) as client:
            yield client
    finally:
        stop(server, thread)


def route_signals(conn: Connection, state: Path, n: int = 6, outside: int = 2,
                  seed: int = 7) -> tuple[Router, list[DebtSignal]]:
    """Publish ``n`` debt signals in the example area and ``outside`` outside every
    area (dead letters), and route them all."""
    rng = random.Random(seed)
    signals = [sample_debt(rng) for _ in range(n)]
    signals += [sample_debt(rng).model_copy(update={"postcode": f"10{11 + i}AB"})
                for i in range(outside)]
    router = Router(conn, load_config(EXAMPLE), state)
    router.ensure_topics()
    SignalPublisher(conn.bus, conn.serde).publish([("debt-signal", s) for s in signals])
    handled = 0
    for _ in range(60):
        handled += router.step(timeout=0.5)
        if handled >= len(signals):
            break
    assert handled == len(signals)
    return router, signals


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[Connection, Router, list[DebtSignal], FastAPI]]:
    settings = Settings(bus=f"embedded:{tmp_path / 'hub.db'}")
    with connect(settings) as conn, connect(settings) as web_conn:
        router, signals = route_signals(conn, tmp_path / "router")
        users = UserStore(tmp_path / "users.db")
        inbox = InboxStore(tmp_path / "inbox.db")
        deps = WebDeps(conn=web_conn, config=load_config(EXAMPLE), inbox=inbox, users=users,
                       secret_key="k" * 48, state_dir=tmp_path, counts=lambda: router.counts)
        app = create_web_app(deps)
        try:
            yield web_conn, router, signals, app
        finally:
            router.close()
            users.close()
            inbox.close()


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def test_metrics_after_routing(hub: tuple[Connection, Router, list[DebtSignal], FastAPI]
                               ) -> None:
    web_conn, router, signals, app = hub
    with running(app) as client:
        assert client.get("/metrics").status_code == 404  # not on the web app's listener
    with running(create_metrics_app(web_conn.bus, load_config(EXAMPLE))) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = _families(response.text)
    for name in ("signalhub_events_consumed_total", "signalhub_events_produced_total",
                 "signalhub_router_decisions_total", "signalhub_dead_letters_total",
                 "signalhub_consumer_lag_messages"):
        assert name in families, name
    consumed = {s[0]["topic"]: s[1] for s in families["signalhub_events_consumed_total"]
                if s[0]["component"] == "router"}
    assert consumed.get("signals.debt.v1", 0) >= len(signals)
    dead = {(s[0]["reason"], s[0]["stage"]) for s in families["signalhub_dead_letters_total"]}
    assert any(stage == "router" for _, stage in dead)
    outcomes = {s[0]["outcome"] for s in families["signalhub_router_decisions_total"]}
    assert "dead_lettered" in outcomes
    lag = [s for s in families["signalhub_consumer_lag_messages"]
           if s[0]["group"] == "router" and s[0]["topic"] == "signals.debt.v1"]
    assert len(lag) == 3 and all(v == 0 for _, v in lag)
    assert any(s[0]["group"].startswith("sinks-")
               for s in families["signalhub_consumer_lag_messages"])

    # no personal data in any label: no pseudonym, postcode or id
    labels = [v for samples in families.values() for ls, _ in samples for v in ls.values()]
    forbidden = set()
    for s in signals:
        forbidden |= {s.subject_ref, s.postcode, str(s.event_id)}
    for value in labels:
        assert value not in forbidden
        assert not value.startswith("ps1-")
        assert not re.fullmatch(r"\d{4}\s?[A-Z]{2}", value)
        assert not re.fullmatch(r"[0-9a-f-]{36}", value)
    assert not any(s.subject_ref in response.text or s.postcode in response.text
                   for s in signals)


def test_http_histogram_uses_route_templates() -> None:
    app = FastAPI()
    app.add_middleware(HttpMetricsMiddleware, app_name="test-app")

    @app.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        return {"ok": thing_id}

    with running(app) as client:
        assert client.get("/things/ps-secret-123").status_code == 200
        assert client.get("/nowhere/1234AB").status_code == 404
    from hub.metrics import exposition

    text = exposition().decode()
    mine = [line for line in text.splitlines()
            if line.startswith("signalhub_http_request_duration_seconds_count")
            and 'app="test-app"' in line]
    assert any('route="/things/{thing_id}"' in line and 'status="200"' in line for line in mine)
    assert any('route="<unmatched>"' in line and 'status="404"' in line for line in mine)
    assert "ps-secret" not in text and "1234AB" not in text


def test_health_and_readiness(hub: tuple[Connection, Router, list[DebtSignal], FastAPI]
                              ) -> None:
    web_conn, _, _, app = hub
    with running(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"bus": "ok", "registry": "ok"}
        web_conn.bus.close()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"]["bus"].startswith("failed")
        assert down.json()["checks"]["registry"] == "ok"
        assert client.get("/healthz").status_code == 200
    with running(create_metrics_app(web_conn.bus, load_config(EXAMPLE))) as client:
        assert client.get("/metrics").status_code == 200  # own counters still served

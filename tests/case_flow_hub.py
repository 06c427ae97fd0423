"""A running hub for the browser tests of the case flow (with the mouse,
tests/test_web_case_flow_browser.py, and with the keyboard alone,
tests/test_web_case_keyboard_browser.py): the ingest API, the router, the inbox sink
and the web app on one embedded bus and one application database, as `signalhub run`
puts them together; a member ``sanne`` of the debt team; a source ``energie`` that posts
debt signals. The ``case_hub`` fixture (tests/conftest.py) yields one."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from pydantic import SecretStr

from connectors.sinks.runner import SinkRunner
from connectors.sources.http_ingest import create_app
from hub.accounts import UserStore
from hub.cli import main
from hub.config import load_config
from hub.connect import Connection, connect
from hub.ddas import Contactsoort, Eindresultaat, Uitwisselmodel
from hub.demo import random_bsn
from hub.errors import AlertNotFound
from hub.inbox import InboxStore
from hub.pseudonym import Pseudonymiser
from hub.router import Router, alert_id_for
from hub.serving import serve, server_address, stop
from hub.settings import Settings, WebSettings
from hub.sources import SourceRegistry
from hub.topics import AUDIT
from hub.web.app import create_web_app, serve_web, stop_web
from hub.web.auth import load_or_create_secret
from hub.web.deps import WebDeps
from hub.workdays import dutch_date
from tests.bus_records import read_records

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hub.yaml"
TEAM = "schuldhulp-centrum"
URN = "urn:nld:oin:00000001234567890000"
USER = "sanne"
PASSWORD = "correct horse battery"
RESULT = "Vervolghulp en/of verwijzing financieel"


def bsn_of(seed: int) -> str:
    """The (fictional) BSN :meth:`RunningHub.send_debt_signal` sends for ``seed``."""
    return random_bsn(random.Random(seed))


@dataclass
class RunningHub:
    ingest_url: str
    web_url: str
    key: str
    conn: Connection
    inbox: InboxStore
    state: Path
    bus_url: str

    def api(self) -> httpx.Client:
        """A client of the ingest API, as the source ``energie``."""
        return httpx.Client(base_url=self.ingest_url, timeout=30,
                            headers={"Authorization": f"Bearer {self.key}"})

    def send_debt_signal(self, seed: int = 12) -> tuple[str, str]:
        """Post a debt signal as the source and wait until it is in the debt team's
        inbox; its event id and the team's alert id."""
        with self.api() as api:
            sent = api.post("/v1/signals/debt", json={
                "bsn": bsn_of(seed), "municipality_code": "GM9999",
                "postcode": "7512 AB", "house_number": 12, "creditor_type": "ENERGY",
                "signal_kind": "ARREARS", "arrears_amount_cents": 123_456,
                "arrears_since": "2026-09-01", "signal_date": date.today().isoformat(),
                "crisis": False, "objection_recorded": False})
        assert sent.status_code in (200, 201, 202), sent.text
        event_id = sent.json()["event_ids"][0]
        alert_id = alert_id_for(event_id, TEAM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.inbox.get(alert_id)
                return event_id, alert_id
            except AlertNotFound:
                time.sleep(0.2)
        raise AssertionError("the signal did not reach the team's inbox")

    def audit(self) -> list[dict[str, Any]]:
        return read_records(self.conn, AUDIT)


@contextmanager
def running_hub(tmp_path: Path) -> Iterator[RunningHub]:
    """The hub of this module's docstring, in ``tmp_path``; stopped on leaving."""
    config = load_config(EXAMPLE)
    state = tmp_path / "state"
    bus_url = f"embedded:{tmp_path / 'hub.db'}"
    conn = connect(Settings(bus=bus_url))
    inbox, users = InboxStore(state / "store.db"), UserStore(state / "store.db")
    users.add(USER, PASSWORD, "member", [TEAM])
    registry = SourceRegistry(inbox.database)
    _, key = registry.add("energie", URN, ["debt-signal", "outcomes"])
    pseudonymiser = Pseudonymiser({"GM9999": SecretStr("case-flow-test-secret-of-32-bytes")})
    ingest = create_app(conn, registry, pseudonymiser, idempotency_store_path=inbox.database)
    ingest_server, ingest_thread = serve(ingest, "127.0.0.1", 0)
    router = Router(conn, config, state / "router", group="router")
    sinks = SinkRunner(conn, config, inbox, group_prefix="sinks")
    router.ensure_topics()
    sinks.ensure_topics()
    stopping = threading.Event()

    def pipeline() -> None:
        while not stopping.is_set():
            router.step(timeout=0.2)
            sinks.step(timeout=0.2)

    worker = threading.Thread(target=pipeline, name="router and inbox sink", daemon=True)
    worker.start()
    deps = WebDeps(conn=conn, config=config, inbox=inbox, users=users,
                   secret_key=load_or_create_secret(state), state_dir=state,
                   counts=lambda: {}, web=WebSettings())
    app = create_web_app(deps)
    web_server, web_thread = serve_web(app, "127.0.0.1", 0)
    host, port = server_address(ingest_server)
    web_host, web_port = web_server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield RunningHub(f"http://{host}:{port}", f"http://{web_host}:{web_port}", key,
                         conn, inbox, state, bus_url)
    finally:
        stop_web(app, web_server, web_thread)
        stopping.set()
        worker.join(timeout=10)
        stop(ingest_server, ingest_thread)
        sinks.close()
        router.close()
        registry.close()
        inbox.close()
        users.close()
        conn.close()


def check_closed_case(hub: RunningHub, event_id: str, alert_id: str, seed: int = 12) -> None:
    """After the case flow (take up, an attempt not reached by phone then one reached by
    a home visit, closed with :data:`RESULT` by :data:`USER`): the source hears
    PICKED_UP, never the result, each step is a processing record of the case's
    signal naming the user, and the CBS delivery of the day holds the signal and the
    closed case (whole euros, no BSN)."""
    outcomes: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    with hub.api() as api:
        while time.monotonic() < deadline and not outcomes:
            answer = api.get("/v1/outcomes")
            assert answer.status_code == 200, answer.text
            outcomes = [o for o in answer.json()["outcomes"] if o["event_id"] == event_id]
            if not outcomes:
                time.sleep(0.3)
    assert [o["outcome"] for o in outcomes] == ["PICKED_UP"], outcomes
    assert RESULT not in answer.text

    steps = [(r["reason_code"], r["reason_detail"]) for r in hub.audit()
             if str(r.get("alert_id")) == alert_id]
    codes = [code for code, _ in steps]
    for code in ("ALERT_VIEWED", "CASE_VIEWED", "CASE_TAKEN_UP", "CASE_CLOSED"):
        assert code in codes, steps
    attempts = [detail for code, detail in steps if code == "CASE_CONTACT_ATTEMPT"]
    assert len(attempts) == 2 and all(f"user={USER}" in d for d in attempts), steps
    assert "kind=Telefoon reached=no" in attempts[0] and "kind=Huisbezoek reached=yes" in \
        attempts[1]
    assert any(re.search(f"result={re.escape(RESULT)}", d)
               for code, d in steps if code == "CASE_CLOSED"), steps
    assert codes.index("CASE_TAKEN_UP") < codes.index("CASE_CLOSED")

    delivered = hub.state / "levering.json"
    today = dutch_date(datetime.now(UTC)).isoformat()  # the delivery counts Dutch days
    exported = CliRunner().invoke(main, [
        "export", "ddas", "--municipality", "GM9999", "--from", today, "--to", today,
        "--state-dir", str(hub.state), "--bus", hub.bus_url, "--supplier-code", "SH001",
        "--by", USER, "--output", str(delivered)])
    assert exported.exit_code == 0, exported.output
    text = delivered.read_text(encoding="utf-8")
    assert bsn_of(seed) not in text
    (levering,) = Uitwisselmodel.model_validate_json(text).leveringen
    (signaal,) = levering.vroegsignalen or []
    (zaak,) = levering.vroegsignaalzaken or []
    assert signaal.bedrag in (None, 1234, 1235)  # whole euros of 1,234.56, if the team sees it
    assert zaak.resultaat == Eindresultaat(RESULT)
    assert [(c.soort, c.bereikt) for c in zaak.contactpogingen or []] == [
        (Contactsoort.TELEFOON, False), (Contactsoort.HUISBEZOEK, True)]

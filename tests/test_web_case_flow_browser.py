"""Acceptance: a debt signal from ingest to a closed case, in a real headless Chromium
(Debian's package, driven by Playwright). The source posts the signal to the HTTP ingest
API; the router and the inbox sink run on the embedded bus; a member of the debt team
opens the alert, goes to its case, takes it up, records two contact attempts (not
reached, then reached) and closes it with "Vervolghulp en/of verwijzing financieel". The
source reads PICKED_UP from its outcome feed (``GET /v1/outcomes``), and the processing
records on ``audit.v1`` show each step."""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
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
from tests.test_web_browser_inbox import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hub.yaml"
TEAM = "schuldhulp-centrum"
URN = "urn:nld:oin:00000001234567890000"
PASSWORD = "correct horse battery"
RESULT = "Vervolghulp en/of verwijzing financieel"


@dataclass
class RunningHub:
    ingest_url: str
    web_url: str
    key: str
    conn: Connection
    inbox: InboxStore
    state: Path

    def audit(self) -> list[dict[str, Any]]:
        consumer = self.conn.bus.consumer(f"test-{uuid.uuid4().hex[:8]}", [AUDIT])
        out: list[dict[str, Any]] = []
        idle = 0
        while idle < 2:
            batch = consumer.poll(1000, 0.3)
            idle = 0 if batch else idle + 1
            out += [self.conn.serde.decode(m.value).record for m in batch]
        consumer.close()
        return out


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    """The ingest API, the router, the inbox sink and the web app on one embedded bus and
    one application database, as `signalhub run` puts them together."""
    config = load_config(EXAMPLE)
    state = tmp_path / "state"
    conn = connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}"))
    inbox, users = InboxStore(state / "store.db"), UserStore(state / "store.db")
    users.add("sanne", PASSWORD, "member", [TEAM])
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
                         conn, inbox, state)
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


def test_a_debt_signal_from_ingest_to_a_closed_case(hub: RunningHub) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    api = httpx.Client(base_url=hub.ingest_url, timeout=30,
                       headers={"Authorization": f"Bearer {hub.key}"})
    bsn = random_bsn(random.Random(12))
    sent = api.post("/v1/signals/debt", json={
        "bsn": bsn, "municipality_code": "GM9999", "postcode": "7512 AB",
        "house_number": 12, "creditor_type": "ENERGY", "signal_kind": "ARREARS",
        "arrears_amount_cents": 123_456, "arrears_since": "2026-09-01",
        "signal_date": date.today().isoformat(), "crisis": False,
        "objection_recorded": False})
    assert sent.status_code in (200, 201, 202), sent.text
    event_id = sent.json()["event_ids"][0]
    alert_id = alert_id_for(event_id, TEAM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            hub.inbox.get(alert_id)
            break
        except AlertNotFound:
            time.sleep(0.2)
    else:
        raise AssertionError("the signal did not reach the team's inbox")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, locale="nl-NL")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{hub.web_url}/inbox")
            page.get_by_label("Gebruikersnaam").fill("sanne")
            page.get_by_label("Wachtwoord").fill(PASSWORD)
            page.get_by_role("button", name="Inloggen").click()
            expect(page).to_have_url(f"{hub.web_url}/inbox")
            page.locator(f'tr[data-id="{alert_id}"] a').click()
            page.get_by_role("link", name="Naar de zaak").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Vroegsignaalzaak")
            signal = page.locator(f'#case-signals tr[data-id="{alert_id}"] .signal-status')
            expect(signal).to_have_text("Nog niet opgepakt")
            expect(page.locator("#live-status")).to_have_text("Automatisch bijwerken: aan")

            with page.expect_navigation():
                page.get_by_role("button", name="Oppakken").click()
            assert "done=take-up" in page.url, (page.url, page.content()[:3000])
            expect(page.locator("p.notice")).to_have_text("Je hebt de zaak opgepakt.")
            expect(signal).to_have_text("Opgepakt")
            expect(page.locator("#case-state")).to_contain_text("Opgepakt op")

            for kind, reached, part in (("Telefoon", "Nee, niet bereikt", "Ochtend"),
                                        ("Huisbezoek", "Ja, bereikt", "Middag")):
                page.get_by_label("Contactsoort").select_option(kind)
                page.get_by_label(reached).check()
                page.get_by_label("Dagdeel").select_option(part)
                page.get_by_role("button", name="Contactpoging vastleggen").click()
                expect(page.locator("p.notice")).to_have_text(
                    "De contactpoging is vastgelegd.")
            rows = page.locator("#attempts tbody tr")
            expect(rows).to_have_count(2)
            expect(rows.nth(0)).to_contain_text("Telefoon")
            expect(rows.nth(0)).to_contain_text("nee")
            expect(rows.nth(1)).to_contain_text("Huisbezoek")
            expect(rows.nth(1)).to_contain_text("ja")

            page.get_by_label("Eindresultaat").select_option(RESULT)
            page.get_by_role("button", name="Zaak afsluiten").click()
            expect(page.locator("#case-state")).to_have_text(f"Afgesloten: {RESULT}")
            expect(signal).to_have_text("Opgepakt")
            expect(page.get_by_role("button", name="Zaak afsluiten")).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "case-closed.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()

    # the source hears PICKED_UP, never the result
    outcomes: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not outcomes:
        answer = api.get("/v1/outcomes")
        assert answer.status_code == 200, answer.text
        outcomes = [o for o in answer.json()["outcomes"] if o["event_id"] == event_id]
        if not outcomes:
            time.sleep(0.3)
    assert [o["outcome"] for o in outcomes] == ["PICKED_UP"], outcomes
    assert RESULT not in answer.text
    api.close()

    # each step is a processing record of the case's signal, naming the user
    steps = [(r["reason_code"], r["reason_detail"]) for r in hub.audit()
             if str(r.get("alert_id")) == alert_id]
    codes = [code for code, _ in steps]
    for code in ("ALERT_VIEWED", "CASE_VIEWED", "CASE_TAKEN_UP", "CASE_CLOSED"):
        assert code in codes, steps
    attempts = [detail for code, detail in steps if code == "CASE_CONTACT_ATTEMPT"]
    assert len(attempts) == 2 and all("user=sanne" in d for d in attempts), steps
    assert "kind=Telefoon reached=no" in attempts[0] and "kind=Huisbezoek reached=yes" in \
        attempts[1]
    assert any(re.search(r"result=Vervolghulp en/of verwijzing financieel", d)
               for code, d in steps if code == "CASE_CLOSED"), steps
    assert codes.index("CASE_TAKEN_UP") < codes.index("CASE_CLOSED")

    # the CBS delivery of the period holds that signal and its closed case, no BSN
    delivered = hub.state / "levering.json"
    today = date.today().isoformat()
    exported = CliRunner().invoke(main, [
        "export", "ddas", "--municipality", "GM9999", "--from", today, "--to", today,
        "--state-dir", str(hub.state), "--supplier-code", "SH001", "--output",
        str(delivered)])
    assert exported.exit_code == 0, exported.output
    text = delivered.read_text(encoding="utf-8")
    assert bsn not in text
    (levering,) = Uitwisselmodel.model_validate_json(text).leveringen
    (signaal,) = levering.vroegsignalen
    (zaak,) = levering.vroegsignaalzaken
    assert signaal.bedrag in (None, 1234, 1235)  # whole euros of 1,234.56, if the team sees it
    assert '"bedrag": 1234.56' not in text and "123456" not in text
    assert zaak.resultaat == Eindresultaat(RESULT)
    assert [(c.soort, c.bereikt) for c in zaak.contactpogingen or []] == [
        (Contactsoort.TELEFOON, False), (Contactsoort.HUISBEZOEK, True)]

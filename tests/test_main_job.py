"""The main job end to end, on both modes: signals in over HTTP and by file -> router ->
inbox store, team topic and a signed webhook, with consent granted and withdrawn over the
API in between. Plus graceful shutdown and the demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.app import HubProcess
from hub.cli import main
from hub.config import load_config
from hub.settings import Settings
from hub.topics import alerts_topic
from hub.webhook_signing import new_secret

ROOT = Path(__file__).parent.parent
WEBHOOK_SECRET = new_secret()  # made per test run
SOURCE_URN = "urn:nld:oin:00000009999999999123"  # unique: other tests share the broker


class Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:  # a Standard Webhooks receiver, with the standardwebhooks package
            Receiver.received.append(Webhook(WEBHOOK_SECRET).verify(body, dict(self.headers)))
            ok = True
        except WebhookVerificationError:
            ok = False
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/signalhub"
    server.shutdown()
    server.server_close()


def config_with_webhook(tmp_path: Path, url: str) -> Path:
    text = (ROOT / "examples" / "hub.yaml").read_text()
    marker = "    areas: [\"7511-7548\"]\n    event_types: [youth-care-exit]\n"
    assert marker in text
    text = text.replace(marker, marker + "    deliveries:\n      inbox: true\n      webhook:\n"
                        f"        url: {url}\n        secret_env: TEST_WEBHOOK_SECRET\n"
                        "        max_attempts: 3\n")
    text += "webhooks:\n  allow_private: [127.0.0.1]   # the test receiver, over http\n"
    path = tmp_path / "hub.yaml"
    path.write_text(text)
    return path


def youth(bsn: str) -> dict[str, Any]:
    turns = (date.today() + timedelta(days=120)).isoformat()
    return {"bsn": bsn, "municipality_code": "GM9999", "postcode": "7530CD",
            "turns_18_on": turns, "planned_end_date": turns, "care_form": "FOSTER",
            "support_needs": ["HOUSING"], "provider_contact_role": "mentor"}


def wait_for(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


@pytest.mark.slow
def test_signals_in_alerts_out(hub_settings: Settings, tmp_path: Path, receiver: str,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    settings = hub_settings.model_copy(update={
        "state_dir": tmp_path / "state",
        "pseudonym_secrets": {"GM9999": SecretStr("e2e-test-secret-of-at-least-32-bytes")}})
    process = HubProcess(settings, load_config(config_with_webhook(tmp_path, receiver)),
                         port=0, web_port=None)
    process.start()
    closing: list[httpx.Client] = []
    try:
        assert process.sources is not None and process.inbox is not None
        _, key = process.sources.add("e2e-partner", SOURCE_URN,
                                     ["debt-signal", "youth-care-exit", "consent"],
                                     consent_purposes=["youth-care-exit-support"],
                                     consent_scopes=["jeugd-18plus"])
        http = httpx.Client(base_url=process.url, timeout=30, trust_env=False,
                            headers={"Authorization": f"Bearer {key}"})
        closing.append(http)
        # 1. a consent over the API, then a youth signal: forwarded (inbox + webhook)
        grant = http.post("/v1/consents", json={
            "bsn": "111222333", "municipality_code": "GM9999",
            "purpose": "youth-care-exit-support", "recipient_scope": ["jeugd-18plus"]})
        assert grant.status_code == 202, grant.text
        first = http.post("/v1/signals/youth-care-exit", json=youth("111222333"))
        assert first.status_code == 202, first.text
        first_id = first.json()["event_ids"][0]
        inbox = process.inbox

        def in_inbox(team: str, pick: Any) -> list[Any]:
            return [i for i in inbox.list_alerts(team, limit=10_000) if pick(i.alert)]

        wait_for(lambda: in_inbox("jeugd-18plus", lambda a: str(a.event_id) == first_id))
        wait_for(lambda: any(r["event_id"] == first_id for r in Receiver.received))
        # 2. withdrawn over the API: the next signal is refused
        consent_id = grant.json()["consent_id"]
        assert http.delete(f"/v1/consents/{consent_id}").status_code == 202
        second = http.post("/v1/signals/youth-care-exit", json=youth("111222333"))
        assert second.status_code == 202
        wait_for(lambda: process.counts().get("refused:CONSENT_WITHDRAWN", 0) >= 1)
        # 3. a debt signal by file import lands in the debt team's inbox
        csv = tmp_path / "export.csv"
        csv.write_text(
            "bsn;gemeente;postcode;huisnummer;soort_schuldeiser;soort_signaal;"
            "bedrag_achterstand;achterstand_sinds;datum_signaal;crisis;bezwaar\n"
            "123456782;GM9999;7512 AB;14;Energie;Achterstand;1.234,56;01-09-2026;"
            f"{date.today():%d-%m-%Y};nee;nee\n", encoding="cp1252")
        env = {"HUB_BUS": settings.bus,
               "HUB_PSEUDONYM_SECRETS": '{"GM9999": "e2e-test-secret-of-at-least-32-bytes"}'}
        if settings.registry_url:
            env["HUB_REGISTRY_URL"] = settings.registry_url
        result = CliRunner().invoke(main, [
            "import", str(csv), "--type", "debt-signal", "--source", SOURCE_URN,
            "--mapping", str(ROOT / "examples" / "mappings" / "debt-nl.yaml"),
            "--state-dir", str(tmp_path / "state"), "--no-progress"], env=env)
        assert result.exit_code == 0, result.output
        mine = lambda a: a.source == SOURCE_URN  # noqa: E731
        wait_for(lambda: in_inbox("schuldhulp-centrum", mine))
        (item,) = in_inbox("schuldhulp-centrum", mine)
        assert "123456782" not in json.dumps(item.alert.model_dump(mode="json"))
        # the team topic has the same alerts
        conn = process._conns[0]
        reader = conn.bus.consumer(f"e2e-check-{first_id[:8]}", [alerts_topic("jeugd-18plus")])
        alerts = []
        for _ in range(10):
            alerts += [conn.serde.decode(m.value).record for m in reader.poll(1000, 1.0)]
        reader.close()
        assert [str(a["event_id"]) for a in alerts if a["source"] == SOURCE_URN] == [first_id]
    finally:
        for client in closing:
            client.close()
        process.stop()


def test_run_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_METRICS__ADDRESS"] = "127.0.0.1:0"  # any free port, never the fixed default
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "run", "--config", str(ROOT / "examples" / "hub.yaml"),
         "--bus", f"embedded:{tmp_path / 'hub.db'}", "--state-dir", str(tmp_path / "state"),
         "--port", "0", "--web-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "signalhub running" in line, line + (proc.stderr.read() if proc.stderr else "")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped:" in out
    assert "router stopped" in err and "hub stopped" in err


@pytest.mark.slow
def test_demo_shows_the_mission_within_a_minute(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--dir", str(tmp_path / "demo"), "--port", "0",
                                       "--web-port", "0", "--duration", "12", "--rate", "8"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Gemeente Voorbeeld" in out and "/openapi.json" in out
    decisions = [line for line in out.splitlines() if line.startswith("  decisions ")][-1]
    forwarded = int(decisions.split(": ")[1].split(" forwarded")[0])
    assert forwarded > 10, decisions
    assert "dead_lettered:UNKNOWN_MUNICIPALITY" in out and "refused:" in out
    inboxes = [line for line in out.splitlines() if line.startswith("  inboxes ")][-1]
    assert "jeugd-18plus 0" not in inboxes, "consented youth signals reach the youth team"

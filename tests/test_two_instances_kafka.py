"""Two instances side by side (issue 10 item 3): two `signalhub run` processes with
separate state folders on the same real Kafka broker, schema registry and PostgreSQL. A
source key added once works on both; the same event id sent to both is accepted once;
an alert claimed on one shows claimed on the other, live; a user disabled on one is
signed out on both."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from hub.cli import main

pytestmark = [pytest.mark.kafka, pytest.mark.registry, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).parent.parent
PASSWORD = "correct horse battery"
TEAM = "schuldhulp-centrum"
SECRETS = '{"GM9999": "two-instances-secret-of-at-least-32-bytes"}'


def wait_for(check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


class Instance:
    """One `signalhub run` process; its ingest and web URLs from its first line."""

    def __init__(self, env: dict[str, str], state: Path, bootstrap: str) -> None:
        state.mkdir(parents=True)
        self.log = state.parent / f"{state.name}.log"  # a file: a full pipe would stall it
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "run", "--config",
                 str(ROOT / "examples" / "hub.yaml"), "--bus", f"kafka://{bootstrap}",
                 "--state-dir", str(state), "--port", "0", "--web-port", "0"],
                stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r"ingest API (http://\S+) .*web app (http://\S+) ", line)
        if found is None:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            raise AssertionError(line + self.log.read_text()[-3000:])
        self.ingest, self.web = found.group(1), found.group(2)
        # drain stdout (the stop line) so the process never blocks on it
        self._out = threading.Thread(target=self.proc.stdout.read, daemon=True)
        self._out.start()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=90)
        finally:
            self.proc.kill()
            self.proc.wait()
            self._out.join(timeout=10)  # the drain ends at the pipe's end
            assert self.proc.stdout is not None
            self.proc.stdout.close()


@pytest.fixture
def env(postgres_url: str, apicurio_url: str, kafka_bootstrap: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**base, "HUB_DATABASE_URL": postgres_url, "HUB_REGISTRY_URL": apicurio_url,
            "HUB_BUS": f"kafka://{kafka_bootstrap}",  # the commands record on audit.v1
            "HUB_PSEUDONYM_SECRETS": SECRETS,
            "HUB_METRICS__ADDRESS": "", "HUB_WEB__SECURE_COOKIES": "false",
            "HUB_WEB__SECRET_KEY": "two-instances-cookie-key-" + "x" * 16,
            # own topics and groups on the session's shared broker
            "HUB_TOPIC_PREFIX": f"two-{uuid.uuid4().hex[:8]}."}


@pytest.fixture
def instances(env: dict[str, str], tmp_path: Path, kafka_bootstrap: str
              ) -> Iterator[tuple[Instance, Instance]]:
    one = Instance(env, tmp_path / "one", kafka_bootstrap)
    try:
        two = Instance(env, tmp_path / "two", kafka_bootstrap)
    except BaseException:
        one.stop()
        raise
    yield one, two
    for instance in (one, two):
        instance.stop()


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), env=env, input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def debt(event_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "bsn": "123456782", "municipality_code": "GM9999",
            "postcode": "7512 AB", "house_number": 14, "creditor_type": "ENERGY",
            "signal_kind": "ARREARS", "arrears_amount_cents": 123_456,
            "arrears_since": "2026-09-01", "signal_date": date.today().isoformat(),
            "crisis": False, "objection_recorded": False}


def signed_in(base: str, username: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=15.0, trust_env=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
    assert token
    r = c.post("/login", data={"username": username, "password": PASSWORD,
                               "csrf_token": token.group(1)})
    assert r.status_code == 303, r.text
    return c


def test_two_instances_share_keys_events_inbox_and_sessions(
    instances: tuple[Instance, Instance], env: dict[str, str],
) -> None:
    one, two = instances
    urn = f"urn:nld:oin:0000000{uuid.uuid4().int % 10**13:013d}"
    added = cli(env, "sources", "add", "two-instances", "--urn", urn,
                "--event-type", "debt-signal")
    key = re.search(r"^api key: (\S+)$", added, re.M)
    assert key, added
    headers = {"Authorization": f"Bearer {key.group(1)}"}
    cli(env, "users", "add", "anna", "--team", TEAM, "--password-stdin", stdin=PASSWORD + "\n")

    # the key works on both; the same event id sent to both is accepted once
    event_id = str(uuid.uuid4())
    with httpx.Client(timeout=30, trust_env=False, headers=headers) as http:
        first = http.post(f"{one.ingest}/v1/signals/debt", json=debt(event_id))
        again = http.post(f"{two.ingest}/v1/signals/debt", json=debt(event_id))
    assert first.status_code == 202, first.text
    assert again.status_code == 202 and again.headers.get("idempotent-replayed") == "true"

    anna_one, anna_two = signed_in(one.web, "anna"), signed_in(two.web, "anna")
    try:
        def alerts(c: httpx.Client) -> list[dict[str, Any]]:
            return [a for a in c.get("/api/alerts").json()["alerts"]
                    if a["event_type"] == "debt-signal"]

        (alert,) = wait_for(lambda: alerts(anna_two))  # routed once, in the shared inbox
        assert [a["alert_id"] for a in alerts(anna_one)] == [alert["alert_id"]]

        # a claim on one shows claimed on the other's live stream
        events: list[dict[str, Any]] = []

        def listen() -> None:
            after = re.search(r'data-after="(\d+)"', anna_two.get("/inbox").text)
            assert after
            with anna_two.stream("GET", f"/inbox/events?after={after.group(1)}") as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: ") and line != "data: {}":
                        events.append(json.loads(line[6:]))
                        return

        reader = threading.Thread(target=listen)
        reader.start()
        time.sleep(1.0)
        page = anna_one.get(f"/inbox/alerts/{alert['alert_id']}").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        assert anna_one.post(f"/inbox/alerts/{alert['alert_id']}/claim",
                             data={"csrf_token": token.group(1)}).status_code == 303
        reader.join(20)
        assert [(e["alert_id"], e["status"], e["claimed_by"]) for e in events] == [
            (alert["alert_id"], "claimed", "anna")]

        # a user disabled (through the shared database) is signed out on both
        cli(env, "users", "disable", "anna")
        assert anna_one.get("/api/me").status_code == 401
        assert anna_two.get("/api/me").status_code == 401
    finally:
        anna_one.close()
        anna_two.close()

"""The hub's container image and the compose stack, with the real container engine
(Debian's podman, run by hub.devtools.podman): the image is built on the debootstrapped
Debian base and routes one signal from its HTTP API to a team topic on the test broker;
`podman-compose config` accepts docker-compose.yml."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hub.connect import connect
from hub.devtools.container_image import build_image
from hub.devtools.podman import Podman
from hub.errors import ContainerToolError
from hub.settings import Settings
from hub.topics import alerts_topic

ROOT = Path(__file__).parent.parent
SECRETS = '{"GM9999": "container-test-secret-of-at-least-32-bytes"}'
COMPOSE_ENV = {"SIGNALHUB_DB_PASSWORD": "compose-test-password", "HUB_PSEUDONYM_SECRETS": SECRETS}

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def podman() -> Podman:
    try:
        found = Podman.find()
        found.run("version", timeout=30.0)
    except ContainerToolError as exc:  # never a silent pass: say why podman is unusable
        pytest.fail(f"podman cannot run here: {exc}")
    return found


@pytest.fixture(scope="module")
def hub_image(podman: Podman) -> str:
    started = time.monotonic()
    try:
        image = build_image(podman)
    except ContainerToolError as exc:
        pytest.fail(f"the hub's image could not be built: {exc}")
    print(f"image {image} built in {time.monotonic() - started:.0f}s")
    return image


def _compose_config(podman: Podman, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    compose = Path(sys.executable).parent / "podman-compose"
    return subprocess.run([str(compose), "-f", str(ROOT / "docker-compose.yml"), "config"],
                          env={**podman.env(), **env}, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


def test_compose_config_accepts_the_stack(podman: Podman) -> None:
    done = _compose_config(podman, COMPOSE_ENV)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert set(services) == {"hub", "kafka", "registry", "registry-db", "hub-db"}
    host_ports = [port.rsplit(":", 1)[0] for svc in services.values()
                  for port in svc.get("ports", [])]
    assert len(host_ports) == len(set(host_ports)), host_ports
    assert "127.0.0.1:8080" in [p.rsplit(":", 1)[0] for p in services["hub"]["ports"]]
    hub = services["hub"]
    assert hub["build"]["dockerfile"] == "Containerfile" and "BASE_IMAGE" in str(hub["build"])
    env = hub["environment"]
    assert env["HUB_BUS"] == "kafka://kafka:19092"
    assert env["HUB_REGISTRY_URL"] == "http://registry:8080/apis/ccompat/v7"
    assert env["HUB_DATABASE_URL"] == (
        "postgresql://signalhub:compose-test-password@hub-db:5432/signalhub")
    assert services["hub-db"]["environment"]["POSTGRES_PASSWORD"] == "compose-test-password"
    assert services["registry"]["environment"]["APICURIO_STORAGE_KIND"] == "sql"


@pytest.mark.parametrize("missing", sorted(COMPOSE_ENV))
def test_compose_config_names_a_missing_secret(podman: Podman, missing: str) -> None:
    env = {**COMPOSE_ENV, missing: ""}
    done = _compose_config(podman, env)
    assert done.returncode != 0
    assert f"required variable {missing}" in done.stderr, done.stderr[-2000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _debt(bsn: str) -> dict[str, Any]:
    today = date.today()
    return {"bsn": bsn, "municipality_code": "GM9999", "postcode": "7512AB",
            "house_number": 14, "creditor_type": "ENERGY", "signal_kind": "ARREARS",
            "arrears_amount_cents": 123_456,
            "arrears_since": (today - timedelta(days=60)).isoformat(),
            "signal_date": today.isoformat(), "crisis": False, "objection_recorded": False}


@pytest.fixture
def hub_container(podman: Podman, hub_image: str, kafka_bootstrap: str,
                  apicurio_url: str) -> Iterator[tuple[str, str]]:
    """The image running against the test broker and registry (host network), with its
    state on a fresh volume; yields (container name, ingest API URL)."""
    suffix = uuid.uuid4().hex[:8]
    name, volume = f"signalhub-test-{suffix}", f"signalhub-test-state-{suffix}"
    port = _free_port()
    podman.run("run", "--detach", "--name", name, "--network", "host",
               "--volume", f"{volume}:/var/lib/signalhub",
               "--volume", f"{ROOT / 'examples' / 'hub.yaml'}:/etc/signalhub/hub.yaml:ro",
               "--env", f"HUB_BUS=kafka://{kafka_bootstrap}",
               "--env", f"HUB_REGISTRY_URL={apicurio_url}",
               "--env", "HUB_HOST=127.0.0.1", "--env", f"HUB_PORT={port}",
               "--env", f"HUB_WEB_PORT={_free_port()}",
               "--env", "HUB_METRICS__ADDRESS=127.0.0.1:0",
               "--env", f"HUB_PSEUDONYM_SECRETS={SECRETS}", hub_image)
    try:
        yield name, f"http://127.0.0.1:{port}"
    finally:
        logs = podman.run("logs", name, check=False).stderr
        print(f"container log (last lines):\n{logs[-4000:]}")
        podman.remove("container", [name])
        podman.remove("volume", [volume])


def _wait_healthy(podman: Podman, name: str, url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = podman.run("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        assert state == "running", podman.run("logs", name, check=False).stderr[-4000:]
        try:
            if httpx.get(f"{url}/healthz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"no /healthz within {timeout:.0f}s")


@pytest.mark.slow
@pytest.mark.kafka
@pytest.mark.registry
@pytest.mark.timeout(1800)  # the first build makes the Debian base and installs from PyPI
def test_the_image_routes_a_signal_to_the_team_topic(
        podman: Podman, hub_container: tuple[str, str], kafka_bootstrap: str,
        apicurio_url: str) -> None:
    name, url = hub_container
    _wait_healthy(podman, name, url)
    # the image's own HEALTHCHECK, run once by hand (no systemd timers here)
    assert podman.run("healthcheck", "run", name, check=False).returncode == 0
    assert podman.run("exec", name, "id", "-u").stdout.strip() == "10001"  # not root
    urn = f"urn:nld:oin:0000000999999{uuid.uuid4().int % 10**7:07d}"
    added = podman.run("exec", name, "signalhub", "sources", "add", "container-partner",
                       "--urn", urn, "--event-type", "debt-signal", "--json")
    key = json.loads(added.stdout)["api_key"]
    with httpx.Client(base_url=url, timeout=30, trust_env=False,
                      headers={"Authorization": f"Bearer {key}"}) as http:
        sent = http.post("/v1/signals/debt", json=_debt("123456782"))
    assert sent.status_code == 202, sent.text
    event_id = sent.json()["event_ids"][0]
    settings = Settings(bus=f"kafka://{kafka_bootstrap}", registry_url=apicurio_url)
    with connect(settings) as conn:
        reader = conn.bus.consumer(f"container-check-{event_id[:8]}",
                                   [alerts_topic("schuldhulp-centrum")])
        try:
            found: list[dict[str, Any]] = []
            deadline = time.monotonic() + 90
            while not found and time.monotonic() < deadline:
                found = [alert for m in reader.poll(1000, 1.0)
                         if (alert := conn.serde.decode(m.value).record)["source"] == urn]
        finally:
            reader.close()
    assert [str(a["event_id"]) for a in found] == [event_id]
    assert "123456782" not in json.dumps(found, default=str)
    # SIGTERM to the entry point: every component finishes and the container exits 0
    podman.run("stop", "--time", "40", name, timeout=60.0)
    assert podman.run("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    assert "hub stopped" in podman.run("logs", name).stderr

"""Schema registry faults against a real Apicurio Registry (hub.devtools.local_registry).

Each test is one finding of issue 9: concurrent first registrations raced on Apicurio's
``PUT /config/<subject>`` (409 "rule already exists" -> 503 at the ingest API); a
restarted in-memory registry handed the hub's cached ids to other schemas while the hub
went on writing them and ``readyz`` said ready; and a registry outage must neither let a
record be written under an id the registry has not confirmed nor lose one. What is on the
topics is decoded with a third-party deserializer (confluent-kafka's AvroDeserializer
with its SchemaRegistryClient against Apicurio's Confluent-compatible API).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from test_http_ingest import debt, read_topics, running, valid_bsn

from hub.accounts import UserStore
from hub.config import load_config
from hub.connect import connect
from hub.devtools.local_registry import LocalApicurio
from hub.errors import LocalRegistryError, RegistryUnavailable
from hub.inbox import InboxStore
from hub.registry.base import canonical
from hub.registry.http import CONFIRM_EVERY, HttpRegistry
from hub.schemas import load_schema
from hub.serde import AvroSerde
from hub.serving import serve, server_address, stop
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS
from hub.web.app import create_web_app
from hub.web.deps import WebDeps

pytestmark = [pytest.mark.registry, pytest.mark.slow]

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
DEBT_TOPIC = SIGNAL_TOPICS["debt-signal"]
WRITERS = ("DebtSignal", "EvictionRisk", "YouthCareExit", "TeamAlert", "ProcessingRecord",
           "DeadLetter", "ConsentChange")


@pytest.fixture(scope="module")
def apicurio() -> Iterator[LocalApicurio]:
    """A registry of this module's own, on persistent storage (a private H2 file)."""
    with LocalApicurio() as registry:
        yield registry


def third_party_decode(registry_url: str, topic: str, values: list[bytes]) -> list[Any]:
    """Decode wire-format values as any Confluent client would: the writer schema by id."""
    with SchemaRegistryClient({"url": registry_url, "timeout": 10}) as client:  # retried
        deserializer = AvroDeserializer(client)
        context = SerializationContext(topic, MessageField.VALUE)
        return [deserializer(value, context) for value in values]


def subject_level(registry_url: str, subject: str) -> str:
    answer = httpx.get(f"{registry_url}/config/{subject}", timeout=10).json()
    return str(answer.get("compatibilityLevel") or answer.get("compatibility"))


# --- concurrent first registrations --------------------------------------------------


def test_ten_concurrent_first_requests_on_a_fresh_registry_all_get_202(
        apicurio: LocalApicurio, tmp_path: Path) -> None:
    url = apicurio.start()
    assert not httpx.get(f"{url}/subjects", timeout=10).json()  # nothing registered yet
    settings = Settings(bus=f"embedded:{tmp_path / 'hub.db'}", registry_url=url)
    rng = random.Random(9)
    bodies = [debt(valid_bsn(rng)) for _ in range(10)]
    with connect(settings) as conn, running(conn, tmp_path) as api:
        start = threading.Barrier(len(bodies))
        statuses: list[int] = []

        def post(body: dict[str, Any]) -> None:
            with api.client() as client:
                start.wait()
                statuses.append(client.post("/v1/signals/debt", json=body).status_code)

        threads = [threading.Thread(target=post, args=(b,)) for b in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(statuses) == [202] * len(bodies)
        values = [m.value for m in read_topics(conn.bus, [DEBT_TOPIC]) if m.value is not None]
    decoded = third_party_decode(url, DEBT_TOPIC, values)
    assert sorted(d["municipality_code"] for d in decoded) == ["GM0344"] * len(bodies)


def test_ten_clients_registering_the_same_new_subjects_at_once_all_succeed(
        apicurio: LocalApicurio) -> None:
    url = apicurio.start()
    for attempt in range(3):  # the race is Apicurio's: give it several chances to show
        topic = f"race{attempt}.{random.randrange(16**8):08x}"
        clients = [HttpRegistry(url) for _ in range(10)]
        start = threading.Barrier(len(clients))
        ids: list[tuple[int, ...]] = []
        errors: list[BaseException] = []

        def register(registry: HttpRegistry, topic: str = topic,
                     start: threading.Barrier = start, ids: list[tuple[int, ...]] = ids,
                     errors: list[BaseException] = errors) -> None:
            serde = AvroSerde(registry)
            start.wait()
            try:
                ids.append(tuple(serde.schema_id(topic, name) for name in WRITERS))
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=register, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for registry in clients:
            registry.close()
        assert errors == []
        assert len(ids) == len(clients) and len(set(ids)) == 1  # one id per schema
        for name in WRITERS:
            subject = f"{topic}-nl.signalhub.v1.{name}"
            assert subject_level(url, subject) == "BACKWARD_TRANSITIVE"


# --- persistent storage -------------------------------------------------------------


def test_a_registry_restarted_on_persistent_storage_keeps_its_ids(
        apicurio: LocalApicurio) -> None:
    url = apicurio.start()
    topic = f"keep.{random.randrange(16**8):08x}"
    with _registry(url) as registry:
        before = {name: AvroSerde(registry).schema_id(topic, name) for name in WRITERS[:3]}
    assert apicurio.restart() == url
    with _registry(url) as registry:
        for name, schema_id in before.items():
            assert canonical(registry.schema_by_id(schema_id)) == canonical(load_schema(name))
        again = {name: AvroSerde(registry).schema_id(topic, name) for name in WRITERS[:3]}
        new = registry.register(f"{topic}-other", json.dumps(
            {"type": "record", "name": "Other", "fields": [{"name": "x", "type": "int"}]}))
    assert again == before
    assert new not in before.values()  # ids are not handed out twice


def test_a_second_registry_on_the_same_data_is_refused(apicurio: LocalApicurio) -> None:
    apicurio.start()
    second = LocalApicurio(data_dir=apicurio.data_dir)
    with pytest.raises(LocalRegistryError, match="in use by another local registry"):
        second.start()
    assert not second.running and apicurio.running


# --- a registry that lost its schemas ------------------------------------------------


def test_lost_ids_are_registered_again_and_readyz_says_so(tmp_path: Path) -> None:
    """In-memory storage (what the compose file and the tooling ran before): after a
    restart the hub's ids name other schemas; nothing is written under them."""
    topic = f"lost.{random.randrange(16**8):08x}"
    with LocalApicurio(in_memory=True) as apicurio:
        url = apicurio.start()
        registry = HttpRegistry(url, confirm_every=1.0)
        serde = AvroSerde(registry)
        record = _debt_record(serde)
        old_id = serde.schema_id(topic, "DebtSignal")
        with _readyz(registry, tmp_path) as ready:
            assert ready().status_code == 200

            apicurio.stop()
            time.sleep(1.2)  # past the confirmation: the cached id is not used any more
            with pytest.raises(RegistryUnavailable):
                serde.encode(topic, "DebtSignal", record)
            down = ready()
            assert down.status_code == 503
            assert down.json()["checks"]["registry"] == "failed: RegistryUnavailable"

            apicurio.start()  # empty: another client's schema gets the old id now
            with _registry(url) as other:
                assert other.register("someone-else", canonical(load_schema("TeamAlert"))) \
                    == old_id
            with structlog.testing.capture_logs() as logs:
                assert ready().status_code == 200  # re-registered, confirmed
            assert any("lost its data" in e["event"] for e in logs)
            value = serde.encode(topic, "DebtSignal", record)
        registry.close()
        assert int.from_bytes(value[1:5], "big") != old_id
        (decoded,) = third_party_decode(url, topic, [value])
    assert str(decoded["event_id"]) == record["event_id"]
    assert decoded["arrears_amount_cents"] == record["arrears_amount_cents"]


# --- an outage mid-stream -----------------------------------------------------------


@dataclass
class Answer:
    sent: float
    status: int
    event_ids: list[str]
    retry_after: str | None


@pytest.mark.kafka
def test_registry_down_60s_mid_stream_nothing_unconfirmed_lost_or_undecodable(
        apicurio: LocalApicurio, kafka_bootstrap: str, tmp_path: Path) -> None:
    url = apicurio.start()
    settings = Settings(bus=f"kafka://{kafka_bootstrap}", registry_url=url)
    rng = random.Random(60)
    answers: list[Answer] = []
    stop = threading.Event()
    with connect(settings) as conn, running(conn, tmp_path) as api:
        start = dict(conn.bus.end_offsets(DEBT_TOPIC))

        def post() -> None:
            with api.client() as client:
                while not stop.is_set():
                    sent = time.monotonic()
                    response = client.post("/v1/signals/debt", json=debt(valid_bsn(rng)))
                    ids = response.json().get("event_ids", []) if response.status_code == 202 \
                        else []
                    answers.append(Answer(sent, response.status_code, ids,
                                          response.headers.get("retry-after")))
                    time.sleep(0.1)

        poster = threading.Thread(target=post)
        poster.start()
        try:
            time.sleep(5)
            apicurio.stop()
            stopped = time.monotonic()
            time.sleep(60)
            restarting = time.monotonic()
            apicurio.start()
            back = time.monotonic()
            _wait_for(lambda: any(a.sent > back and a.status == 202 for a in answers), 30)
            time.sleep(5)
        finally:
            stop.set()
            poster.join(60)
        messages = [m for m in read_topics(conn.bus, [DEBT_TOPIC])
                    if m.offset >= start.get(m.partition, 0)]

    assert {a.status for a in answers} == {202, 503}, {a.status for a in answers}
    assert any(a.status == 202 and a.sent < stopped for a in answers)
    outage = [a for a in answers if stopped + CONFIRM_EVERY + 0.5 < a.sent < restarting]
    assert outage and {a.status for a in outage} == {503}  # no id used unconfirmed
    assert all(a.retry_after for a in answers if a.status == 503)
    accepted = [i for a in answers if a.status == 202 for i in a.event_ids]

    decoded = third_party_decode(url, DEBT_TOPIC, [m.value for m in messages if m.value])
    assert sorted(str(d["event_id"]) for d in decoded) == sorted(accepted)  # none lost, none twice
    ids = {int.from_bytes(m.value[1:5], "big") for m in messages if m.value}
    with _registry(url) as registry:
        assert {canonical(registry.schema_by_id(i)) for i in ids} == {
            canonical(load_schema("DebtSignal"))}


# --- helpers -------------------------------------------------------------------------


def _registry(url: str) -> closing[HttpRegistry]:
    """A client of its own (nothing cached), closed at the end of the ``with`` block."""
    return closing(HttpRegistry(url))


def _debt_record(serde: AvroSerde) -> dict[str, Any]:
    from hub.samples import sample_debt

    signal = sample_debt(random.Random(3))
    record: dict[str, Any] = signal.to_avro()
    return record


class _readyz:  # noqa: N801 - used like a function in ``with``
    """``GET /readyz`` of a web app whose connection uses ``registry``."""

    def __init__(self, registry: HttpRegistry, tmp_path: Path) -> None:
        self.registry, self.tmp_path = registry, tmp_path

    def __enter__(self) -> Callable[[], httpx.Response]:
        conn = connect(Settings(bus=f"embedded:{self.tmp_path / 'web.db'}"))
        conn.registry.close()
        conn.registry = self.registry
        self.conn = conn
        self.users = UserStore(self.tmp_path / "users.db")
        self.inbox = InboxStore(self.tmp_path / "inbox.db")
        deps = WebDeps(conn=conn, config=load_config(EXAMPLE), inbox=self.inbox,
                       users=self.users, secret_key="k" * 48, state_dir=self.tmp_path,
                       counts=dict)
        self.server, self.thread = serve(create_web_app(deps), "127.0.0.1", 0)
        host, port = server_address(self.server)
        self.client = httpx.Client(base_url=f"http://{host}:{port}", timeout=60)
        return lambda: self.client.get("/readyz")

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        stop(self.server, self.thread)
        self.users.close()
        self.inbox.close()
        self.conn.bus.close()


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)

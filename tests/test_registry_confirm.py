"""Writer-id confirmation of the HTTP registry client, fast and deterministic: a small
in-process stand-in for a Confluent-compatible registry (httpx's MockTransport) that can
forget its schemas, go down, and answer a first ``PUT /config`` with Apicurio's 409 "rule
already exists", and a clock the test moves. The real-Apicurio versions of these
findings are in test_registry_faults.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog

from hub.errors import RegistryUnavailable
from hub.registry.base import canonical
from hub.registry.http import HttpRegistry
from hub.samples import sample_debt
from hub.schemas import load_schema
from hub.serde import AvroSerde

PREFIX = "/apis/ccompat/v7"
TOPIC = "signals.debt.v1"
SUBJECT = f"{TOPIC}-nl.signalhub.v1.DebtSignal"


class FakeRegistry:
    """Subjects, ids and configs in dicts; ``down`` refuses connections; ``forget``
    loses everything, like Apicurio with in-memory storage after a restart."""

    def __init__(self) -> None:
        self.down = False
        self.conflict_once: set[str] = set()  # subjects whose next PUT /config is a 409
        self.calls: list[str] = []
        self.forget()

    def forget(self) -> None:
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.config: dict[str, str] = {}

    def take(self, schema: str) -> int:
        """Register ``schema`` under a subject of someone else (takes the next id)."""
        return self._register("someone-else", schema)

    def _register(self, subject: str, schema: str) -> int:
        found = [i for i, s in self.schemas.items() if s == schema]
        schema_id = found[0] if found else len(self.schemas) + 1
        self.schemas[schema_id] = schema
        if schema_id not in self.subjects.setdefault(subject, []):
            self.subjects[subject].append(schema_id)
        return schema_id

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path, method = request.url.path, request.method
        self.calls.append(f"{method} {path}")
        body: dict[str, Any] = json.loads(request.content) if request.content else {}
        parts = path.removeprefix(PREFIX).strip("/").split("/")
        if parts[0] == "config" and method == "PUT":
            if parts[1] in self.conflict_once:
                self.conflict_once.discard(parts[1])
                return httpx.Response(409, json={
                    "error_code": 409, "message": "A rule named 'COMPATIBILITY' already exists."})
            self.config[parts[1]] = body["compatibility"]
            return httpx.Response(200, json={"compatibility": body["compatibility"]})
        if parts[0] == "schemas":
            schema_id = int(parts[2])
            if schema_id not in self.schemas:
                return httpx.Response(404, json={"error_code": 40403, "message": "no id"})
            return httpx.Response(200, json={"schema": self.schemas[schema_id]})
        if parts == ["subjects"]:
            return httpx.Response(200, json=sorted(self.subjects))
        subject = parts[1]
        if len(parts) == 3 and method == "GET":  # versions
            if subject not in self.subjects:
                return httpx.Response(404, json={"error_code": 40401, "message": "no subject"})
            return httpx.Response(200, json=list(range(1, len(self.subjects[subject]) + 1)))
        if len(parts) == 3:  # POST versions
            return httpx.Response(200, json={"id": self._register(subject, body["schema"])})
        ids = self.subjects.get(subject, [])
        for version, schema_id in enumerate(ids, 1):  # POST /subjects/<s>: lookup
            if self.schemas[schema_id] == body["schema"]:
                return httpx.Response(200, json={"subject": subject, "version": version,
                                                 "id": schema_id, "schema": body["schema"]})
        return httpx.Response(404, json={"error_code": 40403, "message": "not found"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(fake: FakeRegistry, clock: Clock) -> Iterator[HttpRegistry]:
    client = httpx.Client(base_url="http://registry.test/apis/ccompat/v7",
                          transport=httpx.MockTransport(fake.handle))
    reg = HttpRegistry("http://registry.test/apis/ccompat/v7", client=client,
                       confirm_every=5.0, retry_after=1.0, clock=clock)
    yield reg
    reg.close()


def _encode(serde: AvroSerde) -> bytes:
    return serde.encode_model(TOPIC, sample_debt())


def _id(value: bytes) -> int:
    return int.from_bytes(value[1:5], "big")


def test_rule_already_exists_on_a_first_registration_is_success(
        fake: FakeRegistry, registry: HttpRegistry) -> None:
    fake.conflict_once.add(SUBJECT)  # another client set the rule a moment ago
    assert _id(_encode(AvroSerde(registry))) == 1
    assert fake.config[SUBJECT] == "BACKWARD_TRANSITIVE"  # set again: an update now


def test_a_confirmed_id_is_used_from_memory_then_confirmed_again(
        fake: FakeRegistry, clock: Clock, registry: HttpRegistry) -> None:
    serde = AvroSerde(registry)
    _encode(serde)
    asked = len(fake.calls)
    clock.now += 4.9
    _encode(serde)
    assert len(fake.calls) == asked  # within the confirmation: no call
    clock.now += 0.2
    _encode(serde)
    assert fake.calls[asked:] == [f"POST /apis/ccompat/v7/subjects/{SUBJECT}"]  # a lookup


def test_no_record_is_encoded_under_an_id_the_registry_has_not_confirmed(
        fake: FakeRegistry, clock: Clock, registry: HttpRegistry) -> None:
    serde = AvroSerde(registry)
    assert _id(_encode(serde)) == 1
    fake.down = True
    with pytest.raises(RegistryUnavailable):
        registry.schema_by_id(99)  # any failed call: the confirmation is void
    clock.now += 1.5
    with pytest.raises(RegistryUnavailable):
        _encode(serde)
    asked = len(fake.calls)
    with pytest.raises(RegistryUnavailable, match="not confirmed"):
        _encode(serde)  # within retry_after of the failure: fails at once, no call
    assert len(fake.calls) == asked

    fake.down = False
    fake.forget()  # restarted in memory: someone else gets id 1 first
    assert fake.take(canonical(load_schema("TeamAlert"))) == 1
    clock.now += 1.5
    with structlog.testing.capture_logs() as logs:
        value = _encode(serde)
    assert _id(value) == 2 and canonical(fake.schemas[2]) == canonical(load_schema("DebtSignal"))
    assert serde.decode(value).short_name == "DebtSignal"
    assert [e["old_id"] for e in logs if e["log_level"] == "error"] == [1]


def test_verify_ids_finds_a_changed_id_and_a_reused_reader_id(
        fake: FakeRegistry, clock: Clock, registry: HttpRegistry) -> None:
    serde = AvroSerde(registry)
    _encode(serde)
    fake.forget()
    fake.take(canonical(load_schema("TeamAlert")))  # id 1 names another schema now
    with structlog.testing.capture_logs() as logs:
        registry.verify_ids()  # what readyz does: no waiting for the confirmation to expire
    assert any("lost its data" in e["event"] for e in logs)
    assert _id(_encode(serde)) == 2
    assert canonical(registry.schema_by_id(1)) == canonical(load_schema("TeamAlert"))


def test_verify_ids_raises_while_the_registry_is_down(
        fake: FakeRegistry, registry: HttpRegistry) -> None:
    fake.down = True
    with pytest.raises(RegistryUnavailable):
        registry.verify_ids()

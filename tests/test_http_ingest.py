"""The HTTP ingest API over real HTTP (uvicorn on 127.0.0.1, httpx), on both modes.

Every status code, idempotency by event id and by Idempotency-Key, consents over the
API, and a scan of every message of every topic for the BSNs that were posted.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from pydantic import SecretStr

from connectors.sources.http_ingest import create_app
from hub.bus.base import Bus, Consumer, Message, Record, TopicSpec
from hub.connect import Connection, connect
from hub.errors import (
    Backpressure,
    BusAccessDenied,
    BusUnavailable,
    EventIdReused,
    InFlight,
    KeyReused,
)
from hub.events import ConsentAction, ConsentChange, DebtSignal
from hub.idempotency import IdempotencyStore
from hub.pseudonym import Pseudonymiser
from hub.serving import serve, server_address, stop
from hub.settings import Settings
from hub.sources import SourceRegistry
from hub.store import open_database
from hub.topics import CONSENT, SIGNAL_TOPICS
from tests.bus_records import read_messages

GM = "GM0344"
PSEUDONYMISER = Pseudonymiser({GM: SecretStr("http-ingest-test-secret-of-32-bytes")})
URN = "urn:nld:oin:00000001234567890000"
OTHER_URN = "urn:nld:oin:00000009876543210000"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def valid_bsn(rng: random.Random) -> str:
    """A random nine-digit number passing the 11-test (fictional)."""
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


def debt(bsn: str, **extra: Any) -> dict[str, Any]:
    return {"bsn": bsn, "municipality_code": GM, "postcode": "3511 ab", "house_number": 12,
            "creditor_type": "ENERGY", "signal_kind": "ARREARS",
            "arrears_amount_cents": 12_345, "arrears_since": "2025-01-01",
            "signal_date": "2025-02-01", "crisis": False, "objection_recorded": False,
            **extra}


def eviction(bsn: str) -> dict[str, Any]:
    return {"bsn": bsn, "municipality_code": GM, "postcode": "3511AB", "house_number": 3,
            "stage": "SUMMONS", "stage_date": "2025-02-01", "crisis": False,
            "objection_recorded": False}


def youth(bsn: str) -> dict[str, Any]:
    return {"bsn": bsn, "municipality_code": GM, "turns_18_on": "2025-09-01",
            "care_form": "FOSTER", "planned_end_date": "2025-09-01",
            "support_needs": ["HOUSING", "INCOME"], "provider_contact_role": "mentor"}


class FlakyBus(Bus):
    """Test double of the bus interface around a real bus: ``produce`` raises ``fail``
    while it is set (the HTTP layer's handling of bus errors is under test here)."""

    def __init__(self, inner: Bus) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.fail: Exception | None = None

    def create_topic(self, spec: TopicSpec) -> None:
        self.inner.create_topic(spec)

    def list_topics(self) -> set[str]:
        return self.inner.list_topics()

    def partitions_for(self, topic: str) -> int:
        return self.inner.partitions_for(topic)

    def produce(self, records: Iterable[Record]) -> list[tuple[int, int]]:
        if self.fail is not None:
            raise self.fail
        return self.inner.produce(records)

    def consumer(self, group: str, topics: Sequence[str], *,
                 auto_offset_reset: Literal["earliest", "latest"] = "earliest") -> Consumer:
        return self.inner.consumer(group, topics, auto_offset_reset=auto_offset_reset)

    def end_offsets(self, topic: str) -> dict[int, int]:
        return self.inner.end_offsets(topic)

    def committed(self, group: str, topic: str) -> dict[int, int | None]:
        return self.inner.committed(group, topic)

    def compact(self, topic: str) -> None:
        self.inner.compact(topic)

    def close(self) -> None:
        """The wrapped bus belongs to the ``conn`` fixture."""


@dataclass
class Api:
    url: str
    keys: dict[str, str]
    conn: Connection

    def client(self, source: str | None = "energie", **headers: str) -> httpx.Client:
        if source is not None:
            headers = {"Authorization": f"Bearer {self.keys[source]}", **headers}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0)


@contextmanager
def running(conn: Connection, tmp_path: Path, database: str | None = None,
            **options: Any) -> Iterator[Api]:
    """The app over ``conn``, served on a free port, with four sources; its stores in one
    application database, ``database`` (a URL; default: a SQLite file in ``tmp_path``),
    as the hub hands them."""
    consents = {"consent_purposes": ["handover", "youth-care-exit-handover"],
                "consent_scopes": ["team-utrecht-west", GM]}  # what the tests grant
    db = open_database(database or tmp_path / "store.db")
    with closing(db), SourceRegistry(db) as registry:
        keys = {
            "energie": registry.add("energie", URN, ["debt-signal", "consent"], **consents)[1],
            "woon": registry.add("woon", URN, ["eviction-risk"])[1],
            "alles": registry.add("alles", URN, ["debt-signal", "eviction-risk",
                                                 "youth-care-exit", "consent"], **consents)[1],
            "ander": registry.add("ander", OTHER_URN, ["consent"], **consents)[1],
            "weg": registry.add("weg", URN, ["debt-signal"])[1],
        }
        registry.revoke("weg")
        app = create_app(conn, registry, PSEUDONYMISER, idempotency_store_path=db,
                         consent_ledger_path=tmp_path / "http-consent-ledger.db", **options)
        server, thread = serve(app, "127.0.0.1", 0)
        try:
            host, port = server_address(server)
            yield Api(f"http://{host}:{port}", keys, conn)
        finally:
            stop(server, thread)
        assert not thread.is_alive()


@pytest.fixture
def hub_settings(hub_settings_with_database: Settings) -> Settings:
    """``conn`` of each mode, with a fresh application database: the embedded bus on
    SQLite and on PostgreSQL (marker postgres), Kafka on SQLite."""
    return hub_settings_with_database


def database_of(settings: Settings) -> str:
    assert settings.database_url is not None
    return settings.database_url.get_secret_value()


@pytest.fixture
def api(conn: Connection, hub_settings: Settings, tmp_path: Path) -> Iterator[Api]:
    with running(conn, tmp_path, database_of(hub_settings), max_batch=5,
                 max_body_bytes=20_000) as opened:
        yield opened


def read_topics(bus: Bus, topics: Iterable[str], timeout: float = 60.0) -> list[Message]:
    """Every message on ``topics`` up to their end offsets as they are now."""
    return read_messages(bus, *topics, timeout=timeout)


def with_id(messages: Iterable[Message], event_id: str) -> list[Message]:
    return [m for m in messages if m.header("ce_id") == event_id.encode()]


def consent_changes(conn: Connection, consent_id: str) -> list[ConsentChange]:
    out = []
    for m in read_topics(conn.bus, [CONSENT]):
        if m.key == consent_id.encode():
            out.append(ConsentChange.from_avro(conn.serde.decode(m.value).record))
    return out


# --- 202 -----------------------------------------------------------------------------


def test_a_signal_is_on_its_topic_pseudonymised_when_202(api: Api) -> None:
    bsn = valid_bsn(random.Random())
    with api.client() as client:
        response = client.post("/v1/signals/debt", json=debt(bsn))
    assert response.status_code == 202, response.text
    (event_id,) = response.json()["event_ids"]
    (message,) = with_id(read_topics(api.conn.bus, [SIGNAL_TOPICS["debt-signal"]]), event_id)
    signal = DebtSignal.from_avro(api.conn.serde.decode(message.value).record)
    assert signal.subject_ref == PSEUDONYMISER.subject_ref(bsn, GM)
    assert message.key == signal.subject_ref.encode()
    assert signal.source == URN and message.header("ce_source") == URN.encode()
    assert signal.postcode == "3511AB"


def test_every_kind_single_and_batch_and_no_bsn_on_any_topic(api: Api) -> None:
    rng = random.Random()
    bsns = [valid_bsn(rng) for _ in range(9)]
    posts = [
        ("/v1/signals/debt", debt(bsns[0])),
        ("/v1/signals/eviction", eviction(bsns[1])),
        ("/v1/signals/youth-care-exit", youth(bsns[2])),
        ("/v1/signals/debt/batch", {"signals": [debt(bsns[3]), debt(bsns[4])]}),
        ("/v1/signals/eviction/batch", {"signals": [eviction(bsns[5])]}),
        ("/v1/signals/youth-care-exit/batch", {"signals": [youth(bsns[6])]}),
        ("/v1/consents", {"bsn": bsns[7], "municipality_code": GM, "purpose": "handover",
                          "recipient_scope": [GM]}),
    ]
    ids: list[str] = []
    with api.client("alles") as client:
        for path, body in posts:
            response = client.post(path, json=body)
            assert response.status_code == 202, (path, response.text)
            ids += response.json()["event_ids"]
            assert not any(bsn in response.text for bsn in bsns)
        # refused ones must not leak either
        response = client.post("/v1/signals/debt", json=debt(bsns[8], postcode="nope"))
        assert response.status_code == 422 and bsns[8] not in response.text
    assert len(ids) == 8
    messages = read_topics(api.conn.bus, api.conn.bus.list_topics())
    found = {m.header("ce_id") for m in messages}
    assert {i.encode() for i in ids[:7]} <= found  # signals carry ce_id; the consent is keyed
    for m in messages:
        raw = b"".join([m.key or b"", m.value or b"", *(v for _, v in m.headers)])
        assert not any(bsn.encode() in raw for bsn in bsns), m.topic


# --- 401 / 403 ---------------------------------------------------------------------------


def test_401_without_a_valid_active_key(api: Api) -> None:
    body = debt(valid_bsn(random.Random()))
    good = api.keys["energie"]
    wrong_secret = good[: good.rindex("_") + 1] + "x" * 43
    cases: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer sk_not-a-key"},
        {"Authorization": f"Bearer {wrong_secret}"},
        {"X-API-Key": wrong_secret},
        {"Authorization": f"Basic {good}"},
        {"Authorization": f"Bearer {api.keys['weg']}"},  # revoked
    ]
    with api.client(None) as client:
        for headers in cases:
            response = client.post("/v1/signals/debt", json=body, headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["WWW-Authenticate"] == "Bearer"
        ok = client.post("/v1/signals/debt", json=body, headers={"X-API-Key": good})
        assert ok.status_code == 202, ok.text


def test_403_for_an_event_type_the_key_may_not_send(api: Api) -> None:
    bsn = valid_bsn(random.Random())
    with api.client("woon") as client:
        assert client.post("/v1/signals/eviction", json=eviction(bsn)).status_code == 202
        for path, body in [("/v1/signals/debt", debt(bsn)),
                           ("/v1/signals/debt/batch", {"signals": [debt(bsn)]}),
                           ("/v1/signals/youth-care-exit", youth(bsn)),
                           ("/v1/consents", {"subject_ref": "ps1-" + "0" * 40, "purpose": "p",
                                             "recipient_scope": [GM]})]:
            response = client.post(path, json=body)
            assert response.status_code == 403, path
            assert "woon" in response.json()["detail"]
        assert client.delete("/v1/consents/some-id").status_code == 403


# --- 413 / 422 ---------------------------------------------------------------------------


def test_413_for_a_large_body_declared_or_streamed_and_for_a_large_batch(api: Api) -> None:
    padding = {"creditor_reference": "r" * 25_000}
    body = json.dumps(debt(valid_bsn(random.Random()), **padding)).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield body[:12_000]
        yield body[12_000:]

    with api.client() as client:
        declared = client.post("/v1/signals/debt", content=body,
                               headers={"Content-Type": "application/json"})
        assert declared.status_code == 413
        streamed = client.post("/v1/signals/debt", content=chunks(),
                               headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
        batch = {"signals": [debt(valid_bsn(random.Random())) for _ in range(6)]}
        too_many = client.post("/v1/signals/debt/batch", json=batch)
        assert too_many.status_code == 413
        assert "at most 5" in too_many.json()["detail"]
        assert client.post("/v1/signals/debt/batch",
                           json={"signals": batch["signals"][:5]}).status_code == 202


def test_422_names_each_field_and_batch_index_without_echoing_values(api: Api) -> None:
    bsn = valid_bsn(random.Random())
    bad_bsn = "123456789"  # fails the 11-test
    with api.client() as client:
        one = client.post("/v1/signals/debt", json=debt(bsn, postcode="XX99", house_number=0))
        assert one.status_code == 422
        fields = {e["field"] for e in one.json()["errors"]}
        assert fields == {"postcode", "house_number"}
        batch = client.post("/v1/signals/debt/batch", json={"signals": [
            debt(bsn), debt(bad_bsn), debt(bsn, creditor_type="PIRATE"), "not an object"]})
        assert batch.status_code == 422
        got = {(e["index"], e["field"]) for e in batch.json()["errors"]}
        assert got == {(1, "bsn"), (2, "creditor_type"), (3, "(signal)")}
        no_json = client.post("/v1/signals/debt", content=b"{nope",
                              headers={"Content-Type": "application/json"})
        assert no_json.status_code == 422
        assert no_json.json()["errors"][0]["field"] == "(body)"
        consent = client.post("/v1/consents", json={"bsn": bad_bsn, "municipality_code": GM,
                                                    "purpose": "p", "recipient_scope": []})
        assert consent.status_code == 422
        for response in (one, batch, no_json, consent):
            for value in (bsn, bad_bsn, "XX99", "PIRATE", "nope"):
                assert value not in response.text


# --- 429 / 503 ---------------------------------------------------------------------------


def test_429_with_retry_after_on_backpressure_then_accepted(
        conn: Connection, hub_settings: Settings, tmp_path: Path) -> None:
    flaky = FlakyBus(conn.bus)
    wrapped = Connection(flaky, conn.registry, conn.serde)
    body = debt(valid_bsn(random.Random()), event_id=str(uuid.uuid4()))
    with running(wrapped, tmp_path, database_of(hub_settings)) as api, \
            api.client() as client:
        flaky.fail = Backpressure("broker queue full", retry_after=2.5)
        busy = client.post("/v1/signals/debt", json=body)
        assert busy.status_code == 429
        assert busy.headers["Retry-After"] == "3"
        flaky.fail = BusUnavailable("no broker")
        down = client.post("/v1/signals/debt", json=body)
        assert down.status_code == 503
        flaky.fail = BusAccessDenied("Kafka refused the SASL sign-in: check"
                                     " HUB_KAFKA__SASL_USERNAME")  # the hub's settings
        refused = client.post("/v1/signals/debt", json=body)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
        assert "SASL" not in refused.text  # the operator's concern, in the log
        flaky.fail = None  # the same event again, now the bus takes it
        ok = client.post("/v1/signals/debt", json=body)
        assert ok.status_code == 202, ok.text
        assert ok.json()["event_ids"] == [body["event_id"]]
    assert len(with_id(read_topics(conn.bus, [SIGNAL_TOPICS["debt-signal"]]),
                       body["event_id"])) == 1


# --- idempotency -------------------------------------------------------------------------


def test_the_same_event_id_is_published_once(api: Api) -> None:
    rng = random.Random()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    one, two = debt(valid_bsn(rng), event_id=first), debt(valid_bsn(rng), event_id=second)
    with api.client() as client:
        a = client.post("/v1/signals/debt", json=one)
        b = client.post("/v1/signals/debt", json={**one, "event_id": first.upper()})
        assert a.status_code == b.status_code == 202
        assert a.json() == b.json() == {"event_ids": [first]}
        assert b.headers["Idempotent-Replayed"] == "true"
        batch = client.post("/v1/signals/debt/batch", json={"signals": [two, one, two]})
        assert batch.status_code == 202
        assert batch.json() == {"event_ids": [second, first, second]}
    messages = read_topics(api.conn.bus, [SIGNAL_TOPICS["debt-signal"]])
    assert len(with_id(messages, first)) == 1
    assert len(with_id(messages, second)) == 1


def test_the_same_event_id_with_other_content_is_a_409(api: Api) -> None:
    rng = random.Random()
    first, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    one = debt(valid_bsn(rng), event_id=first)
    with api.client() as client:
        assert client.post("/v1/signals/debt", json=one).status_code == 202
        changed = client.post("/v1/signals/debt", json={**one, "house_number": 99})
        assert changed.status_code == 409, changed.text
        assert changed.headers["content-type"] == "application/problem+json"
        problem = changed.json()
        assert problem["event_id"] == first and first in problem["detail"]
        assert problem["type"] == "urn:signalhub:problem:event-id-reused"
        # in one batch: two different signals under one new id, nothing is published
        twice = client.post("/v1/signals/debt/batch", json={"signals": [
            debt(valid_bsn(rng), event_id=fresh), debt(valid_bsn(rng), event_id=fresh)]})
        assert twice.status_code == 409, twice.text
        assert twice.json()["errors"] == [
            {"field": "event_id", "message": "sent before with different content", "index": 1}]
        # and a batch that reuses a published id with other content publishes nothing
        mixed = client.post("/v1/signals/debt/batch", json={"signals": [
            debt(valid_bsn(rng), event_id=fresh), {**one, "crisis": True}]})
        assert mixed.status_code == 409
    messages = read_topics(api.conn.bus, [SIGNAL_TOPICS["debt-signal"]])
    assert len(with_id(messages, first)) == 1
    assert with_id(messages, fresh) == []


def test_the_same_idempotency_key_gets_the_same_answer(api: Api) -> None:
    body = debt(valid_bsn(random.Random()))  # no event_id: the hub makes one
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with api.client(**key) as client:
        a = client.post("/v1/signals/debt", json=body)
        b = client.post("/v1/signals/debt", json=body)
        assert a.status_code == b.status_code == 202
        assert a.json() == b.json()
        assert b.headers["Idempotent-Replayed"] == "true"
        other = client.post("/v1/signals/debt", json={**body, "house_number": 13})
        assert other.status_code == 422
        assert other.json()["errors"][0]["field"] == "Idempotency-Key"
        too_long = client.post("/v1/signals/debt", json=body,
                               headers={"Idempotency-Key": "k" * 300})
        assert too_long.status_code == 422 and "k" * 300 not in too_long.text
        assert too_long.json()["errors"][0]["field"] == "header.Idempotency-Key"
    with api.client("alles", **key) as client:  # keys are per source
        assert client.post("/v1/signals/debt", json=body).json() != a.json()
    (event_id,) = a.json()["event_ids"]
    assert len(with_id(read_topics(api.conn.bus, [SIGNAL_TOPICS["debt-signal"]]),
                       event_id)) == 1


def test_idempotency_store_reserves_replays_and_refuses(database_url: str) -> None:
    now = [time.time()]
    with IdempotencyStore(database_url, pending_timeout=60, clock=lambda: now[0]) as store:
        assert store.begin("s", {"request:k": "fp-1"}) == {}
        with pytest.raises(InFlight):  # another request holds it
            store.begin("s", {"request:k": "fp-1"})
        assert store.begin("t", {"request:k": "fp-1"}) == {}  # per source
        store.complete("s", {"request:k": {"status": 202, "body": {"event_ids": ["a"]}}})
        assert store.begin("s", {"request:k": "fp-1"}) == {
            "request:k": {"status": 202, "body": {"event_ids": ["a"]}}}
        with pytest.raises(KeyReused):
            store.begin("s", {"request:k": "fp-2"})
        store.begin("s", {"event:e": "c-1"})
        store.release("s", ["event:e", "request:k"])  # a done key stays done
        assert store.begin("s", {"event:e": "c-1"}) == {}
        with pytest.raises(InFlight):  # held by the request that took it
            store.begin("s", {"event:e": "c-1"})
        now[0] += 61  # a pending key of a request that died is free again
        assert store.begin("s", {"event:e": "c-1"}) == {}
        store.complete("s", {"event:e": {"status": 202, "body": {"event_ids": ["e"]}}})
        with pytest.raises(EventIdReused):
            store.begin("s", {"event:e": "c-2"})
        assert "request:k" in store.begin("s", {"request:k": "fp-1"})


# --- consents ----------------------------------------------------------------------------


def test_consent_grant_and_withdrawal_land_on_consent_topic(api: Api) -> None:
    bsn = valid_bsn(random.Random())
    grant = {"bsn": bsn, "municipality_code": GM, "purpose": "youth-care-exit-handover",
             "recipient_scope": ["team-utrecht-west", GM], "valid_until": "2030-01-01T00:00:00Z"}
    with api.client() as client:
        granted = client.post("/v1/consents", json=grant)
        assert granted.status_code == 202, granted.text
        consent_id = granted.json()["consent_id"]
        with api.client("ander") as other:  # another source's URN: not its consent
            assert other.delete(f"/v1/consents/{consent_id}").status_code == 404
            taken = other.post("/v1/consents", json={**grant, "consent_id": consent_id})
            assert taken.status_code == 409
        withdrawn = client.delete(f"/v1/consents/{consent_id}")
        assert withdrawn.status_code == 202, withdrawn.text
        again = client.delete(f"/v1/consents/{consent_id}")
        assert again.status_code == 202 and again.json() == withdrawn.json()
        assert client.delete(f"/v1/consents/{uuid.uuid4()}").status_code == 404
    changes = consent_changes(api.conn, consent_id)
    assert [c.action for c in changes] == [ConsentAction.GRANTED, ConsentAction.WITHDRAWN]
    assert [c.event_id for c in changes] == (granted.json()["event_ids"]
                                             + withdrawn.json()["event_ids"])
    assert {c.subject_ref for c in changes} == {PSEUDONYMISER.subject_ref(bsn, GM)}
    assert changes[0].recipient_scope == ["team-utrecht-west", GM]
    assert all(c.source == URN for c in changes)


# --- the app itself ----------------------------------------------------------------------


def test_openapi_served_equals_the_committed_copy(tmp_path: Path) -> None:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as conn, \
            running(conn, tmp_path) as api, api.client(None) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        served = client.get("/openapi.json").json()
    assert served == json.loads(DOCS.read_text()), (
        "docs/openapi.json is stale: python -m connectors.sources.http_ingest"
        " --write-openapi docs/openapi.json")
    # every annotation resolved: no route grew query parameters by accident
    for path, operations in served["paths"].items():
        for operation in operations.values():
            names = {p["name"] for p in operation.get("parameters", [])}
            paging = {"after", "limit"} if path == "/v1/outcomes" else set()
            assert names <= {"consent_id", "Idempotency-Key", *paging}, (path, names)
    schemas: Mapping[str, Any] = served["components"]["schemas"]
    assert "bsn" in schemas["DebtSignalIn"]["properties"]
    assert "source" not in schemas["DebtSignalIn"]["properties"]

"""The Python client for emitting systems, against each mode's real bus and registry:
client → ``intake.sealed.v1`` → the hub's sealed intake → the signal topic."""

from __future__ import annotations

import inspect
import uuid

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from connectors.sources.sealed_intake import SealedIntakeSource
from hub.bus.base import Message
from hub.client import HubClient
from hub.connect import Connection
from hub.intake import IntakeError
from hub.intake_keys import generate_key_pair
from hub.pseudonym import Pseudonymiser
from hub.settings import Settings
from hub.topics import SEALED_INTAKE, SIGNAL_TOPICS, ensure_topics

SOURCE = "urn:nld:oin:00000009999999999000"
BSN = "111222333"  # passes the 11-test; a well-known test number
SECRET = "client-test-secret-of-at-least-32-bytes"
DEBT = {
    "bsn": BSN, "municipality_code": "GM9999", "postcode": "7512 ab", "house_number": 14,
    "creditor_type": "WATER", "signal_kind": "ARREARS", "arrears_amount_cents": 12_345,
    "arrears_since": "2026-09-01", "signal_date": "2026-11-20", "crisis": False,
    "objection_recorded": False,
}


def _find(conn: Connection, topic: str, event_id: str, step: object = None) -> Message:
    consumer = conn.bus.consumer(f"client-check-{uuid.uuid4().hex[:8]}", [topic])
    try:
        for _ in range(60):
            if step is not None:
                step()  # type: ignore[operator]
            found = [m for m in consumer.poll(1000, 0.5) if m.header("ce_id") == event_id.encode()]
            if found:
                (message,) = found
                return message
    finally:
        consumer.close()
    raise AssertionError(f"{event_id} never reached {topic}")


def test_publish_seals_and_the_hub_pseudonymises(hub_settings: Settings) -> None:
    private, public = generate_key_pair()
    with capture_logs() as logs, HubClient(
            hub_settings.bus, registry_url=hub_settings.registry_url, source=SOURCE,
            hub_public_key=public) as client:
        conn = client._conn
        ensure_topics(conn.bus)
        event_id = client.publish("debt-signal", DEBT)
        sealed = _find(conn, SEALED_INTAKE, event_id)
        assert sealed.value is not None and sealed.value[0] == 0, "Confluent framing"
        assert BSN.encode() not in sealed.value + (sealed.key or b"")
        assert sealed.key == event_id.encode(), "keyed by event id: no pseudonym here"
        assert all(BSN.encode() not in v for _, v in sealed.headers)
        envelope = conn.serde.decode(sealed.value).record
        assert envelope["source"] == SOURCE and envelope["event_type"] == "debt-signal"

        pseudonymiser = Pseudonymiser({"GM9999": SECRET})
        intake = SealedIntakeSource(conn, SecretStr(private), pseudonymiser,
                                    group=f"sealed-intake-{uuid.uuid4().hex[:8]}")
        with intake:
            message = _find(conn, SIGNAL_TOPICS["debt-signal"], event_id, intake.step)
        record = conn.serde.decode(message.value).record
    assert BSN.encode() not in (message.value or b"") + (message.key or b"")
    assert record["subject_ref"] == pseudonymiser.subject_ref(BSN, "GM9999")
    assert record["subject_ref"].startswith("ps1-")
    assert record["source"] == SOURCE and record["postcode"] == "7512AB"
    assert str(record["event_id"]) == event_id
    assert message.key == record["subject_ref"].encode()
    assert message.header("ce_type") == b"nl.signalhub.debt-signal.v1"
    assert BSN not in repr(logs)


def test_the_client_takes_no_pseudonym_key_and_checks_locally(tmp_path: object) -> None:
    assert "pseudonym_secrets" not in inspect.signature(HubClient).parameters
    _, public = generate_key_pair()
    bus = f"embedded:{tmp_path}/hub.db"
    with HubClient(bus, source=SOURCE, hub_public_key=public) as client:
        ensure_topics(client._conn.bus)
        with pytest.raises(IntakeError) as bad:
            client.publish("debt-signal", {**DEBT, "bsn": "111222334", "postcode": "0123XY"})
        assert {e.field for e in bad.value.errors} == {"bsn", "postcode"}
        assert "111222334" not in str(bad.value) and "0123XY" not in str(bad.value)
        with pytest.raises(IntakeError, match="municipality_code"):
            client.publish("debt-signal", {**DEBT, "municipality_code": None})
        assert client._conn.bus.end_offsets(SEALED_INTAKE) == {0: 0, 1: 0, 2: 0}, (
            "nothing invalid was sent")

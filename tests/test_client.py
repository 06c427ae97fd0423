"""The Python client for emitting systems, against each mode's real bus and registry."""

from __future__ import annotations

from hub.client import HubClient
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS, ensure_topics

SOURCE = "urn:nld:oin:00000009999999999000"


def test_publish_pseudonymises_frames_and_keys(hub_settings: Settings) -> None:
    with HubClient(hub_settings.bus, registry_url=hub_settings.registry_url, source=SOURCE,
                   pseudonym_secrets={"GM9999": "test-secret"}) as client:
        ensure_topics(client._conn.bus)
        event_id = client.publish("debt-signal", {
            "bsn": "111222333", "municipality_code": "GM9999", "postcode": "7512 ab",
            "house_number": 14, "creditor_type": "WATER", "signal_kind": "ARREARS",
            "arrears_amount_cents": 12_345, "arrears_since": "2026-09-01",
            "signal_date": "2026-11-20", "crisis": False, "objection_recorded": False})
        conn = client._conn
        consumer = conn.bus.consumer(f"client-check-{event_id[:8]}", [SIGNAL_TOPICS["debt-signal"]])
        found = []
        for _ in range(30):
            found += [m for m in consumer.poll(1000, 1.0)
                      if m.header("ce_id") == event_id.encode()]
            if found:
                break
        consumer.close()
        (message,) = found
        assert message.value is not None and message.value[0] == 0, "Confluent framing"
        record = conn.serde.decode(message.value).record
    assert b"111222333" not in message.value and b"111222333" not in (message.key or b"")
    assert record["source"] == SOURCE and record["postcode"] == "7512AB"
    assert message.key == record["subject_ref"].encode()
    assert message.header("ce_type") == b"nl.signalhub.debt-signal.v1"

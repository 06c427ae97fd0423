"""Sealed intake: sources seal to the hub's public key, only the hub pseudonymises.

Through the public interfaces: the client and ``signalhub import --seal-to`` on the
source's side, the ``SealedIntakeSource`` and ``signalhub run`` on the hub's side, the
``signalhub keys`` commands, the bus's bytes, dead letters and log output.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from structlog.testing import capture_logs

from connectors.sources.sealed_intake import SealedIntakeSource
from hub.app import HubProcess
from hub.bus.base import Message
from hub.cli import main
from hub.client import HubClient
from hub.config import load_config
from hub.connect import Connection, connect
from hub.deadletters import replay_deadletters
from hub.errors import ConfigError
from hub.intake_keys import Sealer, generate_key_pair, key_id
from hub.pseudonym import Pseudonymiser
from hub.sealed import SealedPublisher, seal_signal
from hub.settings import Settings, load_settings
from hub.topics import DEADLETTER, SEALED_INTAKE, SIGNAL_TOPICS, ensure_topics
from tests.bus_records import read_messages

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "urn:nld:oin:00000009999999999000"
BSN = "123456782"  # the well-known test BSN
OTHER_BSN = "111222333"
SECRETS = {"GM9999": "sealed-intake-test-secret-of-32-bytes"}
DEBT_TOPIC = SIGNAL_TOPICS["debt-signal"]
PRIVATE, PUBLIC = generate_key_pair()


def debt(bsn: str = BSN, **changes: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "bsn": bsn, "municipality_code": "GM9999",
            "postcode": "7512AB", "house_number": 14, "creditor_type": "WATER",
            "signal_kind": "ARREARS", "arrears_amount_cents": 12_345,
            "arrears_since": "2026-09-01", "signal_date": "2026-11-20", "crisis": False,
            "objection_recorded": False, **changes}


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as connection:
        ensure_topics(connection.bus)
        yield connection


def intake(conn: Connection, secrets: dict[str, str] | None = None) -> SealedIntakeSource:
    return SealedIntakeSource(conn, SecretStr(PRIVATE), Pseudonymiser(secrets or SECRETS))


def produce(conn: Connection, content: dict[str, Any], *, public: str = PUBLIC,
            source: str = SOURCE, envelope_source: str | None = None,
            tamper: bool = False) -> bytes:
    """Seal ``content`` to ``public`` and produce it; the produced value."""
    sealed = seal_signal(Sealer(public), "debt-signal", source, content)
    if envelope_source is not None:
        sealed = sealed.model_copy(update={"source": envelope_source})
    if tamper:
        box = bytearray(sealed.sealed_payload)
        box[-5] ^= 0x01
        sealed = sealed.model_copy(update={"sealed_payload": bytes(box)})
    record = SealedPublisher(conn.serde).record(sealed)
    conn.bus.produce([record])
    assert record.value is not None
    return record.value


def drain(source: SealedIntakeSource) -> None:
    with source:
        while source.step(timeout=0.2):
            pass


def read(conn: Connection, topic: str) -> list[Message]:
    return read_messages(conn.bus, topic)


def dead_letters(conn: Connection) -> list[tuple[Message, dict[str, Any]]]:
    return [(m, conn.serde.decode(m.value).record) for m in read(conn, DEADLETTER)]


def signals(conn: Connection) -> list[dict[str, Any]]:
    return [conn.serde.decode(m.value).record for m in read(conn, DEBT_TOPIC)]


# --- dead letters: what does not open or is invalid --------------------------------------


def test_a_tampered_box_is_a_dead_letter_that_keeps_the_sealed_bytes(
        conn: Connection) -> None:
    content = debt()
    with capture_logs() as logs:
        value = produce(conn, content, tamper=True)
        drain(intake(conn))
    assert signals(conn) == []
    ((message, dl),) = dead_letters(conn)
    assert dl["reason_code"] == "DECODE_FAILED" and dl["stage"] == "intake.sealed"
    assert dl["topic"] == SEALED_INTAKE and dl["original_value"] == value
    assert dl["event_id"] == content["event_id"]
    assert "does not open" in dl["error_message"]
    assert BSN.encode() not in (message.value or b"") and BSN not in repr(logs)
    assert any(e["event"] == "dead letter" and e["reason"] == "DECODE_FAILED" for e in logs)


def test_a_box_sealed_to_another_key_names_the_key_not_the_content(
        conn: Connection) -> None:
    _, other = generate_key_pair()
    produce(conn, debt(), public=other)
    drain(intake(conn))
    ((_, dl),) = dead_letters(conn)
    assert dl["reason_code"] == "DECODE_FAILED"
    assert key_id(other) in dl["error_message"] and key_id(PUBLIC) in dl["error_message"]


def test_a_box_passed_off_as_another_sources_is_refused(conn: Connection) -> None:
    produce(conn, debt(), envelope_source="urn:nld:oin:00000001111111111000")
    drain(intake(conn))
    ((_, dl),) = dead_letters(conn)
    assert dl["reason_code"] == "DECODE_FAILED" and "source differs" in dl["error_message"]
    assert signals(conn) == []


def test_invalid_content_names_fields_only(conn: Connection) -> None:
    with capture_logs() as logs:
        produce(conn, debt("111222334", postcode="0123XY", house_number="veertien"))
        drain(intake(conn))
    ((message, dl),) = dead_letters(conn)
    assert dl["reason_code"] == "VALIDATION_FAILED"
    assert dl["error_message"] == (
        "invalid signal in the sealed payload: bsn, house_number, postcode")
    whole = json.dumps(dl, default=repr) + (message.value or b"").decode("latin-1")
    for value in ("111222334", "0123XY", "veertien"):
        assert value not in whole and value not in repr(logs)


def test_hostile_content_never_stops_the_intake(conn: Connection) -> None:
    nested: Any = "x"
    for _ in range(900):  # json reads it, but a signal nests two levels at most
        nested = [nested]
    too_deep = {**debt(), "support_needs": nested}
    produce(conn, too_deep)
    content = debt()
    deep = seal_signal(Sealer(PUBLIC), "debt-signal", SOURCE, content).model_copy(update={
        "sealed_payload": Sealer(PUBLIC).seal(b'{"signal": ' + b"[" * 5_000 + b"]" * 5_000
                                              + b"}")})
    conn.bus.produce([SealedPublisher(conn.serde).record(deep)])
    edge = debt(occurred_at="9999-12-31T23:59:59-01:00")
    produce(conn, edge)
    good = debt()
    produce(conn, good)
    drain(intake(conn))
    reasons = {dl["event_id"]: dl["reason_code"] for _, dl in dead_letters(conn)}
    assert reasons.pop(too_deep["event_id"]) == reasons.pop(content["event_id"]) == (
        "DECODE_FAILED")
    assert reasons.pop(edge["event_id"]) in {"VALIDATION_FAILED", "INTERNAL_ERROR"}
    assert reasons == {}
    assert [str(s["event_id"]) for s in signals(conn)] == [good["event_id"]]


def test_not_a_sealed_record_is_a_dead_letter(conn: Connection) -> None:
    conn.bus.produce_one(SEALED_INTAKE, b"plain text, not Avro", b"k")
    drain(intake(conn))
    ((_, dl),) = dead_letters(conn)
    assert dl["reason_code"] == "NOT_WIRE_FORMAT"


def test_an_unknown_municipality_is_replayed_once_its_key_is_configured(
        conn: Connection) -> None:
    content = debt(municipality_code="GM0153")
    produce(conn, content)
    drain(intake(conn))
    ((_, dl),) = dead_letters(conn)
    assert dl["reason_code"] == "VALIDATION_FAILED" and "municipality_code" in dl["error_message"]
    assert replay_deadletters(conn) == (1, 0)
    both = {**SECRETS, "GM0153": "sealed-intake-test-secret-of-32-bytes-gm0153"}
    drain(intake(conn, both))
    (signal,) = signals(conn)
    assert str(signal["event_id"]) == content["event_id"]
    assert signal["subject_ref"] == Pseudonymiser(both).subject_ref(BSN, "GM0153")


# --- the hub's side: keys and signalhub run ----------------------------------------------


def test_keys_generate_prints_which_key_goes_where_and_public_derives_it() -> None:
    result = CliRunner().invoke(main, ["keys", "generate"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split("=", 1) for line in result.output.splitlines()
                 if line.startswith("HUB_"))
    assert "PRIVATE key: for the hub's environment only" in result.output
    assert "PUBLIC key: give it to the source systems" in result.output
    private, public = lines["HUB_INTAKE_PRIVATE_KEY"], lines["HUB_INTAKE_PUBLIC_KEY"]
    shown = CliRunner().invoke(main, ["keys", "public"],
                               env={"HUB_INTAKE_PRIVATE_KEY": private})
    assert shown.exit_code == 0 and shown.stdout.strip() == public
    assert private not in shown.output
    missing = CliRunner().invoke(main, ["keys", "public"])
    assert missing.exit_code == 1 and "signalhub keys generate" in missing.output
    secret = CliRunner().invoke(main, ["keys", "secret"]).output.strip()
    assert len(secret.encode()) >= 32
    Pseudonymiser({"GM9999": secret})


def test_a_malformed_intake_key_is_a_config_error_that_never_echoes_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_INTAKE_PRIVATE_KEY", "not-base64-private-material")
    with pytest.raises(ConfigError, match="HUB_INTAKE_PRIVATE_KEY must be a 32-byte key") as bad:
        load_settings()
    assert "private-material" not in str(bad.value)
    result = CliRunner().invoke(main, ["keys", "public"])
    assert result.exit_code == 1 and "private-material" not in result.output


def test_signalhub_run_opens_sealed_signals(tmp_path: Path) -> None:
    settings = Settings(bus=f"embedded:{tmp_path / 'hub.db'}", state_dir=tmp_path / "state",
                        pseudonym_secrets=SECRETS,  # type: ignore[arg-type]
                        intake_private_key=PRIVATE)  # type: ignore[arg-type]
    process = HubProcess(settings, load_config(ROOT / "examples" / "hub.yaml"), port=0,
                         web_port=None)
    process.start()
    try:
        with HubClient(settings.bus, source=SOURCE, hub_public_key=PUBLIC) as client:
            event_id = client.publish("debt-signal", debt())
        with connect(settings) as conn:
            deadline = time.monotonic() + 30
            found: list[dict[str, Any]] = []
            while not found and time.monotonic() < deadline:
                found = [s for s in signals(conn) if str(s["event_id"]) == event_id]
    finally:
        process.stop()
    (signal,) = found
    assert signal["subject_ref"] == Pseudonymiser(SECRETS).subject_ref(BSN, "GM9999")


# --- the source's side: signalhub import --seal-to ----------------------------------------

DUTCH_HEADER = ("bsn;gemeente;postcode;huisnummer;soort_schuldeiser;soort_signaal;"
                "bedrag_achterstand;achterstand_sinds;datum_signaal;crisis;bezwaar")


def _row(bsn: str) -> str:
    return (f"{bsn};GM9999;7512 AB;14;Energie;Achterstand;1.234,56;01-09-2026;"
            f"{date.today():%d-%m-%Y};nee;nee")


def test_import_seal_to_needs_no_pseudonym_key_and_never_publishes_twice(
        tmp_path: Path, conn: Connection) -> None:
    path = tmp_path / "export.csv"
    path.write_text("\n".join([DUTCH_HEADER, _row(BSN), _row(OTHER_BSN), _row(BSN)]) + "\n",
                    encoding="utf-8")
    env = {"HUB_BUS": f"embedded:{tmp_path / 'hub.db'}", "HUB_STATE_DIR": str(tmp_path / "src")}
    args = ["import", str(path), "--type", "debt-signal", "--source", SOURCE, "--mapping",
            str(ROOT / "examples" / "mappings" / "debt-nl.yaml"), "--no-progress"]
    first = CliRunner().invoke(main, [*args, "--seal-to", PUBLIC], env=env)
    assert first.exit_code == 0, first.output
    assert re.search(r"published +2\n", first.output), first.output
    sealed = read(conn, SEALED_INTAKE)
    assert len(sealed) == 2 and read(conn, DEBT_TOPIC) == []
    for message in sealed:
        assert BSN.encode() not in (message.value or b"") + (message.key or b"")
        assert OTHER_BSN.encode() not in (message.value or b"")
    # again, with the key from the environment: the ledger knows every row
    again = CliRunner().invoke(main, args, env={**env, "HUB_INTAKE_PUBLIC_KEY": PUBLIC})
    assert again.exit_code == 0, again.output
    assert re.search(r"already imported +3\n", again.output), again.output
    assert len(read(conn, SEALED_INTAKE)) == 2
    drain(intake(conn))
    pseudonymiser = Pseudonymiser(SECRETS)
    assert sorted(s["subject_ref"] for s in signals(conn)) == sorted(
        pseudonymiser.subject_ref(b, "GM9999") for b in (BSN, OTHER_BSN))
    assert {str(s["event_id"]) for s in signals(conn)} == {
        str(conn.serde.decode(m.value).record["event_id"]) for m in sealed}
    assert (tmp_path / "src" / "import-seal.key").stat().st_mode & 0o077 == 0


def test_import_seal_to_refuses_a_malformed_key(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(DUTCH_HEADER + "\n" + _row(BSN) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, [
        "import", str(path), "--type", "debt-signal", "--source", SOURCE,
        "--mapping", str(ROOT / "examples" / "mappings" / "debt-nl.yaml"),
        "--seal-to", "bm90IGEga2V5", "--no-progress"],
        env={"HUB_BUS": f"embedded:{tmp_path / 'hub.db'}", "HUB_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 1 and "32-byte key in base64" in result.output

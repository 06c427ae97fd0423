"""Privacy scan of a full router run: no BSN and no name ever leaves the router.

Signals are made for people with real-looking BSNs (passing the 11-test), pseudonymised at
the edge with :class:`Pseudonymiser`. A sloppy producer adds ``bsn`` and name keys to the
records (the Avro writer drops them: the signal schemas have no such fields), some
signals are invalid or unroutable, one producer sends JSON instead of Avro and one
misbehaves outright by sending the raw BSN as ``subject_ref`` (keyed by it, as it keys
everything by subject_ref). A `signalhub router` subprocess routes everything with JSON
logs at DEBUG; then every log line, every processing record on audit.v1 (decoded and raw
bytes), every alert on every team topic (decoded and raw) and the dead letters' metadata
(everything but ``original_value`` and ``original_key``: the producer's own bytes, kept
for replay) are scanned for the BSNs and the names.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from hub.bus.base import Message, Record
from hub.config import load_config
from hub.connect import connect
from hub.consent import publish_consent
from hub.pseudonym import Pseudonymiser
from hub.router import Router
from hub.samples import sample_consent, sample_debt, sample_eviction, sample_youth_exit
from hub.serde import frame
from hub.topics import AUDIT, DEADLETTER, SIGNAL_TOPICS, alerts_topic
from tests.router_proc import (
    EXAMPLE,
    RECORD_NAMES,
    RouterProcesses,
    end_offsets,
    read_topics,
    settings_for,
    start_group_at_end,
    total_lag,
    valid_bsn,
    wait_until,
)

pytestmark = pytest.mark.slow

MUNICIPALITY = "GM9999"
SECRET = SecretStr("privacy-scan-secret-not-for-production")
FIRST_NAMES = ["Anouk", "Bram", "Daan", "Fenna", "Jesse", "Lotte", "Milan", "Ruben", "Sanne",
               "Yara"]
LAST_NAMES = ["Vermeulen", "Bakker", "Visser", "Meijer", "Mulder", "Jansen", "Dekker",
              "Brouwer", "Hendriks", "Dijkstra"]
FORBIDDEN_FIELDS = {"name", "first_name", "last_name", "bsn"}
N_PEOPLE = 150
SPAN_NAME = re.compile(r"route-signal(:[a-z0-9-]+)?")
#: embedded only: on the shared Kafka broker the signal topics have fixed names, and
#: tests/test_router.py's Kafka fixture reads them from the start in a fresh group and
#: expects exactly its own signals, so signals produced before it there break it
MODES = ["embedded"]


@dataclass(frozen=True)
class Person:
    bsn: str
    first_name: str
    last_name: str
    subject_ref: str

    @property
    def bsn_forms(self) -> list[str]:
        """The nine-digit BSN, and the eight-digit form when it starts with a zero."""
        return [self.bsn, self.bsn[1:]] if self.bsn.startswith("0") else [self.bsn]


def make_people(rng: random.Random) -> list[Person]:
    pseudonymiser = Pseudonymiser({MUNICIPALITY: SECRET})
    people: list[Person] = []
    seen: set[str] = set()
    while len(people) < N_PEOPLE:
        bsn = valid_bsn(rng, leading_zero=len(people) % 10 == 0)
        if bsn in seen:
            continue
        seen.add(bsn)
        # the eight-digit form (leading zero dropped) is accepted and pseudonymised alike
        given = bsn[1:] if bsn.startswith("0") and rng.random() < 0.5 else bsn
        subject_ref = pseudonymiser.subject_ref(given, MUNICIPALITY)
        assert subject_ref == pseudonymiser.subject_ref(bsn, MUNICIPALITY)
        people.append(Person(bsn, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), subject_ref))
    return people


def _scan_patterns(people: list[Person]) -> list[tuple[str, re.Pattern[str]]]:
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for p in people:
        for form in p.bsn_forms:
            patterns.append((f"BSN {form}", re.compile(rf"(?<!\d){form}(?!\d)")))
    for name in {*FIRST_NAMES, *LAST_NAMES}:
        patterns.append((f"name {name}", re.compile(rf"\b{name}\b")))
    return patterns


def find_personal_data(text: str, patterns: list[tuple[str, re.Pattern[str]]]) -> list[str]:
    return [label for label, pattern in patterns if pattern.search(text)]


def _text(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def _raw(m: Message) -> str:
    parts = [m.key or b"", m.value or b"", *(k.encode() + b"=" + v for k, v in m.headers)]
    return " ".join(p.decode("latin-1") for p in parts)


def _field_names(record: dict[str, Any]) -> set[str]:
    names = {k.lower() for k in record}
    for value in record.values():
        if isinstance(value, dict):
            names |= {str(k).lower() for k in value}
    return names


@pytest.mark.parametrize("mode", MODES)
def test_no_bsn_or_name_leaves_the_router(
    mode: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    settings = settings_for(mode, request, tmp_path)
    rng = random.Random(70_411)
    people = make_people(rng)
    patterns = _scan_patterns(people)
    group = f"router-privacy-{uuid.uuid4().hex[:10]}"
    teams = [t.id for t in load_config(EXAMPLE).teams]
    watched = [AUDIT, DEADLETTER, *(alerts_topic(t) for t in teams)]
    makers = {"debt-signal": sample_debt, "eviction-risk": sample_eviction,
              "youth-care-exit": sample_youth_exit}

    with connect(settings) as conn:
        setup = Router(conn, load_config(EXAMPLE), tmp_path / "setup-state", group=group)
        try:
            setup.ensure_topics()
        finally:
            setup.follower.close()
            setup.close()
        start = end_offsets(conn.bus, watched)
        start_group_at_end(conn.bus, group, list(SIGNAL_TOPICS.values()))

        records: list[Record] = []
        misbehaving: dict[str, Person] = {}  # event id -> person whose raw BSN was sent
        kinds: dict[str, str] = {}
        for i, person in enumerate(people):
            etype = list(makers)[i % 3]
            topic = SIGNAL_TOPICS[etype]
            record = makers[etype](rng, subject_ref=person.subject_ref).to_avro()
            # a sloppy producer: the Avro writer drops keys the schema does not have
            record.update({"bsn": person.bsn, "first_name": person.first_name,
                           "last_name": person.last_name,
                           "name": f"{person.first_name} {person.last_name}"})
            kind = "valid"
            if i % 15 == 1:
                record["postcode"] = "1011AB"
                kind = "UNKNOWN_MUNICIPALITY"
            elif i % 15 == 2 and etype != "youth-care-exit":
                record["arrears_amount_cents"] = -100
                kind = "VALIDATION_FAILED"
            elif i % 15 == 2:
                record["planned_end_date"] = record["turns_18_on"] - timedelta(days=400)
                kind = "VALIDATION_FAILED"
            elif i % 37 == 3 or person.bsn.startswith("0") and i % 20 == 0:
                # a misbehaving producer: the raw BSN as subject_ref, and as the key
                record["subject_ref"] = person.bsn_forms[-1]
                misbehaving[str(record["event_id"])] = person
                kind = "BSN_SHAPED"
            value = conn.serde.encode(topic, RECORD_NAMES[etype], record)
            if kind != "BSN_SHAPED":
                assert not find_personal_data(value.decode("latin-1"), patterns), (
                    "the Avro writer kept a field the schema does not have")
            kinds[str(record["event_id"])] = kind
            records.append(Record(topic, value, str(record["subject_ref"]).encode()))
            if etype == "youth-care-exit" and i % 2 == 0:
                publish_consent(conn.bus, conn.serde,
                                sample_consent(person.subject_ref, "jeugd-18plus", rng)
                                .model_copy(update={"valid_from": datetime.now(UTC)
                                                    - timedelta(days=1)}))
        assert {p.bsn_forms[-1] for p in misbehaving.values()} & {
            p.bsn[1:] for p in people if p.bsn.startswith("0")}, "an eight-digit case"
        assert len(misbehaving) >= 4
        # a producer that sends JSON instead of Avro, and JSON behind an Avro header
        leaky = people[5]
        as_json = json.dumps({"bsn": leaky.bsn, "name": f"{leaky.first_name} {leaky.last_name}",
                              "postcode": "7512AB", "date": date.today().isoformat()}).encode()
        debt_id = conn.serde.schema_id(SIGNAL_TOPICS["debt-signal"], "DebtSignal")
        records.append(Record(SIGNAL_TOPICS["debt-signal"], as_json, b"json-producer"))
        records.append(Record(SIGNAL_TOPICS["eviction-risk"], frame(debt_id, as_json),
                              b"json-producer"))
        conn.bus.produce(records)

        env = {"HUB_LOG_FORMAT": "json", "HUB_LOG_LEVEL": "DEBUG"}
        with RouterProcesses(settings, tmp_path / "state", tmp_path / "logs", group=group,
                             env=env) as routers:
            proc = routers.start()
            wait_until(lambda: "router started" in proc.logs(), 60, "the router to start",
                       alive=proc)
            wait_until(lambda: total_lag(conn.bus, group, list(SIGNAL_TOPICS.values())) == 0,
                       90, "the router to drain the signal topics", alive=proc)
            assert proc.terminate() == 0, proc.logs()[-4000:]
            stdout, stderr = proc.stdout.read_text(), proc.stderr.read_text()

        read = read_topics(conn.bus, start)
        decode = conn.serde.decode

        # -- logs ------------------------------------------------------------------------
        leaks: list[str] = []
        json_lines = 0
        for n, line in enumerate(stderr.splitlines() + stdout.splitlines()):
            leaks += [f"log line {n}: {what}" for what in find_personal_data(line, patterns)]
            if line.startswith("{"):
                json.loads(line)
                json_lines += 1
        assert json_lines >= 2 and "router started" in stderr
        assert "router stopped: " in stdout

        # -- audit.v1 --------------------------------------------------------------------
        audit: dict[str, list[dict[str, Any]]] = {}
        audit_keys: dict[str, bytes | None] = {}
        for m in read[AUDIT]:
            rec = decode(m.value).record
            audit.setdefault(str(rec["event_id"]), []).append(rec)
            audit_keys[str(rec["event_id"])] = m.key
            leaks += [f"audit {m.partition}/{m.offset} raw: {w}"
                      for w in find_personal_data(_raw(m), patterns)]
            leaks += [f"audit {m.partition}/{m.offset}: {w}"
                      for w in find_personal_data(_text(rec), patterns)]
            # ProcessingRecord.name is the Logboek Dataverwerkingen span name (the
            # operation), not a person's: allowed, as long as it names an operation
            assert not _field_names(rec) & (FORBIDDEN_FIELDS - {"name"}), rec
            assert SPAN_NAME.fullmatch(rec["name"]), rec["name"]
        assert set(kinds) <= set(audit), "every signal has a processing record"

        # -- alerts on every team topic ----------------------------------------------------
        alerts = 0
        for team in teams:
            for m in read[alerts_topic(team)]:
                rec = decode(m.value).record
                alerts += 1
                leaks += [f"alert {team} {m.partition}/{m.offset} raw: {w}"
                          for w in find_personal_data(_raw(m), patterns)]
                leaks += [f"alert {team} {m.partition}/{m.offset}: {w}"
                          for w in find_personal_data(_text(rec), patterns)]
                assert not _field_names(rec) & FORBIDDEN_FIELDS, rec
                assert rec["subject_ref"].startswith("ps1-")
        assert alerts > len(people) / 3

        # -- dead letters: metadata only ---------------------------------------------------
        dead: dict[str, list[dict[str, Any]]] = {}
        for m in read[DEADLETTER]:
            rec = decode(m.value).record
            meta = {k: v for k, v in rec.items() if k not in ("original_value", "original_key")}
            dead.setdefault(str(rec["event_id"]), []).append(rec)
            headers = " ".join(k + "=" + v.decode("latin-1") for k, v in m.headers)
            leaks += [f"dead letter {m.offset}: {w}"
                      for w in find_personal_data(_text(meta) + " " + headers, patterns)]
            if rec["original_key"] is not None:
                assert m.key == rec["original_key"], "the dead letter keeps the producer's key"
        assert len(read[DEADLETTER]) == sum(k != "valid" for k in kinds.values()) + 2

        assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks[:30])

    # -- the misbehaving producer's signals: dead letter, no data subject -----------------
    for event_id, kind in kinds.items():
        if kind == "valid":
            assert event_id not in dead
            continue
        reason = "VALIDATION_FAILED" if kind == "BSN_SHAPED" else kind
        assert [d["reason_code"] for d in dead[event_id]] == [reason]
        [record] = audit[event_id]
        assert (record["outcome"], record["reason_code"]) == ("DEAD_LETTERED", reason)
        if kind == "BSN_SHAPED":
            assert record["data_subject_id"] is None
            assert record["data_subject_id_type"] is None
            assert audit_keys[event_id] is None, "keyed by the BSN-shaped value"
            assert "subject_ref" in dead[event_id][0]["error_message"]
        else:
            assert record["data_subject_id"].startswith("ps1-")
            assert audit_keys[event_id] == record["data_subject_id"].encode()

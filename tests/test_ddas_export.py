"""`signalhub export ddas` from real inbox data on both store backends: the delivery is
valid against the project's model of v1.2 (hub/ddas/model.py, enumerations included),
holds the period's signals and cases with whole euros and no BSN, and says clearly what
is missing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.ddas import Contactsoort, Dagdeel, Eindresultaat, Signaalstatus, Uitwisselmodel
from hub.ddas.codes import Signaalpartner
from hub.inbox.ddas_export import DDAS_EXPORT_ACTIVITY
from hub.topics import AUDIT
from tests.inbox_case_data import Hub, make_alert, open_hub, subject

pytestmark = pytest.mark.timeout(120)

APRIL = datetime(2025, 4, 7, 9, 30, tzinfo=UTC)


def debt_fields(**extra: str) -> dict[str, str]:
    fields = {"creditor_type": "ENERGY", "signal_kind": "ARREARS",
              "arrears_amount_cents": "27550", "arrears_since": "2025-03-01",
              "signal_date": "2025-04-05", "crisis": "false", "postcode": "3511AB",
              "house_number": "12"}
    return {**fields, **extra}


@pytest.fixture
def hub(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HUB_BUS", f"embedded:{tmp_path / 'hub.db'}")
    with open_hub(database_url, tmp_path) as hub:
        yield hub


def export(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, ["export", "ddas", "--municipality", "GM0344", *args],
                              env=env)


def test_a_closed_case_is_delivered_valid_with_whole_euros_and_no_bsn(
        hub: Hub, tmp_path: Path) -> None:
    person = subject()
    hub.now = APRIL
    first = make_alert(person, fields=debt_fields(house_number_addition="bis"))
    second = make_alert(person, fields=debt_fields(creditor_type="WATER",
                                                   arrears_amount_cents="1250"))
    waiting = make_alert(subject(), fields=debt_fields(arrears_amount_cents="1249"))
    hub.inbox.add_many([first, second, waiting])
    case_id = hub.cases.case_of(first.alert_id).case_id
    hub.workflow.take_up(case_id, "alice", on=date(2025, 4, 7))
    hub.workflow.add_attempt(case_id, "alice", kind=Contactsoort.TELEFOON, reached=False,
                             on=date(2025, 4, 7), part_of_day=Dagdeel.OCHTEND)
    hub.workflow.add_attempt(case_id, "alice", kind=Contactsoort.HUISBEZOEK, reached=True,
                             on=date(2025, 4, 9), part_of_day=Dagdeel.AVOND)
    hub.now = APRIL + timedelta(days=3)
    hub.workflow.close(case_id, Eindresultaat.VERVOLGHULP_FINANCIEEL, "alice")
    # after the period: not in it
    hub.now = datetime(2025, 7, 2, 8, 0, tzinfo=UTC)
    hub.inbox.add(make_alert(subject(), fields=debt_fields()))
    # another municipality: not in it
    other = make_alert(subject(), fields=debt_fields())
    hub.inbox.add(other.model_copy(update={"municipality_code": "GM0363"}))

    out = tmp_path / "levering.json"
    result = export("--from", "2025-04-01", "--to", "2025-06-30", "--output", str(out),
                    "--supplier-code", "SIGNALHUB", "--organisation", "Gemeente Voorbeeld")
    assert result.exit_code == 0, result.output
    assert "3 signal(s), 2 case(s)" in result.output
    text = out.read_text(encoding="utf-8")
    delivery = Uitwisselmodel.from_json(text)  # the project's model of v1.2
    data = json.loads(text)
    assert (data["startdatumLevering"], data["einddatumLevering"]) == ("2025-04-01",
                                                                        "2025-06-30")
    assert data["codeGegevensleverancier"] == "SIGNALHUB"
    assert "burgerservicenummer" not in text and person not in text
    levering = data["leveringen"][0]
    assert levering["gemeentecode"] == "0344"
    assert levering["aanleverendeOrganisatie"] == {"naam": "Gemeente Voorbeeld"}
    signals = {s["ID"]: s for s in levering["vroegsignalen"]}
    assert set(signals) == {first.event_id, second.event_id, waiting.event_id}
    assert signals[first.event_id]["bedrag"] == 276  # 275.50 rounded half up
    assert signals[second.event_id]["bedrag"] == 13 and signals[waiting.event_id]["bedrag"] == 12
    assert signals[first.event_id]["client"] == {"postcode": "3511AB", "huisnummer": "12",
                                                 "huisnummertoevoeging": "bis"}
    assert signals[second.event_id]["signaalpartner"] == {"type": Signaalpartner.WATER.value}
    assert signals[first.event_id]["status"] == Signaalstatus.OPGEPAKT.value
    assert signals[waiting.event_id]["status"] == Signaalstatus.NOG_NIET_OPGEPAKT.value
    assert all(type(s["bedrag"]) is int for s in signals.values())
    cases = {frozenset(r["ID"] for r in c["vroegsignalen"]): c
             for c in levering["vroegsignaalzaken"]}
    closed = cases[frozenset({first.event_id, second.event_id})]
    assert closed["resultaat"] == Eindresultaat.VERVOLGHULP_FINANCIEEL.value
    assert closed["datumOpgepakt"] == "2025-04-07" and closed["matchingsdatum"] == "2025-04-07"
    assert closed["contactpogingen"] == [
        {"soort": "Telefoon", "bereikt": False, "datum": "2025-04-07", "dagdeel": "Ochtend"},
        {"soort": "Huisbezoek", "bereikt": True, "datum": "2025-04-09", "dagdeel": "Avond"}]
    assert "resultaat" not in cases[frozenset({waiting.event_id})]
    assert delivery.leveringen is not None and len(delivery.leveringen) == 1

    # to standard output, the supplier code from the settings; a later period without
    # the closed case (closed before it) but with the open one
    later = export("--from", "2025-07-01", "--to", "2025-09-30",
                   env={"HUB_DDAS_SUPPLIER_CODE": "SH-1"})
    assert later.exit_code == 0, later.output
    ids = {s["ID"] for s in json.loads(later.output)["leveringen"][0]["vroegsignalen"]}
    assert waiting.event_id in ids and first.event_id not in ids and len(ids) == 2


def test_days_are_dutch_days(hub: Hub) -> None:
    """A signal that arrives at 00:30 on 1 July in the Netherlands (22:30 UTC on 30 June)
    is in the third quarter's delivery, matched and taken up on 1 July, and not in the
    second quarter's."""
    hub.now = datetime(2025, 6, 30, 22, 30, tzinfo=UTC)
    alert = make_alert(subject(), fields=debt_fields())
    hub.inbox.add(alert)
    hub.workflow.take_up(hub.cases.case_of(alert.alert_id).case_id, "alice")

    second = export("--from", "2025-04-01", "--to", "2025-06-30", "--supplier-code", "X")
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["leveringen"][0]["vroegsignalen"] == []
    third = export("--from", "2025-07-01", "--to", "2025-09-30", "--supplier-code", "X")
    assert third.exit_code == 0, third.output
    levering = json.loads(third.output)["leveringen"][0]
    assert [s["ID"] for s in levering["vroegsignalen"]] == [alert.event_id]
    (case,) = levering["vroegsignaalzaken"]
    assert case["matchingsdatum"] == "2025-07-01" and case["datumOpgepakt"] == "2025-07-01"


def test_an_empty_period_is_a_valid_empty_delivery(hub: Hub) -> None:
    result = export("--from", "2024-01-01", "--to", "2024-03-31", "--supplier-code", "X")
    assert result.exit_code == 0, result.output
    levering = Uitwisselmodel.from_json(result.output).leveringen
    assert levering is not None
    assert levering[0].vroegsignalen == [] and levering[0].vroegsignaalzaken == []


def test_what_is_missing_is_named(hub: Hub) -> None:
    no_code = export("--from", "2025-04-01", "--to", "2025-06-30")
    assert no_code.exit_code == 2 and "--supplier-code" in no_code.output
    assert "HUB_DDAS_SUPPLIER_CODE" in no_code.output
    hub.now = APRIL
    bare = make_alert(subject(), fields={"creditor_type": "ENERGY", "signal_kind": "ARREARS",
                                         "signal_date": "2025-04-05"})
    hub.inbox.add(bare)
    result = export("--from", "2025-04-01", "--to", "2025-06-30", "--supplier-code", "X")
    assert result.exit_code == 1
    assert f"signal {bare.event_id} of team team-a came without postcode, house_number" in (
        result.output)
    backwards = export("--from", "2025-06-30", "--to", "2025-04-01", "--supplier-code", "X")
    assert backwards.exit_code == 1 and "einddatumLevering" in backwards.output
    wrong = CliRunner().invoke(main, ["export", "ddas", "--municipality", "0344", "--from",
                                      "2025-04-01", "--to", "2025-06-30",
                                      "--supplier-code", "X"])
    assert wrong.exit_code == 1 and "GM and four digits" in wrong.output


def test_each_export_is_one_processing_record_without_personal_data(hub: Hub) -> None:
    hub.now = APRIL
    alert = make_alert(subject(), fields=debt_fields())
    hub.inbox.add(alert)
    result = export("--from", "2025-04-01", "--to", "2025-06-30", "--supplier-code", "X",
                    "--by", "beheerder-anna")
    assert result.exit_code == 0, result.output
    refused = export("--from", "2025-06-30", "--to", "2025-04-01", "--supplier-code", "X")
    assert refused.exit_code == 1  # refused: nothing left the hub, nothing recorded
    records = [r for r in hub.read(AUDIT) if r["processing_activity_id"] ==
               DDAS_EXPORT_ACTIVITY]
    assert len(records) == 1, records
    record = records[0]
    assert record["reason_code"] == "DDAS_EXPORTED"
    assert record["reason_detail"] == ("user=beheerder-anna municipality=GM0344"
                                       " period=2025-04-01..2025-06-30")
    assert record["municipality_code"] == "GM0344"
    assert record["counts"] == {"signals": 1, "cases": 1}
    assert record["data_subject_id"] is None and record["event_id"] is None
    assert alert.subject_ref not in str(record) and "3511AB" not in str(record)


def test_help_explains_the_export() -> None:
    result = CliRunner().invoke(main, ["export", "ddas", "--help"])
    assert result.exit_code == 0
    for words in ("DDAS", "--municipality", "--from", "--to", "--output", "--supplier-code",
                  "never by BSN", "whole euros"):
        assert words in result.output

"""The DDAS Vroegsignalering v1.2 model (hub.ddas) and the CBS delivery's writer.

The specification's facts are written here as literals (its enumeration values, its
property names and required properties per object, as published in
``v1.2/json_schema_Uitwisselmodel.json`` of VNG-Realisatie/ddas-vroegsignalering), so a
change on either side shows as a failing test.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from hub.ddas import (
    SIGNAALPARTNER,
    CaseRecord,
    ContactAttemptRecord,
    ContactPersonRecord,
    Contactsoort,
    Dagdeel,
    Eindresultaat,
    Geslacht,
    OrganisationRecord,
    Signaalpartner,
    Signaalstatus,
    SignalRecord,
    Uitwisselmodel,
    whole_euros,
    write_delivery,
)
from hub.ddas import model as m
from hub.errors import ExportError, InvalidInput
from hub.events import CreditorType

# --- the specification's enumerations, in its published order ------------------------------

SPEC_ENUMS: list[tuple[type[Any], list[str]]] = [
    (Signaalpartner, ["Belastingdienst", "CAK Eigen bijdrage", "CAK Zorgverzekeringen",
                      "Dienst Toeslagen", "DUO", "Energie", "Huur", "Hypotheek", "Overige",
                      "Water", "Zorg"]),
    (Signaalstatus, ["Inwoner al bekend bij schuldhulpverlening", "Inwoner is overleden",
                     "Niet opgepakt: andere reden", "Niet opgepakt: herhaalde melding",
                     "Niet opgepakt: onterecht signaal", "Nog niet opgepakt", "Opgepakt",
                     "Persoon is geen inwoner (meer) in de gemeente"]),
    (Eindresultaat, ["(Budget)advies en/of quick fix",
                     "Definitief geen contact kunnen krijgen",
                     "Geen reactie na eerder contact",
                     "Inwoner al bekend bij schuldhulpverlening",
                     "Inwoner heeft al een ander lopend traject",
                     "Inwoner heeft zelf al betaald/betalingsregeling getroffen",
                     "Inwoner is overleden",
                     "Inwoner regelt het zelf/hoeft geen hulp vanuit vroegsignalering",
                     "Niet opgepakt: andere reden", "Niet opgepakt: herhaalde melding",
                     "Niet opgepakt: onterecht signaal",
                     "Persoon is geen inwoner (meer) in de gemeente",
                     "Vervolghulp en/of verwijzing",
                     "Vervolghulp en/of verwijzing financieel",
                     "Vervolghulp en/of verwijzing niet financieel",
                     "Verwijzing zonder tussenkomst inwoner"]),
    (Contactsoort, ["Administratief", "Afspraak op locatie", "Brief", "Huisbezoek", "Kaartje",
                    "Mail", "Onbekend", "Overige", "SMS/Whatsapp", "Telefoon"]),
    (Dagdeel, ["Ochtend", "Middag", "Avond"]),
    (Geslacht, ["Man", "Vrouw", "Onbekend", "Leeg"]),
]

# --- the specification's objects: every property name, and the required ones ---------------

SPEC_OBJECTS: list[tuple[type[BaseModel], set[str], set[str]]] = [
    (m.Uitwisselmodel, {"startdatumLevering", "einddatumLevering", "aanleverdatumEnTijd",
                        "codeGegevensleverancier", "leveringen"},
     {"aanleverdatumEnTijd", "codeGegevensleverancier", "einddatumLevering",
      "startdatumLevering"}),
    (m.Levering, {"teller", "gemeentecode", "aanleverendeOrganisatie", "vroegsignalen",
                  "vroegsignaalzaken"}, {"aanleverendeOrganisatie", "gemeentecode", "teller"}),
    (m.AanleverendeOrganisatie, {"naam", "kvk-nummer", "contactpersonen"}, set()),
    (m.Contactpersoon, {"naam", "telefoonnummer", "email", "functietitel"}, set()),
    (m.Vroegsignaal, {"ID", "crisissignaal", "warmeOverdracht", "bedrag", "ontstaansdatum",
                      "signaaldatum", "status", "signaalpartner", "client"},
     {"ID", "client", "signaalpartner"}),
    (m.SignaalpartnerRef, {"type"}, set()),
    (m.Client, {"burgerservicenummer", "geslachtsaanduiding", "geboortedatum", "postcode",
                "huisnummer", "huisnummertoevoeging"}, set()),
    (m.Vroegsignaalzaak, {"resultaat", "matchingsdatum", "startdatumMatchingperiode",
                          "datumOpgepakt", "einddatumMatchingperiode", "vroegsignalen",
                          "contactpogingen"}, set()),
    (m.VroegsignaalRef, {"ID"}, {"ID"}),
    (m.Contactpoging, {"soort", "bereikt", "datum", "dagdeel"}, set()),
]

DELIVERED_AT = datetime(2025, 7, 1, 9, 30, tzinfo=UTC)
ORGANISATION = OrganisationRecord(
    name="Gemeente Voorbeeld", kvk_number="12345678",
    contacts=(ContactPersonRecord(name="Team Vroegsignalering", phone="0301234567",
                                  email="vroegsignalering@example.org",
                                  job_title="Teamleider"),))


def _signal(signal_id: str = "4d5f7e9a-0000-4000-8000-000000000001", **changes: Any
            ) -> SignalRecord:
    values: dict[str, Any] = dict(
        signal_id=signal_id, creditor_type=CreditorType.ENERGY, signal_date=date(2025, 4, 5),
        postcode="3511AB", house_number=12, house_number_addition="B",
        arrears_amount_cents=27550, arrears_since=date(2025, 3, 1), crisis=False)
    values.update(changes)
    return SignalRecord(**values)


def _deliver(signals: list[SignalRecord], cases: list[CaseRecord], **changes: Any
             ) -> Uitwisselmodel:
    arguments: dict[str, Any] = dict(
        municipality_code="GM0344", period_start=date(2025, 4, 1),
        period_end=date(2025, 6, 30), supplier_code="SIGNALHUB-TEST",
        organisation=ORGANISATION, signals=signals, cases=cases, delivered_at=DELIVERED_AT)
    arguments.update(changes)
    return write_delivery(**arguments)


def _minimal(**levering: Any) -> dict[str, Any]:
    """A small delivery as JSON data, with the specification's names."""
    return {"startdatumLevering": "2025-04-01", "einddatumLevering": "2025-06-30",
            "aanleverdatumEnTijd": "2025-07-01T09:30:00Z",
            "codeGegevensleverancier": "SIGNALHUB-TEST",
            "leveringen": [{"teller": 1, "gemeentecode": "0344",
                            "aanleverendeOrganisatie": {}, **levering}]}


def _with_client(client: dict[str, Any]) -> str:
    signal = {"ID": "s1", "signaalpartner": {"type": "Huur"}, "client": client}
    return json.dumps(_minimal(vroegsignalen=[signal]))


def _messages(exc: ValidationError) -> str:
    return " | ".join(".".join(map(str, e["loc"])) + ": " + e["msg"] for e in exc.errors())


# --- enumerations and names -------------------------------------------------------------------


@pytest.mark.parametrize(("enum", "values"), SPEC_ENUMS, ids=[e.__name__ for e, _ in SPEC_ENUMS])
def test_each_enumeration_holds_the_specifications_values_exactly(
        enum: type[Any], values: list[str]) -> None:
    assert [member.value for member in enum] == values


@pytest.mark.parametrize(("model", "names", "required"), SPEC_OBJECTS,
                         ids=[o.__name__ for o, _, _ in SPEC_OBJECTS])
def test_each_object_has_the_specifications_property_names_and_required_ones(
        model: type[BaseModel], names: set[str], required: set[str]) -> None:
    fields = model.model_fields
    assert {f.alias or name for name, f in fields.items()} == names
    assert {f.alias or name for name, f in fields.items() if f.is_required()} == required


def test_every_creditor_type_of_the_hub_has_its_own_signal_partner_kind() -> None:
    assert set(SIGNAALPARTNER) == set(CreditorType)
    assert sorted(SIGNAALPARTNER.values()) == sorted(Signaalpartner)
    assert SIGNAALPARTNER[CreditorType.HEALTH_INSURANCE_CAK] == "CAK Zorgverzekeringen"
    assert SIGNAALPARTNER[CreditorType.BENEFITS_AGENCY] == "Dienst Toeslagen"


def test_the_part_of_day_follows_the_specifications_hours() -> None:
    assert Dagdeel.at(time(0, 0)) is Dagdeel.OCHTEND
    assert Dagdeel.at(time(11, 59, 59)) is Dagdeel.OCHTEND
    assert Dagdeel.at(time(12, 0)) is Dagdeel.MIDDAG
    assert Dagdeel.at(time(17, 59)) is Dagdeel.MIDDAG
    assert Dagdeel.at(time(18, 0)) is Dagdeel.AVOND


# --- the writer -------------------------------------------------------------------------------


def test_the_writers_delivery_validates_against_the_model_and_round_trips() -> None:
    case = CaseRecord(
        signal_ids=("4d5f7e9a-0000-4000-8000-000000000001",
                    "4d5f7e9a-0000-4000-8000-000000000002"),
        matched_on=date(2025, 4, 6), matching_period=(date(2025, 4, 1), date(2025, 4, 30)),
        taken_up_on=date(2025, 4, 7), result=Eindresultaat.VERVOLGHULP_FINANCIEEL,
        contact_attempts=(
            ContactAttemptRecord(Contactsoort.TELEFOON, False, date(2025, 4, 7), Dagdeel.OCHTEND),
            ContactAttemptRecord(Contactsoort.HUISBEZOEK, True, date(2025, 4, 9), Dagdeel.AVOND),
        ))
    signals = [_signal(status=Signaalstatus.OPGEPAKT),
               _signal("4d5f7e9a-0000-4000-8000-000000000002", creditor_type=CreditorType.RENT,
                       house_number_addition=None, arrears_amount_cents=None, crisis=True,
                       status=Signaalstatus.OPGEPAKT)]
    delivery = _deliver(signals, [case])
    text = delivery.to_json()
    assert Uitwisselmodel.from_json(text) == delivery
    assert Uitwisselmodel.from_json(text).to_json() == text
    data = json.loads(text)
    assert data["aanleverdatumEnTijd"] == "2025-07-01T09:30:00Z"
    levering = data["leveringen"][0]
    assert (levering["teller"], levering["gemeentecode"]) == (1, "0344")
    assert levering["aanleverendeOrganisatie"]["kvk-nummer"] == "12345678"
    first, second = levering["vroegsignalen"]
    assert first == {"ID": "4d5f7e9a-0000-4000-8000-000000000001", "crisissignaal": False,
                     "bedrag": 276, "ontstaansdatum": "2025-03-01",
                     "signaaldatum": "2025-04-05", "status": "Opgepakt",
                     "signaalpartner": {"type": "Energie"},
                     "client": {"postcode": "3511AB", "huisnummer": "12",
                                "huisnummertoevoeging": "B"}}
    assert "bedrag" not in second and second["signaalpartner"] == {"type": "Huur"}
    assert second["client"] == {"postcode": "3511AB", "huisnummer": "12"}
    (zaak,) = levering["vroegsignaalzaken"]
    assert zaak == {
        "resultaat": "Vervolghulp en/of verwijzing financieel",
        "matchingsdatum": "2025-04-06", "startdatumMatchingperiode": "2025-04-01",
        "datumOpgepakt": "2025-04-07", "einddatumMatchingperiode": "2025-04-30",
        "vroegsignalen": [{"ID": "4d5f7e9a-0000-4000-8000-000000000001"},
                          {"ID": "4d5f7e9a-0000-4000-8000-000000000002"}],
        "contactpogingen": [
            {"soort": "Telefoon", "bereikt": False, "datum": "2025-04-07", "dagdeel": "Ochtend"},
            {"soort": "Huisbezoek", "bereikt": True, "datum": "2025-04-09", "dagdeel": "Avond"}]}
    assert "burgerservicenummer" not in text


def test_amounts_in_cents_become_whole_euros_rounded_half_up() -> None:
    assert [whole_euros(c) for c in (0, 49, 50, 149, 150, 27549, 27550, 100_000_00)] == [
        0, 0, 1, 1, 2, 275, 276, 100_000]
    assert whole_euros(-150) == -2  # half away from zero (the hub's cents are never negative)
    delivery = _deliver([_signal(arrears_amount_cents=1249)], [])
    assert json.loads(delivery.to_json())["leveringen"][0]["vroegsignalen"][0]["bedrag"] == 12


def test_a_delivery_without_signals_or_cases_is_valid() -> None:
    delivery = _deliver([], [])
    data = json.loads(delivery.to_json())
    assert data["leveringen"][0]["vroegsignalen"] == []
    assert data["leveringen"][0]["vroegsignaalzaken"] == []
    assert Uitwisselmodel.from_json(delivery.to_json()) == delivery
    # the specification does not ask for leveringen at all, nor for its lists
    assert Uitwisselmodel.from_json(json.dumps(_minimal())).leveringen is not None
    without = _minimal()
    del without["leveringen"]
    assert Uitwisselmodel.from_json(json.dumps(without)).leveringen is None


def test_the_delivery_time_is_written_in_utc_to_the_second() -> None:
    local = datetime(2025, 7, 1, 11, 30, 15, 987654, tzinfo=timezone(timedelta(hours=2)))
    data = json.loads(_deliver([], [], delivered_at=local).to_json())
    assert data["aanleverdatumEnTijd"] == "2025-07-01T09:30:15Z"
    written_now = json.loads(_deliver([], [], delivered_at=None).to_json())
    assert written_now["aanleverdatumEnTijd"].endswith("Z")


def test_the_writer_names_each_field_the_model_refuses_never_its_value() -> None:
    with pytest.raises(ExportError) as caught:
        _deliver([_signal(postcode=""), _signal("s2", house_number_addition="TOELONG"),
                  _signal("s2")],
                 [CaseRecord(signal_ids=())], period_end=date(2025, 3, 31))
    error = caught.value
    assert isinstance(error, InvalidInput)
    fields = [e.field for e in error.errors]
    assert fields == ["einddatumLevering", "leveringen.0.vroegsignalen.2.ID",
                      "leveringen.0.vroegsignalen.0.client.postcode",
                      "leveringen.0.vroegsignalen.1.client.huisnummertoevoeging",
                      "leveringen.0.vroegsignaalzaken.0.vroegsignalen"]
    assert "TOELONG" not in str(error)


def test_the_writer_refuses_a_case_naming_a_signal_twice_and_a_bad_municipality() -> None:
    with pytest.raises(ExportError) as caught:
        _deliver([_signal()], [CaseRecord(signal_ids=("x", "x"))])
    assert [e.field for e in caught.value.errors] == [
        "leveringen.0.vroegsignaalzaken.0.vroegsignalen"]
    assert "twice" in caught.value.errors[0].message
    with pytest.raises(ExportError) as caught:
        _deliver([], [], municipality_code="0344")
    assert [e.field for e in caught.value.errors] == ["leveringen.0.gemeentecode"]
    assert _deliver([], [], municipality_code=" gm 0599").leveringen is not None


def test_the_writer_refuses_a_delivery_time_without_a_time_zone() -> None:
    with pytest.raises(ExportError) as caught:
        _deliver([], [], delivered_at=datetime(2025, 7, 1, 9, 30))
    assert [e.field for e in caught.value.errors] == ["aanleverdatumEnTijd"]


# --- the BSN-or-address rule ----------------------------------------------------------------


def test_a_client_with_neither_bsn_nor_address_is_refused_naming_the_fields() -> None:
    with pytest.raises(ValidationError) as caught:
        Uitwisselmodel.from_json(_with_client({"geslachtsaanduiding": "Onbekend"}))
    text = _messages(caught.value)
    assert "leveringen.0.vroegsignalen.0.client" in text
    assert "postcode and huisnummer required" in text and "burgerservicenummer" in text
    with pytest.raises(ValidationError) as caught:
        Uitwisselmodel.from_json(_with_client({"postcode": "3511AB"}))
    assert ".client: Value error, huisnummer required:" in _messages(caught.value)


def test_a_client_is_either_a_bsn_alone_or_a_postcode_and_house_number() -> None:
    by_address = Uitwisselmodel.from_json(_with_client(
        {"postcode": "3511AB", "huisnummer": "12", "huisnummertoevoeging": "bis",
         "geboortedatum": "1980-02-29", "geslachtsaanduiding": "Leeg"}))
    assert by_address.leveringen is not None
    # the BSN form is read (other suppliers write it), though the hub never writes it
    by_bsn = Uitwisselmodel.from_json(_with_client({"burgerservicenummer": "999990019"}))
    assert by_bsn.leveringen is not None
    for client, words in [({"burgerservicenummer": "99999001"}, "at least 9"),
                          ({"burgerservicenummer": "9999900190"}, "at most 9"),
                          ({"burgerservicenummer": "999990019", "postcode": "3511AB",
                            "huisnummer": "12"}, "leave out postcode, huisnummer"),
                          ({"burgerservicenummer": "999990019", "geboortedatum": "1980-01-01"},
                           "leave out geboortedatum")]:
        with pytest.raises(ValidationError) as caught:
            Uitwisselmodel.from_json(_with_client(client))
        assert words in _messages(caught.value)


# --- what else the schema holds to --------------------------------------------------------------


REFUSED: list[tuple[Any, str]] = [
    (lambda d: d.update(extra=1), "extra"),
    (lambda d: d["leveringen"][0].update(aanleverende_organisatie={}),
     "leveringen.0.aanleverende_organisatie"),  # the v1.1-draft name
    (lambda d: d.update(startdatum_levering="2025-04-01"), "startdatum_levering"),
    (lambda d: d.update(leveringen=[]), "leveringen"),
    (lambda d: d.update(startdatumLevering="2025-4-1"), "startdatumLevering"),
    (lambda d: d.update(aanleverdatumEnTijd="2025-07-01T09:30:00"), "aanleverdatumEnTijd"),
    (lambda d: d["leveringen"][0].update(teller="1"), "leveringen.0.teller"),
    (lambda d: d["leveringen"].append(dict(d["leveringen"][0])), "leveringen"),
    (lambda d: d["leveringen"][0].update(vroegsignaalzaken=[
        {"resultaat": "Verwijzing zonder toestemming"}]),  # renamed in v1.2
     "leveringen.0.vroegsignaalzaken.0.resultaat"),
    (lambda d: d["leveringen"][0].update(vroegsignaalzaken=[
        {"contactpogingen": [{"soort": "Whatsapp"}]}]),
     "leveringen.0.vroegsignaalzaken.0.contactpogingen.0.soort"),
    (lambda d: d["leveringen"][0].update(vroegsignalen=[
        {"ID": "s1", "bedrag": 12.5, "signaalpartner": {},
         "client": {"postcode": "3511AB", "huisnummer": "1"}}]),
     "leveringen.0.vroegsignalen.0.bedrag"),
    (lambda d: d["leveringen"][0].update(vroegsignalen=[
        {"ID": "s1", "crisissignaal": "ja", "signaalpartner": {},
         "client": {"postcode": "3511AB", "huisnummer": "1"}}]),
     "leveringen.0.vroegsignalen.0.crisissignaal"),
    (lambda d: d["leveringen"][0].update(vroegsignalen=[{"ID": "s1", "client": {
        "postcode": "3511AB", "huisnummer": "1"}}]), "leveringen.0.vroegsignalen.0.signaalpartner"),
    (lambda d: d["leveringen"][0]["aanleverendeOrganisatie"].update(contactpersonen=[
        {"email": "not an address"}]),
     "leveringen.0.aanleverendeOrganisatie.contactpersonen.0.email"),
    (lambda d: d["leveringen"][0]["aanleverendeOrganisatie"].update(contactpersonen=[]),
     "leveringen.0.aanleverendeOrganisatie.contactpersonen"),
]


@pytest.mark.parametrize(("change", "where"), REFUSED, ids=[w for _, w in REFUSED])
def test_the_model_refuses_what_the_schema_refuses(change: Any, where: str) -> None:
    data = _minimal()
    change(data)
    with pytest.raises(ValidationError) as caught:
        Uitwisselmodel.from_json(json.dumps(data))
    assert where in [".".join(map(str, e["loc"])) for e in caught.value.errors()]


def test_the_example_of_docs_ddas_md_writes_what_it_says() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "ddas.md").read_text(encoding="utf-8")
    code = doc.split("<!-- snippet: delivery -->", 1)[1].split("```python\n", 1)[1]
    namespace: dict[str, Any] = {}
    exec(compile(code.split("```", 1)[0], "docs/ddas.md", "exec"), namespace)  # noqa: S102
    data = json.loads(namespace["text"])
    (signal,) = data["leveringen"][0]["vroegsignalen"]
    assert signal["bedrag"] == 276
    assert signal["client"] == {"postcode": "3511AB", "huisnummer": "12"}
    (zaak,) = data["leveringen"][0]["vroegsignaalzaken"]
    assert [p["bereikt"] for p in zaak["contactpogingen"]] == [False, True]

"""Bad input on the HTTP ingest API: each finding of the hardening review, over real
HTTP on the embedded bus, with the stores on SQLite and on PostgreSQL. Every answer is a
4xx problem (never a 500), names the field, and publishes nothing."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_http_ingest import SIGNAL_TOPICS, Api, debt, read_topics, running, valid_bsn, youth

from hub.connect import Connection, connect
from hub.settings import Settings

SUBJECT = "ps1-" + "c0ffee" * 6 + "c0ff"


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[Api]:
    """The app on the embedded bus over each store backend (PostgreSQL: marker postgres)."""
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as conn, \
            running(conn, tmp_path, database_url, max_batch=5,
                    max_body_bytes=2_000_000) as opened:
        yield opened


def _refused(response: httpx.Response, status: int = 422) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["type"].startswith("urn:signalhub:problem:")
    errors: list[dict[str, Any]] = problem.get("errors", [])
    return errors


def _fields(response: httpx.Response, status: int = 422) -> set[str]:
    return {e["field"] for e in _refused(response, status)}


def _published(conn: Connection) -> int:
    return len(read_topics(conn.bus, SIGNAL_TOPICS.values()))


def test_deeply_nested_json_is_a_422(api: Api) -> None:
    deep = '{"a":' * 990 + "1" + "}" * 990
    very_deep = "[" * 100_000 + "]" * 100_000
    with api.client() as client:
        for body in (deep, very_deep):
            for path in ("/v1/signals/debt", "/v1/signals/debt/batch", "/v1/consents"):
                answer = client.post(path, content=body,
                                     headers={"Content-Type": "application/json"})
                assert "(body)" in _fields(answer), path
                assert "nested deeper" in answer.text


@pytest.mark.parametrize(("field", "value"), [
    ("occurred_at", "9999-12-31T23:59:59-01:00"),
    ("occurred_at", "0001-01-01T00:00:00+01:00"),
    ("occurred_at", "2162-05-09T00:00:00.0-01:00"),
    ("occurred_at", "2199-12-31T23:30:00-01:00"),  # in range as sent, 2200 in UTC
    ("arrears_since", "0001-01-01"),
    ("signal_date", "9999-12-31"),
])
def test_dates_at_the_edges_of_the_calendar_are_422(api: Api, field: str, value: str) -> None:
    with api.client() as client:
        answer = client.post("/v1/signals/debt", json=debt(valid_bsn(random.Random()),
                                                           **{field: value}))
        errors = _refused(answer)
    assert field in {e["field"] for e in errors} or any(
        "lies" in e["message"] for e in errors), errors


def test_youth_and_consent_dates_at_the_edges_are_422(api: Api) -> None:
    bsn = valid_bsn(random.Random())
    with api.client("alles") as client:
        assert "turns_18_on" in _fields(client.post(
            "/v1/signals/youth-care-exit", json={**youth(bsn), "turns_18_on": "0001-01-01"}))
        for name in ("valid_from", "valid_until"):
            grant = {"bsn": bsn, "municipality_code": "GM0344", "purpose": "handover",
                     "recipient_scope": ["team-utrecht-west"],
                     name: "9999-12-31T23:59:59-01:00"}
            assert name in _fields(client.post("/v1/consents", json=grant))


@pytest.mark.parametrize(("field", "value"), [
    ("arrears_amount_cents", True), ("arrears_amount_cents", 12.5),
    ("arrears_amount_cents", "12345"), ("crisis", "true"), ("crisis", 1),
    ("objection_recorded", 0), ("house_number", "12"), ("arrears_since", 20250101),
    ("creditor_type", ["ENERGY"]), ("bsn", None), ("bsn", 123456782),
    ("postcode", None), ("source", "urn:other"), ("received_at", "2025-01-01T00:00:00Z"),
])
def test_json_types_are_taken_strictly(api: Api, field: str, value: Any) -> None:
    payload = {**debt(valid_bsn(random.Random())), field: value}
    with api.client() as client:
        assert field in _fields(client.post("/v1/signals/debt", json=payload))
    assert _published(api.conn) == 0


def test_only_json_bodies_are_taken(api: Api) -> None:
    body = httpx.Request("POST", "/", json=debt(valid_bsn(random.Random()))).content
    with api.client() as client:
        for content_type in ("text/plain", "application/x-www-form-urlencoded",
                             "application/json; charset=latin-1"):
            answer = client.post("/v1/signals/debt", content=body,
                                 headers={"Content-Type": content_type})
            _refused(answer, 415)
        _refused(client.post("/v1/signals/debt", content=body), 415)  # no Content-Type
        ok = client.post("/v1/signals/debt", content=body,
                         headers={"Content-Type": "application/json; charset=utf-8"})
        assert ok.status_code == 202, ok.text


@pytest.mark.parametrize(("field", "length"), [
    ("subject_ref", 900_000), ("house_number_addition", 11), ("creditor_reference", 65),
])
def test_strings_have_a_maximum(api: Api, field: str, length: int) -> None:
    payload = debt(valid_bsn(random.Random()), **{field: "a" * length})
    if field == "subject_ref":
        del payload["bsn"]
    with api.client() as client:
        answer = client.post("/v1/signals/debt", json=payload)
        assert field in _fields(answer)
        assert "a" * 100 not in answer.text  # the value is never echoed


def test_lists_and_consent_fields_have_a_maximum(api: Api) -> None:
    bsn = valid_bsn(random.Random())
    base = {"bsn": bsn, "municipality_code": "GM0344", "purpose": "handover",
            "recipient_scope": ["team-utrecht-west"]}
    with api.client("alles") as client:
        assert "support_needs" in _fields(client.post("/v1/signals/youth-care-exit", json={
            **youth(bsn), "support_needs": ["HOUSING"] * 60_000}))
        assert "support_needs" in _fields(client.post("/v1/signals/youth-care-exit", json={
            **youth(bsn), "support_needs": ["HOUSING", "HOUSING"]}))
        assert "provider_contact_role" in _fields(client.post(
            "/v1/signals/youth-care-exit", json={**youth(bsn),
                                                 "provider_contact_role": "m" * 201}))
        for name, value in (("recipient_scope", [f"team-{i}" for i in range(40_000)]),
                            ("purpose", "p" * 101), ("consent_id", "c" * 101)):
            assert name in _fields(client.post("/v1/consents", json={**base, name: value}))


@pytest.mark.parametrize("text", ["mentor\x00", "men\u202etor", "men\u200btor", "mentor\n",
                                  "\ufeffmentor", "men\ud800tor"])
def test_invisible_and_control_characters_are_refused(api: Api, text: str) -> None:
    body = json.dumps({**youth(valid_bsn(random.Random())), "provider_contact_role": text})
    with api.client("alles") as client:
        answer = client.post("/v1/signals/youth-care-exit", content=body,
                             headers={"Content-Type": "application/json"})
        assert "provider_contact_role" in _fields(answer)


@pytest.mark.parametrize("postcode", ["3511\ufb00", "３５１１AB", "3511AB\n", "3511\tAB"])
def test_postcodes_are_normalised_only_as_documented(api: Api, postcode: str) -> None:
    with api.client() as client:
        answer = client.post("/v1/signals/debt",
                             json=debt(valid_bsn(random.Random()), postcode=postcode))
        assert "postcode" in _fields(answer)
        ok = client.post("/v1/signals/debt",
                         json=debt(valid_bsn(random.Random()), postcode=" 3511 ab "))
        assert ok.status_code == 202, ok.text


@pytest.mark.parametrize("ref", ["731.70.6699", "BSN731706699", "731706699",
                                 "ps-" + "a" * 40, "ps1-" + "A" * 40, "ps1-" + "a" * 41])
def test_subject_ref_must_be_a_pseudonym_exactly(api: Api, ref: str) -> None:
    payload = debt("", subject_ref=ref)
    del payload["bsn"]
    with api.client() as client:
        assert "subject_ref" in _fields(client.post("/v1/signals/debt", json=payload))
        ok = client.post("/v1/signals/debt", json={**payload, "subject_ref": SUBJECT})
        assert ok.status_code == 202, ok.text


def test_bsn_must_be_nine_digits_as_a_string(api: Api) -> None:
    with api.client() as client:
        for bsn in ("731.70.6699", " 731706699", "7317066 99"):
            assert "bsn" in _fields(client.post("/v1/signals/debt", json=debt(bsn)))


def test_an_unknown_route_and_method_answer_problem_details(api: Api) -> None:
    with api.client() as client:
        _refused(client.get("/v1/nothing"), 404)
        _refused(client.get("/v1/signals/debt"), 405)


def test_openapi_states_the_limits_and_the_docs_pages_are_off(api: Api) -> None:
    with api.client() as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    debt_in = schemas["DebtSignalIn"]
    assert [branch["required"] for branch in debt_in["oneOf"]] == [
        ["bsn", "municipality_code"], ["subject_ref"]]
    assert debt_in["properties"]["bsn"]["format"] == "bsn"
    assert debt_in["properties"]["postcode"]["pattern"]
    assert debt_in["properties"]["subject_ref"]["pattern"] == r"^ps[1-9][0-9]{0,3}-[0-9a-f]{40}$"
    assert schemas["DebtSignalBatch"]["properties"]["signals"]["minItems"] == 1
    post = document["paths"]["/v1/signals/debt"]["post"]
    assert {"400", "409", "415", "422", "429", "500", "503"} <= set(post["responses"])
    assert "Retry-After" in post["responses"]["503"]["headers"]
    assert "Idempotent-Replayed" in post["responses"]["202"]["headers"]
    assert "application/problem+json" in post["responses"]["422"]["content"]


def test_a_fault_of_the_hub_is_a_500_with_a_trace_id_and_no_detail(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.intake import SignalPublisher

    def broken(self: SignalPublisher, event_type: str, signal: Any) -> Any:
        raise KeyError("secret internals 123456782")

    monkeypatch.setattr(SignalPublisher, "record", broken)
    with api.client() as client:
        answer = client.post("/v1/signals/debt", json=debt(valid_bsn(random.Random()),
                                                           event_id=str(uuid.uuid4())))
    _refused(answer, 500)
    assert len(answer.json()["trace_id"]) == 32
    assert "internals" not in answer.text and "KeyError" not in answer.text

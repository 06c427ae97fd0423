"""The admin's CBS delivery in the web app (``/beheer/export``), over HTTP against a real
server: the download is the municipality's delivery, valid against the project's model
of DDAS Vroegsignalering v1.2 (hub/ddas), as an attachment with a Dutch file name; each
export is one processing record (who, municipality, period; no personal data); bad input
shows the form again with a Dutch message at the field (never a 500); the form needs the
CSRF token; members and operators get 403."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.ddas import Contactsoort, Dagdeel, Eindresultaat, Uitwisselmodel
from hub.inbox import CaseStore
from hub.inbox.ddas_export import DDAS_EXPORT_ACTIVITY
from hub.settings import WebSettings
from hub.topics import AUDIT
from hub.workdays import dutch_date
from tests.inbox_case_data import make_alert, subject
from tests.test_web_dutch_pages import english_words_in, page_text
from tests.test_web_inbox import WebServer, csrf, sign_in, start_web

pytestmark = pytest.mark.timeout(120)

PAGE = "/beheer/export"


def today() -> date:
    """Today in the Netherlands, read when asked: the module is imported long before its
    tests run, maybe on the day before, and the delivery's days are Dutch days."""
    return dutch_date(datetime.now(UTC))


def fields() -> dict[str, str]:
    return {"creditor_type": "ENERGY", "signal_kind": "ARREARS",
            "arrears_amount_cents": "27550", "signal_date": today().isoformat(),
            "crisis": "false", "postcode": "7512AB", "house_number": "12"}


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    server, stop = start_web(tmp_path, WebSettings(secure_cookies=False))
    server.deps.ddas_supplier_code = "SH-TEST"
    try:
        yield server
    finally:
        stop()


def _closed_case(web: WebServer) -> tuple[str, str]:
    """A debt signal of GM9999 in a closed case (two attempts); its event id and
    pseudonym."""
    person = subject()
    alert = make_alert(person, fields=fields()).model_copy(
        update={"municipality_code": "GM9999", "created_at": datetime.now(UTC)})
    web.inbox.add(alert)
    cases = CaseStore(web.inbox.database)
    case_id = cases.case_of(alert.alert_id).case_id
    cases.take_up(case_id, "ada")
    cases.add_attempt(case_id, "ada", kind=Contactsoort.TELEFOON, reached=False,
                      part_of_day=Dagdeel.OCHTEND)
    cases.add_attempt(case_id, "ada", kind=Contactsoort.HUISBEZOEK, reached=True,
                      part_of_day=Dagdeel.MIDDAG)
    cases.close(case_id, Eindresultaat.VERVOLGHULP_FINANCIEEL, "ada")
    return alert.event_id, person


def _post(c: httpx.Client, **values: str) -> httpx.Response:
    form = {"municipality": "GM9999", "period_start": (today() - timedelta(days=30)).isoformat(),
            "period_end": today().isoformat(), "supplier_code": "SH-TEST",
            "organisation": "Gemeente Voorbeeld", **values}
    return c.post(PAGE, data={"csrf_token": csrf(c.get(PAGE).text), **form})


def _records(web: WebServer) -> list[dict[str, Any]]:
    return [r for r in web.read(AUDIT) if r["processing_activity_id"] == DDAS_EXPORT_ACTIVITY]


def test_the_admin_downloads_a_valid_delivery_and_the_export_is_recorded(web: WebServer
                                                                         ) -> None:
    event_id, person = _closed_case(web)
    ada = sign_in(web, "ada")
    form = ada.get(PAGE)
    assert form.status_code == 200
    text = page_text(form.text)
    assert "CBS-levering" in text and english_words_in(text) == []
    assert '<option value="GM9999"' in form.text and 'value="SH-TEST"' in form.text
    assert 'href="/beheer/export" aria-current="page"' in form.text

    end = today()
    start = end - timedelta(days=30)
    answer = _post(ada, period_start=start.isoformat(), period_end=end.isoformat())
    assert answer.status_code == 200, answer.text[:2000]
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="cbs-levering-vroegsignalering-GM9999-{start.isoformat()}'
        f'-tot-{end.isoformat()}.json"')
    assert "no-store" in answer.headers.get("cache-control", "")
    delivery = Uitwisselmodel.from_json(answer.text)  # the project's model of v1.2
    data = json.loads(answer.text)
    assert data["codeGegevensleverancier"] == "SH-TEST"
    assert (data["startdatumLevering"], data["einddatumLevering"]) == (start.isoformat(),
                                                                        end.isoformat())
    levering = data["leveringen"][0]
    assert levering["gemeentecode"] == "9999"
    assert levering["aanleverendeOrganisatie"] == {"naam": "Gemeente Voorbeeld"}
    assert [s["ID"] for s in levering["vroegsignalen"]] == [event_id]
    assert levering["vroegsignalen"][0]["bedrag"] == 276
    assert levering["vroegsignalen"][0]["client"] == {"postcode": "7512AB",
                                                      "huisnummer": "12"}
    (case,) = levering["vroegsignaalzaken"]
    assert case["resultaat"] == "Vervolghulp en/of verwijzing financieel"
    assert [(a["soort"], a["bereikt"]) for a in case["contactpogingen"]] == [
        ("Telefoon", False), ("Huisbezoek", True)]
    assert delivery.leveringen is not None
    assert "burgerservicenummer" not in answer.text and person not in answer.text

    (record,) = _records(web)
    assert record["reason_code"] == "DDAS_EXPORTED"
    assert record["reason_detail"] == (f"user=ada municipality=GM9999"
                                       f" period={start.isoformat()}..{end.isoformat()}")
    assert record["counts"] == {"signals": 1, "cases": 1}
    assert record["data_subject_id"] is None and record["event_id"] is None
    assert person not in str(record) and "7512AB" not in str(record)


@pytest.mark.parametrize(("values", "field", "words"), [
    ({"period_start": "2026-06-30", "period_end": "2026-04-01"}, "period_end",
     "De laatste dag ligt vóór de eerste dag"),
    ({"municipality": "GM0344"}, "municipality", "Kies een gemeente uit de lijst"),
    ({"municipality": "<script>"}, "municipality", "Kies een gemeente uit de lijst"),
    ({"period_start": "1 april"}, "period_start", "Vul bij ‘Eerste dag’ een datum in"),
    ({"period_end": "2026-02-30"}, "period_end", "Vul bij ‘Laatste dag’ een datum in"),
    ({"supplier_code": "  "}, "supplier_code", "Vul de code gegevensleverancier in"),
])
def test_bad_input_shows_the_form_with_a_dutch_message_at_the_field(
        web: WebServer, values: dict[str, str], field: str, words: str) -> None:
    ada = sign_in(web, "ada")
    answer = _post(ada, **values)
    assert answer.status_code == 422, answer.text[:2000]
    assert answer.headers["content-type"].startswith("text/html")
    assert "content-disposition" not in answer.headers
    assert f'<p class="error" id="{field}-error">{words}' in answer.text
    control = re.search(rf'<(?:input|select)[^>]*id="{field}"[^>]*>', answer.text)
    assert control is not None
    assert f'{field}-error' in control.group(0) and 'aria-invalid="true"' in control.group(0)
    assert 'role="alert"' in answer.text and f'href="#{field}"' in answer.text
    assert english_words_in(page_text(answer.text)) == []
    assert _records(web) == []


def test_a_delivery_the_model_refuses_is_said_in_dutch(web: WebServer) -> None:
    bare = make_alert(subject(), fields={"creditor_type": "ENERGY", "signal_kind": "ARREARS",
                                         "signal_date": today().isoformat()})
    web.inbox.add(bare.model_copy(update={"municipality_code": "GM9999"}))
    answer = _post(sign_in(web, "ada"))
    assert answer.status_code == 422
    assert "De levering kan niet worden gemaakt: 1 gegeven(s)" in page_text(answer.text)
    assert bare.event_id not in answer.text and _records(web) == []


def test_only_admins_with_the_csrf_token(web: WebServer) -> None:
    for username in ("alice", "olga"):
        c = sign_in(web, username)
        assert c.get(PAGE).status_code == 403
        assert c.post(PAGE, data={"municipality": "GM9999"}).status_code in (403, 400)
    ada = sign_in(web, "ada")
    refused = ada.post(PAGE, data={"municipality": "GM9999", "period_start": "2026-01-01",
                                   "period_end": "2026-03-31", "supplier_code": "X"})
    assert refused.status_code in (400, 403) and "content-disposition" not in refused.headers
    assert _records(web) == []
    assert sign_in(web, "alice").get("/beheer/accounts").status_code == 403
    anonymous = httpx.get(f"{web.url}{PAGE}", follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]

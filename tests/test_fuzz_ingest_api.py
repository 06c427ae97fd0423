"""Schemathesis against the served ingest API: its OpenAPI document, either way.

The app runs on a real port over an embedded hub, with one source key that may send
everything (every event type and consent, one consent purpose and 64 recipient scopes)
and a pseudonym secret for every municipality code ``GM0000``-``GM9999``. Requests are
generated from ``docs/openapi.json`` (the test checks it is the document the app serves)
in both modes and in the coverage phase (boundary values, one keyword broken at a time)
and the fuzzing phase. Checks: no server error, status codes, content types, headers
and bodies as documented, and both ``positive_data_acceptance`` (every schema-valid
request gets a 2xx) and ``negative_data_rejection`` (every schema-invalid one a 4xx).

What a JSON schema cannot state is supplied by :func:`prepared` and only that, never by
weakening the document:

- the rules across fields that each body schema's description lists (e.g.
  ``arrears_since`` not after ``signal_date``), repaired by moving a date;
- what the key may record: a grant's purpose and recipient scopes become the ones the
  key has, a consent id in a path one that was granted before;
- a cursor of the outcomes feed (``after``): a valid one becomes one the feed gave out;
- uniqueness over time: a valid ``event_id`` and ``Idempotency-Key`` become fresh ones,
  since a hypothesis example repeats values and a reused id with other content is a 409;
- the custom format ``bsn`` (the 11-test): a strategy is registered for it, and a
  ``bsn`` that schemathesis's coverage phase draws from the pattern alone (it does not
  use registered formats for a schema with a pattern) gets a valid check digit.

Each value is replaced only where it is valid already, so a negative case stays negative.
The number of cases per operation, phase and mode is written to the terminal at the end.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import schemathesis
from hypothesis import settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from connectors.sources.http_ingest import create_app
from hub.connect import connect
from hub.outcome_feed import encode_cursor
from hub.serving import serve, server_address, stop
from hub.settings import Settings
from hub.sources import PERMISSIONS, SourceRegistry
from hub.values import TEXT_PATTERN
from tests.fuzz_payloads import DOCS, PSEUDONYMISER, URN, dates_in_order, fix_bsn, report

#: bounded: at most 80 random cases per operation (plus the coverage phase's),
#: each at most 10 s (a few ms is usual), 120 s per operation
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PURPOSE = "fuzz-purpose"
SCOPES = [f"team-{i:02d}" for i in range(64)]
CONSENT_IDS = [f"fuzz-consent-{i}" for i in range(5)]
#: cases run, by operation, phase and mode
CASES: Counter[str] = Counter()

_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_CODE = re.compile(TEXT_PATTERN.replace("]+$", "]{1,100}$"))
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{0,4096}$")

CONFIG = schemathesis.Config.from_dict({
    # a batch's items combine oneOf with patterns: drawing them filters much, and slowly;
    # test_every_operation_ran_cases checks that enough cases were drawn all the same
    "suppress-health-check": ["filter_too_much", "too_slow"],
    "generation": {"mode": "all", "max-examples": 80, "with-security-parameters": False,
                   "database": "none"},
    "phases": {"examples": {"enabled": False}, "coverage": {"enabled": True},
               "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx"]}},
})
schema = schemathesis.openapi.from_path(DOCS, config=CONFIG)


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, API key) of the app served on a free port; consents CONSENT_IDS granted."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with connect(Settings(bus=f"embedded:{tmp / 'hub.db'}")) as conn, \
            SourceRegistry(tmp / "sources.db") as registry:
        _, key = registry.add("fuzz", URN, PERMISSIONS, consent_purposes=[PURPOSE],
                              consent_scopes=SCOPES)
        app = create_app(conn, registry, PSEUDONYMISER, idempotency_store_path=tmp / "idem.db")
        server, thread = serve(app, "127.0.0.1", 0)
        try:
            host, port = server_address(server)
            url = f"http://{host}:{port}"
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
                assert c.get("/openapi.json").json() == schema.raw_schema, "docs/openapi.json"
                for consent_id in CONSENT_IDS:
                    grant = {"subject_ref": "ps1-" + "ab" * 20, "purpose": PURPOSE,
                             "consent_id": consent_id, "recipient_scope": SCOPES[:2]}
                    assert c.post("/v1/consents", json=grant).status_code == 202
            yield url, key
        finally:
            stop(server, thread)


# --- what a JSON schema cannot state ------------------------------------------------


def _unique_and_permitted(body: dict[str, Any]) -> None:
    """A fresh event id; the purpose and recipient scopes the key may record."""
    if isinstance(body.get("event_id"), str) and _UUID.match(body["event_id"]):
        body["event_id"] = str(uuid.uuid4())
    if isinstance(body.get("purpose"), str) and _CODE.match(body["purpose"]):
        body["purpose"] = PURPOSE
    scope = body.get("recipient_scope")
    if isinstance(scope, list):
        names: dict[str, str] = {}  # equal entries stay equal (uniqueItems)
        for i, entry in enumerate(scope):
            if isinstance(entry, str) and _CODE.match(entry):
                if entry not in names and len(names) < len(SCOPES):
                    names[entry] = SCOPES[len(names)]
                scope[i] = names.get(entry, entry)


def prepared(case: Any) -> None:
    """The case with what a JSON schema cannot state supplied (see module doc)."""
    if isinstance(case.headers.get("Idempotency-Key"), str):
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    body = case.body
    items = body["signals"] if isinstance(body, dict) and isinstance(
        body.get("signals"), list) else [body]
    for item in items:
        if isinstance(item, dict):
            dates_in_order(item)
            fix_bsn(item)
            _unique_and_permitted(item)
    after = (case.query or {}).get("after")
    if isinstance(after, str) and _CURSOR.match(after):
        case.query["after"] = encode_cursor({0: 0, 1: 0, 2: 0})
    consent_id = case.path_parameters.get("consent_id")
    if isinstance(consent_id, str) and _CODE.match(unquote(consent_id)):
        case.path_parameters["consent_id"] = CONSENT_IDS[len(consent_id) % len(CONSENT_IDS)]


# --- the test ------------------------------------------------------------------------


@schema.parametrize()
@settings(deadline=timedelta(seconds=10))
def test_api_either_way(case: Any, fuzz_api: tuple[str, str]) -> None:
    url, key = fuzz_api
    prepared(case)
    meta = case.meta
    CASES[f"{case.operation.label} {meta.phase.name.value} {meta.generation.mode.value}"] += 1
    auth = {"Authorization": f"Bearer {key}"}
    if meta.generation.mode.is_positive and any(
            c.mode.is_negative for c in meta.components.values()):
        # schemathesis 4 marks such a coverage case positive although a part of it is
        # not (e.g. a body of 0 for an object): it must be refused like a negative one
        response = case.call_and_validate(base_url=url, headers=auth,
                                          excluded_checks=[positive_data_acceptance])
        assert 400 <= response.status_code < 500, response.text
        return
    case.call_and_validate(base_url=url, headers=auth)


def test_every_operation_ran_cases(request: pytest.FixtureRequest) -> None:
    """Report the counts (and fail when an operation ran none)."""
    if not CASES:
        pytest.skip("test_api_either_way did not run")
    report(request, "schemathesis cases run", CASES)
    operations = [f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items()
                  for method in item]
    for operation in operations:
        assert CASES[f"{operation} coverage positive"] >= 1, operation
        if operation.startswith("POST"):  # bodies: drawn at random in both modes too
            assert CASES[f"{operation} fuzzing positive"] >= 20, operation
            assert CASES[f"{operation} fuzzing negative"] >= 5, operation

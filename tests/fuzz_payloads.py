"""Shared by the fuzz tests: valid BSNs, a pseudonymiser for every municipality code,
request bodies drawn from the OpenAPI document, and the repair of what a JSON schema
cannot state (the rules across fields that each body schema's description lists).

A repair moves a value only where it is valid already, so a schema-invalid body stays
schema-invalid.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from pydantic import SecretStr, TypeAdapter, ValidationError

from hub.pseudonym import Pseudonymiser, is_valid_bsn

__all__ = ["BSNS", "DOCS", "PSEUDONYMISER", "URN", "bsn_for", "dates_in_order", "fix_bsn",
           "openapi_document", "report", "valid_bsn"]

URN = "urn:nld:oin:00000001234567890000"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
#: a test secret for each municipality code GM0000-GM9999 (generated codes are all known)
PSEUDONYMISER = Pseudonymiser({f"GM{n:04d}": SecretStr(f"fuzz-pseudonym-secret-{n:04d}-" + "k" * 32)
                               for n in range(10_000)})
_BSN_FORM = re.compile(r"^[0-9]{8,9}$")
_DATETIME = TypeAdapter(datetime)


def valid_bsn(digits: list[int]) -> str:
    """Eight digits and the ninth that makes them pass the 11-test ('' if none does)."""
    check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
    text = "".join(map(str, digits)) + str(check)
    return text if check < 10 and is_valid_bsn(text) else ""


#: valid (fictional) BSNs: any nine digits passing the 11-test
BSNS = st.lists(st.integers(0, 9), min_size=8, max_size=8).map(valid_bsn).filter(bool)
schemathesis.openapi.format("bsn", BSNS)


def openapi_document() -> dict[str, Any]:
    """docs/openapi.json (the API tests check the app serves exactly this)."""
    document: dict[str, Any] = json.loads(DOCS.read_text())
    return document


def report(request: pytest.FixtureRequest, title: str, counts: Counter[str]) -> None:
    """Write ``counts`` to the terminal (past pytest's output capture)."""
    lines = ["", f"{title}: {sum(counts.values())}",
             *(f"  {name}: {count}" for name, count in sorted(counts.items()))]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("\n".join(lines))


def bsn_for(value: str) -> str:
    """A valid BSN of the same length as ``value`` (eight digits: a leading zero
    dropped), the same for the same value."""
    rng = random.Random(value)
    while True:
        bsn = valid_bsn([rng.randint(0, 9) for _ in range(8)])
        if bsn and (len(value) == 9 or bsn.startswith("0")):
            return bsn[9 - len(value):]


def fix_bsn(body: dict[str, Any]) -> None:
    """A bsn of the pattern's form that fails the 11-test gets a valid one: the format
    ``bsn`` says so, and a generator that knows only the pattern cannot."""
    bsn = body.get("bsn")
    if isinstance(bsn, str) and _BSN_FORM.match(bsn) and not is_valid_bsn(bsn.zfill(9)):
        body["bsn"] = bsn_for(bsn)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _moment(value: Any) -> datetime | None:
    try:
        return _DATETIME.validate_python(value) if isinstance(value, str) else None
    except ValidationError:
        return None


def dates_in_order(body: dict[str, Any]) -> None:
    """The rules across fields of each body's description (hub.validation and the
    consent model): a date moved where it breaks one."""
    since, signal = _date(body.get("arrears_since")), _date(body.get("signal_date"))
    if since and signal and since > signal:
        body["arrears_since"], body["signal_date"] = body["signal_date"], body["arrears_since"]
    for early, late in (("signal_date", "supply_end_date"), ("stage_date", "eviction_date")):
        first, last = _date(body.get(early)), _date(body.get(late))
        if first and last and first > last:
            body[late] = body[early]
    turns_18, end = _date(body.get("turns_18_on")), _date(body.get("planned_end_date"))
    if turns_18 and end and end < turns_18 - timedelta(days=366):
        body["planned_end_date"] = body["turns_18_on"]
    now = datetime.now(UTC)
    occurred = _moment(body.get("occurred_at"))
    if occurred and occurred > now:
        body["occurred_at"] = "2025-01-01T00:00:00Z"
    start, until = _moment(body.get("valid_from")), _moment(body.get("valid_until"))
    if until and until <= (start or now):
        if start and until < start:
            body["valid_from"], body["valid_until"] = body["valid_until"], body["valid_from"]
        else:
            body["valid_until"] = "2199-12-31T23:59:59Z"
            if start and start >= datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC):
                body["valid_from"] = "2025-01-01T00:00:00Z"

"""The CBS delivery: a municipality's signals and cases as a DDAS Vroegsignalering v1.2 file.

:func:`write_delivery` takes the records the team's inbox fills (:mod:`hub.ddas.records`)
for one municipality and period and returns the checked :class:`Uitwisselmodel`; its
:meth:`~hub.ddas.model.Uitwisselmodel.to_json` is the file's text (UTF-8). The writer
writes what it is given: choosing the signals and cases of a period is the caller's.

How the hub's values become the model's:

- the client is always identified by postcode and house number (``huisnummer`` as text,
  ``huisnummertoevoeging`` when there is one): the hub keeps no BSN, no date of birth and
  no sex, so those fields are left out;
- the creditor type becomes the signal partner's kind (:data:`SIGNAALPARTNER`);
- amounts in cents become whole euros, rounded half up (:func:`whole_euros`);
- the municipality code ``GM0344`` becomes ``gemeentecode`` ``0344``
  (:func:`gemeentecode`);
- a delivery holds one levering (``teller`` 1) and always both lists, empty when the
  period had no signals or cases.

A record the model cannot take (an empty postcode, a house-number addition longer than
the model's four characters, a case without signals, ...) raises
:class:`~hub.errors.ExportError`, naming every such field by its place in the delivery
(``leveringen.0.vroegsignalen.3.client.huisnummertoevoeging``), never its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError

from hub.ddas.codes import Signaalpartner
from hub.ddas.model import Uitwisselmodel
from hub.ddas.records import CaseRecord, OrganisationRecord, SignalRecord
from hub.errors import ExportError, FieldError
from hub.events import CreditorType
from hub.values import MunicipalityCode, field_errors

__all__ = ["SIGNAALPARTNER", "gemeentecode", "whole_euros", "write_delivery"]

#: the hub's creditor type → the model's kind of signal partner
SIGNAALPARTNER: Mapping[CreditorType, Signaalpartner] = {
    CreditorType.ENERGY: Signaalpartner.ENERGIE,
    CreditorType.RENT: Signaalpartner.HUUR,
    CreditorType.MORTGAGE: Signaalpartner.HYPOTHEEK,
    CreditorType.HEALTH_INSURANCE_CAK: Signaalpartner.CAK_ZORGVERZEKERINGEN,
    CreditorType.CARE: Signaalpartner.ZORG,
    CreditorType.WATER: Signaalpartner.WATER,
    CreditorType.DUO: Signaalpartner.DUO,
    CreditorType.TAX_AUTHORITY: Signaalpartner.BELASTINGDIENST,
    CreditorType.CAK_OWN_CONTRIBUTION: Signaalpartner.CAK_EIGEN_BIJDRAGE,
    CreditorType.BENEFITS_AGENCY: Signaalpartner.DIENST_TOESLAGEN,
    CreditorType.OTHER: Signaalpartner.OVERIGE,
}

_MUNICIPALITY_CODE: TypeAdapter[str] = TypeAdapter(MunicipalityCode)


def whole_euros(cents: int) -> int:
    """An amount in cents as whole euros, rounded half up (away from zero): 12.49 → 12,
    12.50 → 13."""
    return int((Decimal(cents) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def gemeentecode(municipality_code: str) -> str:
    """The model's ``gemeentecode`` of a municipality: the four digits of its CBS code
    (``GM0344`` or ``gm 0344`` → ``0344``)."""
    try:
        return _MUNICIPALITY_CODE.validate_python(municipality_code).removeprefix("GM")
    except ValidationError:
        raise ExportError([FieldError("leveringen.0.gemeentecode", "must be a municipality"
                                      " code: GM and four digits (e.g. GM0344)")]) from None


def _signal(record: SignalRecord) -> dict[str, Any]:
    client: dict[str, Any] = {"postcode": record.postcode,
                              "huisnummer": str(record.house_number),
                              "huisnummertoevoeging": record.house_number_addition}
    signal: dict[str, Any] = {
        "ID": record.signal_id,
        "crisissignaal": record.crisis,
        "warmeOverdracht": record.warm_handover,
        "bedrag": None if record.arrears_amount_cents is None
        else whole_euros(record.arrears_amount_cents),
        "ontstaansdatum": record.arrears_since,
        "signaaldatum": record.signal_date,
        "status": record.status,
        "signaalpartner": {"type": SIGNAALPARTNER[record.creditor_type]},
        "client": client,
    }
    return _without_none(signal)


def _case(record: CaseRecord) -> dict[str, Any]:
    start, end = record.matching_period or (None, None)
    case: dict[str, Any] = {
        "resultaat": record.result,
        "matchingsdatum": record.matched_on,
        "startdatumMatchingperiode": start,
        "datumOpgepakt": record.taken_up_on,
        "einddatumMatchingperiode": end,
        "vroegsignalen": [{"ID": signal_id} for signal_id in record.signal_ids],
        "contactpogingen": [_without_none({"soort": a.kind, "bereikt": a.reached,
                                           "datum": a.on, "dagdeel": a.part_of_day})
                            for a in record.contact_attempts],
    }
    return _without_none(case)


def _organisation(record: OrganisationRecord) -> dict[str, Any]:
    contacts = [_without_none({"naam": c.name, "telefoonnummer": c.phone, "email": c.email,
                               "functietitel": c.job_title}) for c in record.contacts]
    return _without_none({"naam": record.name, "kvk-nummer": record.kvk_number,
                          "contactpersonen": contacts or None})


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    """Leave out what is not known: the model's optional fields are absent, not null."""
    return {k: v for k, v in values.items() if v is not None}


def write_delivery(*, municipality_code: str, period_start: date, period_end: date,
                   supplier_code: str, organisation: OrganisationRecord,
                   signals: Iterable[SignalRecord], cases: Iterable[CaseRecord],
                   delivered_at: datetime | None = None) -> Uitwisselmodel:
    """The delivery of one municipality for the period ``period_start`` to
    ``period_end`` (both included), checked against the model.

    ``supplier_code`` is the ``codeGegevensleverancier`` of whoever runs this hub;
    ``delivered_at`` (``aanleverdatumEnTijd``, default now) must be timezone-aware.
    Raises :class:`~hub.errors.ExportError` naming every field the model refuses.
    """
    signal_list = [_signal(s) for s in signals]
    levering = {
        "teller": 1,
        "gemeentecode": gemeentecode(municipality_code),
        "aanleverendeOrganisatie": _organisation(organisation),
        "vroegsignalen": signal_list,
        "vroegsignaalzaken": [_case(c) for c in cases],
    }
    data = {
        "startdatumLevering": period_start,
        "einddatumLevering": period_end,
        "aanleverdatumEnTijd": delivered_at or datetime.now(UTC),
        "codeGegevensleverancier": supplier_code,
        "leveringen": [levering],
    }
    problems: list[FieldError] = []
    if period_end < period_start:
        problems.append(FieldError("einddatumLevering", "must not lie before"
                                   " startdatumLevering"))
    seen: set[str] = set()
    for index, signal in enumerate(signal_list):
        if signal["ID"] in seen:
            problems.append(FieldError(f"leveringen.0.vroegsignalen.{index}.ID",
                                       "another signal of this delivery has the same ID"))
        seen.add(signal["ID"])
    try:
        delivery = Uitwisselmodel.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        problems.extend(field_errors(exc, whole="(delivery)"))
    if problems:
        raise ExportError(problems)
    return delivery

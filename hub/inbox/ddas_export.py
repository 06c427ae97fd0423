"""The inbox's cases and signals of one municipality and period as a DDAS delivery.

:func:`ddas_delivery` chooses what belongs to the period (docs/ddas.md, "Which signals
and cases a delivery holds"), fills the records of :mod:`hub.ddas.records` from the
alerts and the team's work, and writes the checked delivery
(:func:`hub.ddas.write_delivery`):

- the **cases** of the municipality that were open at any time in the period: opened
  on or before its last day and not closed before its first day (Dutch days, from
  00:00 in Europe/Amsterdam);
- their **signals** that had arrived by the end of the period, each once, also when it
  arrived before the period (so every ``ID`` a case refers to is in the same file, and
  a signal comes again, with its status then, in each delivery its case is in);
- a signal seen by two teams of the municipality (one alert each) is delivered once;
  its status is the one of the team that acted on it (a status other than ``Nog niet
  opgepakt``), else the first team's (by team id).

The client is the postcode and house number the alert carries; an alert without the
fields the model needs (``postcode``, ``house_number``, ``creditor_type``,
``signal_date``: the team's role must see them, ``hub.yaml`` ``fields``) is refused by
an :class:`~hub.errors.ExportError` naming the signal, the team and what is missing.

:func:`export_delivery` is what ``signalhub export ddas`` and the admin's export page
(``/beheer/export``) call: the same delivery, and one processing record per export
under :data:`DDAS_EXPORT_ACTIVITY` (who, when, which municipality and period, how many
signals and cases; no personal data: no signal id, pseudonym or address).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from hub.audit import new_trace_id, processing_record
from hub.ddas import (
    CaseRecord,
    ContactAttemptRecord,
    OrganisationRecord,
    Signaalstatus,
    SignalRecord,
    Uitwisselmodel,
    gemeentecode,
    write_delivery,
)
from hub.errors import ExportError, FieldError
from hub.events import CreditorType, DecisionOutcome
from hub.inbox.case_store import CaseStore
from hub.inbox.cases import Case, CaseSignal
from hub.inbox.processing import Record
from hub.store import Database
from hub.workdays import dutch_date, dutch_day_start

__all__ = ["DDAS_EXPORT_ACTIVITY", "REQUIRED_FIELDS", "ddas_delivery", "export_delivery"]

#: the processing activity under which each CBS delivery that was made is recorded
DDAS_EXPORT_ACTIVITY = "urn:signalhub:processing-activity:ddas-delivery"

#: the alert fields a signal of the delivery cannot do without
REQUIRED_FIELDS = ("postcode", "house_number", "creditor_type", "signal_date")


def _optional_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _signal(signal: CaseSignal, index: int) -> SignalRecord | list[FieldError]:
    alert = signal.alert
    fields: Mapping[str, str] = alert.fields
    place = f"leveringen.0.vroegsignalen.{index}"
    missing = [name for name in REQUIRED_FIELDS if not fields.get(name)]
    if missing:
        return [FieldError(place, f"signal {alert.event_id} of team {alert.team_id} came"
                           f" without {', '.join(missing)}: the team's role must see these"
                           " fields (hub.yaml, the debt-signal policy's `fields`)")]
    try:
        amount = fields.get("arrears_amount_cents")
        crisis = fields.get("crisis")
        return SignalRecord(
            signal_id=alert.event_id,
            creditor_type=CreditorType(fields["creditor_type"]),
            signal_date=date.fromisoformat(fields["signal_date"]),
            postcode=fields["postcode"],
            house_number=int(fields["house_number"]),
            house_number_addition=fields.get("house_number_addition") or None,
            arrears_amount_cents=int(amount) if amount else None,
            arrears_since=_optional_date(fields.get("arrears_since")),
            crisis=None if crisis is None else crisis == "true",
            status=signal.status,
        )
    except ValueError as exc:
        return [FieldError(place, f"signal {alert.event_id} of team {alert.team_id}:"
                           f" a field does not read as the model needs ({type(exc).__name__})")]


def _case(case: Case, signals: list[CaseSignal]) -> CaseRecord:
    joined = [dutch_date(s.joined_at) for s in signals]
    return CaseRecord(
        signal_ids=tuple(dict.fromkeys(s.alert.event_id for s in signals)),
        matched_on=dutch_date(case.opened_at),
        matching_period=(min(joined), max(joined)),
        taken_up_on=case.taken_up_on,
        result=case.result,
        contact_attempts=tuple(ContactAttemptRecord(a.kind, a.reached, a.on, a.part_of_day)
                               for a in case.contact_attempts),
    )


def ddas_delivery(database: Database, *, municipality_code: str, period_start: date,
                  period_end: date, supplier_code: str, organisation: OrganisationRecord,
                  delivered_at: datetime | None = None) -> Uitwisselmodel:
    """The delivery of ``municipality_code`` (``GM0344``) for ``period_start`` to
    ``period_end`` (both included) from the inbox in ``database``."""
    if period_end < period_start:
        raise ExportError([FieldError("einddatumLevering",
                                      "must not lie before startdatumLevering")])
    code = "GM" + gemeentecode(municipality_code)
    after_end = dutch_day_start(period_end + timedelta(days=1))
    chosen: dict[str, CaseSignal] = {}
    cases: list[CaseRecord] = []
    for case in sorted(CaseStore(database).cases_in(code, period_start, period_end),
                       key=lambda c: (c.team_id, c.opened_at, c.case_id)):
        signals = [s for s in case.signals if s.joined_at < after_end]
        if not signals:
            continue
        cases.append(_case(case, signals))
        for signal in signals:
            seen = chosen.get(signal.alert.event_id)
            if seen is None or (seen.status is Signaalstatus.NOG_NIET_OPGEPAKT
                                and signal.status is not Signaalstatus.NOG_NIET_OPGEPAKT):
                chosen[signal.alert.event_id] = signal
    records: list[SignalRecord] = []
    problems: list[FieldError] = []
    for index, signal in enumerate(chosen.values()):
        made = _signal(signal, index)
        if isinstance(made, list):
            problems.extend(made)
        else:
            records.append(made)
    if problems:
        raise ExportError(problems)
    return write_delivery(municipality_code=code, period_start=period_start,
                          period_end=period_end, supplier_code=supplier_code,
                          organisation=organisation, signals=records, cases=cases,
                          delivered_at=delivered_at)



def export_delivery(database: Database, record: Record, *, user: str,
                    municipality_code: str, period_start: date, period_end: date,
                    supplier_code: str, organisation: OrganisationRecord,
                    delivered_at: datetime | None = None) -> Uitwisselmodel:
    """:func:`ddas_delivery`, recorded: one processing record (``DDAS_EXPORTED``,
    :data:`DDAS_EXPORT_ACTIVITY`) naming ``user``, the municipality and the period, with
    the numbers of signals and cases in ``counts``; written before the delivery is
    returned, so no delivery leaves the hub unrecorded. A refused export
    (:class:`~hub.errors.ExportError`) writes nothing: nothing left the hub."""
    started = datetime.now(UTC)
    delivery = ddas_delivery(database, municipality_code=municipality_code,
                             period_start=period_start, period_end=period_end,
                             supplier_code=supplier_code, organisation=organisation,
                             delivered_at=delivered_at)
    levering = (delivery.leveringen or [])[0]
    code = "GM" + levering.gemeentecode
    record(processing_record(
        trace_id=new_trace_id(), name="export-ddas", started=started,
        outcome=DecisionOutcome.RECORDED, reason_code="DDAS_EXPORTED",
        reason_detail=(f"user={user[:64]} municipality={code}"
                       f" period={period_start.isoformat()}..{period_end.isoformat()}"),
        activity=DDAS_EXPORT_ACTIVITY, municipality_code=code,
        counts={"signals": len(levering.vroegsignalen or ()),
                "cases": len(levering.vroegsignaalzaken or ())}))
    return delivery

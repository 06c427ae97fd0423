"""Plain records of what the hub knows about signals, cases and contact attempts.

The team's inbox fills these (from its store) and :func:`hub.ddas.writer.write_delivery`
turns them into a DDAS delivery. They hold the hub's own values (its creditor types,
amounts in cents, house numbers as numbers); the writer maps them to the model's codes
and forms. Nothing here identifies a person beyond the address the signal came with: the
hub keeps no BSN, name, date of birth or sex.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from hub.ddas.codes import Contactsoort, Dagdeel, Eindresultaat, Signaalstatus
from hub.events import CreditorType

__all__ = [
    "CaseRecord",
    "ContactAttemptRecord",
    "ContactPersonRecord",
    "OrganisationRecord",
    "SignalRecord",
]


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """One debt signal as the hub received it, with the team's status of it."""

    #: the signal's id in the hub (its event id): the delivery's ``ID``, which the
    #: municipality's cases refer to
    signal_id: str
    creditor_type: CreditorType
    #: the date the creditor sent the signal (``signaaldatum``)
    signal_date: date
    postcode: str
    house_number: int
    house_number_addition: str | None = None
    #: the arrears in euro cents (written as whole euros, see the writer)
    arrears_amount_cents: int | None = None
    #: since when the arrears run (``ontstaansdatum``)
    arrears_since: date | None = None
    crisis: bool | None = None
    #: a warm hand-over (the person is already in contact and asks to be taken up);
    #: None when not known, which leaves ``warmeOverdracht`` out
    warm_handover: bool | None = None
    status: Signaalstatus = Signaalstatus.NOG_NIET_OPGEPAKT


@dataclass(frozen=True, slots=True)
class ContactAttemptRecord:
    """One attempt of the team to reach the person of a case."""

    kind: Contactsoort
    reached: bool
    on: date
    part_of_day: Dagdeel | None = None


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A case (vroegsignaalzaak): one or more signals of the same person, handled by the
    team; ``result`` is set when the case is closed."""

    #: the ids of the case's signals (``SignalRecord.signal_id``), at least one
    signal_ids: tuple[str, ...]
    #: when the case was made from its signals (``matchingsdatum``)
    matched_on: date | None = None
    #: the period over which signals were matched into this case
    #: (``startdatumMatchingperiode``, ``einddatumMatchingperiode``)
    matching_period: tuple[date, date] | None = None
    #: when the team took the case up (``datumOpgepakt``)
    taken_up_on: date | None = None
    result: Eindresultaat | None = None
    contact_attempts: tuple[ContactAttemptRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class ContactPersonRecord:
    """Someone CBS may contact about a delivery (work contact details only)."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    job_title: str | None = None


@dataclass(frozen=True, slots=True)
class OrganisationRecord:
    """The organisation delivering for the municipality (``aanleverendeOrganisatie``)."""

    name: str | None = None
    kvk_number: str | None = None
    contacts: tuple[ContactPersonRecord, ...] = field(default=())

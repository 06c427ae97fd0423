"""The Dutch words of the web app that come from data, not from the templates.

The pages are written in Dutch in the templates themselves (see docs/web.md, "Language").
This module holds what the templates cannot say by themselves: Dutch labels for the
values the inbox shows (status, urgency, outcome, event type, the fields of a signal and
their coded values), dates, times and amounts in Dutch form, and the Dutch text of an
error page for the English ``HTTPException`` detail the code raises (details stay English:
they are logged and answered as JSON on ``/api/``).

:func:`install` adds the filters and globals to a Jinja2 environment.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment

__all__ = ["error_text", "error_title", "field_label", "field_value", "install", "nl_amount",
           "nl_date", "nl_datetime", "label", "overdue_text"]

MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
          "september", "oktober", "november", "december")
try:
    LOCAL_TIME: Any = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # no time zone data at all: UTC, and the times say so
    LOCAL_TIME = UTC

#: Dutch labels per kind of value; a value without a label is shown as it is
LABELS: dict[str, dict[str, str]] = {
    "status": {"new": "Nieuw", "claimed": "In behandeling", "closed": "Afgesloten"},
    "urgency": {"URGENT": "Spoed", "NORMAL": "Normaal"},
    "outcome": {"PICKED_UP": "Opgepakt", "NOT_PICKED_UP": "Niet opgepakt",
                "CLOSED": "Afgesloten om een andere reden"},
    "event_type": {"debt-signal": "Betalingsachterstand",
                   "eviction-risk": "Dreigende huisuitzetting",
                   "youth-care-exit": "Einde jeugdhulp bij 18 jaar"},
    "role": {"member": "teamlid", "operator": "beheerder", "admin": "beheerder en teamlid"},
    "creditor_type": {
        "ENERGY": "Energie", "RENT": "Huur", "MORTGAGE": "Hypotheek",
        "HEALTH_INSURANCE_CAK": "Zorgverzekering (via het CAK)", "CARE": "Zorg",
        "WATER": "Drinkwater", "DUO": "DUO", "TAX_AUTHORITY": "Belastingdienst",
        "CAK_OWN_CONTRIBUTION": "Eigen bijdrage CAK", "BENEFITS_AGENCY": "Uitkeringsinstantie",
        "OTHER": "Anders"},
    "signal_kind": {"ARREARS": "Achterstand", "END_OF_SUPPLY": "Einde levering",
                    "ARREARS_RESOLVED": "Achterstand opgelost"},
    "stage": {"RENT_ARREARS": "Huurachterstand", "SUMMONS": "Dagvaarding",
              "JUDGMENT": "Vonnis", "EVICTION_SCHEDULED": "Ontruiming gepland",
              "EXECUTED": "Ontruimd", "RESOLVED": "Opgelost"},
    "care_form": {"RESIDENTIAL": "Verblijf in een instelling", "FOSTER": "Pleegzorg",
                  "FAMILY_HOME": "Gezinshuis", "SECURE": "Gesloten jeugdhulp"},
}

#: the fields a team may see (hub/policy.py), by their Dutch name
FIELD_LABELS = {
    "creditor_type": "Schuldeiser", "signal_kind": "Soort signaal",
    "arrears_amount_cents": "Achterstand", "arrears_band": "Achterstand (ongeveer)",
    "arrears_since": "Achterstand sinds", "signal_date": "Datum signaal",
    "crisis": "Crisis", "objection_recorded": "Bezwaar gemaakt",
    "supply_end_date": "Einde levering", "creditor_reference": "Kenmerk schuldeiser",
    "stage": "Fase", "stage_date": "Datum van de fase", "eviction_date": "Datum ontruiming",
    "case_reference": "Kenmerk zaak", "postcode": "Postcode", "house_number": "Huisnummer",
    "house_number_addition": "Toevoeging", "turns_18_on": "Wordt 18 op",
    "care_form": "Soort jeugdhulp", "planned_end_date": "Geplande einddatum",
    "support_needs": "Wat de jongere nodig heeft",
    "provider_contact_role": "Contactpersoon bij de aanbieder",
}

ERROR_TITLES = {400: "Controleer wat je hebt ingevuld", 401: "Log eerst in",
                403: "Geen toegang", 404: "Niet gevonden", 405: "Dit kan zo niet",
                409: "Dit kan nu niet", 413: "Het formulier is te groot",
                415: "Dit kan zo niet", 422: "Controleer wat je hebt ingevuld",
                429: "Te veel pogingen"}
_GENERIC = {400: "Er ontbreekt iets in het formulier.", 401: "Log eerst in.",
            403: "Je hebt geen toegang tot deze pagina.",
            404: "Deze pagina bestaat niet (meer).",
            409: "De melding is intussen veranderd. Laad de pagina opnieuw.",
            413: "Het formulier is te groot.", 429: "Wacht even en probeer het opnieuw."}

#: the English details the code raises, with their Dutch text (regular expressions)
_ERRORS = [(re.compile(pattern), text) for pattern, text in (
    (r"No such alert\.", "Deze melding bestaat niet (meer)."),
    (r"no alert \S+.*", "Deze melding bestaat niet (meer)."),
    (r"This alert belongs to a team you are not a member of\.",
     "Deze melding is van een team waar je geen lid van bent."),
    (r"You are not a member of this team\.", "Je bent geen lid van dit team."),
    (r"Your role has no access to this page\.",
     "Met jouw rol kun je deze pagina niet openen."),
    (r"Choose an outcome\.", "Kies hoe je de melding afsluit."),
    (r"The form has expired or did not come from this site\..*",
     "Het formulier is verlopen. Laad de pagina opnieuw en probeer het nog een keer."),
    (r"The form is too large\.", "Het formulier is te groot."),
    (r"Expected a form\.", "Dit kan alleen met een formulier."),
    (r"alert \S+ is closed", "Deze melding is al afgesloten."),
    (r"alert \S+ is already closed as .*", "Deze melding is al afgesloten."),
    (r"alert \S+ is claimed by someone else", "Een collega behandelt deze melding al."),
    (r"a note needs text", "Schrijf eerst een notitie."),
    (r"Operators have no inbox; the operator dashboard is not installed\.",
     "Als beheerder heb je geen teaminbox, en het beheerscherm is hier niet geïnstalleerd."),
    (r"offset must be a number", "Kies een bericht uit de lijst."),
    (r"name an offset, or all", "Kies een bericht uit de lijst, of alle berichten."),
    (r"No such case\.", "Deze zaak bestaat niet (meer)."),
    (r"no case \S+.*", "Deze zaak bestaat niet (meer)."),
    (r"This case belongs to a team you are not a member of\.",
     "Deze zaak is van een team waar je geen lid van bent."),
    (r"case \S+ is not taken up yet.*", "Pak de zaak eerst op."),
    (r"case \S+ is closed", "Deze zaak is al afgesloten."),
    (r"case \S+ is already closed as .*", "Deze zaak is al afgesloten met een ander"
     " eindresultaat."),
    (r"alert \S+ is no signal of case \S+", "Dit signaal hoort niet bij deze zaak."),
    (r"Choose a kind of contact\.", "Kies de contactsoort."),
    (r"Say whether the person was reached\.", "Kies of de inwoner bereikt is."),
    (r"Choose a part of the day\.", "Kies een dagdeel uit de lijst."),
    (r"Choose a valid date\.", "Kies een datum van vandaag of eerder."),
    (r"Choose a signal status\.", "Kies een signaalstatus uit de lijst."),
    (r"Choose a result\.", "Kies een eindresultaat uit de lijst."),
    (r"invalid username .*", "Een gebruikersnaam heeft alleen kleine letters, cijfers en"
     " . _ - (hoogstens 64 tekens) en begint met een letter of cijfer."),
    (r"unknown role .*", "Kies een rol uit de lijst."),
    (r"a password needs at least 8 characters", "Een wachtwoord heeft minstens 8 tekens."),
    (r"operators are no team members",
     "Met de rol beheerder is een account geen lid van een team."),
    (r"user .* exists", "Deze gebruikersnaam bestaat al."),
    (r"no user .*", "Dit account bestaat niet (meer)."),
    (r"unknown team .*", "Kies teams uit de lijst."),
    (r"you cannot disable your own account", "Je eigen account kun je niet uitschakelen."),
    (r"Not Found", "Deze pagina bestaat niet (meer)."),
    (r"Method Not Allowed", "Dit kan zo niet."),
)]


def nl_date(value: date | str | None) -> str:
    """``1 december 2026``; an ISO text is read first; ``–`` for nothing."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return value
    else:
        day = value
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def overdue_text(working_days: int) -> str:
    """The "te laat" marker with the Dutch working days an alert is past its due date
    (``te laat: 1 werkdag``, ``te laat: 3 werkdagen``); empty when it is not late."""
    if working_days <= 0:
        return ""
    return f"te laat: {working_days} werkdag{'' if working_days == 1 else 'en'}"


def nl_datetime(value: datetime | str | None) -> str:
    """``1 december 2026, 14:05`` in Dutch time (Europe/Amsterdam); an ISO text is read
    first; ``–`` for nothing."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        when = value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    local = when.astimezone(LOCAL_TIME)
    return f"{nl_date(local.date())}, {local:%H:%M}{' UTC' if LOCAL_TIME is UTC else ''}"


def nl_amount(euros: Decimal | float | int | str) -> str:
    """``€ 1.234,56`` (a non-breaking space after the sign)."""
    amount = Decimal(str(euros)).quantize(Decimal("0.01"))
    text = f"{abs(amount):,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{'-' if amount < 0 else ''}€\u00a0{text}"


def label(value: Any, kind: str) -> str:
    """The Dutch label of ``value`` (an enum member or its value) of ``kind``."""
    raw = str(getattr(value, "value", value))
    return LABELS.get(kind, {}).get(raw, raw)


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def field_value(value: str, name: str) -> str:
    """A field of a signal as a team reads it: labels, dates, euros, ja/nee."""
    if name in LABELS:
        return label(value, name)
    if value in ("true", "false", "True", "False"):
        return "ja" if value.lower() == "true" else "nee"
    if name.endswith("_cents"):
        try:
            return nl_amount(Decimal(value) / 100)
        except InvalidOperation:
            return value
    if name.endswith(("_date", "_since", "_on")):
        return nl_date(value)
    return value


def error_title(status: int) -> str:
    return ERROR_TITLES.get(status, "Er ging iets mis" if status >= 400 else "Signalhub")


def error_text(detail: Any, status: int) -> str:
    """The Dutch text for an error's (English) detail; else a general one for ``status``."""
    text = str(detail or "")
    for pattern, dutch in _ERRORS:
        if pattern.fullmatch(text):
            return dutch
    return _GENERIC.get(status, "Er ging iets mis. Probeer het later nog een keer.")


def install(env: Environment) -> None:
    """Add the filters (``nl_date``, ``nl_datetime``, ``nl_amount``, ``label``,
    ``field_label``, ``field_value``, ``overdue_text``) and the globals (``LABELS``, ``MONTHS``,
    ``error_title``, ``error_text``) to ``env``."""
    env.filters.update(nl_date=nl_date, nl_datetime=nl_datetime, nl_amount=nl_amount,
                       label=label, field_label=field_label, field_value=field_value,
                       overdue_text=overdue_text)
    env.globals.update(LABELS=LABELS, MONTHS=MONTHS, error_title=error_title,
                       error_text=error_text)

"""The words of the web app that come from data, not from the templates, in the page's
language (Dutch, or English: :mod:`hub.web.i18n`).

The pages' text is in the templates, in Dutch, translated through the gettext catalogs
(see docs/web.md, "Languages"). This module holds what the templates cannot say by
themselves: the labels of the values the inbox shows (status, urgency, outcome, event
type, the fields of a signal and their coded values), dates, times and amounts in the
page's form (``1 december 2026`` / ``1 December 2026``, ``€ 1.234,56`` / ``€1,234.56``),
and the text of an error page for the English ``HTTPException`` detail the code raises
(details stay English: they are logged and answered as JSON on ``/api/``). The tables
hold the Dutch message ids (marked with :func:`~hub.web.i18n.N_`); every function
translates them as it answers. The DDAS model's terms (``hub.ddas.codes``) are never
translated: the pages show their values as they are.

:func:`install` adds the filters, globals and the gettext callables (Jinja2's i18n
extension) to a Jinja2 environment.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment

from hub.web.i18n import N_, current_locale, gettext, ngettext

__all__ = ["error_text", "error_title", "field_label", "field_value", "install", "labels",
           "nl_amount", "nl_date", "nl_datetime", "label", "overdue_text", "ui_texts"]

#: the months in Dutch (the message ids; :func:`nl_date` translates them)
MONTHS = (N_("januari"), N_("februari"), N_("maart"), N_("april"), N_("mei"), N_("juni"),
          N_("juli"), N_("augustus"), N_("september"), N_("oktober"), N_("november"),
          N_("december"))
try:
    LOCAL_TIME: Any = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # no time zone data at all: UTC, and the times say so
    LOCAL_TIME = UTC


#: Dutch labels per kind of value; a value without a label is shown as it is
LABELS: dict[str, dict[str, str]] = {
    "status": {"new": N_("Nieuw"), "claimed": N_("In behandeling"), "closed": N_("Afgesloten")},
    "urgency": {"URGENT": N_("Spoed"), "NORMAL": N_("Normaal")},
    "outcome": {"PICKED_UP": N_("Opgepakt"), "NOT_PICKED_UP": N_("Niet opgepakt"),
                "CLOSED": N_("Afgesloten om een andere reden")},
    "event_type": {"debt-signal": N_("Betalingsachterstand"),
                   "eviction-risk": N_("Dreigende huisuitzetting"),
                   "youth-care-exit": N_("Einde jeugdhulp bij 18 jaar")},
    "role": {"member": N_("teamlid"), "operator": N_("beheerder"),
             "admin": N_("beheerder en teamlid")},
    "creditor_type": {
        "ENERGY": N_("Energie"), "RENT": N_("Huur"), "MORTGAGE": N_("Hypotheek"),
        "HEALTH_INSURANCE_CAK": N_("Zorgverzekering (via het CAK)"), "CARE": N_("Zorg"),
        "WATER": N_("Drinkwater"), "DUO": N_("DUO"), "TAX_AUTHORITY": N_("Belastingdienst"),
        "CAK_OWN_CONTRIBUTION": N_("Eigen bijdrage CAK"),
        "BENEFITS_AGENCY": N_("Uitkeringsinstantie"),
        "OTHER": N_("Anders")},
    "signal_kind": {"ARREARS": N_("Achterstand"), "END_OF_SUPPLY": N_("Einde levering"),
                    "ARREARS_RESOLVED": N_("Achterstand opgelost")},
    "stage": {"RENT_ARREARS": N_("Huurachterstand"), "SUMMONS": N_("Dagvaarding"),
              "JUDGMENT": N_("Vonnis"), "EVICTION_SCHEDULED": N_("Ontruiming gepland"),
              "EXECUTED": N_("Ontruimd"), "RESOLVED": N_("Opgelost")},
    "care_form": {"RESIDENTIAL": N_("Verblijf in een instelling"), "FOSTER": N_("Pleegzorg"),
                  "FAMILY_HOME": N_("Gezinshuis"), "SECURE": N_("Gesloten jeugdhulp")},
}

#: the fields a team may see (hub/policy.py), by their Dutch name
FIELD_LABELS = {
    "creditor_type": N_("Schuldeiser"), "signal_kind": N_("Soort signaal"),
    "arrears_amount_cents": N_("Achterstand"), "arrears_band": N_("Achterstand (ongeveer)"),
    "arrears_since": N_("Achterstand sinds"), "signal_date": N_("Datum signaal"),
    "crisis": N_("Crisis"), "objection_recorded": N_("Bezwaar gemaakt"),
    "supply_end_date": N_("Einde levering"), "creditor_reference": N_("Kenmerk schuldeiser"),
    "stage": N_("Fase"), "stage_date": N_("Datum van de fase"),
    "eviction_date": N_("Datum ontruiming"),
    "case_reference": N_("Kenmerk zaak"), "postcode": N_("Postcode"),
    "house_number": N_("Huisnummer"),
    "house_number_addition": N_("Toevoeging"), "turns_18_on": N_("Wordt 18 op"),
    "care_form": N_("Soort jeugdhulp"), "planned_end_date": N_("Geplande einddatum"),
    "support_needs": N_("Wat de jongere nodig heeft"),
    "provider_contact_role": N_("Contactpersoon bij de aanbieder"),
}

ERROR_TITLES = {400: N_("Controleer wat je hebt ingevuld"), 401: N_("Log eerst in"),
                403: N_("Geen toegang"), 404: N_("Niet gevonden"), 405: N_("Dit kan zo niet"),
                409: N_("Dit kan nu niet"), 413: N_("Het formulier is te groot"),
                415: N_("Dit kan zo niet"), 422: N_("Controleer wat je hebt ingevuld"),
                429: N_("Te veel pogingen")}
_GENERIC = {400: N_("Er ontbreekt iets in het formulier."), 401: N_("Log eerst in."),
            403: N_("Je hebt geen toegang tot deze pagina."),
            404: N_("Deze pagina bestaat niet (meer)."),
            409: N_("De melding is intussen veranderd. Laad de pagina opnieuw."),
            413: N_("Het formulier is te groot."), 429: N_("Wacht even en probeer het opnieuw.")}
_FALLBACK = N_("Er ging iets mis. Probeer het later nog een keer.")

#: the English details the code raises, with their Dutch text (regular expressions)
_ERRORS = [(re.compile(pattern), text) for pattern, text in (
    (r"No such alert\.", N_("Deze melding bestaat niet (meer).")),
    (r"no alert \S+.*", N_("Deze melding bestaat niet (meer).")),
    (r"This alert belongs to a team you are not a member of\.",
     N_("Deze melding is van een team waar je geen lid van bent.")),
    (r"You are not a member of this team\.", N_("Je bent geen lid van dit team.")),
    (r"Your role has no access to this page\.",
     N_("Met jouw rol kun je deze pagina niet openen.")),
    (r"Choose an outcome\.", N_("Kies hoe je de melding afsluit.")),
    (r"The form has expired or did not come from this site\..*",
     N_("Het formulier is verlopen. Laad de pagina opnieuw en probeer het nog een keer.")),
    (r"The form is too large\.", N_("Het formulier is te groot.")),
    (r"Expected a form\.", N_("Dit kan alleen met een formulier.")),
    (r"alert \S+ is closed", N_("Deze melding is al afgesloten.")),
    (r"alert \S+ is already closed as .*", N_("Deze melding is al afgesloten.")),
    (r"alert \S+ is claimed by someone else", N_("Een collega behandelt deze melding al.")),
    (r"a note needs text", N_("Schrijf eerst een notitie.")),
    (r"Operators have no inbox; the operator dashboard is not installed\.",
     N_("Als beheerder heb je geen teaminbox, en het beheerscherm is hier niet geïnstalleerd.")),
    (r"offset must be a number", N_("Kies een bericht uit de lijst.")),
    (r"name an offset, or all", N_("Kies een bericht uit de lijst, of alle berichten.")),
    (r"No such case\.", N_("Deze zaak bestaat niet (meer).")),
    (r"no case \S+.*", N_("Deze zaak bestaat niet (meer).")),
    (r"This case belongs to a team you are not a member of\.",
     N_("Deze zaak is van een team waar je geen lid van bent.")),
    (r"case \S+ is not taken up yet.*", N_("Pak de zaak eerst op.")),
    (r"case \S+ is closed", N_("Deze zaak is al afgesloten.")),
    (r"case \S+ is already closed as .*", N_("Deze zaak is al afgesloten met een ander"
     " eindresultaat.")),
    (r"alert \S+ is no signal of case \S+", N_("Dit signaal hoort niet bij deze zaak.")),
    (r"invalid username .*", N_("Een gebruikersnaam heeft alleen kleine letters, cijfers en"
     " . _ - (hoogstens 64 tekens) en begint met een letter of cijfer.")),
    (r"unknown role .*", N_("Kies een rol uit de lijst.")),
    (r"a password needs at least 8 characters", N_("Een wachtwoord heeft minstens 8 tekens.")),
    (r"operators are no team members",
     N_("Met de rol beheerder is een account geen lid van een team.")),
    (r"user .* exists", N_("Deze gebruikersnaam bestaat al.")),
    (r"no user .*", N_("Dit account bestaat niet (meer).")),
    (r"unknown team .*", N_("Kies teams uit de lijst.")),
    (r"you cannot disable your own account", N_("Je eigen account kun je niet uitschakelen.")),
    (r"Not Found", N_("Deze pagina bestaat niet (meer).")),
    (r"Method Not Allowed", N_("Dit kan zo niet.")),
)]

def nl_date(value: date | str | None) -> str:
    """``1 december 2026`` (English: ``1 December 2026``); an ISO text is read first;
    ``–`` for nothing."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return value
    else:
        day = value
    return f"{day.day} {gettext(MONTHS[day.month - 1])} {day.year}"


def overdue_text(working_days: int) -> str:
    """The "te laat" marker with the Dutch working days an alert is past its due date
    (``te laat: 1 werkdag``, ``te laat: 3 werkdagen``); empty when it is not late."""
    if working_days <= 0:
        return ""
    return ngettext("te laat: %(num)d werkdag", "te laat: %(num)d werkdagen",
                    working_days) % {"num": working_days}


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
    """``€ 1.234,56`` (a non-breaking space after the sign); English ``€1,234.56``."""
    amount = Decimal(str(euros)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    if current_locale() == "en":
        return f"{sign}€{abs(amount):,.2f}"
    text = f"{abs(amount):,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{sign}€\u00a0{text}"


def label(value: Any, kind: str) -> str:
    """The label of ``value`` (an enum member or its value) of ``kind``, in the page's
    language; a value without a label as it is."""
    raw = str(getattr(value, "value", value))
    text = LABELS.get(kind, {}).get(raw)
    return gettext(text) if text is not None else raw


def labels(kind: str) -> dict[str, str]:
    """Every label of ``kind`` in the page's language (for the scripts)."""
    return {raw: gettext(text) for raw, text in LABELS.get(kind, {}).items()}


def field_label(name: str) -> str:
    text = FIELD_LABELS.get(name)
    return gettext(text) if text is not None else name.replace("_", " ").capitalize()


def field_value(value: str, name: str) -> str:
    """A field of a signal as a team reads it: labels, dates, euros, ja/nee."""
    if name in LABELS:
        return label(value, name)
    if value in ("true", "false", "True", "False"):
        return gettext("ja") if value.lower() == "true" else gettext("nee")
    if name.endswith("_cents"):
        try:
            return nl_amount(Decimal(value) / 100)
        except InvalidOperation:
            return value
    if name.endswith(("_date", "_since", "_on")):
        return nl_date(value)
    return value


def error_title(status: int) -> str:
    text = ERROR_TITLES.get(status)
    if text is not None:
        return gettext(text)
    return gettext("Er ging iets mis") if status >= 400 else "Signalhub"


def error_text(detail: Any, status: int) -> str:
    """The text for an error's (English) detail in the page's language; else a general
    one for ``status``."""
    text = str(detail or "")
    for pattern, message in _ERRORS:
        if pattern.fullmatch(text):
            return gettext(message)
    return gettext(_GENERIC.get(status, _FALLBACK))


def ui_texts() -> dict[str, Any]:
    """What the scripts (``static/*.js``) write themselves, in the page's language: the
    months (``static/dutch.js``) and the live-update messages. The scripts fill in the
    ``%(name)s`` / ``%(num)d`` placeholders themselves."""
    overdue = ("te laat: %(num)d werkdag", "te laat: %(num)d werkdagen")
    return {
        "months": [gettext(m) for m in MONTHS],
        "live_on": gettext("Automatisch bijwerken: aan"),
        "live_retry": gettext("Automatisch bijwerken: opnieuw verbinden…"),
        "live_signed_out": gettext("Automatisch bijwerken: je bent uitgelogd"),
        "live_unsupported_inbox": gettext("Automatisch bijwerken lukt niet in deze browser."
                                          " Laad de pagina opnieuw om nieuwe meldingen te"
                                          " zien."),
        "live_unsupported_case": gettext("Automatisch bijwerken lukt niet in deze browser."
                                         " Laad de pagina opnieuw om wijzigingen te zien."),
        "overdue_one": ngettext(*overdue, 1),
        "overdue_many": ngettext(*overdue, 2),
        "alert_changed": gettext("Melding bijgewerkt: %(text)s."),
        "claimed_by": gettext("bij %(name)s"),
        "alert_new": gettext("Nieuwe melding: %(text)s."),
        "case_changed": gettext("Zaak bijgewerkt: %(text)s."),
        "case_state": gettext("stand van de zaak: %(text)s"),
        "signal_status": gettext("signaalstatus: %(text)s"),
        "earlier_signal": gettext("eerder signaal: %(text)s"),
        "reload_for_steps": gettext("laad de pagina opnieuw voor de nieuwste stappen"),
        "per_second": gettext("%(n)s per s"),
        "lag": gettext("achterstand %(n)s"),
        "messages": gettext("%(n)s berichten"),
        "flow_updated": gettext("Bijgewerkt: %(text)s."),
        "flow_failed": gettext("Bijwerken lukte niet (%(text)s). We proberen het opnieuw."),
    }


def install(env: Environment) -> None:
    """Add Jinja2's i18n extension with :func:`~hub.web.i18n.gettext` and
    :func:`~hub.web.i18n.ngettext` (new style: ``_("… %(name)s", name=…)``, trimmed
    ``{% trans %}`` blocks), the filters (``nl_date``, ``nl_datetime``, ``nl_amount``,
    ``label``, ``field_label``, ``field_value``, ``overdue_text``) and the globals
    (``labels``, ``ui_texts``, ``current_locale``, ``error_title``, ``error_text``, and
    ``LABELS`` and ``MONTHS``: the message ids, untranslated) to ``env``."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(nl_date=nl_date, nl_datetime=nl_datetime, nl_amount=nl_amount,
                       label=label, field_label=field_label, field_value=field_value,
                       overdue_text=overdue_text)
    env.globals.update(labels=labels, ui_texts=ui_texts, current_locale=current_locale,
                       error_title=error_title, error_text=error_text,
                       LABELS=LABELS, MONTHS=MONTHS)  # the Dutch ids: use labels() to show

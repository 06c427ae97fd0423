"""The hub's one working-day calendar: Monday to Friday, except Dutch public holidays.

Used for the due date of an urgent alert (:func:`add_working_days`, from the policy's
``due_working_days``) and for how late an open alert is (:func:`working_days_overdue`:
the inbox list, the web's "te laat" marker, ``signalhub inbox list``).

The holidays are the "algemeen erkende feestdagen" of the Algemene termijnenwet
(article 3), the Dutch rule for counting statutory time limits: Nieuwjaarsdag, Goede
Vrijdag, Eerste en Tweede Paasdag, Koningsdag (27 April, or 26 April when the 27th is a
Sunday), Bevrijdingsdag (5 May, every year), Hemelvaartsdag, Eerste en Tweede
Pinksterdag, Eerste en Tweede Kerstdag. They come from the ``holidays`` package
(``holidays.Netherlands``: its public holidays, which have 5 May only every five years,
and its optional category for 5 May in the other years). docs/policy.md explains the
choice. Bridge days the government equates with a holiday
by decree (e.g. the Friday after Hemelvaartsdag) and local days (carnival, a municipality's
own closing days) are not in the calendar.

"Today" for a Dutch team is the date in Europe/Amsterdam (:func:`dutch_date`), not in UTC,
and a Dutch day begins at 00:00 there (:func:`dutch_day_start`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "DUTCH_TIME",
    "add_working_days",
    "dutch_date",
    "dutch_day_start",
    "holiday_name",
    "holidays_in",
    "is_working_day",
    "working_days_overdue",
]

try:
    DUTCH_TIME: Any = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # pragma: no cover - tzdata is a dependency
    DUTCH_TIME = UTC

#: the package's public holidays and its "optional" Bevrijdingsdag of the other years
_CATEGORIES = (holidays.PUBLIC, holidays.OPTIONAL)

#: a due date is never further than this many working days (the policy's ``ge=1`` has no
#: upper bound; this keeps a typo from looping for ever)
_MAX_DAYS = 10_000


@lru_cache(maxsize=256)
def holidays_in(year: int) -> dict[date, str]:
    """The Dutch public holidays of ``year``, by date, with their Dutch names."""
    found = holidays.country_holidays("NL", years=year, categories=_CATEGORIES, language="nl")
    return {day: str(name) for day, name in found.items()}


def holiday_name(day: date) -> str | None:
    """The Dutch name of the public holiday on ``day``, or None."""
    return holidays_in(day.year).get(day)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < 5 and day not in holidays_in(day.year)


def add_working_days(start: date, days: int) -> date:
    """``start`` plus ``days`` working days: the ``days``-th working day after ``start``
    (``start`` itself never counts, whatever it is; 0 days gives ``start``)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    left = min(days, _MAX_DAYS)
    while left > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            left -= 1
    return current


def working_days_overdue(due: date | None, today: date) -> int:
    """How many working days ``today`` is past ``due``: the working days after ``due``
    up to and including ``today``. 0 when there is no due date, when it is today or
    later, or when only weekend days and holidays have passed since (an alert due on a
    Friday is 1 working day late on Monday, not on Saturday)."""
    if due is None or today <= due:
        return 0
    count = 0
    current = due
    while current < today:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count


def dutch_date(when: datetime | float) -> date:
    """The date in the Netherlands at ``when`` (an aware datetime, or a Unix time)."""
    if isinstance(when, int | float):
        return datetime.fromtimestamp(when, DUTCH_TIME).date()
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(DUTCH_TIME).date()


def dutch_day_start(day: date) -> datetime:
    """The instant (in UTC) the Dutch ``day`` begins: 00:00 in Europe/Amsterdam, so
    23:00 or 22:00 UTC the day before. A period of Dutch days from ``start`` to ``end``
    (both included) is ``dutch_day_start(start) <= t < dutch_day_start(end + 1 day)``."""
    return datetime.combine(day, time(0), DUTCH_TIME).astimezone(UTC)

"""The value types of the event models: what a field may hold, in one place.

Each type checks a value on the way in and states the same rule in the JSON schema
(so the OpenAPI document of the ingest API says exactly what is refused):

- free text (:data:`Text` and its bounded forms) holds no control characters and none
  of the invisible characters that can hide or reorder text (zero-width characters,
  bidirectional overrides and isolates, the byte-order mark, soft hyphen, line and
  paragraph separators), and no lone surrogates;
- postcodes and municipality codes are normalised only as documented: spaces removed,
  ASCII letters upper-cased (``"3511 ab"`` → ``"3511AB"``); spaces may stand around the
  value and between digits and letters (``" 3511 ab "``, ``"gm 0344"``), at most 12
  characters in all; anything else, such as a ligature, fails the pattern;
- dates and timestamps lie in the years 1900 to 2199; timestamps are timezone-aware and
  kept in UTC at millisecond precision (what ``timestamp-millis`` carries). What a source
  sends (validated with the :data:`FROM_SOURCE` context, see
  :func:`hub.intake.validate_strict`) is checked as text, exactly as the schema's pattern
  states it: ``YYYY-MM-DD``, and RFC 3339 ``YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)``
  with the year written 1900-2199 (in the sender's time zone: in UTC such a time may lie
  up to a day outside those years, and the models keep and read it back as such);
- event ids are UUIDs in their hyphenated form, kept in lower case;
- a ``subject_ref`` is a pseudonym exactly: ``ps<key version>-<40 hex digits>``;
- the configuration's areas (PC4 code, PC4 range, PC6 code, PC6 code with house
  numbers) have one form, :func:`normalise_area`, read by :mod:`hub.config` and
  :mod:`hub.directory`; a postcode and a municipality code as the hub keeps them match
  :data:`POSTCODE` and :data:`MUNICIPALITY_CODE`.

Errors name the rule, never the value: :func:`field_errors` turns pydantic's errors into
such field-named messages for the API, the CLI, the importer, the configuration and dead
letters alike (:func:`problem_text` joins them into one line).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)

from hub.errors import FieldError

__all__ = [
    "AREA",
    "AREA_PATTERN",
    "CODE_MAX_LENGTH",
    "DATETIME_PATTERN",
    "DATE_PATTERN",
    "FROM_SOURCE",
    "INT_MAX",
    "LONG_MAX",
    "MAX_YEAR",
    "MIN_YEAR",
    "MUNICIPALITY_CODE",
    "MUNICIPALITY_CODE_PATTERN",
    "POSTCODE",
    "POSTCODE_PATTERN",
    "SUBJECT_REF_PATTERN",
    "TEXT_PATTERN",
    "Cents",
    "Code",
    "Count",
    "EventId",
    "HouseNumber",
    "HouseNumberAddition",
    "LongText",
    "MunicipalityCode",
    "Postcode",
    "Reference",
    "SignalDate",
    "SpanId",
    "SubjectRef",
    "Text",
    "TraceId",
    "UtcDatetime",
    "compact_code",
    "field_errors",
    "normalise_area",
    "problem_text",
    "utc_millis",
]

INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
MIN_YEAR, MAX_YEAR = 1900, 2199

#: characters no text field may hold (as regular-expression ranges, valid in Python and
#: in ECMA-262, the dialect of JSON Schema patterns)
_UNSAFE = (r"\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
           r"\u2060-\u206f\ufeff\ufff9-\ufffb")
#: lone surrogates: not Unicode characters at all, so no pattern can name them portably
#: (validators whose strings are Unicode, such as Rust's, refuse such a pattern); a JSON
#: text can only hold them as ``\ud800``-style escapes, and the check refuses them
_SURROGATES = r"\ud800-\udfff"
#: the pattern of every free-text field
TEXT_PATTERN = f"^[^{_UNSAFE}]+$"
_UNSAFE_CHAR = re.compile(f"[{_UNSAFE}{_SURROGATES}]")
#: the exact form of a pseudonym (see hub.pseudonym)
SUBJECT_REF_PATTERN = r"^ps[1-9][0-9]{0,3}-[0-9a-f]{40}$"
_SUBJECT_REF = re.compile(SUBJECT_REF_PATTERN)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: a PC4 code: four digits, the first not 0
_PC4 = "[1-9][0-9]{3}"
#: a postcode and a municipality code as the hub keeps them (see :func:`compact_code`)
POSTCODE_PATTERN = f"^{_PC4}[A-Z]{{2}}$"
MUNICIPALITY_CODE_PATTERN = "^GM[0-9]{4}$"
POSTCODE, MUNICIPALITY_CODE = re.compile(POSTCODE_PATTERN), re.compile(MUNICIPALITY_CODE_PATTERN)
#: a postcode and a municipality code as a source may write them (the schema's patterns)
_POSTCODE_FORM = f"^ *{_PC4} *[A-Za-z]{{2}} *$"
_GM_CODE_FORM = "^ *[Gg][Mm] *[0-9]{4} *$"
#: an area of the configuration as :func:`normalise_area` leaves it: a PC4 code
#: (``7511``), a PC4 range (``7511-7523``), a PC6 code (``7541AB``) or a PC6 code with
#: house numbers (``7541AB 10-40``)
AREA_PATTERN = (f"^(?P<lo>{_PC4})(?:-(?P<hi>{_PC4})|(?P<letters>[A-Z]{{2}})"
                "(?: (?P<hn_lo>[0-9]+)(?:-(?P<hn_hi>[0-9]+))?)?)?$")
AREA = re.compile(AREA_PATTERN)
#: a calendar date as a source writes it: year 1900-2199 (the day is checked as a date)
_DATE_TEXT = r"(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
DATE_PATTERN = f"^{_DATE_TEXT}$"
#: an RFC 3339 date-time with a time zone as a source writes it (no leap second: neither
#: Python nor Avro's timestamp-millis can hold one; at most nine fraction digits)
DATETIME_PATTERN = (f"^{_DATE_TEXT}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                    r"(\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
_DATE_FORM, _DATETIME_FORM = re.compile(DATE_PATTERN), re.compile(DATETIME_PATTERN)
#: validation context key: the values are JSON text as a source sent it (see module doc)
FROM_SOURCE = "from_source"
#: the instants a timestamp written with a year 1900-2199 in any time zone can be
_FIRST_INSTANT = datetime(MIN_YEAR, 1, 1, tzinfo=UTC) - timedelta(days=1)
_END_INSTANT = datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC) + timedelta(days=1)


def _safe_text(value: str) -> str:
    if _UNSAFE_CHAR.search(value):
        raise ValueError("must not contain control characters or invisible formatting"
                         " characters (zero-width, bidirectional overrides, ...)")
    return value


def _text_schema(max_length: int) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "minLength": 1, "maxLength": max_length,
                           "pattern": TEXT_PATTERN})


_SAFE = AfterValidator(_safe_text)

#: a short free text: names, roles, ids (at most 200 characters)
Text = Annotated[str, Field(min_length=1, max_length=200), _SAFE, _text_schema(200)]
#: a reference of the source's own (case or creditor reference; at most 64 characters)
Reference = Annotated[str, Field(min_length=1, max_length=64), _SAFE, _text_schema(64)]
#: a code such as a purpose or a team id (at most 100 characters)
Code = Annotated[str, Field(min_length=1, max_length=100), _SAFE, _text_schema(100)]
#: a house-number addition: letter and/or addition (BAG: at most 1 + 4; allow 10)
HouseNumberAddition = Annotated[str, Field(min_length=1, max_length=10), _SAFE,
                                _text_schema(10)]
#: a message for operators (reasons, error texts; at most 2,000 characters)
LongText = Annotated[str, Field(min_length=1, max_length=2000), _SAFE, _text_schema(2000)]


def compact_code(value: str) -> str:
    """A postcode or municipality code as the models keep it: spaces removed, ASCII
    letters upper-cased (``" gm 0344"`` → ``"GM0344"``); anything else left as it is."""
    compact = value.replace(" ", "")
    return compact.upper() if compact.isascii() else compact


def normalise_area(text: str) -> str:
    """An area entry of the configuration in its one form (see :data:`AREA_PATTERN`):
    upper case, single spaces, none around ``-`` or inside a PC6 code (``"7541 ab 10 -
    40"`` → ``"7541AB 10-40"``); ValueError when it is none of the four forms."""
    area = re.sub(r"\s*-\s*", "-", " ".join(str(text).upper().split()))
    area = re.sub(f"^({_PC4}) ([A-Z]{{2}})\\b", r"\1\2", area)
    if not AREA.match(area):
        raise ValueError(
            f"area {text!r} is not a PC4 code (7511), a PC4 range (7511-7523), a PC6 code"
            " (7541AB) or a PC6 code with house numbers (7541AB 10-40)"
        )
    return area


#: the longest postcode or municipality code a source may send (spaces included)
CODE_MAX_LENGTH = 12


def _normalised(form: str, rule: str) -> Any:
    """At most CODE_MAX_LENGTH characters matching ``form``; kept with spaces removed and
    ASCII upper-cased."""
    pattern = re.compile(form)

    def check(value: object) -> object:
        if not isinstance(value, str):
            return value  # the str type refuses it
        if len(value) > CODE_MAX_LENGTH:
            raise ValueError(f"must be at most {CODE_MAX_LENGTH} characters, spaces included")
        if not pattern.fullmatch(value):
            raise ValueError(rule)
        return compact_code(value)

    return BeforeValidator(check)


#: a Dutch postcode, kept as ``1234AB``; sources may send ``1234 ab``
Postcode = Annotated[
    str,
    _normalised(_POSTCODE_FORM, "must be a Dutch postcode: four digits, not starting"
                " with 0, and two letters (e.g. 1234 AB)"),
    WithJsonSchema({"type": "string", "maxLength": CODE_MAX_LENGTH,
                    "pattern": _POSTCODE_FORM,
                    "description": "Dutch postcode, e.g. 3511AB (spaces and lower case"
                    " are normalised)."}),
]
#: a CBS municipality code, kept as ``GM0344``; sources may send ``gm0344``
MunicipalityCode = Annotated[
    str,
    _normalised(_GM_CODE_FORM, "must be a municipality code: GM and four digits (e.g."
                " GM0344)"),
    WithJsonSchema({"type": "string", "maxLength": CODE_MAX_LENGTH,
                    "pattern": _GM_CODE_FORM,
                    "description": "CBS municipality code, e.g. GM0344."}),
]


def _uuid_text(value: object) -> object:
    if isinstance(value, str):
        if not _UUID.fullmatch(value):
            raise ValueError("must be a UUID (8-4-4-4-12 hexadecimal digits)")
        return value.lower()
    return str(value) if type(value).__name__ == "UUID" else value


#: a UUID, kept in lower case
EventId = Annotated[str, BeforeValidator(_uuid_text),
                    WithJsonSchema({"type": "string", "format": "uuid"})]


def _from_source(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get(FROM_SOURCE))


def _parsed(kind: TypeAdapter[Any], form: re.Pattern[str], rule: str) -> Any:
    """A validator that parses text (its form checked first, for a source's text)."""

    def check(value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        if _from_source(info) and not form.fullmatch(value):
            raise ValueError(rule)
        try:  # parsed here: a before-validator's result is checked as a Python value
            return kind.validate_python(value)
        except ValidationError:
            raise ValueError(rule) from None

    return BeforeValidator(check)


_DATETIME_PARSED = _parsed(TypeAdapter(datetime), _DATETIME_FORM, "must be an RFC 3339"
                          f" date-time with a time zone, years {MIN_YEAR} to {MAX_YEAR}"
                          " (e.g. 2025-03-01T09:30:00+01:00)")
_DATE_PARSED = _parsed(TypeAdapter(date), _DATE_FORM, "must be a date YYYY-MM-DD,"
                       f" years {MIN_YEAR} to {MAX_YEAR}")


def _utc_millis(value: datetime) -> datetime:
    if (value.tzinfo is UTC and type(value) is datetime and not value.microsecond % 1000
            and _FIRST_INSTANT <= value < _END_INSTANT):
        return value  # already as kept (what a decoded timestamp-millis always is)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be timezone-aware (UTC)")
    # the year first: converting a time at the edge of the calendar would overflow
    if not MIN_YEAR - 1 <= value.year <= MAX_YEAR + 1 or not (
            _FIRST_INSTANT <= value < _END_INSTANT):
        raise ValueError(f"must lie in the years {MIN_YEAR} to {MAX_YEAR}")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def utc_millis(value: datetime) -> datetime:
    """``value`` as the models keep it (UTC, millisecond precision); for outputs built
    with ``model_construct`` from known-valid values."""
    return _utc_millis(value)


def _date_in_range(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must lie in the years {MIN_YEAR} to {MAX_YEAR}")
    return value


#: a timestamp with a time zone, years 1900-2199
UtcDatetime = Annotated[
    datetime, _DATETIME_PARSED, AfterValidator(_utc_millis),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN,
                    "description": "RFC 3339 date-time with a time zone, years 1900-2199."}),
]
#: a calendar date, years 1900-2199
SignalDate = Annotated[
    date, _DATE_PARSED, AfterValidator(_date_in_range),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]


def _pseudonym(value: str) -> str:
    if not _SUBJECT_REF.fullmatch(value):
        raise ValueError("must be a pseudonym made by the hub: ps<version>-<40 hex digits>"
                         " (send a BSN as bsn, never as subject_ref)")
    return value


#: a person's pseudonym, exactly as the hub makes it
SubjectRef = Annotated[
    str, AfterValidator(_pseudonym),
    WithJsonSchema({"type": "string", "pattern": SUBJECT_REF_PATTERN,
                    "description": "The person's pseudonym, as the hub makes it."}),
]
HouseNumber = Annotated[int, Field(ge=1, le=99999)]
Cents = Annotated[int, Field(ge=0, le=LONG_MAX)]
Count = Annotated[int, Field(ge=0, le=INT_MAX)]
TraceId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
SpanId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]


# --- pydantic's errors as text -------------------------------------------------------------

#: the tag pydantic puts before the message of a validator's ValueError
_VALUE_ERROR = "Value error, "


def _where(loc: tuple[int | str, ...], style: Literal["dotted", "path"]) -> str:
    if style == "dotted":
        return ".".join(str(part) for part in loc)
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def field_errors(exc: ValidationError, *, whole: str = "(record)", skip: Collection[str] = (),
                 style: Literal["dotted", "path"] = "dotted") -> list[FieldError]:
    """pydantic's errors as :class:`~hub.errors.FieldError` list: where (``support_needs.1``)
    and the rule broken, never the input (pydantic's own message echoes it).

    ``whole`` names an error of the input as a whole; errors under a top-level field in
    ``skip`` are left out. ``style="path"`` is the configuration file's: list positions
    in brackets (``teams[2].areas``) and the message as pydantic words it (``Value
    error, ...``, as docs/config.md shows it)."""
    return [
        FieldError(_where(e["loc"], style) or whole,
                   e["msg"] if style == "path" else e["msg"].removeprefix(_VALUE_ERROR))
        for e in exc.errors(include_input=False, include_url=False)
        if not e["loc"] or e["loc"][0] not in skip
    ]


def problem_text(errors: Iterable[FieldError]) -> str:
    """``field: rule; field: rule``: field errors as one line of text."""
    return "; ".join(f"{e.field}: {e.message}" for e in errors)

"""Column mappings and cell conversion of the batch-file sources (``csv_batch``,
``jsonl_batch``).

A :class:`ColumnMapping` says which column of a file holds which field of the signal
(``bsn`` included), how enum values are spelled in the file, and whether amounts are
euros. It is read from YAML (:func:`load_mapping`, format in ``docs/import.md``) or is
:func:`default_mapping`: every column named as its schema field. Cells are converted by
the field's type in the signal model into the JSON types the model takes: dates
``dd-mm-yyyy`` or ``yyyy-mm-dd`` to ISO ``yyyy-mm-dd`` text, date-times to ISO 8601
text (UTC when without an offset), booleans ``ja``/``nee`` (or true/false, 1/0) to
``bool``, whole numbers and euro amounts (``1.234,56``) to ``int`` (cents). A
conversion error names the rule, never the value.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from hub.errors import BatchFileError
from hub.events import EVENT_TYPES

__all__ = [
    "BatchFileError",
    "ColumnMapping",
    "Converter",
    "FieldMapping",
    "RowProblem",
    "column_label",
    "default_mapping",
    "load_mapping",
    "plain_reason",
]

#: a cell converter: raw value in, field value out; ValueError(rule) when unreadable
Converter = Callable[[Any], Any]
#: fields the hub sets itself, never read from a file
_SYSTEM = frozenset({"event_id", "source", "received_at"})
_OPTIONS = frozenset({"column", "values", "unit", "decimal", "separator"})
_TRUE = frozenset({"ja", "j", "true", "waar", "1", "yes", "y"})
_FALSE = frozenset({"nee", "n", "false", "onwaar", "0", "no"})
#: pydantic messages (field, first 30 characters) that read better in other words
_REASONS = {
    ("", "Field required"): "missing or empty",
}
_WHOLE = re.compile(r"^[+-]?\d{1,18}$", re.ASCII)
_DMY = re.compile(r"^(?P<d>\d{1,2})-(?P<m>\d{1,2})-(?P<y>\d{4})$", re.ASCII)
_YMD = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$", re.ASCII)
_LABEL_MAX = 60
_DIGITS = re.compile(r"\d(?:[ .\-]?\d){7}")  # eight digits, perhaps with . or - between
_AMOUNT = {
    ",": re.compile(r"^([+-]?)(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?$", re.ASCII),
    ".": re.compile(r"^([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$", re.ASCII),
}


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that cannot be read at all (e.g. too few cells): column and rule only."""

    column: str
    reason: str


def column_label(name: str) -> str:
    """``name`` as the summary and the rejects file show it: control, format and other
    unprintable characters as ``?``, at most 60 characters; a name with eight digits in a
    row, perhaps with dots (it might be a BSN: a header line that is really a row), is
    not shown."""
    if _DIGITS.search(name):
        return "(a name with eight or more digits, not shown)"
    if not name.strip():
        return "(a column without a name)"
    shown = "".join(c if c.isprintable() else "?" for c in name.strip())
    return shown if len(shown) <= _LABEL_MAX else shown[:_LABEL_MAX - 1] + "…"


def plain_reason(name: str, message: str) -> str:
    """A validation message for a person reading the rejects file (still no value)."""
    return _REASONS.get((name, message[:30]), _REASONS.get(("", message), message))


# --- cell conversion ---------------------------------------------------------------------


def _text(value: Any) -> Any:
    return (value.strip() or None) if isinstance(value, str) else value


def _int(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    if _WHOLE.match(text) is None:
        raise ValueError("not a whole number")
    return int(text)


def _bool(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip().casefold()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    if not text:
        return None
    raise ValueError("not ja or nee (true/false and 1/0 are accepted too)")


def _date(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    found = _DMY.match(text) or _YMD.match(text)
    if found is not None:
        day, month, year = found.group("d", "m", "y")
        try:
            return date(int(year), int(month), int(day)).isoformat()
        except ValueError:
            pass
    raise ValueError("not a date (dd-mm-yyyy or yyyy-mm-dd)")


def _datetime(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not an ISO 8601 date-time (e.g. 2025-03-01T09:30:00+01:00)") from None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).isoformat()


def _municipality(value: Any) -> Any:
    text = _text(value)
    if isinstance(text, str) and text.isdigit() and len(text) <= 4:
        return f"GM{int(text):04d}"  # a bare CBS number
    return text


def _euros(decimal: str) -> Converter:
    pattern = _AMOUNT[decimal]
    example = "1.234,56" if decimal == "," else "1,234.56"

    def convert(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"not an amount in euros (e.g. {example})")
        if isinstance(value, int | float):
            value = repr(value).replace(".", decimal) if decimal == "," else repr(value)
        text = value.replace("€", "").replace(" ", "").replace("\xa0", "")
        if not text:
            return None
        found = pattern.match(text)
        if found is None:
            raise ValueError(f"not an amount in euros (e.g. {example})")
        sign, whole, cents = found.groups()
        amount = int(re.sub(r"\D", "", whole)) * 100 + int((cents or "0").ljust(2, "0"))
        return -amount if sign == "-" else amount

    return convert


def _choice(name: str, symbols: Sequence[str], values: Mapping[str, str]) -> Converter:
    lookup = {k.casefold(): v for k, v in values.items()} | {s.casefold(): s for s in symbols}
    accepted = ", ".join(values) if values else ", ".join(symbols)

    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return None
        found = lookup.get(text.casefold())
        if found is None:
            raise ValueError(f"not a known {name}: expected one of {accepted}")
        return found

    return convert


def _listed(item: Converter, separator: str) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            parts = [p for p in value.split(separator) if p.strip()]
            return [item(p) for p in parts] or None
        return value

    return convert


def _unwrap(annotation: Any) -> Any:
    """The type inside Optional[...] and Annotated[...]."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def _settable(event_type: str) -> dict[str, Any]:
    """Fields a file may fill (type per field), ``bsn`` included."""
    model = EVENT_TYPES[event_type]
    fields = {n: _unwrap(f.annotation) for n, f in model.model_fields.items() if n not in _SYSTEM}
    return {"bsn": str, **fields}


def _required(event_type: str) -> set[str]:
    model = EVENT_TYPES[event_type]
    return {n for n, f in model.model_fields.items() if f.is_required()} - _SYSTEM - {
        "occurred_at", "subject_ref"}


# --- mappings ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """One field read from one column (see the module doc)."""

    field: str
    column: str
    values: Mapping[str, str] = dataclasses.field(default_factory=dict)
    unit: str = "cents"
    decimal: str = ","
    separator: str = "|"


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which column holds which field of ``event_type``'s signal."""

    event_type: str
    fields: tuple[FieldMapping, ...]
    #: where the mapping came from (a path, or "the default mapping"), for messages
    origin: str = "the default mapping (columns named as the schema fields)"

    def converter(self, name: str) -> Converter:
        """How to turn the raw value of field ``name`` into the model's value."""
        spec = next(m for m in self.fields if m.field == name)
        kind = _settable(self.event_type)[name]
        if typing.get_origin(kind) is list:
            item = typing.get_args(kind)[0]
            return _listed(_choice(name, [s.value for s in item], spec.values), spec.separator)
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return _choice(name, [s.value for s in kind], spec.values)
        if name == "municipality_code":
            return _municipality
        if kind is bool:
            return _bool
        if kind is int:
            return _euros(spec.decimal) if spec.unit == "euros" else _int
        if kind is datetime:
            return _datetime
        if kind is date:
            return _date
        return _text

    def resolve(self, header: Sequence[str], where: str) -> dict[str, str]:
        """Field -> the header's column for every mapped column present; raises
        BatchFileError naming every required column that is missing."""
        by_key: dict[str, str] = {}
        for column in header:
            key = column.casefold()
            if key in by_key and any(m.column.casefold() == key for m in self.fields):
                raise BatchFileError(f"{where}: column {column!r} appears twice in the header;"
                                     " rename one of them in the export")
            by_key.setdefault(key, column)
        present = {m.field: by_key[m.column.casefold()] for m in self.fields
                   if m.column.casefold() in by_key}
        columns = {m.field: m.column for m in self.fields}
        need = sorted(_required(self.event_type))
        if "bsn" in present:
            need.append("municipality_code")
        elif "subject_ref" not in present:
            need.append("bsn" if "bsn" in columns or "subject_ref" not in columns
                        else "subject_ref")
        missing = [f for f in need if f not in present]
        if missing:
            lines = [f"  - {columns[f]!r} (field {f})" if f in columns else
                     f"  - field {f}: the mapping names no column for it" for f in missing]
            if "bsn" in missing and "subject_ref" in columns:
                lines.append(f"    (or {columns['subject_ref']!r}: pseudonyms instead of BSNs)")
            raise BatchFileError("\n".join([
                f"cannot import {where}: required column(s) missing from its header:", *lines,
                f"The mapping is {self.origin}; the header has:"
                f" {', '.join(map(column_label, header)) or '-'}.",
                "Fix the export, or pass --mapping with a mapping that names the file's"
                " columns. Nothing was published."]))
        return present

    def unmapped(self, header: Sequence[str]) -> list[str]:
        """Columns of the header no field reads (ignored, never read)."""
        named = {m.column.casefold() for m in self.fields}
        return [c for c in header if c.casefold() not in named]

    @staticmethod
    def indexes(header: Sequence[str], fields: Mapping[str, str]) -> list[tuple[str, int]]:
        """(field, index of its column) for ``fields`` (field -> header column)."""
        position = {c: i for i, c in reversed(list(enumerate(header)))}
        return [(f, position[c]) for f, c in fields.items()]


def default_mapping(event_type: str) -> ColumnMapping:
    """Every settable field read from the column of the same name (amounts in cents)."""
    return ColumnMapping(event_type, tuple(FieldMapping(n, n) for n in _settable(event_type)))


def _field_mapping(event_type: str, name: str, spec: Any, where: str) -> FieldMapping:
    kind = _settable(event_type)[name]
    if isinstance(spec, str):
        return FieldMapping(name, spec)
    if not isinstance(spec, dict) or not isinstance(spec.get("column"), str):
        raise BatchFileError(f"{where}: field {name} needs a column name, or a block with"
                             " `column:` (and `values:`, `unit:`, `decimal:`, `separator:`)")
    unknown = set(spec) - _OPTIONS
    if unknown:
        raise BatchFileError(f"{where}: field {name} has unknown option(s)"
                             f" {', '.join(sorted(map(str, unknown)))}; known: column, values,"
                             " unit, decimal, separator")
    item = typing.get_args(kind)[0] if typing.get_origin(kind) is list else kind
    values = {str(k): str(v) for k, v in (spec.get("values") or {}).items()}
    if values:
        if not (isinstance(item, type) and issubclass(item, enum.Enum)):
            raise BatchFileError(f"{where}: field {name} is not an enum; `values:` is only"
                                 " for enum fields")
        wrong = sorted(v for v in values.values() if v not in {s.value for s in item})
        if wrong:
            raise BatchFileError(f"{where}: field {name}: {', '.join(wrong)} not a symbol of"
                                 f" {item.__name__} ({', '.join(s.value for s in item)})")
    unit, decimal = str(spec.get("unit", "cents")), str(spec.get("decimal", ","))
    if unit != "cents" and not (unit == "euros" and name.endswith("_cents")):
        raise BatchFileError(f"{where}: field {name}: `unit:` is euros or cents, and only"
                             " for amounts (fields ending in _cents)")
    if decimal not in _AMOUNT:
        raise BatchFileError(f"{where}: field {name}: `decimal:` is \",\" or \".\"")
    return FieldMapping(name, spec["column"], values, unit, decimal,
                        str(spec.get("separator", "|")))


def load_mapping(path: str | Path, event_type: str) -> ColumnMapping:
    """Read a YAML mapping file (see ``examples/mappings/debt-nl.yaml``)."""
    where = f"mapping {path}"
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BatchFileError(f"cannot read the {where}: {exc.strerror}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BatchFileError(f"the {where} is not valid UTF-8 YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
        raise BatchFileError(f"the {where} needs a `fields:` section (field: column)")
    if set(data) - {"event_type", "fields"}:
        raise BatchFileError(f"the {where} has unknown key(s): only event_type and fields")
    declared = data.get("event_type", event_type)
    if declared != event_type:
        raise BatchFileError(f"the {where} is for {declared}, not {event_type}: pass"
                             f" --type {declared} or another --mapping")
    settable = _settable(event_type)
    unknown = sorted(str(n) for n in data["fields"] if n not in settable)
    if unknown:
        raise BatchFileError(f"the {where} names unknown field(s) {', '.join(unknown)};"
                             f" fields of {event_type}: {', '.join(settable)}")
    return ColumnMapping(event_type, tuple(
        _field_mapping(event_type, name, spec, where) for name, spec in data["fields"].items()
    ), origin=str(path))

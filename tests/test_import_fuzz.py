"""Property-based tests of the batch import's CSV and JSON Lines parsers (hypothesis).

Whatever a file holds (arbitrary bytes, arbitrary text in CSV's shape, arbitrary JSON
values), the import never raises out of ``run()``: it fails as a whole only in
``setup()`` with a :class:`BatchFileError` (nothing published), or every row ends as
published (or already published) or as a reject with a line number, and the counts add
up. Bounded: a few hundred examples in all, a few seconds on a shared machine.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connectors.sources.batch_mapping import BatchFileError
from connectors.sources.csv_batch import BatchFileSource, CsvBatchSource
from connectors.sources.jsonl_batch import JsonlBatchSource
from hub.batch_import import ImportSummary
from hub.connect import Connection, connect
from hub.settings import Settings

SOURCE = "urn:nld:oin:test-import-fuzz"
COLUMNS = ("subject_ref", "postcode", "house_number", "house_number_addition",
           "creditor_type", "signal_kind", "arrears_amount_cents", "arrears_since",
           "signal_date", "crisis", "objection_recorded", "creditor_reference",
           "municipality_code", "occurred_at")
#: per column: values that pass (every combination is a valid signal)
GOOD: dict[str, list[str]] = {
    "subject_ref": ["ps1-" + "ab" * 20, "ps1-" + "0123456789" * 4],
    "postcode": ["7511AB", "7511 ab"],
    "house_number": ["1", "12", " 7 "],
    "house_number_addition": ["", "A"],
    "creditor_type": ["WATER", "ENERGY", "water"],
    "signal_kind": ["ARREARS"],
    "arrears_amount_cents": ["4500", "1"],
    "arrears_since": ["2025-01-15", "15-01-2025"],
    "signal_date": ["2025-03-01", "01-03-2025"],
    "crisis": ["false", "ja", "nee"],
    "objection_recorded": ["false", "nee"],
    "creditor_reference": ["", "ref"],
    "municipality_code": ["", "GM0153"],
    "occurred_at": ["", "2025-03-01T09:30:00+01:00", "2025-03-01T09:30:00"],
}
#: per column: near misses and values at the edges
ODD: dict[str, list[str]] = {
    "subject_ref": ["123456782", "", "ps1-" + "AB" * 20],
    "postcode": ["0000AA", "7511", "７５１１AB"],
    "house_number": ["0", "-3", "1.5", "99999999999999999999", "1_0"],
    "house_number_addition": ["bis" * 20],
    "creditor_type": ["GAS", ""],
    "signal_kind": ["END_OF_SUPPLY", "ARREARS_RESOLVED", "OOPS"],
    "arrears_amount_cents": ["0", "-1", "9" * 30],
    "arrears_since": ["0001-01-01", "9999-12-31", "2025-02-30", "2025-W01-1"],
    "signal_date": ["2024-01-01", "31-12-9999"],
    "crisis": ["1", "maybe", ""],
    "objection_recorded": ["true", "0"],
    "creditor_reference": ["x" * 5_000, "x" * 140_000, "z\n" * 70_000, "\x00\u202e"],
    "municipality_code": ["153", "GM99999"],
    "occurred_at": ["yesterday", "2025-03-01T09:30:00.123456+14:00",
                    "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"],
}
HEADER = ",".join(COLUMNS)
FUZZ = settings(max_examples=100, deadline=5_000, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Connection, Path]]:
    """One embedded bus and state directory for all examples of the module."""
    folder = tmp_path_factory.mktemp("fuzz")
    with connect(Settings(bus=f"embedded:{folder / 'hub.db'}")) as conn:
        yield conn, folder


_files = itertools.count()


def import_bytes(hub: tuple[Connection, Path], data: bytes, *, jsonl: bool,
                 encoding: str | None = None) -> ImportSummary | None:
    """Import ``data`` as a file; its summary after the properties are checked, or None
    when the file as a whole was refused in setup (BatchFileError)."""
    conn, folder = hub
    path = folder / f"f{next(_files)}.{'jsonl' if jsonl else 'csv'}"
    path.write_bytes(data)
    kind: type[BatchFileSource] = JsonlBatchSource if jsonl else CsvBatchSource
    reader = kind(path, event_type="debt-signal", source=SOURCE, bus=conn.bus,
                  serde=conn.serde, pseudonymiser=None, state_dir=folder / "state",
                  encoding=encoding, batch_size=7)
    try:
        try:
            reader.setup()
        except BatchFileError:
            return None
        reader.run()  # must not raise, whatever the rows are
    finally:
        reader.close()
    summary = reader.summary
    assert summary.rows_read == (summary.published + summary.rejected
                                 + summary.already_imported + summary.repeated_in_file)
    rejected_lines = set()
    if summary.rejects_path is not None:
        with summary.rejects_path.open(encoding="utf-8", newline="") as file:
            lines = list(csv.reader(file))
        assert lines[0] == ["line", "column", "reason"]
        last = data.count(b"\n") + data.count(b"\r") + 1
        for line, column, reason in lines[1:]:
            assert 1 <= int(line) <= last and column and reason
            if not reason.startswith(("not in the mapping", "more columns")):
                rejected_lines.add(int(line))
    assert len(rejected_lines) == summary.rejected
    event("some rows published" if summary.published else "no row published")
    return summary


# --- CSV ---------------------------------------------------------------------------------


@FUZZ
@given(body=st.binary(max_size=3_000))
def test_csv_arbitrary_bytes_after_a_header(hub: tuple[Connection, Path], body: bytes) -> None:
    import_bytes(hub, HEADER.encode() + b"\n" + body, jsonl=False)


@FUZZ
@given(data=st.binary(max_size=2_000), encoding=st.sampled_from([None, "utf-8", "cp1252"]))
def test_csv_arbitrary_bytes(hub: tuple[Connection, Path], data: bytes,
                             encoding: str | None) -> None:
    import_bytes(hub, data, jsonl=False, encoding=encoding)


def _mutated(base: tuple[str, ...], changes: dict[int, str]) -> tuple[str, ...]:
    return tuple(changes.get(i, value) for i, value in enumerate(base))


def _odd(column: int) -> st.SearchStrategy[tuple[int, str]]:
    return st.tuples(st.just(column), st.sampled_from(ODD[COLUMNS[column]]) | st.text(max_size=12))


#: (column index, odd value) for up to three cells
_CHANGES = st.lists(st.integers(0, len(COLUMNS) - 1).flatmap(_odd), max_size=3).map(dict)
#: a row of good values with up to three cells changed to odd ones or arbitrary text
_ROW = st.builds(_mutated, st.tuples(*(st.sampled_from(GOOD[c]) for c in COLUMNS)), _CHANGES)


@FUZZ
@given(rows=st.lists(_ROW, max_size=12), delimiter=st.sampled_from([",", ";", "\t"]),
       bom=st.booleans())
def test_csv_arbitrary_cells_every_row_is_counted(
    hub: tuple[Connection, Path], rows: list[tuple[str, ...]], delimiter: str, bom: bool,
) -> None:
    out = io.StringIO()  # "\r\n": a cell with either is quoted (a lone \r ends a line too)
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    data = ("\ufeff" if bom else "") + out.getvalue()
    summary = import_bytes(hub, data.encode(), jsonl=False)
    assert summary is not None  # a valid header: never refused as a whole
    assert summary.rows_read == len(rows) and summary.ignored_columns == []


@FUZZ
@given(lines=st.lists(st.text(max_size=60), max_size=15), seps=st.sampled_from(["\n", "\r\n"]))
def test_csv_arbitrary_text_lines(hub: tuple[Connection, Path], lines: list[str],
                                  seps: str) -> None:
    import_bytes(hub, seps.join([HEADER, *lines]).encode("utf-8"), jsonl=False)


# --- JSON Lines --------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


def _object(row: tuple[str, ...], changes: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {c: v for c, v in zip(COLUMNS, row, strict=True) if v}
    item.update(changes)
    return {k: v for k, v in item.items() if k not in dropped}


#: a good row as JSON, with up to three values changed to any JSON value (or an unknown
#: key added) and up to two keys dropped
_OBJECT = st.builds(
    _object, _ROW,
    st.dictionaries(st.sampled_from(COLUMNS) | st.text(max_size=6), _JSON, max_size=3),
    st.lists(st.sampled_from(COLUMNS), max_size=2),
)


@FUZZ
@given(values=st.lists(st.one_of(_OBJECT, _ROW.map(lambda r: _object(r, {}, [])), _JSON),
                       min_size=1, max_size=12))
def test_jsonl_arbitrary_values_every_line_is_counted(hub: tuple[Connection, Path],
                                                      values: list[Any]) -> None:
    data = "\n".join(json.dumps(v) for v in values).encode()
    summary = import_bytes(hub, data, jsonl=True)
    assert summary is not None and summary.rows_read == len(values)


@FUZZ
@given(depths=st.lists(st.integers(1, 3_000), min_size=1, max_size=4),
       objects=st.booleans())
def test_jsonl_deep_nesting_is_a_reject(hub: tuple[Connection, Path], depths: list[int],
                                        objects: bool) -> None:
    lines = [('{"a":' * d + "1" + "}" * d) if objects else ("[" * d + "]" * d) for d in depths]
    summary = import_bytes(hub, "\n".join(lines).encode(), jsonl=True)
    assert summary is not None and summary.rejected == len(depths)


@FUZZ
@given(lines=st.lists(st.binary(max_size=200), max_size=12))
def test_jsonl_arbitrary_bytes(hub: tuple[Connection, Path], lines: list[bytes]) -> None:
    import_bytes(hub, b"\n".join(lines), jsonl=True)

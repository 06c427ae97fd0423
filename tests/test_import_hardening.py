"""Batch import hardening (issue 8): byte-order marks, unmapped columns, parser limits.

Each test goes through ``signalhub import`` (click's CliRunner, exceptions not caught,
so a traceback fails the test). Rows carry pseudonyms (``ps1-`` + 40 hex), not BSNs.
"""

from __future__ import annotations

import codecs
import csv
import json
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connectors.sources.batch_mapping import default_mapping
from hub.bus.base import TopicPartition
from hub.cli import main
from hub.connect import connect
from hub.events import DebtSignal
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS

TOPIC = SIGNAL_TOPICS["debt-signal"]
HEADER = ("subject_ref,postcode,house_number,creditor_type,signal_kind,arrears_amount_cents,"
          "arrears_since,signal_date,crisis,objection_recorded,creditor_reference")
#: the same columns with the optional creditor_reference first
FIRST_OPTIONAL = "creditor_reference," + HEADER.removesuffix(",creditor_reference")


def row(number: int, reference: str = "ref") -> str:
    """A valid CSV row for HEADER (house number ``number`` keeps rows distinct)."""
    return (f"ps1-{number:040x},7511AB,{number},WATER,ARREARS,4500,2025-01-15,2025-03-01,"
            f"false,false,{reference}")


def item(number: int, **extra: object) -> str:
    """A valid JSON Lines row for the default mapping."""
    return json.dumps({"subject_ref": f"ps1-{number:040x}", "postcode": "7511AB",
                       "house_number": number, "creditor_type": "WATER",
                       "signal_kind": "ARREARS", "arrears_amount_cents": 4500,
                       "arrears_since": "2025-01-15", "signal_date": "2025-03-01",
                       "crisis": False, "objection_recorded": False, **extra})


def run(tmp_path: Path, path: Path, *options: str) -> Result:
    env = {"HUB_BUS": f"embedded:{tmp_path / 'hub.db'}", "HUB_STATE_DIR": str(tmp_path / "st")}
    return CliRunner().invoke(main, [
        "import", str(path), "--type", "debt-signal", "--no-progress",
        "--source", f"urn:nld:oin:test-{uuid.uuid4().hex[:12]}", *options,
    ], env=env, catch_exceptions=False)


def count(result: Result, name: str) -> int:
    line = next(x for x in result.output.splitlines() if x.strip().startswith(name))
    return int(line[len(name) + 2:].split()[0].replace(",", ""))


def rejects(path: Path) -> list[tuple[str, str, str]]:
    with path.with_name(path.name + ".rejects.csv").open(encoding="utf-8", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["line", "column", "reason"]
    return [(x[0], x[1], x[2]) for x in lines[1:]]


def references(tmp_path: Path) -> list[str | None]:
    """creditor_reference of every signal on the debt topic of the test's bus."""
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as conn:
        ends = conn.bus.end_offsets(TOPIC)
        found: list[str | None] = []
        with conn.bus.consumer(f"test-{uuid.uuid4().hex}", [TOPIC]) as consumer:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (
                len(consumer.assignment()) == len(ends) and all(
                    consumer.position(TopicPartition(TOPIC, p)) >= e for p, e in ends.items())):
                found += [DebtSignal.from_avro(conn.serde.decode(m.value).record)
                          .creditor_reference for m in consumer.poll(500, timeout=0.5)]
    return found


# --- byte-order marks --------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_a_utf8_bom_is_removed_whatever_the_encoding(tmp_path: Path,
                                                     encoding: str | None) -> None:
    """Excel's "CSV UTF-8": the BOM never becomes part of the first column's name, so a
    required first column is found and an optional one is imported (not ignored)."""
    options = ("--encoding", encoding) if encoding else ()
    required_first = tmp_path / "required.csv"
    required_first.write_bytes(codecs.BOM_UTF8 + f"{HEADER}\n{row(1, 'réf-1')}\n".encode())
    optional_first = tmp_path / "optional.csv"
    optional_row = "réf-2," + row(2).rsplit(",", 1)[0]
    optional_first.write_bytes(codecs.BOM_UTF8 + f"{FIRST_OPTIONAL}\n{optional_row}\n".encode())
    for path in (required_first, optional_first):
        result = run(tmp_path, path, *options)
        assert result.exit_code == 0, result.output
        assert count(result, "published") == 1
        assert "UTF-8 (byte-order mark removed)" in result.output
        assert "not imported" not in result.output and "ï»¿" not in result.output
    assert sorted(str(r) for r in references(tmp_path)) == ["réf-1", "réf-2"]


def test_a_utf8_bom_before_windows_1252_text_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "edited.csv"
    path.write_bytes(codecs.BOM_UTF8 + f"{HEADER}\n{row(1, 'Café')}\n".encode("cp1252"))
    result = run(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert "encoding Windows-1252 (byte-order mark removed)" in result.output
    assert references(tmp_path) == ["Café"]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_is_read(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "unicode.csv"
    bom = codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE
    path.write_bytes(bom + f"{HEADER}\r\n{row(1, 'ŝ')}\r\n".encode(encoding))
    result = run(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert "encoding UTF-16 (byte-order mark removed)" in result.output
    assert references(tmp_path) == ["ŝ"]


# --- columns no field reads --------------------------------------------------------------


def test_unmapped_columns_are_named_in_the_summary_and_the_rejects(tmp_path: Path) -> None:
    header = HEADER.replace(",creditor_reference", ",creditor_referense,naam,123456782")
    path = tmp_path / "extra.csv"
    path.write_text(f"{header}\n{row(1, 'r')},Jansen,x\n", encoding="utf-8")
    result = run(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert count(result, "published") == 1 and count(result, "rejected") == 0
    summary = next(x for x in result.output.splitlines() if "not imported" in x)
    assert "creditor_referense, naam" in summary and "--mapping" in summary
    assert "123456782" not in result.output
    notes = rejects(path)
    assert [(line, column) for line, column, _ in notes] == [
        ("1", "creditor_referense"), ("1", "naam"),
        ("1", "(a name with eight or more digits, not shown)")]
    assert all("its values were not imported" in reason and "--mapping" in reason
               for _, _, reason in notes)
    assert "did you mean 'creditor_reference'" in notes[0][2]


def test_a_file_without_a_header_line_never_shows_its_first_row(tmp_path: Path) -> None:
    path = tmp_path / "headerless.csv"
    path.write_text("123456782;GM0153;7511AB;12\n123.456.782;GM0153;7511AB;13\n",
                    encoding="utf-8")
    result = run(tmp_path, path)
    assert result.exit_code == 2 and "required column(s) missing" in result.output
    assert "the header has: (a name with eight or more digits, not shown), GM0153" in (
        result.output)
    assert "123456782" not in result.output


def test_unmapped_json_keys_are_named_in_the_summary_and_the_rejects(tmp_path: Path) -> None:
    path = tmp_path / "extra.jsonl"
    path.write_text("\n".join([item(1), item(2, naam="Jansen"), item(3, naam="De Vries")])
                    + "\n", encoding="utf-8")
    result = run(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert count(result, "published") == 3
    assert "see the rejects file): naam" in result.output
    [(line, column, reason)] = rejects(path)
    assert (line, column) == ("2", "naam") and "not imported" in reason


# --- limits: parser failures are row rejects ---------------------------------------------


def test_over_long_csv_cells_are_row_rejects_and_the_import_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("\n".join([
        HEADER, row(1),
        row(2, "x" * 140_000),                        # over csv's own field limit
        row(3, "y" * 5_000),                          # over the cell limit
        row(4, '"' + "z\n" * 70_000 + '"'),           # a quoted cell on 70,001 lines
        row(5), row(6, "ok"),
    ]) + "\n", encoding="utf-8")
    result = run(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert (count(result, "rows read"), count(result, "published"),
            count(result, "rejected")) == (6, 3, 3)
    assert rejects(path) == [
        ("3", "creditor_reference", "longer than 4,096 characters (and its line longer than"
                                    " 131,072)"),
        ("4", "creditor_reference", "longer than 4,096 characters"),
        ("5", "(row)", "a quoted cell longer than 131,072 characters: check for a quote"
                       " that is not closed"),
    ]
    assert sorted(str(r) for r in references(tmp_path)) == ["ok", "ref", "ref"]


def test_bad_json_lines_are_row_rejects_and_the_import_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([
        item(1),
        "[" * 5_000 + "]" * 5_000,                    # RecursionError in json
        item(3, creditor_reference={"a": json.loads("[" * 33 + "]" * 33)}),  # 35 deep
        item(4, creditor_reference="x" * 70_000),     # over the line limit
        item(5).replace('"WATER"', '"\\ud800"'),      # not text
        item(6, creditor_reference="y" * 5_000),      # over the cell limit
        item(7, creditor_reference="ok"),
    ]) + "\n", encoding="utf-8")
    result = run(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert (count(result, "rows read"), count(result, "published"),
            count(result, "rejected")) == (7, 2, 5)
    assert rejects(path) == [
        ("2", "(row)", "nested deeper than 32 levels"),
        ("3", "(row)", "nested deeper than 32 levels"),
        ("4", "(row)", "a line longer than 65,536 bytes"),
        ("5", "(row)", "not valid JSON text: a \\u escape of half a surrogate pair (\\ud800"
                       " to \\udfff)"),
        ("6", "creditor_reference", "longer than 4,096 characters"),
    ]
    assert sorted(str(r) for r in references(tmp_path)) == ["None", "ok"]


# --- cells become the JSON types a strict build_signal takes -----------------------------


def test_cells_are_converted_to_json_types() -> None:
    mapping = default_mapping("debt-signal")
    convert = {name: mapping.converter(name) for name in (
        "arrears_since", "occurred_at", "crisis", "house_number", "arrears_amount_cents")}
    assert convert["arrears_since"]("1-3-2025") == "2025-03-01"
    assert convert["arrears_since"](" 2025-03-01 ") == "2025-03-01"
    assert convert["occurred_at"]("2025-03-01T09:30:00") == "2025-03-01T09:30:00+00:00"
    assert convert["crisis"]("Ja") is True and convert["crisis"]("0") is False
    assert convert["house_number"]("12") == 12
    assert type(convert["house_number"]("12")) is int
    for bad in ("1_000", "١٢", "12.0"):
        with pytest.raises(ValueError, match="not a whole number"):
            convert["house_number"](bad)
    for bad in ("2025-W01-1", "2025-3-1", "01-13-2025"):
        with pytest.raises(ValueError, match="not a date"):
            convert["arrears_since"](bad)

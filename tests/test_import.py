"""Batch file import (`signalhub import`, connectors.sources.csv_batch / jsonl_batch).

Every person here is fictional: BSNs are made up to pass the 11-test.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pydantic import SecretStr

from connectors.sources.batch_io import (
    IMPORT_NAMESPACE,
    ImportPublisher,
    canonical_content,
    event_id_for,
)
from connectors.sources.batch_mapping import BatchFileError, load_mapping
from connectors.sources.csv_batch import CsvBatchSource
from connectors.sources.jsonl_batch import JsonlBatchSource
from hub.batch_import import ImportSummary
from hub.bus.base import Message
from hub.cli import main
from hub.connect import Connection, connect
from hub.events import DebtSignal
from hub.intake import SignalPublisher, build_signal
from hub.pseudonym import Pseudonymiser
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS
from tests.bus_records import read_messages

MAPPING = Path(__file__).resolve().parent.parent / "examples" / "mappings" / "debt-nl.yaml"
TOPIC = SIGNAL_TOPICS["debt-signal"]
SECRETS = {"GM0153": "test-secret-of-32-bytes-for-gm0153",
           "GM9999": "test-secret-of-32-bytes-for-gm9999"}
PSEUDONYMISER = Pseudonymiser({k: SecretStr(v) for k, v in SECRETS.items()})
DUTCH_HEADER = ("bsn;gemeente;postcode;huisnummer;toevoeging;soort_schuldeiser;soort_signaal;"
                "bedrag_achterstand;achterstand_sinds;datum_signaal;crisis;bezwaar;referentie")
BSNS = ("111222333", "123456782", "100000009", "100000010", "100000022")
NOT_A_BSN = "111222334"  # fails the 11-test


def dutch_row(bsn: str, *, postcode: str = "7511 AB", creditor: str = "Energie",
              amount: str = "1.234,56", reference: str = "ref-1") -> str:
    return ";".join((bsn, "GM0153", postcode, "12", "", creditor, "Achterstand", amount,
                     "01-01-2025", "01-03-2025", "nee", "nee", reference))


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding) if lines else b"")
    return path


def new_source() -> str:
    """A fresh sender per test: event ids include it, so tests on one broker never meet."""
    return f"urn:nld:oin:test-{uuid.uuid4().hex[:12]}"


def embedded(tmp_path: Path) -> Settings:
    return Settings(bus=f"embedded:{tmp_path / 'hub.db'}")


def import_file(conn: Connection, path: Path, source: str, state: Path, *,
                jsonl: bool = False, mapping: bool = True, **options: Any) -> CsvBatchSource:
    kind: Callable[..., Any] = JsonlBatchSource if jsonl else CsvBatchSource
    reader = kind(path, event_type="debt-signal", source=source, bus=conn.bus,
                  serde=conn.serde, pseudonymiser=PSEUDONYMISER, state_dir=state,
                  mapping=load_mapping(MAPPING, "debt-signal") if mapping else None,
                  **options)
    with reader:
        reader.run()
    assert isinstance(reader, CsvBatchSource | JsonlBatchSource)
    return reader  # type: ignore[return-value]


def read_all(conn: Connection, source: str, timeout: float = 60.0) -> list[Message]:
    """Every message on the debt topic from ``source``, reading up to the end offsets."""
    return [m for m in read_messages(conn.bus, TOPIC, timeout=timeout)
            if m.header("ce_source") == source.encode()]


def cli(*args: str, env: dict[str, str]) -> Result:
    return CliRunner().invoke(main, ["import", *args], env=env, catch_exceptions=False)


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {"HUB_BUS": f"embedded:{tmp_path / 'hub.db'}", "HUB_STATE_DIR": str(tmp_path / "st"),
            "HUB_PSEUDONYM_SECRETS": json.dumps(SECRETS)}


def rejects(path: Path) -> list[tuple[str, str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["line", "column", "reason"]
    return [(r[0], r[1], r[2]) for r in rows[1:]]


# --- the whole path, on both modes ------------------------------------------------------


def test_import_publishes_reads_back_and_never_twice(
    conn: Connection, tmp_path: Path
) -> None:
    source = new_source()
    path = write(tmp_path / "debt.csv", [DUTCH_HEADER, dutch_row(BSNS[0]),
                                         dutch_row(BSNS[1], creditor="Huur", amount="250"),
                                         dutch_row(BSNS[2], creditor="zorgverzekering")])
    summary = import_file(conn, path, source, tmp_path / "state").summary
    assert (summary.rows_read, summary.published, summary.rejected) == (3, 3, 0)
    assert summary.delimiter == ";" and summary.rejects_path is None

    messages = read_all(conn, source)
    assert len(messages) == 3
    by_subject = {}
    for message in messages:
        decoded = conn.serde.decode(message.value)
        signal = DebtSignal.from_avro(decoded.record)
        assert message.key == signal.subject_ref.encode()
        assert message.header("ce_id") == signal.event_id.encode()
        assert message.header("ce_type") == b"nl.signalhub.debt-signal.v1"
        assert signal.source == source
        by_subject[signal.subject_ref] = signal
        raw = (message.value or b"") + b"".join(v for _, v in message.headers)
        assert not any(bsn.encode() in raw for bsn in BSNS)  # never a raw BSN on the bus
    first = by_subject[PSEUDONYMISER.subject_ref(BSNS[0], "GM0153")]
    assert (first.creditor_type, first.arrears_amount_cents, first.postcode) == (
        "ENERGY", 123456, "7511AB")
    assert str(first.arrears_since) == "2025-01-01" and str(first.signal_date) == "2025-03-01"
    assert first.crisis is False and first.objection_recorded is False
    assert by_subject[PSEUDONYMISER.subject_ref(BSNS[1], "GM0153")].arrears_amount_cents == 25000
    assert by_subject[PSEUDONYMISER.subject_ref(BSNS[2], "GM0153")].creditor_type == (
        "HEALTH_INSURANCE_CAK")

    again = import_file(conn, path, source, tmp_path / "state").summary
    assert (again.rows_read, again.published, again.already_imported) == (3, 0, 3)
    assert len(read_all(conn, source)) == 3


# --- rejects ----------------------------------------------------------------------------


def test_bad_rows_go_to_the_rejects_file_and_the_run_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path / "debt.csv", [
        DUTCH_HEADER,
        dutch_row(BSNS[0], postcode="75X1"),            # line 2: bad postcode
        dutch_row(BSNS[1], amount="-12,50"),            # line 3: negative amount
        dutch_row(NOT_A_BSN),                           # line 4: invalid BSN
        dutch_row(BSNS[2], creditor="Gasleverancier"),  # line 5: unknown creditor type
        dutch_row(BSNS[3]),                             # line 6: good
        dutch_row(BSNS[4], postcode="", amount="12,345"),  # line 7: two problems
        "1;2;3",                                        # line 8: too few cells
    ])
    result = cli(str(path), "--type", "debt-signal", "--source", new_source(), "--mapping",
                 str(MAPPING), env=cli_env(tmp_path))
    assert result.exit_code == 0, result.output
    rejects_path = tmp_path / "debt.csv.rejects.csv"
    assert str(rejects_path) in result.output
    assert "published                        1" in result.output
    assert "rejected                         6" in result.output
    lines = rejects(rejects_path)
    assert [(line, column) for line, column, _ in lines] == [
        ("2", "postcode"), ("3", "bedrag_achterstand"), ("4", "bsn"),
        ("5", "soort_schuldeiser"), ("7", "bedrag_achterstand"), ("7", "postcode"),
        ("8", "(row)")]
    reasons = dict(((line, column), reason) for line, column, reason in lines)
    assert "postcode" in reasons[("2", "postcode")] and "1234 AB" in reasons[("2", "postcode")]
    assert "greater than or equal to 0" in reasons[("3", "bedrag_achterstand")]
    assert "11-test" in reasons[("4", "bsn")]
    assert "Energie" in reasons[("5", "soort_schuldeiser")]
    assert reasons[("7", "postcode")] == "missing or empty"
    assert "has 3 cells" in reasons[("8", "(row)")]
    text = rejects_path.read_text(encoding="utf-8")
    for secret in (*BSNS, NOT_A_BSN, "Gasleverancier", "75X1", "-12,50"):
        assert secret not in text  # never a value, let alone a BSN
        assert secret not in result.output


def test_a_stale_rejects_file_is_overwritten(tmp_path: Path) -> None:
    path = write(tmp_path / "debt.csv", [DUTCH_HEADER, dutch_row(BSNS[0])])
    stale = tmp_path / "debt.csv.rejects.csv"
    stale.write_text("line,column,reason\n9,postcode,from an earlier run\n", encoding="utf-8")
    with connect(embedded(tmp_path)) as conn:
        summary = import_file(conn, path, new_source(), tmp_path / "state").summary
    assert summary.rejects_path is None and rejects(stale) == []


# --- encodings, delimiters, mappings ----------------------------------------------------


def test_windows_1252_file_with_dutch_headers(tmp_path: Path) -> None:
    source = new_source()
    path = write(tmp_path / "debt.csv", [DUTCH_HEADER, dutch_row(BSNS[0], reference="Café-é1"),
                                         dutch_row(BSNS[1], reference="naïef €5")], "cp1252")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    with connect(embedded(tmp_path)) as conn:
        summary = import_file(conn, path, source, tmp_path / "state").summary
        assert (summary.encoding, summary.published) == ("cp1252", 2)
        references = {DebtSignal.from_avro(conn.serde.decode(m.value).record).creditor_reference
                      for m in read_all(conn, source)}
    assert references == {"Café-é1", "naïef €5"}


def test_utf8_with_bom_comma_separated_default_mapping(tmp_path: Path) -> None:
    header = ("bsn,municipality_code,postcode,house_number,creditor_type,signal_kind,"
              "arrears_amount_cents,arrears_since,signal_date,crisis,objection_recorded,"
              "creditor_reference")
    row = f"{BSNS[0]},GM0153,7511AB,3,WATER,ARREARS,4500,2025-01-15,2025-03-01,false,false,réf"
    path = tmp_path / "debt.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{header}\n{row}\n".encode())
    source = new_source()
    with connect(embedded(tmp_path)) as conn:
        summary = import_file(conn, path, source, tmp_path / "state", mapping=False).summary
        assert (summary.encoding, summary.delimiter, summary.published) == (
            "utf-8-sig", ",", 1)
        [message] = read_all(conn, source)
        signal = DebtSignal.from_avro(conn.serde.decode(message.value).record)
    assert (signal.creditor_type, signal.arrears_amount_cents, signal.creditor_reference) == (
        "WATER", 4500, "réf")


def test_semicolons_are_sniffed_and_can_be_forced(tmp_path: Path) -> None:
    path = write(tmp_path / "debt.csv", [DUTCH_HEADER, dutch_row(BSNS[0])])
    env = cli_env(tmp_path)
    sniffed = cli(str(path), "--type", "debt-signal", "--source", new_source(),
                  "--mapping", str(MAPPING), "--no-progress", env=env)
    assert sniffed.exit_code == 0 and "delimiter ';'" in sniffed.output
    forced = cli(str(path), "--type", "debt-signal", "--source", new_source(),
                 "--mapping", str(MAPPING), "--delimiter", ",", env=env)
    assert forced.exit_code == 2  # one column named "bsn;gemeente;..."
    assert "required column(s) missing" in forced.output


def test_same_content_in_another_spelling_or_file_is_the_same_event(tmp_path: Path) -> None:
    source = new_source()
    first = write(tmp_path / "may.csv", [DUTCH_HEADER, dutch_row(BSNS[0]),
                                         dutch_row(BSNS[1])])
    second = write(tmp_path / "june.csv", [
        DUTCH_HEADER,
        dutch_row(BSNS[3]),                                        # new
        dutch_row(BSNS[0], postcode="7511ab", amount="1234,56"),   # = may.csv line 2
        dutch_row(BSNS[3]),                                        # repeated in this file
    ])
    with connect(embedded(tmp_path)) as conn:
        import_file(conn, first, source, tmp_path / "state")
        summary = import_file(conn, second, source, tmp_path / "state").summary
        assert (summary.published, summary.already_imported, summary.repeated_in_file) == (
            1, 1, 1)
        ids = [m.header("ce_id") for m in read_all(conn, source)]
    assert len(ids) == len(set(ids)) == 3


def test_import_publisher_records_equal_signal_publisher(tmp_path: Path) -> None:
    payload = {"bsn": BSNS[0], "municipality_code": "GM0153", "postcode": "7511AB",
               "house_number": 12, "creditor_type": "ENERGY", "signal_kind": "ARREARS",
               "arrears_amount_cents": 100, "arrears_since": "2025-01-01",
               "signal_date": "2025-02-01", "crisis": True, "objection_recorded": False}
    signal = build_signal("debt-signal", payload, source="urn:x", pseudonymiser=PSEUDONYMISER)
    raw, text = event_id_for("urn:x", "debt-signal", signal)
    assert text == str(uuid.UUID(bytes=raw)) == str(uuid.uuid5(
        IMPORT_NAMESPACE, "urn:x\ndebt-signal\n" + canonical_content(
            signal.__dict__, {"event_id", "source", "occurred_at", "received_at"})))
    with connect(embedded(tmp_path)) as conn:
        fast = ImportPublisher(conn.bus, conn.serde).record_with_id("debt-signal", text, signal)
        slow = SignalPublisher(conn.bus, conn.serde).record(
            "debt-signal", signal.model_copy(update={"event_id": text}))
    assert fast == slow


def test_canonical_content_escapes_so_contents_never_collide() -> None:
    assert canonical_content({"a": "x\nb=y"}) != canonical_content({"a": "x", "b": "y"})
    assert canonical_content({"a": "x\\nb=y"}) != canonical_content({"a": "x\nb=y"})
    assert canonical_content({"b": 1, "a": None, "c": ["HOUSING", "DEBT"]}) == "b=1\nc=HOUSING,DEBT"


# --- files without rows, missing columns, bad input -------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", [])
    result = cli(str(path), "--type", "debt-signal", "--source", new_source(), "--mapping",
                 str(MAPPING), env=cli_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "the file is empty: 0 rows" in result.output
    assert not (tmp_path / "empty.csv.rejects.csv").exists()


def test_header_only_file(tmp_path: Path) -> None:
    path = write(tmp_path / "header.csv", [DUTCH_HEADER])
    result = cli(str(path), "--type", "debt-signal", "--source", new_source(), "--mapping",
                 str(MAPPING), env=cli_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "the file has a header but no rows: 0 rows" in result.output
    assert "rows read                        0" in result.output


def test_missing_column_is_reported_before_any_row(tmp_path: Path) -> None:
    header = DUTCH_HEADER.replace(";bedrag_achterstand", "")
    row = dutch_row(BSNS[0]).replace(";1.234,56", "")
    path = write(tmp_path / "debt.csv", [header, row])
    env = cli_env(tmp_path)
    result = cli(str(path), "--type", "debt-signal", "--source", new_source(), "--mapping",
                 str(MAPPING), env=env)
    assert result.exit_code == 2
    assert "'bedrag_achterstand' (field arrears_amount_cents)" in result.output
    assert str(MAPPING) in result.output and "--mapping" in result.output
    assert "Nothing was published" in result.output
    assert not (tmp_path / "debt.csv.rejects.csv").exists()
    with connect(embedded(tmp_path)) as conn:
        assert TOPIC not in conn.bus.list_topics() or sum(
            conn.bus.end_offsets(TOPIC).values()) == 0


@pytest.mark.parametrize(("args", "expected"), [
    (["nowhere.csv"], "does not exist"),
    (["debt.csv", "--encoding", "klingon"], "unknown encoding"),
    (["debt.csv", "--encoding", "utf-8"], "not valid utf-8"),
    (["debt.csv", "--mapping", "nope.yaml"], "cannot read the mapping"),
])
def test_file_level_errors_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    write(tmp_path / "debt.csv", [DUTCH_HEADER, dutch_row(BSNS[0], reference="é")], "cp1252")
    args = [str(tmp_path / a) if a.endswith((".csv", ".yaml")) else a for a in args]
    if "--mapping" not in args:
        args += ["--mapping", str(MAPPING)]
    result = cli(*args, "--type", "debt-signal", "--source", new_source(),
                 env=cli_env(tmp_path))
    assert result.exit_code == 2, result.output
    assert expected in result.output


def test_bsns_without_pseudonym_secrets_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path / "debt.csv", [DUTCH_HEADER, dutch_row(BSNS[0])])
    env = cli_env(tmp_path)
    del env["HUB_PSEUDONYM_SECRETS"]
    result = cli(str(path), "--type", "debt-signal", "--source", new_source(), "--mapping",
                 str(MAPPING), env=env)
    assert result.exit_code == 2 and "HUB_PSEUDONYM_SECRETS" in result.output


def test_mapping_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("event_type: debt-signal\nfields:\n  bedrag: bedrag_achterstand\n",
                   encoding="utf-8")
    with pytest.raises(BatchFileError, match="unknown field.*bedrag"):
        load_mapping(bad, "debt-signal")
    bad.write_text("fields:\n  creditor_type:\n    column: x\n    values: {Gas: GAS}\n",
                   encoding="utf-8")
    with pytest.raises(BatchFileError, match="GAS not a symbol of CreditorType"):
        load_mapping(bad, "debt-signal")
    with pytest.raises(BatchFileError, match="is for debt-signal, not eviction-risk"):
        load_mapping(MAPPING, "eviction-risk")


# --- JSON Lines -------------------------------------------------------------------------


def test_json_lines(tmp_path: Path) -> None:
    def item(bsn: str, **extra: Any) -> str:
        base = {"bsn": bsn, "gemeente": "GM0153", "postcode": "7511AB", "huisnummer": 4,
                "soort_schuldeiser": "Water", "soort_signaal": "Achterstand",
                "bedrag_achterstand": "99,95", "achterstand_sinds": "2025-01-01",
                "datum_signaal": "01-03-2025", "crisis": True, "bezwaar": "nee"}
        return json.dumps({**base, **extra})

    missing_postcode = json.loads(item(BSNS[2]))
    del missing_postcode["postcode"]
    path = tmp_path / "debt.jsonl"
    path.write_text("\n".join([item(BSNS[0]), item(BSNS[1], bedrag_achterstand=12),
                               "{not json", json.dumps(missing_postcode), "", "[1, 2]"]) + "\n",
                    encoding="utf-8")
    source = new_source()
    with connect(embedded(tmp_path)) as conn:
        summary = import_file(conn, path, source, tmp_path / "state", jsonl=True).summary
        assert (summary.rows_read, summary.published, summary.rejected) == (5, 2, 3)
        amounts = sorted(DebtSignal.from_avro(conn.serde.decode(m.value).record)
                         .arrears_amount_cents for m in read_all(conn, source))
    assert amounts == [1200, 9995]
    assert rejects(tmp_path / "debt.jsonl.rejects.csv") == [
        ("3", "(row)", "not valid JSON"), ("4", "postcode", "missing or empty"),
        ("6", "(row)", "not a JSON object")]
    result = cli(str(path), "--type", "debt-signal", "--source", source, "--mapping",
                 str(MAPPING), env={**cli_env(tmp_path), "HUB_STATE_DIR": str(tmp_path / "state")})
    assert result.exit_code == 0 and "already imported                 2" in result.output


# --- lifecycle and CLI help -------------------------------------------------------------


def test_stop_returns_after_the_current_batch(tmp_path: Path) -> None:
    path = write(tmp_path / "debt.csv", [DUTCH_HEADER, *(
        dutch_row(BSNS[0], reference=f"ref-{i}") for i in range(10))])
    holder: list[CsvBatchSource] = []
    with connect(embedded(tmp_path)) as conn:
        reader = CsvBatchSource(
            path, event_type="debt-signal", source=new_source(), bus=conn.bus,
            serde=conn.serde, pseudonymiser=PSEUDONYMISER, state_dir=tmp_path / "state",
            mapping=load_mapping(MAPPING, "debt-signal"), batch_size=4,
            progress=lambda done, rows: holder[0].stop())
        holder.append(reader)
        with reader:
            reader.run()
    summary: ImportSummary = reader.summary
    assert summary.stopped and (summary.rows_read, summary.published) == (4, 4)


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(main, ["import", "--help"])
    assert result.exit_code == 0
    for text in ("--type", "--source", "--mapping", "--rejects", "--no-progress",
                 "examples/mappings/debt-nl.yaml", "Exit codes"):
        assert text in result.output

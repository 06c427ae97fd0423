"""Batch files from creditors into signals: :class:`CsvBatchSource` (CSV exports).

One file, read once: every row becomes a signal through :func:`hub.intake.build_signal`
(validated, the BSN pseudonymised at once) and the new ones are published in batches.
:class:`BatchFileSource` is the engine, shared with ``jsonl_batch.JsonlBatchSource``;
mapping and conversion live in ``batch_mapping``, the rest of the file I/O (encoding,
event ids, publishing, rejects file) in ``batch_io``; the import ledger and the summary
are the core's (:mod:`hub.import_ledger`, :mod:`hub.batch_import`, which runs an
import). See docs/import.md.

- Encoding: a byte-order mark is never read as text; without ``encoding``, UTF-8 if
  the whole file decodes strictly, else Windows-1252. Delimiter: ``;``, ``,`` or tab.
- A row that cannot become a signal or be read at all (over the limits of
  ``batch_lines``) is written to the rejects file (``line,column,reason``, never a
  value) and skipped; so is a note per column no field reads. A missing required
  column stops the import before any row is read (:class:`BatchFileError`).
- Event ids are uuid5 of source, event type and the signal's normalised content; the
  ledger (in the application database: ``<state_dir>/store.db`` or ``HUB_DATABASE_URL``)
  skips what was published before. A batch enters
  the ledger only once the bus has it durably: a crash in between republishes that
  batch with the same event ids (at-least-once, duplicates recognisable by id).
"""

from __future__ import annotations

import abc
import io
import os
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import structlog
from pydantic import BaseModel

from connectors.sources.base import Source
from connectors.sources.batch_io import (
    FileEncoding,
    ImportPublisher,
    RejectsFile,
    detect_encoding,
    event_id_for,
    fewer_collections,
    rejects_path_for,
)
from connectors.sources.batch_lines import CELL_MAX, CsvText, UnmappedColumns
from connectors.sources.batch_mapping import (
    BatchFileError,
    ColumnMapping,
    Converter,
    RowProblem,
    default_mapping,
    plain_reason,
)
from hub.batch_import import DEFAULT_BATCH, ImportSummary, ProgressCallback
from hub.bus.base import Bus
from hub.import_ledger import IMPORTS_FILE, ImportLedger
from hub.intake import FieldError, IntakeError, build_signal
from hub.pseudonym import PseudonymMaker
from hub.sealed_import import SealedImportPublisher
from hub.serde import AvroSerde
from hub.store import Database
from hub.topics import SIGNAL_TOPICS, core_topics

__all__ = ["BatchFileError", "BatchFileSource", "CsvBatchSource"]

log = structlog.get_logger(__name__)
#: a valid UUID passed to build_signal while the real (content-derived) id is unknown
_PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"
#: fields left out of the content an event id is derived from
_TIMED = frozenset({"event_id", "source", "received_at"})
_UNTIMED = _TIMED | {"occurred_at"}
#: a valid row: event id (16 bytes, text) and the signal (whose event_id is a placeholder)
_Built = tuple[bytes, str, BaseModel]


class BatchFileSource(Source):
    """Reads one batch file and publishes its rows as signals (see module doc).

    Subclasses open the file (:meth:`_open`, returning the header's columns, ``[]``
    for an empty file, or ``None`` for a format without a header) and yield its rows
    (:meth:`_rows`: line number plus the mapped fields' raw values, or a problem).
    After :meth:`run`, :attr:`summary` says what happened.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        event_type: str,
        source: str,
        bus: Bus,
        serde: AvroSerde,
        pseudonymiser: PseudonymMaker | None,
        state_dir: str | Path,
        mapping: ColumnMapping | None = None,
        encoding: str | None = None,
        rejects_path: str | Path | None = None,
        batch_size: int = DEFAULT_BATCH,
        progress: ProgressCallback | None = None,
        publisher: ImportPublisher | SealedImportPublisher | None = None,
        ledger: Database | str | os.PathLike[str] | None = None,
    ) -> None:
        if event_type not in SIGNAL_TOPICS:
            raise BatchFileError(f"unknown event type {event_type!r}: choose one of"
                                 f" {', '.join(SIGNAL_TOPICS)}")
        self.path = Path(path)
        self.event_type = event_type
        self.source = source
        self.bus = bus
        self.mapping = mapping or default_mapping(event_type)
        if self.mapping.event_type != event_type:
            raise BatchFileError(f"the mapping {self.mapping.origin} is for"
                                 f" {self.mapping.event_type}, not {event_type}")
        self.pseudonymiser = pseudonymiser
        self.state_dir = Path(state_dir)
        #: the import ledger's database (default: the SQLite store.db in ``state_dir``)
        self.ledger_target = ledger if ledger is not None else self.state_dir / IMPORTS_FILE
        self.batch_size = max(1, batch_size)
        self.progress = progress
        self.summary = ImportSummary(self.path, event_type, source)
        self.size = 0
        self._publisher = publisher or ImportPublisher(bus, serde)
        self._requested_encoding = encoding
        self._rejects = RejectsFile(Path(rejects_path) if rejects_path else
                                 rejects_path_for(self.path))
        self._stop = threading.Event()
        self._ledger: ImportLedger | None = None
        self._convert: list[tuple[str, Converter]] = []
        self._columns: dict[str, str] = {}  # field -> column, for the rejects file
        self._header: list[str] | None = None
        self._header_line = 1
        self._unmapped: list[str] = []  # header columns no field reads
        self._unmapped_notes = UnmappedColumns(())
        self._ready = False

    # -- what a format provides ---------------------------------------------------------

    @abc.abstractmethod
    def _open(self, encoding: FileEncoding) -> list[str] | None:
        """Open the file; the header's columns ([] = empty file), or None (no header)."""

    @abc.abstractmethod
    def _rows(self, fields: dict[str, str]) -> Iterator[tuple[int, dict[str, Any] | RowProblem]]:
        """(line, {field: raw value}) per row; ``fields`` maps field -> column."""

    @abc.abstractmethod
    def _bytes_read(self) -> int:
        """How far into the file reading has got."""

    def _close_file(self) -> None:
        """Close what :meth:`_open` opened (the default: nothing)."""

    # -- lifecycle ----------------------------------------------------------------------

    def setup(self) -> None:
        """Check the file, its encoding, header and columns; open the ledger. Raises
        :class:`BatchFileError` (nothing published) when the file cannot be imported."""
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        try:
            self.size = self.path.stat().st_size
        except OSError as exc:
            raise BatchFileError(f"cannot read {self.path}: {exc.strerror}; check the path"
                                 " and that you may read it") from exc
        encoding = detect_encoding(self.path, self._requested_encoding)
        self.summary.encoding, self.summary.bom = encoding.name, encoding.bom
        self.summary.encoding_note = encoding.note
        try:
            header = self._open(encoding)
        except OSError as exc:
            raise BatchFileError(f"cannot read {self.path}: {exc.strerror}") from exc
        self._header = header
        self.summary.empty = header == []
        present = self.mapping.resolve(header, str(self.path)) if header else {
            m.field: m.column for m in self.mapping.fields}
        if header:
            self._unmapped = self.mapping.unmapped(header)
            self.summary.absent_optional = [m.column for m in self.mapping.fields
                                            if m.field not in present]
        self._unmapped_notes = UnmappedColumns(self.summary.absent_optional)
        self._columns = present
        if header and "bsn" in present and self.pseudonymiser is None:
            raise BatchFileError(
                f"the file has BSNs (column {present['bsn']!r}) but this hub has no pseudonym"
                " secrets: set HUB_PSEUDONYM_SECRETS to the municipalities' keys, e.g."
                ' {"GM0153": "..."}, then run again; on a source\'s machine, seal the rows'
                " to the hub instead with --seal-to / HUB_INTAKE_PUBLIC_KEY")
        self._convert = [(f, self.mapping.converter(f)) for f in present]
        self._ledger = ImportLedger(self.ledger_target)
        topic = self._publisher.topic(self.event_type)
        self.bus.create_topic(next(s for s in core_topics() if s.name == topic))
        self._ready = True

    def run(self) -> None:
        """Read every row, publish the new signals, write the rejects; see :attr:`summary`."""
        if not self._ready:
            self.setup()
        assert self._ledger is not None
        summary, ledger = self.summary, self._ledger
        started = time.perf_counter()
        source_id = ledger.source_id(self.source)
        run_id = ledger.start_run(source_id, self.path.name, self.event_type)
        try:
            with fewer_collections():
                self._import(source_id, run_id)
        finally:
            summary.elapsed_s = time.perf_counter() - started
            if self._rejects.close():
                summary.rejects_path = self._rejects.path
            ledger.finish_run(run_id, summary.rows_read, summary.published, summary.rejected)
            log.info("batch import finished", file=self.path.name, source=self.source,
                     event_type=self.event_type, rows_read=summary.rows_read,
                     published=summary.published, rejected=summary.rejected,
                     already_imported=summary.already_imported, stopped=summary.stopped)

    def _import(self, source_id: int, run_id: int) -> None:
        summary, now = self.summary, datetime.now(UTC)
        pending: list[_Built] = []
        for column in self._unmapped:
            self._ignore(self._header_line, column)
        rows = self._rows(self._columns) if self._header != [] else iter(())
        for line, row in rows:
            summary.rows_read += 1
            if isinstance(row, RowProblem):
                self._reject(line, [FieldError(row.column, row.reason)], raw=True)
            elif (built := self._build(line, row, now)) is not None:
                pending.append(built)
            if len(pending) >= self.batch_size:
                self._flush(pending, source_id, run_id)
                pending, now = [], datetime.now(UTC)
            if summary.rows_read % self.batch_size == 0:
                self._report()
                if self._stop.is_set():
                    summary.stopped = True
                    break
        self._flush(pending, source_id, run_id)
        self._report()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current batch (published and recorded)."""
        self._stop.set()

    def close(self) -> None:
        self._close_file()
        self._rejects.close()
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    # -- the work -----------------------------------------------------------------------

    def _ignore(self, line: int, column: str) -> None:
        """``column`` (seen on ``line``) is read by no field: the first time, name it in
        the summary and the rejects file (a note: the row is not rejected for it)."""
        noted = self._unmapped_notes.note(column)
        if noted is not None:
            self.summary.ignored_columns.append(noted[0])
            self._rejects.write(line, *noted)

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self._bytes_read(), self.summary.rows_read)

    def _build(self, line: int, row: dict[str, Any], now: datetime) -> _Built | None:
        payload: dict[str, Any] = {"event_id": _PLACEHOLDER_ID}
        errors: list[FieldError] = []
        for name, convert in self._convert:
            value = row.get(name)
            if isinstance(value, str) and len(value) > CELL_MAX:
                errors.append(FieldError(name, f"longer than {CELL_MAX:,} characters"))
            elif value is not None:
                try:
                    converted = convert(value)
                except ValueError as exc:
                    errors.append(FieldError(name, str(exc)))
                    continue
                if converted is not None:  # an empty cell is an absent field
                    payload[name] = converted
        try:
            signal = build_signal(self.event_type, payload, source=self.source,
                                  pseudonymiser=self.pseudonymiser, now=now)
        except IntakeError as exc:  # one rejects line per field, conversion errors first
            bad = {e.field for e in errors}
            self._reject(line, errors + [e for e in exc.errors if e.field.split(".")[0] not in bad])
            return None
        if errors:
            self._reject(line, errors)
            return None
        # occurred_at is content when the row has it; else it is "now" and left out
        exclude = _TIMED if "occurred_at" in payload else _UNTIMED
        raw, text = event_id_for(self.source, self.event_type, signal, exclude)
        return raw, text, signal

    def _reject(self, line: int, errors: Sequence[FieldError], raw: bool = False) -> None:
        self.summary.rejected += 1
        for error in errors:
            self.summary.problems += 1
            column = error.field if raw else self._column_of(error.field)
            self._rejects.write(line, column, plain_reason(error.field, error.message))

    def _column_of(self, name: str) -> str:
        top = name.split(".")[0]
        if top == "subject_ref" and "bsn" in self._columns:
            top = "bsn"
        return self._columns.get(top, f"({name})")

    def _flush(self, pending: list[_Built], source_id: int, run_id: int) -> None:
        if not pending:
            return
        assert self._ledger is not None
        known = self._ledger.known(source_id, [raw for raw, _, _ in pending])
        fresh: dict[bytes, tuple[str, BaseModel]] = {}
        for raw, text, signal in pending:
            earlier = known.get(raw)
            if earlier is not None and earlier != run_id:
                self.summary.already_imported += 1
            elif earlier is not None or raw in fresh:
                self.summary.repeated_in_file += 1
            else:
                fresh[raw] = (text, signal)
        self._publisher.publish_with_ids(self.event_type, list(fresh.values()))
        self._ledger.record(source_id, run_id, list(fresh))
        self.summary.published += len(fresh)


class CsvBatchSource(BatchFileSource):
    """A CSV export (see module doc); ``delimiter`` None = sniff from the header line."""

    kind = "csv"

    def __init__(self, path: str | Path, *, delimiter: str | None = None, **options: Any) -> None:
        super().__init__(path, **options)
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter or "", delimiter)
        if delimiter is not None and len(delimiter) != 1:
            raise BatchFileError(f"--delimiter must be one character (or tab), not"
                                 f" {delimiter!r}")
        self.delimiter = delimiter
        self._raw: IO[bytes] | None = None
        self._text: CsvText | None = None

    def _open(self, encoding: FileEncoding) -> list[str]:
        self._raw = self.path.open("rb")
        self._raw.seek(encoding.skip)
        self._text = CsvText(io.TextIOWrapper(self._raw, encoding=encoding.name, newline=""),
                             str(self.path))
        header = self._text.read_header(self.delimiter)
        self._header_line, self.summary.delimiter = self._text.header_line, self._text.delimiter
        return header

    def _rows(self, fields: dict[str, str]) -> Iterator[tuple[int, dict[str, Any] | RowProblem]]:
        assert self._text is not None and self._header is not None
        index = self.mapping.indexes(self._header, fields)
        for line, cells in self._text.records(self._header):
            yield line, cells if isinstance(cells, RowProblem) else {
                name: cells[i] for name, i in index}

    def _bytes_read(self) -> int:
        return self._raw.tell() if self._raw is not None and not self._raw.closed else self.size

    def _close_file(self) -> None:
        if self._text is not None:
            self._text.close()
        if self._raw is not None:
            self._raw.close()

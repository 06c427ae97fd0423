"""Importing a creditor's batch file as signals: what ``signalhub import`` runs.

:class:`BatchImport` takes an :class:`ImportRequest` (what the command line asked for)
and the edge that reads batch files (:class:`BatchFileFormats`: the mapping files and the
formats, CSV and JSON Lines, in ``connectors/sources``), and decides the rest: the rows
are pseudonymised here with the pseudonym secrets, or, on a source's machine, sealed to
the hub's intake public key (:mod:`hub.sealed_import`); published rows are remembered in
the import ledger (:mod:`hub.import_ledger`) of the application database; rows that
cannot become signals go to the rejects file. :meth:`BatchImport.run` returns what the
run did (:class:`ImportSummary`), which :func:`summary_lines` describes. See
docs/import.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from hub.bus.base import Bus
from hub.connect import Connection
from hub.errors import BatchFileError
from hub.pseudonym import Pseudonymiser, PseudonymMaker
from hub.sealed_import import SealedImportPublisher, sealed_import
from hub.serde import AvroSerde
from hub.settings import Settings
from hub.store import Database, database_target

__all__ = [
    "DEFAULT_BATCH",
    "BatchFileFormats",
    "BatchImport",
    "BatchOpener",
    "BatchReader",
    "ImportRequest",
    "ImportSummary",
    "ProgressCallback",
    "summary_lines",
]

#: signals per bus produce (and ledger transaction)
DEFAULT_BATCH = 2_000
#: (bytes of the file read so far, rows read so far)
ProgressCallback = Callable[[int, int], None]
_ENCODINGS = {"utf-8-sig": "UTF-8", "cp1252": "Windows-1252", "utf-16": "UTF-16",
              "utf-32": "UTF-32"}


@dataclass
class ImportSummary:
    """What one run did; counts are rows (``problems``: the rejects file's lines on rows)."""

    path: Path
    event_type: str
    source: str
    encoding: str = ""
    bom: bool = False  #: the file starts with a byte-order mark (not read as text)
    encoding_note: str = ""  #: why --encoding was not followed (a byte-order mark), or ""
    delimiter: str | None = None
    rows_read: int = 0
    published: int = 0
    rejected: int = 0
    problems: int = 0
    already_imported: int = 0
    repeated_in_file: int = 0
    elapsed_s: float = 0.0
    rejects_path: Path | None = None
    stopped: bool = False
    empty: bool = False  #: the file had nothing at all (not even a header)
    #: columns (JSON Lines: keys) no field reads, as shown; their values were not imported
    ignored_columns: list[str] = field(default_factory=list)
    absent_optional: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Rows read per second."""
        return self.rows_read / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """One import as asked for: the file, its event type and sender, how to read it."""

    file: Path
    event_type: str
    source: str  #: URN of the sender: the signals' source (and part of their event ids)
    mapping: Path | None = None  #: a YAML column mapping; None: columns named as fields
    file_format: str = "auto"  #: "csv", "jsonl" or "auto" (by the file name's suffix)
    encoding: str | None = None
    delimiter: str | None = None
    rejects_path: Path | None = None  #: None: <file>.rejects.csv beside the file
    state_dir: Path | None = None  #: None: the settings' state directory
    batch_size: int = DEFAULT_BATCH
    seal_to: str | None = None  #: the hub's intake public key (None: the settings')


class BatchReader(Protocol):
    """Reads one batch file and publishes its rows (a batch-file source connector)."""

    summary: ImportSummary

    def run(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class BatchOpener(Protocol):
    """Opens the request's file, its mapping read, with what the core chose."""

    def __call__(self, *, bus: Bus, serde: AvroSerde, pseudonymiser: PseudonymMaker | None,
                 publisher: SealedImportPublisher | None, state_dir: Path,
                 ledger: Database | str, progress: ProgressCallback | None) -> BatchReader: ...


class BatchFileFormats(Protocol):
    """The edge that reads batch files: mapping files and file formats."""

    def opener(self, request: ImportRequest) -> BatchOpener:
        """Read the request's mapping file and choose the format; raises BatchFileError."""
        ...


class BatchImport:
    """One import: checked at once (mapping, file), then :meth:`run` on a connection.

    Raises :class:`~hub.errors.BatchFileError` when the file cannot be imported at all
    (nothing is published then), and other HubErrors when the bus or the ledger fail.
    """

    def __init__(self, request: ImportRequest, formats: BatchFileFormats) -> None:
        self.request = request
        self._open = formats.opener(request)
        if not request.file.is_file():
            raise BatchFileError(f"{request.file} does not exist or is not a file: check"
                                 " the path")
        #: the run was stopped by Ctrl-C (run it again: what was published is skipped)
        self.interrupted = False

    def run(self, conn: Connection, settings: Settings,
            progress: ProgressCallback | None = None) -> ImportSummary:
        """Import the file over ``conn``; what the run did (stopped early on Ctrl-C)."""
        state_dir = self.request.state_dir or settings.state_dir
        ledger = database_target(settings.model_copy(update={"state_dir": state_dir}))
        seal_to = self.request.seal_to or settings.intake_public_key
        pseudonymiser: PseudonymMaker | None = None
        publisher: SealedImportPublisher | None = None
        if seal_to:
            pseudonymiser, publisher = sealed_import(seal_to, state_dir, conn.bus, conn.serde)
        elif settings.pseudonym_secrets:
            pseudonymiser = Pseudonymiser(settings.pseudonym_secrets)
        reader = self._open(bus=conn.bus, serde=conn.serde, pseudonymiser=pseudonymiser,
                            publisher=publisher, state_dir=state_dir, ledger=ledger,
                            progress=progress)
        with reader:
            try:
                reader.run()
            except KeyboardInterrupt:
                reader.summary.stopped = self.interrupted = True
        return reader.summary


def summary_lines(summary: ImportSummary, mapped: bool) -> list[str]:
    """What a run did, for people: counts, encoding, ignored and absent columns."""
    how = f"encoding {_ENCODINGS.get(summary.encoding, summary.encoding)}"
    how += " (byte-order mark removed)" if summary.bom else ""
    if summary.delimiter is not None:
        how += f", delimiter {summary.delimiter!r}"
    lines = [f"{summary.path}: {summary.event_type} from {summary.source} ({how})"]
    if summary.rows_read == 0:
        what = ("is empty" if summary.empty else "has no rows" if summary.delimiter is None
                else "has a header but no rows")
        lines.append(f"  the file {what}: 0 rows, nothing published")
    rejects = ""
    if summary.rejects_path is not None:
        rejects = f"  ({summary.problems:,} problem(s): see {summary.rejects_path})" if (
            summary.problems) else f"  (see {summary.rejects_path})"
    counts = [("rows read", summary.rows_read), ("published", summary.published),
              ("rejected", summary.rejected), ("already imported", summary.already_imported)]
    if summary.repeated_in_file:
        counts.append(("repeated in the file", summary.repeated_in_file))
    lines += [f"  {name:<22}{n:>12,}" + (rejects if name == "rejected" else "")
              for name, n in counts]
    lines.append(f"  {'elapsed':<22}{summary.elapsed_s:>10.1f} s  ({summary.rate:,.0f} rows/s)")
    if summary.encoding_note:
        lines.append(f"  {summary.encoding_note}")
    if summary.ignored_columns:
        lines.append("  not imported, columns no field of the mapping reads (to import one,"
                     " name it in a --mapping file; see the rejects file): "
                     + ", ".join(summary.ignored_columns))
    if summary.absent_optional and mapped:
        lines.append("  optional columns of the mapping not in the file: "
                     + ", ".join(summary.absent_optional))
    if summary.stopped:
        lines.append("  stopped early: run the same command again to import the rest"
                     " (what was published is skipped)")
    return lines

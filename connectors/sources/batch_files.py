"""The batch file formats the hub reads, for :class:`hub.batch_import.BatchImport`:
CSV (:class:`~connectors.sources.csv_batch.CsvBatchSource`) and JSON Lines
(:class:`~connectors.sources.jsonl_batch.JsonlBatchSource`), with the YAML column
mappings of :mod:`connectors.sources.batch_mapping`. The composition root (``hub.cli``)
hands :data:`BATCH_FILES` to the ``signalhub import`` command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectors.sources.batch_mapping import load_mapping
from connectors.sources.csv_batch import CsvBatchSource
from connectors.sources.jsonl_batch import JsonlBatchSource
from hub.batch_import import BatchOpener, BatchReader, ImportRequest, ProgressCallback
from hub.bus.base import Bus
from hub.pseudonym import PseudonymMaker
from hub.sealed_import import SealedImportPublisher
from hub.serde import AvroSerde
from hub.store import Database

__all__ = ["BATCH_FILES", "JSONL_SUFFIXES", "BatchFiles"]

#: file name suffixes read as JSON Lines when the format is "auto" (else CSV)
JSONL_SUFFIXES = (".jsonl", ".ndjson")


class BatchFiles:
    """CSV and JSON Lines batch files (a :class:`hub.batch_import.BatchFileFormats`)."""

    def opener(self, request: ImportRequest) -> BatchOpener:
        """Read the request's mapping file (BatchFileError when it cannot be used) and
        choose the format: ``jsonl``, ``csv``, or ``auto`` by the file's suffix."""
        mapping = load_mapping(request.mapping, request.event_type) if request.mapping else None
        jsonl = request.file_format == "jsonl" or (
            request.file_format == "auto" and request.file.suffix.lower() in JSONL_SUFFIXES)

        def open_reader(*, bus: Bus, serde: AvroSerde, pseudonymiser: PseudonymMaker | None,
                        publisher: SealedImportPublisher | None, state_dir: Path,
                        ledger: Database | str, progress: ProgressCallback | None
                        ) -> BatchReader:
            options: dict[str, Any] = {
                "event_type": request.event_type, "source": request.source, "bus": bus,
                "serde": serde, "pseudonymiser": pseudonymiser, "publisher": publisher,
                "state_dir": state_dir, "ledger": ledger, "mapping": mapping,
                "encoding": request.encoding, "rejects_path": request.rejects_path,
                "batch_size": request.batch_size, "progress": progress}
            if jsonl:
                return JsonlBatchSource(request.file, **options)
            return CsvBatchSource(request.file, delimiter=request.delimiter, **options)

        return open_reader


#: the formats ``signalhub import`` reads
BATCH_FILES = BatchFiles()

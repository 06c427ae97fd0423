"""Batch files in JSON Lines (one JSON object per line): :class:`JsonlBatchSource`.

The same engine as :class:`connectors.sources.csv_batch.CsvBatchSource` (mapping,
rejects file, content-derived event ids, import ledger); only reading differs. There is
no header, so a missing required key is a problem of its row (in the rejects file), not
of the file. Keys are matched exactly (JSON is case-sensitive); values may be JSON
types (numbers, booleans, lists) or text in the file's conventions (``"1.234,56"``,
``"ja"``, ``"01-03-2025"``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from connectors.sources.batch_mapping import RowProblem
from connectors.sources.csv_batch import BatchFileSource

__all__ = ["JsonlBatchSource"]


class JsonlBatchSource(BatchFileSource):
    """A JSON Lines file of signals (see module doc)."""

    kind = "jsonl"

    _file: IO[bytes] | None = None
    _encoding = "utf-8-sig"
    _done = 0

    def _open(self, encoding: str) -> list[str] | None:
        self._file = self.path.open("rb")
        self._encoding = encoding
        return [] if self.size == 0 else None

    def _rows(self, fields: dict[str, str]) -> Iterator[tuple[int, dict[str, Any] | RowProblem]]:
        assert self._file is not None
        keys = list(fields.items())
        for number, raw in enumerate(self._file, 1):
            self._done += len(raw)
            text = raw.decode(self._encoding)  # the whole file was checked in setup
            if not text.strip():
                continue
            try:
                item = json.loads(text)
            except ValueError:
                yield number, RowProblem("(row)", "not valid JSON")
                continue
            if not isinstance(item, dict):
                yield number, RowProblem("(row)", "not a JSON object")
                continue
            yield number, {name: item[key] for name, key in keys if key in item}

    def _bytes_read(self) -> int:
        return self._done

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()

"""Batch files in JSON Lines (one JSON object per line): :class:`JsonlBatchSource`.

The same engine as :class:`connectors.sources.csv_batch.CsvBatchSource` (mapping,
rejects file, content-derived event ids, import ledger); only reading differs. There is
no header, so a missing required key is a problem of its row (in the rejects file), not
of the file. Keys are matched exactly (JSON is case-sensitive); values may be JSON
types (numbers, booleans, lists) or text in the file's conventions (``"1.234,56"``,
``"ja"``, ``"01-03-2025"``). A line longer than ``JSONL_LINE_MAX`` bytes, nested
deeper than ``JSON_DEPTH_MAX`` or not valid JSON is a problem of its row; a key no field
reads is named in the summary and the rejects file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from connectors.sources.batch_io import FileEncoding
from connectors.sources.batch_lines import JSONL_LINE_MAX, json_line, skip_rest_of_line
from connectors.sources.batch_mapping import BatchFileError, RowProblem
from connectors.sources.csv_batch import BatchFileSource

__all__ = ["JsonlBatchSource"]


class JsonlBatchSource(BatchFileSource):
    """A JSON Lines file of signals (see module doc)."""

    kind = "jsonl"

    _file: IO[bytes] | None = None
    _encoding = "utf-8-sig"
    _done = 0

    def _open(self, encoding: FileEncoding) -> list[str] | None:
        if encoding.name.startswith(("utf-16", "utf-32")):
            raise BatchFileError(f"{self.path} is {encoding.name.upper()}: JSON Lines files"
                                 " are UTF-8; save it as UTF-8")
        self._file = self.path.open("rb")
        self._file.seek(encoding.skip)
        self._encoding, self._done = encoding.name, encoding.skip
        return [] if self.size == 0 else None

    def _rows(self, fields: dict[str, str]) -> Iterator[tuple[int, dict[str, Any] | RowProblem]]:
        assert self._file is not None
        keys = list(fields.items())
        known = set(fields.values())
        read = self._file.readline
        number = 0
        while raw := read(JSONL_LINE_MAX + 1):
            number += 1
            self._done += len(raw)
            if len(raw) > JSONL_LINE_MAX and not raw.endswith(b"\n"):
                skip_rest_of_line(read, JSONL_LINE_MAX, (b"\n",))
                self._done = self._file.tell()
                yield number, RowProblem("(row)", f"a line longer than {JSONL_LINE_MAX:,}"
                                         " bytes")
                continue
            text = raw.decode(self._encoding)  # the whole file was checked in setup
            if not text.strip():
                continue
            item = json_line(text)
            if isinstance(item, RowProblem):
                yield number, item
                continue
            if not isinstance(item, dict):
                yield number, RowProblem("(row)", "not a JSON object")
                continue
            if not known.issuperset(item):
                for key in sorted(item.keys() - known):
                    self._ignore(number, key)
            yield number, {name: item[key] for name, key in keys if key in item}

    def _bytes_read(self) -> int:
        return self._done

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()

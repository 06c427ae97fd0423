"""Reading a batch file's lines within limits (see docs/import.md, "Limits").

Whatever a file holds, a line, a cell or a JSON value that is too large or malformed is
a problem of its row (line, column where known, and a reason), never an exception out
of the import: ``csv.reader`` is fed physical lines of at most
:data:`CSV_LINE_MAX` characters (:class:`CsvText`); :func:`json_line` parses one
JSON Lines line (at most :data:`JSONL_LINE_MAX` bytes) of at most :data:`JSON_DEPTH_MAX`
levels. :class:`UnmappedColumns` names the columns (or JSON keys) no field reads in the
summary and the rejects file.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

from connectors.sources.batch_mapping import BatchFileError, RowProblem, column_label

__all__ = [
    "CELL_MAX",
    "CSV_LINE_MAX",
    "JSONL_LINE_MAX",
    "JSON_DEPTH_MAX",
    "CsvText",
    "UnmappedColumns",
    "json_line",
    "long_cell",
    "skip_rest_of_line",
]

#: characters in a cell (a value) the mapping reads; no field of a signal is longer
#: than 1,000 characters
CELL_MAX = 4_096
#: characters in one physical line of a CSV file (csv's own field limit is the same,
#: so no single line can make the parser fail)
CSV_LINE_MAX = 131_072
#: bytes in one line of a JSON Lines file (without its line break)
JSONL_LINE_MAX = 65_536
#: nesting of arrays and objects in one JSON Lines line (a signal needs 2)
JSON_DEPTH_MAX = 32
_BREAKS = ("\n", "\r")
_DELIMITERS = (";", ",", "\t")
#: distinct unmapped columns or keys named at most per file
_UNMAPPED_MAX = 50


class UnmappedColumns:
    """Columns (JSON Lines: keys) that no field of the mapping reads. :meth:`note` says
    the first time a column is seen how to show it and why its values are not imported
    (for the summary and the rejects file); at most :data:`_UNMAPPED_MAX` are named."""

    def __init__(self, absent: Iterable[str]) -> None:
        #: casefolded -> mapped column that is not in the file (for "did you mean")
        self._absent = {c.casefold(): c for c in absent}
        self._seen: set[str] = set()

    def note(self, column: str) -> tuple[str, str] | None:
        """(label, reason) the first time ``column`` is seen, else None."""
        if column in self._seen or len(self._seen) > _UNMAPPED_MAX:
            return None
        self._seen.add(column)
        if len(self._seen) > _UNMAPPED_MAX:
            return "(more)", (f"more columns or keys not in the mapping: only the first"
                              f" {_UNMAPPED_MAX} are listed")
        reason = ("not in the mapping: its values were not imported; to import them, name"
                  " this column in a mapping file (--mapping, see docs/import.md)")
        near = difflib.get_close_matches(column.casefold(), self._absent, n=1, cutoff=0.8)
        if near:
            reason += f"; did you mean {self._absent[near[0]]!r}, which the mapping reads?"
        return column_label(column), reason


def skip_rest_of_line(read: Any, size: int, ends: tuple[Any, ...]) -> None:
    """Read and drop the rest of an over-long line (``read(size)`` until a chunk ends
    with one of ``ends``, or the file does)."""
    while (chunk := read(size)) and not chunk.endswith(ends):
        pass


class _Lines:
    """The physical lines of a text stream for ``csv.reader``, each at most
    :data:`CSV_LINE_MAX` characters: of a longer line only the start is passed on and
    :attr:`over_long` is set (the record it ends up in is rejected)."""

    def __init__(self, read: Callable[[int], str]) -> None:
        self._read = read
        self.over_long = False
        #: the start of the last over-long line, to find which cell made it long
        self.last_long = ""
        #: the last line passed on
        self.last = ""
        #: lines read past the reader (see :meth:`skip_quoted`)
        self.skipped = 0
        self._lines = self._iterate()

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def _iterate(self) -> Iterator[str]:
        read = self._read
        while line := read(CSV_LINE_MAX):
            if len(line) == CSV_LINE_MAX and not line.endswith(_BREAKS):
                skip_rest_of_line(read, CSV_LINE_MAX, _BREAKS)
                self.over_long, self.last_long = True, line
            self.last = line
            yield line

    def skip_quoted(self) -> None:
        """After csv failed inside a quoted cell spanning lines: skip to the end of that
        cell. Inside quotes a quote is doubled, so the line with an odd number of quotes
        holds the closing one (the rest of that line belongs to the failed record too)."""
        if self.last.count('"') % 2:
            return
        for line in self._lines:
            self.skipped += 1
            if line.count('"') % 2:
                return


class CsvText:
    """A CSV file's text (opened with ``newline=""``): :meth:`read_header`, then
    :meth:`records`; ``where`` (the path) is for messages."""

    def __init__(self, text: IO[str], where: str) -> None:
        self._text = text
        self._where = where
        #: the line of the header (blank lines before it are skipped)
        self.header_line = 0
        self.delimiter: str | None = None

    def read_header(self, delimiter: str | None) -> list[str]:
        """The header's column names ([] when the file has no line that is not blank);
        the delimiter is ``delimiter``, or whichever of ``;``, ``,`` and tab the header
        line has most."""
        line = ""
        while not line.strip():
            line = self._text.readline(CSV_LINE_MAX)
            self.header_line += 1
            if not line:
                return []
        if len(line) == CSV_LINE_MAX and not line.endswith(_BREAKS):
            raise BatchFileError(f"{self._where}: the header line is longer than"
                                 f" {CSV_LINE_MAX:,} characters: is this a CSV file?")
        self.delimiter = delimiter or max(_DELIMITERS, key=line.count)
        header = next(csv.reader([line], delimiter=self.delimiter), [])
        return [c.replace("\ufeff", "").strip() for c in header]

    def records(self, header: Sequence[str]) -> Iterator[tuple[int, list[str] | RowProblem]]:
        """(line where it starts, cells) per record after the header, blank lines
        skipped; a record that cannot be read, or has a cell count other than the
        header's, as a :class:`RowProblem`."""
        width = len(header)
        lines = _Lines(self._text.readline)
        reader = csv.reader(lines, delimiter=self.delimiter or ",")
        first, previous = self.header_line, 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:  # a quoted cell over csv's field limit, on many lines
                line = first + previous + 1
                lines.skip_quoted()
                previous, lines.over_long = reader.line_num + lines.skipped, False
                yield line, RowProblem("(row)", f"a quoted cell longer than {CSV_LINE_MAX:,}"
                                       " characters: check for a quote that is not closed")
                continue
            line, previous = first + previous + 1, reader.line_num + lines.skipped
            if lines.over_long:
                lines.over_long = False
                yield line, self._over_long(lines.last_long, header)
            elif len(cells) == width:
                yield line, cells
            elif not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            elif len(cells) < width or any(c.strip() for c in cells[width:]):
                yield line, RowProblem("(row)", f"has {len(cells)} cells where the header"
                                       f" has {width}: check the delimiter and quotes")
            else:
                yield line, cells

    def _over_long(self, start: str, header: Sequence[str]) -> RowProblem:
        """The problem of a record with a line over CSV_LINE_MAX (``start``: its start)."""
        at = long_cell(start, self.delimiter or ",")
        if at is None or at >= len(header):
            return RowProblem("(row)", f"a line longer than {CSV_LINE_MAX:,} characters")
        return RowProblem(column_label(header[at]), f"longer than {CELL_MAX:,} characters"
                          f" (and its line longer than {CSV_LINE_MAX:,})")

    def close(self) -> None:
        self._text.close()


def long_cell(line: str, delimiter: str) -> int | None:
    """Index of the first cell longer than :data:`CELL_MAX` in one CSV line (quotes as
    csv's default dialect), None if there is none."""
    index = start = 0
    quoted = False
    for mark in re.finditer(f'["{re.escape(delimiter)}]', line):
        if mark.group() == '"':
            quoted = not quoted  # a doubled quote toggles twice
        elif not quoted:
            if mark.start() - start > CELL_MAX:
                return index
            index, start = index + 1, mark.end()
    return index if len(line) - start > CELL_MAX else None


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in ``value`` (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack += [(v, level + 1) for v in (item.values() if isinstance(item, dict)
                                               else item)]
    return deepest


def json_line(text: str) -> Any:
    """One JSON Lines line's value, or a :class:`RowProblem` saying why it has none."""
    try:
        value = json.loads(text)
    except RecursionError:
        return RowProblem("(row)", f"nested deeper than {JSON_DEPTH_MAX} levels")
    except ValueError:  # JSONDecodeError, or an integer of more than 4,300 digits
        return RowProblem("(row)", "not valid JSON")
    if text.count("[") + text.count("{") > JSON_DEPTH_MAX and _depth(value) > JSON_DEPTH_MAX:
        return RowProblem("(row)", f"nested deeper than {JSON_DEPTH_MAX} levels")
    if "\\u" in text:
        try:  # "\ud800" is valid JSON but no text: it cannot be stored or published
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return RowProblem("(row)", "not valid JSON text: a \\u escape of half a"
                              " surrogate pair (\\ud800 to \\udfff)")
    return value

"""File-level input and output of the batch-file sources: encoding detection,
content-derived event ids, publishing and the rejects file (the import ledger is the
core's: :mod:`hub.import_ledger`).
"""

from __future__ import annotations

import codecs
import csv
import gc
import hashlib
import os
import uuid
from collections.abc import Container, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

from connectors.sources.batch_mapping import BatchFileError
from hub.bus.base import Record
from hub.intake import SignalPublisher
from hub.topics import SIGNAL_TOPICS

__all__ = [
    "IMPORT_NAMESPACE",
    "FileEncoding",
    "ImportPublisher",
    "RejectsFile",
    "canonical_content",
    "detect_encoding",
    "event_id_for",
    "fewer_collections",
    "rejects_path_for",
]

#: uuid5 namespace of imported signals' event ids (fixed forever: ids must not change)
IMPORT_NAMESPACE = uuid.UUID("5f0c2b8e-3d4a-5e61-9b7c-2a1d0e4f6c38")
_NAMESPACE = IMPORT_NAMESPACE.bytes


@dataclass(frozen=True, slots=True)
class FileEncoding:
    """How to read a batch file: skip ``skip`` bytes (a byte-order mark the codec does
    not consume itself), then decode with ``name``; ``bom`` the file starts with one;
    ``note`` why ``--encoding`` was not followed (empty when it was, or not given)."""

    name: str
    skip: int = 0
    bom: bool = False
    note: str = ""


#: byte-order marks (UTF-32 before UTF-16: FF FE 00 00 starts with FF FE) and the codec
#: that reads such a file, consuming the mark itself
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
_SHOWN = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32"}


def _family(codec: str) -> str:
    """utf-8 / utf-16 / utf-32 for the Unicode codecs (any byte order, BOM or not)."""
    return next((f for f in ("utf-8", "utf-16", "utf-32") if codec.startswith(f)), codec)


def _decodes(path: Path, encoding: str, skip: int = 0) -> int | None:
    """None when all of ``path`` after ``skip`` bytes decodes; else about where decoding
    failed (byte)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    done = skip
    with path.open("rb") as file:
        file.seek(skip)
        try:
            while chunk := file.read(1 << 20):
                decoder.decode(chunk)
                done += len(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return done + exc.start
    return None


def _codec(requested: str) -> str:
    try:
        name = codecs.lookup(requested).name
    except LookupError:
        raise BatchFileError(f"unknown encoding {requested!r}: try utf-8 or cp1252") from None
    return "utf-8-sig" if name == "utf-8" else name


def detect_encoding(path: Path, requested: str | None = None) -> FileEncoding:
    """How to read ``path``: a byte-order mark (UTF-8, UTF-16, UTF-32) is detected on the
    raw bytes and never read as text, whatever ``requested`` says; the mark's encoding
    wins over ``requested`` when the file decodes in it. Without a mark: ``requested``,
    or UTF-8 if the whole file decodes, else Windows-1252 (cp1252)."""
    try:
        with path.open("rb") as file:
            head = file.read(4)
        wanted = _codec(requested) if requested else None
        marked = next(((codec, len(mark)) for mark, codec in _BOMS if head.startswith(mark)),
                      None)
        candidates: list[tuple[str, int]]
        if marked is None:
            candidates = [(wanted, 0)] if wanted else [("utf-8-sig", 0), ("cp1252", 0)]
        elif wanted is None or _family(wanted) == _family(marked[0]):
            # an Excel file edited in a Windows-1252 tool keeps the UTF-8 mark
            candidates = [(marked[0], 0)] + ([("cp1252", marked[1])]
                                             if wanted is None and marked[1] == 3 else [])
        else:
            candidates = [(marked[0], 0), (wanted, marked[1])]
        failed: int | None = 0
        for name, skip in candidates:
            failed = _decodes(path, name, skip)
            if failed is None:
                note = ""
                if wanted and _family(name) != _family(wanted):
                    note = (f"--encoding {requested} not followed: the file starts with a"
                            f" {_SHOWN[name]} byte-order mark")
                return FileEncoding(name, skip, marked is not None, note)
    except OSError as exc:
        raise BatchFileError(f"cannot read {path}: {exc.strerror}") from exc
    if requested:
        raise BatchFileError(f"{path} is not valid {requested} (near byte {failed}):"
                             " pass the right --encoding, or leave it out to detect")
    if marked is not None:
        raise BatchFileError(f"{path} starts with a {_SHOWN[marked[0]]} byte-order mark but"
                             f" is not valid {_SHOWN[marked[0]]} (near byte {failed}): save it"
                             " again, or pass --encoding")
    raise BatchFileError(f"{path} is neither UTF-8 nor Windows-1252: pass --encoding")


def canonical_content(content: Mapping[str, Any], exclude: Container[str] = ()) -> str:
    """``name=value`` lines in name order, without ``exclude`` and None values (so a new
    optional field keeps old ids); dates ISO, booleans True/False, enums their symbol,
    lists comma-joined; a backslash or newline inside text is escaped, so different
    content never gives the same text."""
    parts = []
    for name in sorted(content):
        value = content[name]
        if value is None or name in exclude:
            continue
        if isinstance(value, str):  # enums too: concatenation takes the symbol
            if "\n" in value or "\\" in value:
                value = value.replace("\\", "\\\\").replace("\n", "\\n")
            parts.append(name + "=" + value)
        elif isinstance(value, list):
            parts.append(name + "=" + ",".join(value))
        else:
            parts.append(f"{name}={value}")
    return "\n".join(parts)


def event_id_for(source: str, event_type: str, signal: BaseModel,
                 exclude: Container[str] = ("event_id", "source", "occurred_at",
                                            "received_at")) -> tuple[bytes, str]:
    """uuid5(IMPORT_NAMESPACE, ``source \\n event_type \\n`` + :func:`canonical_content`
    of the signal's fields but ``exclude``) as 16 bytes and as text (= :func:`uuid.uuid5`)."""
    content = canonical_content(signal.__dict__, exclude)
    raw = bytearray(hashlib.sha1(
        _NAMESPACE + f"{source}\n{event_type}\n{content}".encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return bytes(raw), f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@contextmanager
def fewer_collections(young: int = 50_000) -> Iterator[None]:
    """Run the cyclic garbage collector less often inside (``young`` allocations between
    passes instead of 700). An import allocates millions of short-lived objects without
    reference cycles (freed by reference counting), and each pass scans the pending
    batch: about a tenth of an import's CPU time. The thresholds are restored after."""
    before = gc.get_threshold()
    gc.set_threshold(max(young, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


# --- publishing ------------------------------------------------------------------------


class ImportPublisher(SignalPublisher):
    """SignalPublisher for signals whose event id is known only after validation (it is
    derived from their content): the id is given beside the signal, so no model copy is
    made, and no ``model_dump()`` copies either (two per signal in ``record``): a
    signal's attributes are already what fastavro takes (enums are ``str``, no nested
    models). ``tests/test_import.py`` checks the records equal :class:`SignalPublisher`'s
    for the signal with that id, byte for byte."""

    def topic(self, event_type: str) -> str:
        """The topic ``event_type``'s signals go to."""
        return SIGNAL_TOPICS[event_type]

    def record_with_id(self, event_type: str, event_id: str, signal: BaseModel) -> Record:
        topic = SIGNAL_TOPICS[event_type]
        data = dict(signal.__dict__, event_id=event_id)
        value = self.serde.encode(topic, str(getattr(signal, "avro_name")), data)  # noqa: B009
        subject = str(data["subject_ref"]).encode()
        return Record(topic, value, subject, (
            ("ce_specversion", b"1.0"),
            ("ce_id", event_id.encode()),
            ("ce_source", str(data["source"]).encode()),
            ("ce_type", f"nl.signalhub.{event_type}.v1".encode()),
            ("ce_time", data["occurred_at"].isoformat().encode()),
            ("ce_subject", subject),
            ("content-type", b"application/avro"),
        ))

    def publish_with_ids(self, event_type: str, signals: Sequence[tuple[str, BaseModel]]) -> None:
        """Publish (event id, signal) pairs durably."""
        if signals:
            self.bus.produce([self.record_with_id(event_type, i, s) for i, s in signals])


# --- the rejects file ------------------------------------------------------------------


def rejects_path_for(path: Path) -> Path:
    """Where the rejects of ``path`` go by default: ``<file>.rejects.csv`` beside it."""
    return path.with_name(path.name + ".rejects.csv")


class RejectsFile:
    """The rejects file, opened at the first problem. A rejects file left at the same
    path by an earlier run is overwritten even when this run has none (header only),
    so it never describes another run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stale = path.exists()
        if not os.access(path if self._stale else path.parent, os.W_OK):
            raise BatchFileError(f"cannot write the rejects file {path}: choose a place you"
                                 " may write to with --rejects PATH")
        self._file: IO[str] | None = None
        self._writer: Any = None

    def _open(self) -> None:
        try:
            self._file = self.path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise BatchFileError(f"cannot write the rejects file {self.path}: {exc.strerror};"
                                 " choose another place with --rejects PATH") from exc
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(("line", "column", "reason"))

    def write(self, line: int, column: str, reason: str) -> None:
        if self._writer is None:
            self._open()
        self._writer.writerow((line, column, reason))

    def close(self) -> bool:
        """Close (idempotent); True when this run wrote rejects."""
        written = self._writer is not None
        if not written and self._stale:
            self._open()
            self._writer = None
        self._stale = False
        if self._file is not None:
            self._file.close()
            self._file = None
        return written

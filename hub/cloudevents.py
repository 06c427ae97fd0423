"""CloudEvents 1.0 attributes as Kafka headers (the Kafka protocol binding, binary mode),
built in this one place for every record the hub produces with them.

Attribute names are CloudEvents' (lower-case letters and digits only), each carried as
header ``ce_<name>``; the data's media type is the ``content-type`` header (Avro in the
Confluent wire format: ``application/avro``). The trace a record belongs to travels as
a W3C Trace Context ``traceparent`` header (``00-<trace id>-<span id>-01``), the header
tracing tools read, so an alert links to its processing records on ``audit.v1``.
"""

from __future__ import annotations

import re
from datetime import datetime

__all__ = ["AVRO_CONTENT_TYPE", "SPEC_VERSION", "EventHeaders", "Headers", "headers", "traceparent"]

SPEC_VERSION = b"1.0"
AVRO_CONTENT_TYPE = b"application/avro"
_ATTRIBUTE = re.compile(r"^[a-z0-9]{1,20}$")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")

Headers = tuple[tuple[str, bytes], ...]


def traceparent(trace_id: str, span_id: str) -> bytes:
    """The W3C ``traceparent`` value of a sampled span; ValueError for malformed ids."""
    if not _TRACE_ID.match(trace_id) or not _SPAN_ID.match(span_id):
        raise ValueError("trace id must be 32 and span id 16 lower-case hex digits")
    return f"00-{trace_id}-{span_id}-01".encode()


def headers(
    *,
    id: str,
    source: str,
    type: str,
    time: datetime | str,
    subject: str | None = None,
    trace: tuple[str, str] | None = None,
    **extensions: str,
) -> Headers:
    """The headers of one event: the required attributes, ``time`` (RFC 3339), the
    optional ``subject``, extension attributes (names checked against CloudEvents'
    rule), ``content-type`` and, with ``trace`` = (trace id, span id), ``traceparent``."""
    out = [
        ("ce_specversion", SPEC_VERSION),
        ("ce_id", id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", type.encode()),
        ("ce_time", (time if isinstance(time, str) else time.isoformat()).encode()),
    ]
    if subject is not None:
        out.append(("ce_subject", subject.encode()))
    for name, value in extensions.items():
        if not _ATTRIBUTE.match(name):
            raise ValueError(f"{name!r} is not a CloudEvents attribute name ([a-z0-9])")
        out.append((f"ce_{name}", value.encode()))
    out.append(("content-type", AVRO_CONTENT_TYPE))
    if trace is not None:
        out.append(("traceparent", traceparent(*trace)))
    return tuple(out)


class EventHeaders:
    """:func:`headers` for many events of one source and type (the router's alerts):
    the fixed attributes encoded once. ``trace`` ids must be well-formed (they are not
    checked again: the caller generates them)."""

    def __init__(self, *, source: str, type: str) -> None:
        self._spec = ("ce_specversion", SPEC_VERSION)
        self._source = ("ce_source", source.encode())
        self._type = ("ce_type", type.encode())
        self._content = ("content-type", AVRO_CONTENT_TYPE)
        self._time: tuple[str, tuple[str, bytes]] = ("", ("ce_time", b""))

    def __call__(self, *, id: str, time: str, trace: tuple[str, str]) -> Headers:
        if self._time[0] != time:
            self._time = (time, ("ce_time", time.encode()))
        return (
            self._spec, ("ce_id", id.encode()), self._source, self._type, self._time[1],
            self._content, ("traceparent", f"00-{trace[0]}-{trace[1]}-01".encode()),
        )

"""The log stream carries no raw BSN: exceptions, nested values, eight-digit BSNs and the
standard library's records (kafka-python, uvicorn, warnings) are redacted, and every
line is JSON."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.logging import configure_logging, redact_text
from hub.serving import serve, server_address, stop

#: test values passing the 11-test; the second is a BSN with a leading zero
BSN = "123456782"
BSN_ZERO = "012345672"
EIGHT = BSN_ZERO[1:]


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """configure_logging writing to a StringIO at DEBUG; logging restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    hooks = sys.excepthook, threading.excepthook
    yield out
    sys.excepthook, threading.excepthook = hooks
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    text = out.getvalue()
    for raw in (BSN, EIGHT):
        assert raw not in text, f"raw BSN {raw} in the log:\n{text}"
    lines = text.splitlines()
    assert lines
    return [json.loads(line) for line in lines]  # every line is JSON


def test_exception_message_and_traceback_are_redacted(stream: io.StringIO) -> None:
    try:
        raise ValueError(f"bad bsn {BSN}")
    except ValueError:
        structlog.get_logger("hub.test").exception("ingest failed", topic="signals.debt.v1")
    [event] = _lines(stream)
    assert event["topic"] == "signals.debt.v1" and event["level"] == "error"
    assert "ValueError: bad bsn [redacted]" in event["exception"]
    assert "Traceback (most recent call last)" in event["exception"]


def test_nested_values_and_eight_digit_bsns_are_redacted(stream: io.StringIO) -> None:
    structlog.get_logger("hub.test").warning(
        f"odd record {EIGHT}",
        record={"people": [{"bsn": BSN, "note": f"typed {BSN} twice"}, (f"x{EIGHT}",)],
                "error": KeyError(BSN), BSN: "a key", "raw": BSN.encode()},
        offset=42, event_id="0b7e2a1c-9d4f-4e8a-8c21-123456789012",
    )
    [event] = _lines(stream)
    assert event["event"] == "odd record [redacted]"
    people = event["record"]["people"]
    assert people[0] == {"bsn": "[redacted]", "note": "typed [redacted] twice"}
    assert people[1] == ["x[redacted]"]
    assert event["record"]["error"] == "KeyError('[redacted]')"
    assert event["record"]["[redacted]"] == "a key"
    assert event["offset"] == 42, "numbers stay numbers"
    assert event["event_id"] == "0b7e2a1c-9d4f-4e8a-8c21-123456789012", "ids are kept"


def test_stdlib_records_at_debug_are_json_and_redacted(stream: io.StringIO) -> None:
    logging.getLogger("kafka").debug("fetched record for %s", BSN)
    # kafka-python's debug lines show request bytes: an Avro length prefix before it
    logging.getLogger("kafka.conn").debug("Request 7: %r", b"\x12" + BSN.encode())
    try:
        raise RuntimeError(f"subject {EIGHT}")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"deprecated for {BSN}", UserWarning, stacklevel=1)
    events = _lines(stream)
    assert [e["logger"] for e in events] == ["kafka", "kafka.conn", "uvicorn.error",
                                            "py.warnings"]
    assert events[0] == {**events[0], "event": "fetched record for [redacted]",
                         "level": "debug"}
    assert events[1]["event"] == "Request 7: b'\\x12[redacted]'"
    assert "RuntimeError: subject [redacted]" in events[2]["exception"]


def test_a_record_that_cannot_be_formatted_is_not_echoed(stream: io.StringIO) -> None:
    # the standard library would print the message and its arguments in clear
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "signalhub"]
    handler.handle(logging.LogRecord("kafka", logging.INFO, __file__, 1, "broken %s %s",
                                     (BSN,), None))
    [event] = _lines(stream)
    assert event == {"event": "log record could not be formatted", "logger": "kafka",
                     "level": "error"}


def test_uvicorn_lines_reach_the_redacting_handler(stream: io.StringIO) -> None:
    async def fail(request: Request) -> Response:
        raise ValueError(f"bad bsn {BSN}")

    server, thread = serve(Starlette(routes=[Route("/fail", fail)]), port=0)
    try:
        host, port = server_address(server)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://{host}:{port}/fail", timeout=10)
        err.value.close()
        assert err.value.code == 500
    finally:
        stop(server, thread)
    events = _lines(stream)
    uvicorn = [e for e in events if e["logger"].startswith("uvicorn")]
    assert any(e["event"].startswith("Uvicorn running on") for e in uvicorn)
    [failure] = [e for e in uvicorn if "exception" in e]
    assert "ValueError: bad bsn [redacted]" in failure["exception"]


def test_console_format_is_redacted_too() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging("DEBUG", "console", stream=out)
        try:
            raise ValueError(f"bad bsn {BSN}")
        except ValueError:
            structlog.get_logger("hub.test").exception("failed", nested={"n": [EIGHT]})
        logging.getLogger("kafka").debug("for %s", BSN)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)
        structlog.reset_defaults()
    text = out.getvalue()
    assert BSN not in text and EIGHT not in text
    assert "ValueError: bad bsn [redacted]" in text and "for [redacted]" in text


@pytest.mark.parametrize(("text", "expected"), [
    (f"bsn {BSN}.", "bsn [redacted]."),
    (f"BSN{BSN}", "BSN[redacted]"),
    (f"{EIGHT}", "[redacted]"),
    (f"n={BSN_ZERO}", "n=[redacted]"),
    ("offset 123456789", "offset 123456789"),  # fails the 11-test: not a BSN
    (f"1{BSN}", f"1{BSN}"),  # ten digits: not a BSN
    ("at 2024-05-09T12:34:56.123456Z", "at 2024-05-09T12:34:56.123456Z"),
    ("ps1-" + BSN + "ab" * 15 + "c", "ps1-" + BSN + "ab" * 15 + "c"),  # a pseudonym
])
def test_what_counts_as_bsn_shaped(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_uncaught_exceptions_are_logged_redacted(stream: io.StringIO) -> None:
    def fail() -> None:
        raise RuntimeError(f"worker died on {BSN}")

    thread = threading.Thread(target=fail, name="worker")
    thread.start()
    thread.join()
    try:
        raise KeyError(EIGHT)
    except KeyError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    events = _lines(stream)
    assert [e["level"] for e in events] == ["error", "critical"]
    assert "RuntimeError" in events[0]["exception"] and "KeyError" in events[1]["exception"]

"""The demo's logging: every line to its log file, warnings and errors also to the
terminal in one short, redacted line each (hub.logging.configure_logging)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from hub.logging import configure_logging

BSN = "111222333"  # passes the 11-test: a BSN shape, never to be shown


@pytest.fixture
def log_file() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream, brief_warnings=True)
    try:
        yield stream
    finally:
        configure_logging()


def test_warnings_and_errors_reach_the_terminal_in_one_line_each(
        log_file: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
    log = structlog.get_logger("hub.test")
    log.info("signal accepted", topic="signals.debt.v1")
    log.warning("component failed", component="sinks", bsn=BSN)
    try:
        raise RuntimeError(f"broker gone\nwhile sending {BSN}")
    except RuntimeError:
        log.exception("router stopped")
    logging.getLogger("uvicorn.error").error("x" * 500)
    terminal = capsys.readouterr().err.splitlines()
    assert terminal[:2] == [
        "warning: component failed (hub.test)",
        "error: router stopped: RuntimeError: broker gone while sending [redacted]"
        " (hub.test)",
    ]
    assert len(terminal) == 3 and terminal[2].startswith("error: xxx")
    assert len(terminal[2]) <= 160
    lines = [json.loads(line) for line in log_file.getvalue().splitlines()]
    assert [line["event"] for line in lines[:3]] == [
        "signal accepted", "component failed", "router stopped"]
    assert BSN not in log_file.getvalue()


def test_without_brief_warnings_the_terminal_stays_quiet(
        capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream, brief_warnings=True)
    configure_logging("INFO", "json", stream=stream)  # configured again: one handler
    try:
        structlog.get_logger("hub.test").warning("component failed")
        assert capsys.readouterr().err == ""
        assert '"component failed"' in stream.getvalue()
    finally:
        configure_logging()

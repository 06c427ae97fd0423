"""Logging with structlog: one event per line, JSON off a terminal, console on one.

Log lines carry ``topic``, ``partition``, ``offset`` and ``event_id`` where they apply,
never personal data: the ``redact_personal_data`` processor drops keys that could hold
it (``bsn``, ``name``, ...) and masks any nine-digit run that could be a BSN.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

__all__ = ["configure_logging", "redact_personal_data"]

_FORBIDDEN_KEYS = frozenset({"bsn", "name", "first_name", "last_name", "email", "phone",
                             "birth_date", "date_of_birth"})
_NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)")


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop keys that may hold personal data and mask BSN-shaped numbers in strings."""
    for key in list(event_dict):
        if key.lower() in _FORBIDDEN_KEYS:
            event_dict[key] = "[redacted]"
        elif isinstance(event_dict[key], str):
            event_dict[key] = _NINE_DIGITS.sub("[redacted]", event_dict[key])
    return event_dict


def configure_logging(
    level: str = "INFO", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    """Set up structlog (and route the standard library's logging through it)."""
    console = sys.stderr.isatty() if fmt == "auto" else fmt == "console"
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_personal_data,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # sys.stderr is looked up per logger, so a replaced stream (tests) is honoured
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")

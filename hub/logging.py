"""Logging with structlog: one event per line, JSON off a terminal, console on one.

Log lines carry ``topic``, ``partition``, ``offset`` and ``event_id`` where they apply,
never personal data. Everything goes through one handler on the root logger with
structlog's :class:`~structlog.stdlib.ProcessorFormatter`: the hub's structlog events
and the standard library's records (uvicorn, kafka-python, warnings) alike, so every
line of the stream has the same format. Its last steps are always: format the exception
(traceback and message), :func:`redact_personal_data`, render. Redaction (see
docs/operations.md, "Logs") drops keys that could hold personal data (``bsn``, ``name``,
...) at any depth and masks BSN-shaped numbers in every string, the traceback included.
It also masks every secret registered with :func:`register_secret` (passwords, tokens
and keys of the connections the hub makes) wherever it appears, and the values of keys
such as ``password`` or ``token``: kafka-python logs its clients' whole configuration
at DEBUG.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Mapping, MutableMapping
from types import TracebackType
from typing import Any, Literal, TextIO

import structlog

from hub.pseudonym import is_valid_bsn

__all__ = [
    "REDACTED",
    "configure_logging",
    "redact_personal_data",
    "redact_text",
    "register_secret",
    "register_secrets_of",
]

REDACTED = "[redacted]"
_FORBIDDEN_KEYS = frozenset({"bsn", "name", "first_name", "last_name", "email", "phone",
                             "birth_date", "date_of_birth"})
#: kept as they are: UUIDs (event ids) and hex words of 16+ characters (pseudonyms,
#: trace and span ids, hashes), whose digit runs are not numbers
_KEEP = r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|\b[0-9a-fA-F]{16,}\b"
#: a run of 8 or 9 digits not part of a longer one; a ``\\xNN`` escape before it (the
#: repr of bytes, e.g. an Avro length prefix in kafka-python's debug lines) is no digit
_DIGITS = r"(?:(?<!\d)|(?<=\\x[0-9a-fA-F]{2}))\d{8,9}(?!\d)"
_PATTERN = re.compile(f"(?P<keep>{_KEEP})|(?P<digits>{_DIGITS})")
_MAX_DEPTH = 16
#: keys whose values are secrets wherever they appear (kafka-python's configuration dump
#: has ``sasl_plain_password``, ``ssl_password``)
_SECRET_KEY = re.compile(r"password|passwd|secret|token|credential|authorization", re.I)
#: ``'sasl_plain_password': 'value'`` (or ``=``) inside a formatted message or repr
_SECRET_ITEM = re.compile(
    r"""(?P<key>['"]?\w*(?:password|passwd|secret|token|credential)\w*['"]?\s*[:=]\s*)"""
    r"""(?P<value>'[^']*'|"[^"]*")""", re.I)
#: the password in a URL's user info: ``postgresql://hub:<password>@db/hub``
_URL_PASSWORD = re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?=@)")
#: registered secrets shorter than this are not masked (they would mask ordinary words)
_MIN_SECRET = 6
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None
_ROOT_HANDLER_NAME = "signalhub"
#: the longest line :func:`configure_logging`'s ``brief_warnings`` writes
_ONE_LINE_MAX = 160


def _mask(match: re.Match[str]) -> str:
    digits = match.group("digits")
    if digits is None:
        return match.group()
    # an eight-digit run is a BSN with its leading zero dropped
    return REDACTED if is_valid_bsn(digits.rjust(9, "0")) else digits


def register_secret(value: str | None) -> None:
    """Mask ``value`` (and its forms in a bytes repr and in a basic-auth header) in every
    log line and in :func:`redact_text` from now on; values under six characters are
    ignored. For passwords, tokens and keys the hub hands to a client library."""
    global _secret_pattern
    if not value or len(value) < _MIN_SECRET or value in _secrets:
        return
    forms = {value, repr(value.encode())[2:-1], repr(value)[1:-1]}
    _secrets.update(form for form in forms if len(form) >= _MIN_SECRET)
    alternatives = sorted(_secrets, key=len, reverse=True)
    _secret_pattern = re.compile("|".join(re.escape(s) for s in alternatives))


def register_secrets_of(model: object) -> None:
    """Register every ``SecretStr`` value in a pydantic model, nested models included
    (the hub's settings)."""
    from pydantic import BaseModel, SecretStr

    if not isinstance(model, BaseModel):
        return
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if isinstance(value, SecretStr):
            register_secret(value.get_secret_value())
        elif isinstance(value, BaseModel):
            register_secrets_of(value)


def _redact_secrets(text: str) -> str:
    if _secret_pattern is not None:
        text = _secret_pattern.sub(REDACTED, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group("pre") + REDACTED, text)
    if any(word in text.lower() for word in ("password", "passwd", "secret", "token",
                                              "credential")):
        text = _SECRET_ITEM.sub(lambda m: f"{m.group('key')}'{REDACTED}'", text)
    return text


def redact_text(text: str) -> str:
    """``text`` with every BSN-shaped number (9 digits, or 8 with the leading zero
    dropped, passing the 11-test) and every registered secret replaced by
    ``[redacted]``, and so the value of any ``password``/``token``-like key in a dict
    repr or ``key=value`` text and the password in a URL (``scheme://user:pw@host``)."""
    return _PATTERN.sub(_mask, _redact_secrets(text))


def _redact(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value  # numbers stay numbers: a BSN is a string everywhere in the hub
    if depth >= _MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, Mapping):
        return {_redact_key(k): REDACTED if _is_forbidden(k) else _redact(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_redact(v, depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    try:  # what the renderers would show: the repr (bytes, exceptions, objects)
        return redact_text(repr(value))
    except Exception:  # a broken __repr__ must not lose the line
        return f"<{type(value).__name__}>"


def _is_forbidden(key: object) -> bool:
    return isinstance(key, str) and (key.lower() in _FORBIDDEN_KEYS
                                     or _SECRET_KEY.search(key) is not None)


def _redact_key(key: object) -> object:
    if key is None or isinstance(key, bool | int | float):
        return key
    return redact_text(key if isinstance(key, str) else repr(key))


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop keys that may hold personal data and mask BSN-shaped numbers, at any depth.

    Runs after the exception is formatted and right before rendering."""
    for key in list(event_dict):
        event_dict[key] = REDACTED if _is_forbidden(key) else _redact(event_dict[key])
    return event_dict


class _Handler(logging.StreamHandler[TextIO]):
    """Writes to ``stream``, or to ``sys.stderr`` as it is at each write (so a replaced
    stream, as in tests, is honoured); never echoes a record it cannot format."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self._fixed = stream
        self.set_name(_ROOT_HANDLER_NAME)

    def emit(self, record: logging.LogRecord) -> None:
        if self._fixed is None:
            self.stream = sys.stderr
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        # the standard library would print the message and its arguments in clear
        line = json.dumps({"event": "log record could not be formatted",
                           "logger": record.name, "level": "error"})
        try:
            self.stream.write(line + self.terminator)
            self.flush()
        except Exception:  # nowhere left to report it
            pass


def _log_uncaught(kind: type[BaseException], exc: BaseException,
                  tb: TracebackType | None) -> None:
    """An exception nobody caught: logged (and so redacted) instead of printed raw."""
    logging.getLogger("signalhub.uncaught").critical(
        "uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or isinstance(args.exc_value, SystemExit):
        return
    logging.getLogger("signalhub.uncaught").error(
        "uncaught exception in thread %s", getattr(args.thread, "name", "?"),
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def _one_line(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> str:
    """``warning: <event> (<logger>)``, with the exception (its type and message, not the
    traceback): one short line."""
    text = f"{event_dict.get('level', 'warning')}: {event_dict.get('event', '')}"
    lines = str(event_dict.get("exception") or "").strip().splitlines()
    if lines:  # what follows the traceback's last frame line (indented)
        frames = [i for i, line in enumerate(lines) if line.startswith(" ")]
        text += ": " + " ".join(lines[frames[-1] + 1 if frames else 0:])
    text = " ".join(f"{text} ({event_dict.get('logger', '-')})".split())
    return text if len(text) <= _ONE_LINE_MAX else text[:_ONE_LINE_MAX - 1] + "…"


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    *,
    stream: TextIO | None = None,
    brief_warnings: bool = False,
) -> None:
    """Set up structlog and route it and the standard library's logging (uvicorn,
    kafka-python, warnings) through one redacting handler on the root logger, writing
    to ``stream`` (default: ``sys.stderr``). ``level`` applies to both.
    ``brief_warnings``: also show each warning and error on ``sys.stderr`` as one short
    line (redacted alike), for a ``stream`` that is a log file."""
    out = stream or sys.stderr
    console = out.isatty() if fmt == "auto" else fmt == "console"
    renderer: Any = (
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        if console else structlog.processors.JSONRenderer()
    )
    numeric_level = logging.getLevelName(level)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = _Handler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,  # first the traceback, as text,
            redact_personal_data,  # then redaction, the last step before rendering
            renderer,
        ],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _ROOT_HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    if brief_warnings:
        brief = _Handler(None)
        brief.setLevel(logging.WARNING)
        brief.setFormatter(structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info, redact_personal_data,
                        _one_line],
        ))
        root.addHandler(brief)
    root.setLevel(numeric_level)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread

"""Settings from HUB_* variables; structured logs without personal data."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from hub.logging import configure_logging
from hub.settings import load_settings


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BUS", "kafka://broker:9092")
    monkeypatch.setenv("HUB_EMBEDDED__SYNCHRONOUS", "NORMAL")
    secret = "s3cret-of-at-least-thirty-two-bytes"
    monkeypatch.setenv("HUB_PSEUDONYM_SECRETS", json.dumps({"GM0153": secret}))
    settings = load_settings()
    assert settings.bus == "kafka://broker:9092"
    assert settings.embedded.synchronous == "NORMAL"
    assert settings.pseudonym_secrets["GM0153"][1].get_secret_value() == secret
    assert secret not in repr(settings), "secrets never show in a repr or log"
    assert load_settings(bus="embedded:x.db").bus == "embedded:x.db"


def test_defaults_are_the_embedded_mode() -> None:
    settings = load_settings()
    assert settings.bus.startswith("embedded:") and settings.registry_url is None
    assert settings.compatibility.value == "BACKWARD_TRANSITIVE"


@pytest.fixture
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.mark.usefixtures("_reset_logging")
def test_json_logs_redact_personal_data(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    structlog.get_logger("t").info("signal in", topic="signals.debt.v1", offset=3,
                                   bsn="111222333", note="caller typed 111222333 here")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert event["topic"] == "signals.debt.v1" and event["offset"] == 3
    assert "111222333" not in line
    assert event["bsn"] == "[redacted]"

"""Settings are the only reader of the environment, and reading them has no side effect:
a library caller's ``HUB_*`` variables and ``.env`` do not reach :class:`HubClient`, and
logging is configured by the command line's root, not by loading settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner

from hub.cli import main
from hub.client import HubClient
from hub.commands.common import settings_from
from hub.connect import connect
from hub.intake_keys import generate_key_pair
from hub.settings import given_settings, load_settings
from hub.topics import SEALED_INTAKE, ensure_topics
from tests.test_client import DEBT, SOURCE


def test_the_client_reads_no_variable_and_no_dotenv(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_TOPIC_PREFIX", "leak.")
    (tmp_path / ".env").write_text("HUB_REGISTRY_URL=http://127.0.0.1:9/never\n")
    assert load_settings().topic_prefix == "leak.", "the caller's settings do say so"
    bus = f"embedded:{tmp_path / 'hub.db'}"
    plain = given_settings(bus=bus)
    assert (plain.topic_prefix, plain.registry_url) == ("", None)
    with connect(plain) as conn:
        ensure_topics(conn.bus)
        _, public = generate_key_pair()
        with HubClient(bus, source=SOURCE, hub_public_key=public) as client:
            client.publish("debt-signal", DEBT)  # no registry at :9, no prefix
        assert sum(conn.bus.end_offsets(SEALED_INTAKE).values()) == 1
        assert not any(t.startswith("leak.") for t in conn.bus.list_topics())


def test_loading_settings_configures_no_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = structlog.get_config()
    monkeypatch.setenv("HUB_LOG_LEVEL", "ERROR")
    try:
        structlog.reset_defaults()
        settings_from(None)
        load_settings()
        assert not structlog.is_configured()
        result = CliRunner().invoke(main, ["schemas", "list"])
        assert result.exit_code == 0, result.output
        assert structlog.is_configured(), "the command line's root configures it, once"
    finally:
        structlog.configure(**saved)

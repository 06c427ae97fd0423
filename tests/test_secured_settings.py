"""The Kafka security settings are checked before any client is made: a setting that
does not fit is a ConfigError naming it (never its value), on the command line a one-line
error; secrets are masked in every log line, kafka-python's configuration dump included."""

from __future__ import annotations

import io
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from click.testing import CliRunner
from pydantic import SecretStr

from hub.bus.kafka_security import kafka_security
from hub.cli import main
from hub.connect import bus_for
from hub.errors import ConfigError
from hub.logging import configure_logging, register_secret
from hub.settings import KafkaSettings, Settings, load_settings

SECRET = "kafka-password-39f1c0"


def _bus(**kafka: Any) -> None:
    bus_for(Settings(bus="kafka://127.0.0.1:1", kafka=KafkaSettings(**kafka))).close()


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def test_settings_that_do_not_fit_name_the_setting(tmp_path: Path, ca_file: Path) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("no certificate here")
    sasl: dict[str, Any] = {"security_protocol": "SASL_SSL", "ssl_cafile": ca_file}
    password = SecretStr(SECRET)
    cases: list[tuple[dict[str, Any], str]] = [
        (sasl, "HUB_KAFKA__SASL_MECHANISM"),
        ({**sasl, "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "hub"},
         "HUB_KAFKA__SASL_PASSWORD"),
        ({"sasl_mechanism": "PLAIN", "sasl_username": "hub", "sasl_password": password},
         "HUB_KAFKA__SECURITY_PROTOCOL=PLAINTEXT"),
        ({"security_protocol": "SSL", "ssl_cafile": tmp_path / "missing.pem"},
         "HUB_KAFKA__SSL_CAFILE: no file"),
        ({"security_protocol": "SSL", "ssl_cafile": not_pem}, "HUB_KAFKA__SSL_CAFILE"),
        ({"security_protocol": "SSL", "ssl_keyfile": not_pem}, "HUB_KAFKA__SSL_CERTFILE"),
        ({**sasl, "sasl_mechanism": "OAUTHBEARER"}, "HUB_KAFKA__SASL_OAUTH_TOKEN"),
        ({**sasl, "sasl_mechanism": "OAUTHBEARER", "sasl_oauth_token": password,
          "sasl_oauth_token_file": not_pem}, "one of"),
        ({**sasl, "sasl_mechanism": "OAUTHBEARER",
          "sasl_oauth_token_file": tmp_path / "no-token"}, "HUB_KAFKA__SASL_OAUTH_TOKEN_FILE"),
    ]
    for kafka, expected in cases:
        with pytest.raises(ConfigError) as refused:
            _bus(**kafka)
        assert expected in str(refused.value), kafka
        assert SECRET not in str(refused.value)


def test_a_complete_setting_makes_a_bus_without_contacting_the_broker(ca_file: Path) -> None:
    kafka: dict[str, Any] = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256",
                             "sasl_username": "hub", "sasl_password": SecretStr(SECRET),
                             "ssl_cafile": ca_file}
    _bus(**kafka)  # nothing listens on port 1: making the bus must not connect
    security = kafka_security(KafkaSettings(**kafka))
    assert (security.protocol, security.mechanism, security.username) == (
        "SASL_SSL", "SCRAM-SHA-256", "hub")
    assert security.options["sasl_plain_username"] == "hub"
    assert isinstance(security.options["ssl_context"], ssl.SSLContext)
    assert SECRET not in repr(security)


def test_the_command_line_says_which_setting_in_one_line() -> None:
    env = {"HUB_BUS": "kafka://127.0.0.1:1", "HUB_REGISTRY_URL": "http://127.0.0.1:1",
           "HUB_KAFKA__SECURITY_PROTOCOL": "SASL_SSL", "HUB_KAFKA__SASL_PASSWORD": SECRET}
    result = CliRunner().invoke(main, ["topics", "list"], env=env)
    assert result.exit_code == 1
    assert "HUB_KAFKA__SASL_MECHANISM" in result.output and "Traceback" not in result.output
    assert SECRET not in result.output


def test_an_invalid_setting_never_shows_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KAFKA__SASL_PASSWORD", SECRET)
    monkeypatch.setenv("HUB_KAFKA__SASL_MECHANISM", "BOGUS")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert "HUB_KAFKA__SASL_MECHANISM" in str(refused.value)
    monkeypatch.setenv("HUB_KAFKA__SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("HUB_KAFKA__MIN_INSYNC_REPLICAS", "3")  # a check of the whole model
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert "HUB_KAFKA__MIN_INSYNC_REPLICAS" in str(refused.value)
    assert SECRET not in str(refused.value)


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    yield out
    root.handlers[:] = handlers
    root.setLevel(level)


def test_secrets_are_masked_in_every_log_line(debug_log: io.StringIO) -> None:
    register_secret(SECRET)
    kafka_log = logging.getLogger("kafka.admin.client")
    kafka_log.debug("Starting KafkaAdminClient with configuration: %s",
                    {"sasl_plain_username": "hub", "sasl_plain_password": SECRET})
    kafka_log.debug("auth bytes %r", b"\x00hub\x00" + SECRET.encode())
    kafka_log.debug("config %s", {"ssl_password": "never-registered-1"})
    logging.getLogger("hub.test").warning("failed", exc_info=RuntimeError(f"with {SECRET}"))
    logging.getLogger("hub.test").error("cannot reach postgresql://hub:never-registered-4@db/x")
    import structlog

    structlog.get_logger("hub.test").info("event", sasl_password="never-registered-2",
                                          detail={"token": "never-registered-3"})
    logged = debug_log.getvalue()
    assert logged.count("[redacted]") >= 7, logged
    assert "postgresql://hub:[redacted]@db/x" in logged
    for secret in (SECRET, "never-registered-1", "never-registered-2", "never-registered-3",
                   "never-registered-4"):
        assert secret not in logged
    assert "sasl_plain_username" in logged and "hub" in logged  # not a secret

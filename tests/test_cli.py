"""The command line, end to end on each mode."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hub.cli import main
from hub.settings import Settings


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_help_explains_every_command() -> None:
    out = run("--help")
    for command in ("selftest", "topics", "consume", "schemas"):
        assert command in out
    assert "kafka://" in run("topics", "lag", "--help")


def test_selftest_round_trip(hub_settings: Settings) -> None:
    env = {"HUB_BUS": hub_settings.bus}
    if hub_settings.registry_url:
        env["HUB_REGISTRY_URL"] = hub_settings.registry_url
    out = run("selftest", "--count", "20", env=env)
    assert "read back     20 DebtSignal" in out
    assert "dead letters written: 1" in out
    topics = run("topics", "list", env=env)
    assert "deadletter.v1" in topics and "consent.v1" in topics
    lag = run("topics", "lag", "signalhub-selftest", "signals.debt.v1", env=env)
    assert "total lag: 0" in lag
    consumed = run("consume", "signals.eviction.v1", "--max", "3", "--timeout", "10", env=env)
    assert consumed.count('"schema": "nl.signalhub.v1.EvictionRisk"') == 3


def test_kafka_bus_without_registry_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["topics", "list", "--bus", "kafka://127.0.0.1:1"])
    assert result.exit_code != 0
    assert "HUB_REGISTRY_URL" in result.output

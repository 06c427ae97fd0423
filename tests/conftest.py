"""Shared fixtures: a clean environment, both bus backends, a real Kafka broker, a real
PostgreSQL server, a fresh database of each store backend, and a running hub for the
case-flow browser tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from hub.bus import Bus, open_bus
from hub.connect import Connection, connect
from hub.devtools.postgres_for_tests import PostgresForTests
from hub.registry.base import SchemaRegistry
from hub.settings import Settings

if TYPE_CHECKING:
    from tests.case_flow_hub import RunningHub

#: test-tooling variables that choose the broker and caches, kept for the tests
_KEEP_ENV = {"HUB_TEST_KAFKA_BOOTSTRAP", "HUB_TEST_KAFKA_KIND", "HUB_TEST_KAFKA_IMAGE",
             "HUB_CACHE_DIR", "HUB_TEST_POSTGRES_DSN", "HUB_POSTGRES_BIN"}


@pytest.fixture(autouse=True)
def _clean_hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's HUB_* settings (the broker address excepted)."""
    for name in list(os.environ):
        if name.startswith("HUB_") and name not in _KEEP_ENV:
            monkeypatch.delenv(name, raising=False)
    # a hub a test starts takes any free port for its metrics, never the fixed default
    monkeypatch.setenv("HUB_METRICS__ADDRESS", "127.0.0.1:0")


_REAL_SERVICES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which real broker and registry the run used."""
    for line in _REAL_SERVICES:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Apache Kafka broker for the whole session (see hub.devtools.kafka_for_tests)."""
    from hub.devtools.kafka_for_tests import kafka_for_tests

    with kafka_for_tests() as broker:
        _REAL_SERVICES.append(
            f"kafka broker: {broker.kind}, {broker.version} at {broker.bootstrap}"
        )
        yield broker.bootstrap


@pytest.fixture
def case_hub(tmp_path: Path) -> Iterator[RunningHub]:
    """A running hub for the browser tests of the case flow (tests/case_flow_hub.py)."""
    from tests.case_flow_hub import running_hub

    with running_hub(tmp_path) as hub:
        yield hub


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Unique names per test, so tests sharing one broker never see each other's data."""
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}.{suffix}"


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def bus_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Bus]]:
    """Make buses of one backend that share one log (a 'restart' opens a second one)."""
    made: list[Bus] = []
    if request.param == "kafka":
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        url = f"kafka://{bootstrap}"
    else:
        url = f"embedded:{tmp_path / 'hub.db'}"

    def make() -> Bus:
        bus = open_bus(url)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.close()


@pytest.fixture
def bus(bus_factory: Callable[[], Bus]) -> Bus:
    return bus_factory()


@pytest.fixture(scope="session")
def apicurio_url() -> Iterator[str]:
    """A real Apicurio Registry (Confluent-compatible API) for the whole session."""
    from hub.devtools.local_registry import LocalApicurio

    with LocalApicurio() as registry:
        url = registry.start()
        _REAL_SERVICES.append(f"schema registry: Apicurio Registry {registry.version} at {url}")
        yield url


@pytest.fixture(params=["embedded", pytest.param("apicurio", marks=pytest.mark.registry)])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SchemaRegistry]:
    """Each registry implementation: embedded (SQLite) and HTTP against real Apicurio."""
    reg: SchemaRegistry
    if request.param == "apicurio":
        from hub.registry.http import HttpRegistry

        reg = HttpRegistry(request.getfixturevalue("apicurio_url"))
    else:
        from hub.registry.embedded import EmbeddedRegistry

        reg = EmbeddedRegistry(tmp_path / "registry.db")
    yield reg
    reg.close()


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=[pytest.mark.kafka,
                                                                  pytest.mark.registry])])
def hub_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for each mode: embedded (bus and registry in one SQLite file) and
    distributed (real Kafka broker, real Apicurio Registry)."""
    return _mode_settings(request, str(request.param), tmp_path)


def _mode_settings(request: pytest.FixtureRequest, mode: str, tmp_path: Path) -> Settings:
    if mode == "kafka":
        return Settings(
            bus=f"kafka://{request.getfixturevalue('kafka_bootstrap')}",
            registry_url=request.getfixturevalue("apicurio_url"),
        )
    return Settings(bus=f"embedded:{tmp_path / 'hub.db'}")


@pytest.fixture(params=["embedded-sqlite",
                        pytest.param("embedded-postgresql", marks=pytest.mark.postgres),
                        pytest.param("kafka-sqlite", marks=[pytest.mark.kafka,
                                                            pytest.mark.registry])])
def hub_settings_with_database(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """:func:`hub_settings` with a fresh application database (``database_url``): the
    embedded bus over each store backend, Kafka over SQLite only (the stores do not
    depend on the bus, so Kafka does not run once per backend). A module that
    overrides ``hub_settings`` with it runs ``conn`` this way."""
    mode, backend = str(request.param).split("-")
    url = (str(request.getfixturevalue("postgres_url")) if backend == "postgresql"
           else f"sqlite:///{tmp_path / 'store.db'}")
    settings = _mode_settings(request, mode, tmp_path)
    return settings.model_copy(update={"database_url": SecretStr(url)})


@pytest.fixture
def conn(hub_settings: Settings) -> Iterator[Connection]:
    """Bus, registry and serde of one mode."""
    with connect(hub_settings) as connection:
        yield connection


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresForTests]:
    """A real PostgreSQL server for the whole session: ``HUB_TEST_POSTGRES_DSN`` (a
    superuser's URL of an existing server), else one started from Debian's binaries
    (hub.devtools.local_postgres). Never skipped: missing binaries fail the test."""
    from hub.devtools.postgres_for_tests import postgres_for_tests

    with postgres_for_tests() as server:
        _REAL_SERVICES.append(f"postgresql: {server.describe()}")
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresForTests) -> Iterator[str]:
    """The URL of a fresh, empty database of its own for one test (dropped after)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh application database URL of each backend: a SQLite file, a PostgreSQL
    database of its own."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'store.db'}"

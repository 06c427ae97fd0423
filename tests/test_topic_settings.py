"""Production topic settings on the embedded bus: the topic prefix everywhere, retention
per topic from the policy, `topics init` reporting and applying differences, and the
settings' own checks. The same on the real broker: test_topic_settings_kafka.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hub.bus import open_bus
from hub.bus.base import Record, TopicSpec
from hub.cli import main
from hub.config import load_config
from hub.connect import Connection, connect
from hub.errors import ConfigError
from hub.router import Router
from hub.settings import Settings, load_settings
from hub.topics import (
    AUDIT,
    CONSENT,
    DEADLETTER,
    OUTCOMES,
    SEALED_INTAKE,
    SIGNAL_TOPICS,
    TopicPolicy,
    alerts_topic,
)
from tests.bus_records import read_messages
from tests.router_cases import CASES

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
DAY_MS = 86_400_000
FORWARDED = next(c for c in CASES if c.name == "debt-plain")
DEAD = next(c for c in CASES if c.name == "debt-nonsense-postcode")
DEBT_TEAM = "schuldhulp-centrum"


def route_two_signals(conn: Connection, state: Path) -> Router:
    """One signal forwarded to the debt team, one dead-lettered; the router's batch done."""
    router = Router(conn, load_config(EXAMPLE), state)
    router.ensure_topics()
    topic = SIGNAL_TOPICS["debt-signal"]
    conn.bus.produce([
        Record(topic, conn.serde.encode(topic, "DebtSignal", case.record()),
               case.subject_ref.encode())
        for case in (FORWARDED, DEAD)
    ])
    handled, deadline = 0, time.monotonic() + 60
    while handled < 2 and time.monotonic() < deadline:
        handled += router.step(timeout=1.0)
    assert handled == 2
    return router


def test_a_routed_signal_ends_up_only_on_prefixed_topics(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    settings = Settings(bus=f"embedded:{db}", topic_prefix="env-a.")
    with connect(settings) as conn:
        router = route_two_signals(conn, tmp_path / "state")
        router.close()
        alerts = read_messages(conn.bus, alerts_topic(DEBT_TEAM))
        assert len(alerts) == 1
        assert alerts[0].topic == alerts_topic(DEBT_TEAM)  # the hub sees its own names
        dead = read_messages(conn.bus, DEADLETTER)
        assert len(dead) == 1
        subjects = conn.registry.subjects()
    with open_bus(f"embedded:{db}") as raw:  # what is really on the bus
        names = raw.list_topics()
        assert names and all(n.startswith("env-a.") for n in names), names
        assert {"env-a." + t for t in (AUDIT, DEADLETTER, alerts_topic(DEBT_TEAM),
                                       SIGNAL_TOPICS["debt-signal"],
                                       "changelog.router.v1")} <= names
        assert sum(raw.end_offsets("env-a." + AUDIT).values()) >= 2
        # the router's consumer group carries the prefix too
        assert sum(o or 0 for o in raw.committed(
            "env-a.router", "env-a." + SIGNAL_TOPICS["debt-signal"]).values()) == 2
        assert not any(raw.committed("router", "env-a." + SIGNAL_TOPICS["debt-signal"])
                       .values())
    assert subjects and all(s.startswith("env-a.") for s in subjects), subjects
    assert f"env-a.{alerts_topic(DEBT_TEAM)}-nl.signalhub.v1.TeamAlert" in subjects


def test_two_environments_share_one_bus_without_seeing_each_other(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    with connect(Settings(bus=f"embedded:{db}", topic_prefix="test.")) as test_env:
        route_two_signals(test_env, tmp_path / "state-test").close()
    with connect(Settings(bus=f"embedded:{db}", topic_prefix="acc.")) as acc_env:
        assert acc_env.bus.list_topics() == set()
        acc_env.bus.create_topic(TopicSpec(AUDIT))
        assert acc_env.bus.list_topics() == {AUDIT}
        assert sum(acc_env.bus.end_offsets(AUDIT).values()) == 0
    out = CliRunner().invoke(main, ["deadletters", "list", "--bus", f"embedded:{db}"],
                             env={"HUB_TOPIC_PREFIX": "test."})
    assert out.exit_code == 0, out.output
    assert "VALIDATION_FAILED" in out.output and "signals.debt.v1/" in out.output


def _config_with_retention(tmp_path: Path) -> Path:
    """The example config with retention_days: debt 30 (a case 10), eviction 900."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["policies"]["debt-signal"]["default"]["retention_days"] = 30
    data["policies"]["debt-signal"].setdefault("cases", {})
    data["policies"]["debt-signal"]["cases_by"] = data["policies"]["debt-signal"].get(
        "cases_by") or "signal_kind"
    data["policies"]["debt-signal"]["cases"]["ARREARS"] = {"retention_days": 10}
    data["policies"]["eviction-risk"]["default"]["retention_days"] = 900
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_retention_per_topic_follows_the_policy(tmp_path: Path) -> None:
    config = load_config(_config_with_retention(tmp_path))
    policy = TopicPolicy(config)
    every = [r.retention_days for p in config.policies.values()
             for r in [p.default, *(p.merge_case(v) for v in p.cases)]]
    assert max(every) == 900 and min(every) == 10
    # processing records: as long as the longest rule of any event type
    assert policy.spec(AUDIT).retention_ms == 900 * DAY_MS
    # a signal topic: the shortest rule of its own event type
    assert policy.spec(SIGNAL_TOPICS["debt-signal"]).retention_ms == 10 * DAY_MS
    assert policy.spec(SIGNAL_TOPICS["eviction-risk"]).retention_ms == 900 * DAY_MS
    # carrying every type: the shortest rule of all
    for topic in (SEALED_INTAKE, DEADLETTER, OUTCOMES):
        assert policy.spec(topic).retention_ms == 10 * DAY_MS
    # a team's alerts: the shortest rule of the event types it receives
    youth = next(t for t in config.teams if t.event_types == ["youth-care-exit"])
    youth_days = min(r.retention_days for r in [config.policies["youth-care-exit"].default])
    assert policy.spec(alerts_topic(youth.id)).retention_ms == youth_days * DAY_MS
    assert policy.spec(alerts_topic(DEBT_TEAM)).retention_ms == 10 * DAY_MS
    # compacted, no time limit: consents and changelogs
    for topic in (CONSENT, "changelog.router.v1"):
        spec = policy.spec(topic)
        assert spec.cleanup_policy == "compact" and spec.retention_ms is None
    # a record goes at most a day after its retention
    assert policy.spec(AUDIT).config["segment.ms"] == str(DAY_MS)


def run(*args: str, env: dict[str, str] | None = None, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args), env=env)
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def test_topics_init_creates_reports_and_applies(tmp_path: Path) -> None:
    bus = f"embedded:{tmp_path / 'hub.db'}"
    config = str(_config_with_retention(tmp_path))
    with connect(Settings(bus=bus)) as conn:  # made earlier, by hand, with other settings
        conn.bus.create_topic(TopicSpec(AUDIT, 1, retention_ms=7 * DAY_MS))
    out = run("topics", "init", "--bus", bus, "--config", config)
    assert f"created {SIGNAL_TOPICS['debt-signal']}" in out
    assert f"created {alerts_topic(DEBT_TEAM)}" in out and f"created {OUTCOMES}" in out
    assert (f"differs {AUDIT}: retention.ms is {7 * DAY_MS}, wanted {900 * DAY_MS}"
            " (run with --apply to change it)") in out
    assert f"differs {AUDIT}: partitions is 1, wanted 3 (never changed" in out
    with connect(Settings(bus=bus)) as conn:
        assert conn.bus.topic_spec(AUDIT).retention_ms == 7 * DAY_MS  # reported only
        assert conn.bus.topic_spec(SIGNAL_TOPICS["debt-signal"]).retention_ms == 10 * DAY_MS
    out = run("topics", "init", "--bus", bus, "--config", config, "--apply")
    assert f"retention.ms is {7 * DAY_MS}, wanted {900 * DAY_MS} (changed)" in out
    assert "1 difference(s) left" in out  # the partitions
    with connect(Settings(bus=bus)) as conn:
        spec = conn.bus.topic_spec(AUDIT)
        assert spec.retention_ms == 900 * DAY_MS and spec.partitions == 1
    again = run("topics", "init", "--bus", bus, "--config", config)
    assert f"ok {SIGNAL_TOPICS['debt-signal']}" in again and "(changed)" not in again


def test_topics_init_with_a_prefix_makes_prefixed_topics(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    out = run("topics", "init", "--bus", f"embedded:{db}", "--config", str(EXAMPLE),
              env={"HUB_TOPIC_PREFIX": "dev_1-"})
    assert f"created {AUDIT}" in out
    with open_bus(f"embedded:{db}") as raw:
        assert "dev_1-" + AUDIT in raw.list_topics() and AUDIT not in raw.list_topics()


def test_settings_refuse_impossible_replica_counts_and_bad_prefixes() -> None:
    with pytest.raises(ConfigError, match="HUB_KAFKA__MIN_INSYNC_REPLICAS"):
        load_settings(kafka={"replication_factor": 2, "min_insync_replicas": 3})
    assert load_settings(kafka={"replication_factor": 3}).kafka.min_insync_replicas == 2
    assert load_settings().kafka.min_insync_replicas == 1
    assert load_settings().kafka.compression_type == "zstd"
    with pytest.raises(ConfigError, match="HUB_TOPIC_PREFIX"):
        load_settings(topic_prefix="a b")


def test_replication_check_names_the_setting(tmp_path: Path) -> None:
    from hub.topic_check import check_cluster

    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as conn:
        with pytest.raises(ConfigError, match="HUB_KAFKA__REPLICATION_FACTOR is 2.*1 broker"):
            check_cluster(conn.bus, 2)
        check_cluster(conn.bus, 1)

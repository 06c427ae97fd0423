"""The router's commands: explain, dead-letter replay after a config fix, config errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner

from hub.bus.base import Record
from hub.cli import main
from hub.connect import connect
from hub.samples import sample_debt
from hub.settings import Settings
from hub.topics import SIGNAL_TOPICS, alerts_topic

REPLAY_REF = "ps1-" + "5e" * 20

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result.output


def test_explain_prints_the_trace_without_forwarding(tmp_path: Path) -> None:
    bus = f"embedded:{tmp_path / 'hub.db'}"
    out = run("explain", "--bus", bus, "--config", str(EXAMPLES / "hub.yaml"),
              "--state-dir", str(tmp_path / "state"), "--type", "debt-signal",
              str(EXAMPLES / "signals" / "debt.json"))
    assert "lies in GM9999" in out
    assert "rule debt-signal/default applies to team schuldhulp-centrum" in out
    assert "fields kept for role debt" in out and "fields dropped: objection_recorded" in out
    assert "result: FORWARD to schuldhulp-centrum" in out and "urgent, due" in out
    with connect(Settings(bus=bus)) as conn:  # nothing forwarded: not even a topic made
        assert alerts_topic("schuldhulp-centrum") not in conn.bus.list_topics()
        assert "audit.v1" not in conn.bus.list_topics()
    youth = run("explain", "--bus", bus, "--config", str(EXAMPLES / "hub.yaml"),
                "--state-dir", str(tmp_path / "state"), "--type", "youth-care-exit",
                str(EXAMPLES / "signals" / "youth-care-exit.json"))
    assert "MISSING" in youth and "result: REFUSE to jeugd-18plus (CONSENT_MISSING)" in youth


def test_bad_config_stops_the_router_with_file_path_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "hub.yaml"
    bad.write_text((EXAMPLES / "hub.yaml").read_text().replace(
        "municipality: GM9999\n    role: youth", "municipality: GM0001\n    role: youth"))
    out = run("router", "--bus", f"embedded:{tmp_path / 'hub.db'}", "--config", str(bad),
              "--idle-exit", "1", ok=False)
    assert str(bad) in out and "municipality" in out and "GM0001" in out


def test_dead_letters_replay_after_a_config_fix(tmp_path: Path) -> None:
    bus = f"embedded:{tmp_path / 'hub.db'}"
    config = tmp_path / "hub.yaml"
    config.write_text((EXAMPLES / "hub.yaml").read_text())
    common = ["--bus", bus, "--state-dir", str(tmp_path / "state")]
    signal = sample_debt(random.Random(7), subject_ref=REPLAY_REF).to_avro()
    signal.update({"postcode": "7549AB", "objection_recorded": False})  # outside every area
    with connect(Settings(bus=bus)) as conn:
        from hub.topics import ensure_topics

        ensure_topics(conn.bus)
        topic = SIGNAL_TOPICS["debt-signal"]
        conn.bus.produce([Record(topic, conn.serde.encode(topic, "DebtSignal", signal),
                                 REPLAY_REF.encode())])
    out = run("router", *common, "--config", str(config), "--idle-exit", "1.5")
    assert '"dead_lettered:UNKNOWN_MUNICIPALITY": 1' in out
    listing = run("deadletters", "list", "--bus", bus)
    assert "UNKNOWN_MUNICIPALITY" in listing and "signals.debt.v1/" in listing
    assert "7549" not in listing.split("stage=")[0]  # metadata only, no content

    config.write_text(config.read_text().replace("7548", "7549"))  # the operator's fix
    assert "replayed 1 dead letter" in run("deadletters", "replay", "--bus", bus)
    out = run("router", *common, "--config", str(config), "--idle-exit", "1.5")
    assert '"forwarded:FORWARDED": 1' in out
    assert "replayed 0 dead letter" in run("deadletters", "replay", "--bus", bus)
    with connect(Settings(bus=bus)) as conn:
        consumer = conn.bus.consumer("check", [alerts_topic("schuldhulp-centrum")])
        alerts = [conn.serde.decode(m.value).record for m in consumer.poll(100, 2.0)]
        consumer.close()
    assert [str(a["event_id"]) for a in alerts] == [str(signal["event_id"])]
    assert json.dumps(alerts[0]["fields"])  # a minimised, JSON-able field map


def test_a_stopped_router_leaves_its_group(tmp_path: Path) -> None:
    """The router that exits leaves no member behind: the next one owns every partition
    at once (a left-over member would hold a share until its session times out)."""
    bus = f"embedded:{tmp_path / 'hub.db'}"
    common = ["--bus", bus, "--state-dir", str(tmp_path / "state")]
    run("router", *common, "--config", str(EXAMPLES / "hub.yaml"), "--idle-exit", "0.5")
    with connect(Settings(bus=bus)) as conn:
        topics = list(SIGNAL_TOPICS.values())
        consumer = conn.bus.consumer("router", topics)
        owned = consumer.assignment()
        consumer.close()
        expected = sum(conn.bus.partitions_for(t) for t in topics)
    assert len(owned) == expected

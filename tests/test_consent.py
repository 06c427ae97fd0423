"""The consent ledger: statuses, idempotence, following consent.v1 on both modes, the CLI."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.bus.base import TopicSpec
from hub.cli import main
from hub.connect import Connection
from hub.consent import (
    ConsentErased,
    ConsentLedger,
    ConsentLedgerError,
    ConsentStatus,
    LedgerFollower,
    group_for,
    ledger_path,
    publish_consent,
)
from hub.events import ConsentAction, ConsentChange
from hub.settings import Settings
from hub.topics import DEADLETTER, ensure_topics

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
PURPOSE = "youth-care-exit-handover"
SUBJECT = "ps1-" + "ab" * 20
TEAM = "team-utrecht-west"
GM = "GM0344"


def change(
    consent_id: str = "c-1",
    action: ConsentAction = ConsentAction.GRANTED,
    *,
    subject: str = SUBJECT,
    purpose: str = PURPOSE,
    scope: Iterable[str] = (TEAM,),
    valid_from: datetime = T0,
    valid_until: datetime | None = None,
    recorded_at: datetime = T0,
) -> ConsentChange:
    return ConsentChange(
        event_id=str(uuid.uuid4()),
        consent_id=consent_id,
        action=action,
        subject_ref=subject,
        purpose=purpose,
        recipient_scope=list(scope),
        valid_from=valid_from,
        valid_until=valid_until,
        source="urn:nld:oin:00000001",
        recorded_at=recorded_at,
        municipality_code=GM,
    )


def withdrawal(consent_id: str = "c-1", at: datetime = T0 + DAY) -> ConsentChange:
    return change(consent_id, ConsentAction.WITHDRAWN, scope=(), valid_from=at, recorded_at=at)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterable[ConsentLedger]:
    with ConsentLedger(ledger_path(tmp_path / "state")) as opened:
        yield opened


def status(
    ledger: ConsentLedger,
    at: datetime = T0 + 2 * DAY,
    *,
    team: str = TEAM,
    municipality: str | None = GM,
    purpose: str = PURPOSE,
) -> ConsentStatus:
    return ledger.check(SUBJECT, purpose, team, municipality, at).status


# --- the ledger ------------------------------------------------------------------------


def test_grant_is_valid(ledger: ConsentLedger) -> None:
    assert ledger.apply(change())
    result = ledger.check(SUBJECT, PURPOSE, TEAM, GM, T0 + DAY)
    assert result.status is ConsentStatus.VALID and result.valid
    assert result.consent_id == "c-1"
    assert SUBJECT not in result.detail


def test_nothing_on_record_is_missing(ledger: ConsentLedger) -> None:
    result = ledger.check(SUBJECT, PURPOSE, TEAM, GM, T0)
    assert (result.status, result.consent_id) == (ConsentStatus.MISSING, None)
    ledger.apply(change())
    assert status(ledger, purpose="debt-help") is ConsentStatus.MISSING  # another purpose


def test_withdrawn(ledger: ConsentLedger) -> None:
    ledger.apply(change())
    ledger.apply(withdrawal(at=T0 + DAY))
    result = ledger.check(SUBJECT, PURPOSE, TEAM, GM, T0 + 2 * DAY)
    assert result.status is ConsentStatus.WITHDRAWN
    assert "2025-03-02T12:00:00Z" in result.detail
    record = ledger.get("c-1")
    assert record is not None and record.withdrawn_at == T0 + DAY
    assert record.recipient_scope == (TEAM,)  # what was granted is kept


def test_expired_at_valid_until_exclusive(ledger: ConsentLedger) -> None:
    ledger.apply(change(valid_until=T0 + 30 * DAY))
    assert status(ledger, T0 + 30 * DAY - timedelta(milliseconds=1)) is ConsentStatus.VALID
    assert status(ledger, T0 + 30 * DAY) is ConsentStatus.EXPIRED


def test_not_yet_valid(ledger: ConsentLedger) -> None:
    ledger.apply(change(valid_from=T0 + 10 * DAY))
    assert status(ledger, T0 + 9 * DAY) is ConsentStatus.NOT_YET_VALID
    assert status(ledger, T0 + 10 * DAY) is ConsentStatus.VALID


def test_out_of_scope(ledger: ConsentLedger) -> None:
    ledger.apply(change(scope=["team-amersfoort"]))
    result = ledger.check(SUBJECT, PURPOSE, TEAM, GM, T0 + DAY)
    assert result.status is ConsentStatus.OUT_OF_SCOPE
    assert TEAM in result.detail and SUBJECT not in result.detail


def test_municipality_wide_scope(ledger: ConsentLedger) -> None:
    ledger.apply(change(scope=[GM]))
    assert status(ledger, team="any-team-of-utrecht") is ConsentStatus.VALID
    assert status(ledger, municipality="GM0307") is ConsentStatus.OUT_OF_SCOPE
    assert status(ledger, municipality=None) is ConsentStatus.OUT_OF_SCOPE


def test_regrant_after_withdrawal(ledger: ConsentLedger) -> None:
    ledger.apply(change())
    ledger.apply(withdrawal(at=T0 + DAY))
    ledger.apply(change(valid_from=T0 + 2 * DAY, recorded_at=T0 + 2 * DAY))  # same id
    assert status(ledger, T0 + 3 * DAY) is ConsentStatus.VALID
    ledger.apply(withdrawal(at=T0 + 4 * DAY))
    ledger.apply(change("c-2", valid_from=T0 + 5 * DAY))  # a new consent
    result = ledger.check(SUBJECT, PURPOSE, TEAM, GM, T0 + 6 * DAY)
    assert (result.status, result.consent_id) == (ConsentStatus.VALID, "c-2")


def test_reapply_is_idempotent_on_event_id(ledger: ConsentLedger) -> None:
    grant, withdrawn = change(), withdrawal()
    assert ledger.apply(grant) is True
    assert ledger.apply(grant) is False
    assert ledger.count() == 1
    ledger.apply(withdrawn)
    assert ledger.apply(withdrawn) is False
    assert ledger.apply(grant) is False  # a late duplicate never undoes a withdrawal
    assert status(ledger) is ConsentStatus.WITHDRAWN
    assert ledger.apply_batch([grant, withdrawn, grant], {}) == 0


def test_valid_wins_otherwise_most_informative(ledger: ConsentLedger) -> None:
    ledger.apply(change("out", scope=["team-elsewhere"]))
    assert status(ledger) is ConsentStatus.OUT_OF_SCOPE
    ledger.apply(change("later", valid_from=T0 + 30 * DAY))
    assert status(ledger) is ConsentStatus.NOT_YET_VALID
    ledger.apply(change("old", valid_until=T0 + DAY))
    assert status(ledger) is ConsentStatus.EXPIRED
    ledger.apply(change("gone"))
    ledger.apply(withdrawal("gone"))
    assert status(ledger) is ConsentStatus.WITHDRAWN
    ledger.apply(change("good", valid_until=T0 + 10 * DAY))
    result = ledger.check(SUBJECT, PURPOSE, TEAM, GM, T0 + 2 * DAY)
    assert (result.status, result.consent_id) == (ConsentStatus.VALID, "good")


def test_withdrawal_alone_and_erasure(ledger: ConsentLedger) -> None:
    ledger.apply(withdrawal("c-9"))  # compaction left only the withdrawal
    assert status(ledger) is ConsentStatus.WITHDRAWN
    gone = withdrawal("c-8")
    ledger.apply(gone)
    assert ledger.apply(ConsentErased("c-9"))  # a tombstone
    assert ledger.apply(ConsentErased("c-8"))
    assert status(ledger) is ConsentStatus.MISSING and ledger.get("c-9") is None
    assert ledger.count() == 0 and ledger.consents_of(SUBJECT) == []
    assert not ledger.apply(ConsentErased("c-9"))  # nothing left to erase
    assert not ledger.apply(gone)  # an old change seen again stays erased
    ledger.apply(change("c-9", valid_from=T0 + DAY))  # a new grant under the same id
    assert status(ledger) is ConsentStatus.VALID


def test_apply_batch_stores_offsets_with_changes(tmp_path: Path) -> None:
    path = ledger_path(tmp_path)
    with ConsentLedger(path) as ledger:
        assert ledger.apply_batch([change("a"), change("b")], {("consent.v1", 0): 2}) == 2
        ledger.apply_batch([], {("consent.v1", 0): 1, ("consent.v1", 1): 5})
        assert ledger.offsets() == {("consent.v1", 0): 2, ("consent.v1", 1): 5}
    with ConsentLedger(path) as reopened:  # a restart
        assert reopened.offsets() == {("consent.v1", 0): 2, ("consent.v1", 1): 5}
        assert reopened.count() == 2
        assert [r.consent_id for r in reopened.consents_of(SUBJECT)] == ["a", "b"]


def test_check_needs_an_aware_time(ledger: ConsentLedger) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.check(SUBJECT, PURPOSE, TEAM, GM, datetime(2025, 1, 1))


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = ledger_path(tmp_path)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConsentLedgerError, match="delete the file"):
        ConsentLedger(path)


# --- following consent.v1 on both modes --------------------------------------------------


def _dead_letters_from(conn: Connection, topic: str, want: int) -> set[str]:
    reasons: set[str] = set()
    with conn.bus.consumer(f"test-dlq-{uuid.uuid4().hex[:8]}", [DEADLETTER]) as reader:
        deadline = time.monotonic() + 30
        while len(reasons) < want and time.monotonic() < deadline:
            for m in reader.poll(500, 1.0):
                origin = (m.header("dl_origin") or b"").decode()
                if origin.startswith(topic + "/"):
                    reasons.add((m.header("dl_reason") or b"").decode())
    return reasons


def test_follower_catches_up_and_resumes_after_restart(
    conn: Connection,
    unique: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ensure_topics(conn.bus)
    topic = unique("consent.v1")
    conn.bus.create_topic(TopicSpec(topic, 3, cleanup_policy="compact"))
    path = ledger_path(tmp_path / "state")
    now = datetime.now(UTC)
    ledger = ConsentLedger(path)
    follower = LedgerFollower(conn.bus, conn.serde, ledger, topic=topic)
    assert follower.group == group_for(path)
    assert follower.catch_up() == 0  # empty topic

    grant = change("c-1", valid_from=now - DAY, recorded_at=now)
    publish_consent(conn.bus, conn.serde, grant, topic=topic)
    assert follower.catch_up() == 1
    assert ledger.check(SUBJECT, PURPOSE, TEAM, GM, now).status is ConsentStatus.VALID

    # bad input is dead-lettered and skipped: not wire format, and a BSN as subject
    conn.bus.produce_one(topic, b"not wire format", key=b"junk")
    bad = {**change("c-bad").to_avro(), "subject_ref": "111222333"}
    conn.bus.produce_one(topic, conn.serde.encode(topic, "ConsentChange", bad), key=b"c-bad")
    publish_consent(conn.bus, conn.serde, withdrawal("c-1", now), topic=topic)
    assert follower.catch_up() == 1
    assert ledger.check(SUBJECT, PURPOSE, TEAM, GM, now).status is ConsentStatus.WITHDRAWN
    assert ledger.get("c-bad") is None
    assert _dead_letters_from(conn, topic, 2) == {"NOT_WIRE_FORMAT", "VALIDATION_FAILED"}

    ends = conn.bus.end_offsets(topic)
    stored = ledger.offsets()
    assert stored == {(topic, p): end for p, end in ends.items()}
    follower.close()
    ledger.close()

    # restart: a new ledger object and follower on the same file
    ledger = ConsentLedger(path)
    follower = LedgerFollower(conn.bus, conn.serde, ledger, topic=topic)
    assert ledger.offsets() == stored
    assert ledger.check(SUBJECT, PURPOSE, TEAM, GM, now).status is ConsentStatus.WITHDRAWN

    def no_consumer(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("catch_up polled although nothing was new")

    with monkeypatch.context() as patch:
        patch.setattr(conn.bus, "consumer", no_consumer)
        started = time.perf_counter()
        assert follower.catch_up() == 0
        assert time.perf_counter() - started < 1.0

    handed: list[int] = []
    original = ledger.apply_batch

    def counting(changes: Iterable[Any], offsets: Mapping[tuple[str, int], int]) -> int:
        batch = list(changes)
        handed.append(len(batch))
        return original(batch, offsets)

    monkeypatch.setattr(ledger, "apply_batch", counting)
    regrant = change("c-2", valid_from=now - DAY, recorded_at=now)
    publish_consent(conn.bus, conn.serde, regrant, topic=topic)
    conn.bus.produce_one(topic, None, key=b"c-1")  # tombstone: c-1 is erased
    assert follower.catch_up() == 2
    assert sum(handed) == 2  # resumed at the stored offsets: nothing was read twice
    assert ledger.get("c-1") is None
    result = ledger.check(SUBJECT, PURPOSE, TEAM, GM, now)
    assert (result.status, result.consent_id) == (ConsentStatus.VALID, "c-2")
    assert follower.catch_up() == 0
    follower.close()
    ledger.close()


def test_ledger_ahead_of_the_topic_refuses(
    conn: Connection, unique: Callable[[str], str], tmp_path: Path
) -> None:
    topic = unique("consent.v1")
    conn.bus.create_topic(TopicSpec(topic, 3, cleanup_policy="compact"))
    with ConsentLedger(ledger_path(tmp_path)) as ledger:
        ledger.apply_batch([], {(topic, 0): 10})
        with pytest.raises(ConsentLedgerError, match="delete the file"):
            LedgerFollower(conn.bus, conn.serde, ledger, topic=topic).catch_up()


# --- the command line --------------------------------------------------------------------


def test_cli_grant_show_check_withdraw(hub_settings: Settings, tmp_path: Path) -> None:
    env = {
        "HUB_BUS": hub_settings.bus,
        "HUB_STATE_DIR": str(tmp_path / "state"),
        "HUB_PSEUDONYM_SECRETS": '{"GM9999": "test-secret-of-at-least-32-bytes-gm9999"}',
        "HUB_LOG_FORMAT": "json",
    }
    if hub_settings.registry_url:
        env["HUB_REGISTRY_URL"] = hub_settings.registry_url
    bsn = "111222333"
    person = ["--bsn", bsn, "--municipality", "GM9999"]
    outputs: list[str] = []

    def run(*args: str, input: str | None = None) -> str:
        result = CliRunner().invoke(
            main, ["consent", *args], env=env, input=input, catch_exceptions=False
        )
        outputs.append(result.output)  # stdout and stderr (the log lines)
        assert result.exit_code == 0, result.output
        return result.stdout

    consent_id = run(
        "grant",
        *person,
        "--purpose",
        PURPOSE,
        "--recipient",
        "team-a",
        "--recipient",
        "GM9999",
        "--valid-until",
        "2199-01-01",
    ).strip()
    assert str(uuid.UUID(consent_id)) == consent_id
    shown = run("show", *person)
    assert consent_id in shown and "VALID" in shown and "team-a,GM9999" in shown
    assert "VALID" in run("check", *person, "--purpose", PURPOSE, "--team", "team-b")
    assert "MISSING" in run("check", *person, "--purpose", "other", "--team", "team-a")
    assert f"withdrew {consent_id}" in run("withdraw", consent_id)
    assert "already withdrawn" in run("withdraw", consent_id)
    shown = run("show", "--bsn", "-", "--municipality", "GM9999", input=bsn + "\n")
    assert "WITHDRAWN" in shown and "1 consent(s)" in shown
    assert all(bsn not in out for out in outputs)

    failed = CliRunner().invoke(main, ["consent", "withdraw", "no-such-id"], env=env)
    assert failed.exit_code != 0 and "no consent no-such-id" in failed.output
    wrong = CliRunner().invoke(
        main, ["consent", "show", "--bsn", "111222334", "--municipality", "GM9999"], env=env
    )
    assert wrong.exit_code != 0 and "111222334" not in wrong.output


def test_cli_help_has_examples() -> None:
    out = CliRunner().invoke(main, ["consent", "--help"]).output
    for word in ("grant", "withdraw", "show", "Examples:"):
        assert word in out
    grant_help = CliRunner().invoke(main, ["consent", "grant", "--help"]).output
    assert "--recipient" in grant_help and "--bsn -" in grant_help


def test_follower_reads_a_compacted_topic(
    conn: Connection, unique: Callable[[str], str], tmp_path: Path
) -> None:
    """Only the latest change per consent survives compaction, and a deleted tombstone
    leaves a gap at the end of the partition; a fresh ledger still gets to the end."""
    ensure_topics(conn.bus)
    topic = unique("consent.v1")
    conn.bus.create_topic(
        TopicSpec(topic, 1, cleanup_policy="compact", config={"delete.retention.ms": "0"})
    )
    now = datetime.now(UTC)
    publish_consent(conn.bus, conn.serde, change("c-1", valid_from=now - DAY), topic=topic)
    publish_consent(conn.bus, conn.serde, withdrawal("c-1", now), topic=topic)
    publish_consent(conn.bus, conn.serde, change("c-2", valid_from=now - DAY), topic=topic)
    conn.bus.produce_one(topic, None, key=b"c-2")
    time.sleep(0.01)
    conn.bus.compact(topic)  # embedded: now; Kafka: whenever its cleaner runs
    with (
        ConsentLedger(ledger_path(tmp_path)) as ledger,
        LedgerFollower(conn.bus, conn.serde, ledger, topic=topic) as follower,
    ):
        follower.catch_up(timeout=20)
        assert ledger.offsets() == {(topic, 0): 4}
        assert ledger.check(SUBJECT, PURPOSE, TEAM, GM, now).status is ConsentStatus.WITHDRAWN
        assert ledger.get("c-2") is None

"""Store contract of the inbox, the accounts, the web sessions and the sign-in attempts:
the same tests on SQLite and on a real PostgreSQL (``database_url``, marker ``postgres``
on the PostgreSQL half). Two store objects on one database stand for two instances of
the hub: what one writes, the other sees at once."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from hub.accounts import AccountError, UserStore
from hub.accounts.attempts import LimitRule
from hub.events import AlertUrgency, TeamAlert
from hub.inbox import CloseOutcome, InboxError, InboxStatus, InboxStore
from hub.router import alert_id_for
from hub.store import rollback_only
from hub.web.limits import LoginLimiter

NOW = datetime(2026, 5, 14, 9, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"


def make_alert(team: str = "team-a", *, urgent: bool = False, minutes: int = 0,
               event_type: str = "debt-signal") -> TeamAlert:
    event_id = str(uuid.uuid4())
    return TeamAlert(
        alert_id=alert_id_for(event_id, team), event_id=event_id, event_type=event_type,
        team_id=team, municipality_code="GM9999", subject_ref="ps1-" + "a1" * 20,
        urgency=AlertUrgency.URGENT if urgent else AlertUrgency.NORMAL,
        due_date=date(2026, 5, 19) if urgent else None, fields={"arrears_band": "500-1000"},
        prior_signals_180d=0, legal_basis="GDPR 6(1)(e)",
        created_at=NOW + timedelta(minutes=minutes), trace_id=uuid.uuid4().hex,
        source="urn:nld:oin:00000009999999999000",
    )


class Clock:
    """A clock the test moves (seconds and datetimes from one instant)."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inboxes(database_url: str, clock: Clock) -> Iterator[tuple[InboxStore, InboxStore]]:
    """Two inbox stores on one database: two instances."""
    one, two = InboxStore(database_url, clock=clock), InboxStore(database_url, clock=clock)
    yield one, two
    one.close()
    two.close()


@pytest.fixture
def users(database_url: str) -> Iterator[tuple[UserStore, UserStore]]:
    one, two = UserStore(database_url), UserStore(database_url)
    yield one, two
    one.close()
    two.close()


# --- inbox -------------------------------------------------------------------------------


def test_inbox_keeps_each_alert_once_and_lists_most_urgent_then_newest(
    inboxes: tuple[InboxStore, InboxStore],
) -> None:
    one, two = inboxes
    old, new, urgent = make_alert(), make_alert(minutes=30), make_alert(urgent=True)
    other = make_alert("team-b", event_type="eviction-risk")
    assert one.add_many([old, new, urgent, other, old]) == 4
    assert two.add_many([old, new]) == 0  # the other instance: already there
    assert not two.add(urgent)
    ids = [i.alert.alert_id for i in two.list_alerts("team-a")]
    assert ids == [urgent.alert_id, new.alert_id, old.alert_id]
    assert [i.alert.alert_id for i in one.list_alerts("team-a", urgency="NORMAL", limit=1,
                                                      offset=1)] == [old.alert_id]
    assert [i.alert.alert_id for i in one.list_alerts("team-b", event_type="eviction-risk")
            ] == [other.alert_id]
    assert two.count("team-a") == 3 and two.count("team-a", InboxStatus.CLAIMED) == 0
    assert two.get(old.alert_id).alert == old


def test_a_claim_on_one_instance_shows_on_the_other_through_the_change_counter(
    inboxes: tuple[InboxStore, InboxStore],
) -> None:
    one, two = inboxes
    a, b = make_alert(), make_alert()
    one.add_many([a, b])
    seen = two.version()
    assert two.list_alerts("team-a", changed_after=seen) == []
    one.claim(a.alert_id, "anna")
    assert two.version() > seen
    changed = two.list_alerts("team-a", changed_after=seen)
    assert [(i.alert.alert_id, i.status, i.claimed_by) for i in changed] == [
        (a.alert_id, InboxStatus.CLAIMED, "anna")]
    with pytest.raises(InboxError, match="claimed by someone else"):
        two.claim(a.alert_id, "bram")
    seen = two.version()
    closure = two.close_alert(a.alert_id, CloseOutcome.PICKED_UP, by="anna", note="gebeld")
    assert closure.newly_closed and closure.pick_up is not None
    assert [i.status for i in one.list_alerts("team-a", changed_after=seen)] == [
        InboxStatus.CLOSED]
    again = one.close_alert(a.alert_id, "PICKED_UP")
    assert not again.newly_closed and again.closed_at == closure.closed_at
    one.add_note(a.alert_id, "anna", "afgerond")
    assert [n.text for n in two.get(a.alert_id).notes] == ["gebeld", "afgerond"]


def test_concurrent_claims_from_two_instances_give_the_alert_to_one(
    inboxes: tuple[InboxStore, InboxStore],
) -> None:
    one, two = inboxes
    alert = make_alert()
    one.add(alert)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def claim(store: InboxStore, user: str) -> None:
        barrier.wait()
        try:
            store.claim(alert.alert_id, user)
            results.append(user)
        except InboxError:
            results.append("refused")

    threads = [threading.Thread(target=claim, args=(s, f"user-{i}"))
               for i, s in enumerate([one, two] * 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [r for r in results if r != "refused"]
    assert len(results) == 8 and len(winners) == 1
    assert one.get(alert.alert_id).claimed_by == winners[0]


def test_inbox_retention_deletes_alerts_with_their_notes_per_event_type(
    inboxes: tuple[InboxStore, InboxStore], clock: Clock,
) -> None:
    one, two = inboxes
    debt, eviction, unknown = (make_alert(), make_alert(event_type="eviction-risk"),
                               make_alert(event_type="retired-type"))
    one.add_many([debt, eviction, unknown])
    one.add_note(debt.alert_id, "anna", "a note")
    clock.now = NOW + timedelta(days=20)
    fresh = make_alert()
    one.add(fresh)
    cutoffs = {"debt-signal": clock.now - timedelta(days=10),
               "eviction-risk": clock.now - timedelta(days=30)}
    with rollback_only():  # a dry run
        dry = two.purge(cutoffs, others=clock.now - timedelta(days=15))
    assert dry == {"inbox_alerts": 2, "inbox_notes": 1}
    assert one.count("team-a") == 4  # a dry run deletes nothing
    assert two.purge(cutoffs, others=clock.now - timedelta(days=15)) == dry
    left = {i.alert.alert_id for i in one.list_alerts("team-a")}
    assert left == {eviction.alert_id, fresh.alert_id}
    assert two.purge(cutoffs) == {"inbox_alerts": 0, "inbox_notes": 0}


# --- accounts and sessions ----------------------------------------------------------------


def test_accounts_on_one_instance_sign_in_on_the_other(
    users: tuple[UserStore, UserStore],
) -> None:
    one, two = users
    one.add("anna", PASSWORD, "member", ["team-a", "team-b"])
    with pytest.raises(AccountError, match="exists"):
        two.add("anna", PASSWORD)
    user = two.authenticate("anna", PASSWORD)
    assert user is not None and user.teams == {"team-a", "team-b"}
    assert two.authenticate("anna", "wrong password") is None
    assert two.set_teams("anna", ["team-c"]).teams == {"team-c"}
    assert [u.username for u in one.list()] == ["anna"]
    one.disable("anna")
    assert two.authenticate("anna", PASSWORD) is None
    with pytest.raises(AccountError, match="no user"):
        two.disable("nobody")


def test_disabling_a_user_on_one_instance_ends_their_sessions_on_the_other(
    users: tuple[UserStore, UserStore], clock: Clock,
) -> None:
    one, two = users
    one.add("anna", PASSWORD, "member", ["team-a"])
    one.add("bram", PASSWORD, "member", ["team-a"])
    here = one.sessions(idle_timeout=600, max_age=3600, clock=clock.seconds)
    there = two.sessions(idle_timeout=600, max_age=3600, clock=clock.seconds)
    anna, bram = here.create("anna"), here.create("bram")
    assert there.user_of(anna) == "anna" and there.live_count("anna") == 1
    two.disable("anna")
    assert here.user_of(anna) is None and here.user_of(bram) == "bram"
    there.revoke(bram)  # signing out on the other instance
    assert here.user_of(bram) is None


def test_session_retention_deletes_ended_sessions(users: tuple[UserStore, UserStore],
                                                  clock: Clock) -> None:
    one, _ = users
    one.add("anna", PASSWORD)
    sessions = one.sessions(idle_timeout=600, max_age=3600, clock=clock.seconds)
    idle, revoked, live = (sessions.create("anna") for _ in range(3))
    sessions.revoke(revoked)
    clock.now += timedelta(seconds=500)
    sessions.user_of(live)  # used: stays live
    clock.now += timedelta(seconds=200)  # `idle` was last used 700 s ago
    with rollback_only():
        assert sessions.purge(clock.seconds()) == 2
    assert sessions.purge(clock.seconds()) == 2
    assert sessions.user_of(live) == "anna" and sessions.purge(clock.seconds()) == 0
    assert sessions.user_of(idle) is None


# --- sign-in limits -----------------------------------------------------------------------


def _limiter(store: UserStore, clock: Clock) -> LoginLimiter:
    rule = LimitRule(limit=3, window=60.0)
    return LoginLimiter(pair=rule, account=LimitRule(5, 60.0), address=LimitRule(10, 60.0),
                        everyone=LimitRule(100, 60.0), store=store.attempts(clock.seconds),
                        clock=clock.seconds)


def test_sign_in_limits_hold_across_instances(users: tuple[UserStore, UserStore],
                                              clock: Clock) -> None:
    one, two = _limiter(users[0], clock), _limiter(users[1], clock)
    for limiter in (one, two, one):
        wait, _ = limiter.admit("anna", "10.0.0.1")
        assert wait is None
    wait, _ = two.admit("anna", "10.0.0.1")  # the fourth, on either instance
    assert wait == 60
    clock.now += timedelta(seconds=30)
    wait, ticket = one.admit("anna", "10.0.0.2")  # another address: the pair rule is fresh
    assert wait is None
    two.succeeded("anna", "10.0.0.2", ticket)
    clock.now += timedelta(seconds=31)  # the first three have expired
    assert two.admit("anna", "10.0.0.1")[0] is None
    store = users[0].attempts(clock.seconds)
    assert store.purge(clock.seconds() + 61) > 0
    assert store.purge(clock.seconds() + 61) == 0


def test_concurrent_attempts_on_two_instances_never_pass_the_limit(
    users: tuple[UserStore, UserStore], clock: Clock,
) -> None:
    limiters = [_limiter(users[0], clock), _limiter(users[1], clock)]
    admitted: list[bool] = []
    barrier = threading.Barrier(10)

    def attempt(i: int) -> None:
        barrier.wait()
        admitted.append(limiters[i % 2].admit("anna", "10.0.0.1")[0] is None)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(admitted) == 10 and sum(admitted) == 3


# --- files from before the store layer ------------------------------------------------------


def test_an_inbox_and_a_users_file_of_an_older_version_are_adopted(tmp_path: Path) -> None:
    alert = make_alert()
    old = sqlite3.connect(tmp_path / "inbox.db")  # the tables as the older version made them
    old.executescript(
        "CREATE TABLE alerts (alert_id TEXT PRIMARY KEY, team_id TEXT NOT NULL, event_id TEXT"
        " NOT NULL, event_type TEXT NOT NULL, urgent INTEGER NOT NULL, created_ms INTEGER NOT"
        " NULL, received_ms INTEGER NOT NULL, source TEXT, alert TEXT NOT NULL, status TEXT"
        " NOT NULL DEFAULT 'new', claimed_by TEXT, claimed_ms INTEGER, outcome TEXT,"
        " closed_by TEXT, closed_ms INTEGER);"
        "CREATE INDEX alerts_by_team ON alerts (team_id, urgent DESC, created_ms DESC);"
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, alert_id TEXT NOT NULL REFERENCES alerts"
        " (alert_id), author TEXT NOT NULL, text TEXT NOT NULL, at_ms INTEGER NOT NULL);")
    old.execute("INSERT INTO alerts (alert_id, team_id, event_id, event_type, urgent,"
                " created_ms, received_ms, alert) VALUES (?, 'team-a', ?, 'debt-signal', 0, 1,"
                " 1, ?)", (alert.alert_id, alert.event_id, alert.model_dump_json()))
    old.execute("INSERT INTO notes (alert_id, author, text, at_ms) VALUES (?, 'anna', 'oud', 1)",
                (alert.alert_id,))
    old.commit()
    old.close()
    inbox = InboxStore(tmp_path / "inbox.db")
    try:
        assert [n.text for n in inbox.get(alert.alert_id).notes] == ["oud"]
        seen = inbox.version()
        inbox.claim(alert.alert_id, "anna")
        assert [i.claimed_by for i in inbox.list_alerts("team-a", changed_after=seen)] == [
            "anna"]
    finally:
        inbox.close()
    old = sqlite3.connect(tmp_path / "users.db")
    old.executescript(
        "CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT"
        " NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE memberships (username TEXT NOT NULL REFERENCES users (username),"
        " team_id TEXT NOT NULL, PRIMARY KEY (username, team_id));"
        "CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, created REAL"
        " NOT NULL, last_seen REAL NOT NULL, revoked REAL);"
        "CREATE INDEX sessions_by_user ON sessions (username);")
    old.execute("INSERT INTO users VALUES ('anna', ?, 'member', 0)",
                (PasswordHasher().hash(PASSWORD),))
    old.execute("INSERT INTO memberships VALUES ('anna', 'team-a')")
    old.commit()
    old.close()
    for _ in range(2):  # adopted once, then simply opened
        users = UserStore(tmp_path / "users.db")
        try:
            user = users.authenticate("anna", PASSWORD)
            assert user is not None and user.teams == {"team-a"}
            assert users.attempts().try_add([("k", LimitRule(1, 60.0))], 1.0) is None
        finally:
            users.close()

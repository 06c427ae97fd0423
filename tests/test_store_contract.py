"""The store contract: each application store on the store layer behaves the same on
SQLite and on PostgreSQL (``database_url`` gives a fresh database of each backend; the
PostgreSQL half is marked ``postgres``). Two store objects on one database stand for two
instances of the hub."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from hub.errors import EventIdReused, InFlight, KeyReused
from hub.idempotency import IdempotencyStore
from hub.import_ledger import ImportLedger, ImportLedgerError
from hub.sources import SourceRegistry, SourceRegistryError, UnknownSource
from hub.store import open_database

URN = "urn:nld:oin:00000001234567890000"

# --- sources and API keys ----------------------------------------------------------------


def test_sources_add_authenticate_revoke(database_url: str) -> None:
    with SourceRegistry(database_url) as registry:
        info, key = registry.add("woonstichting", URN, ["debt-signal", "consent"],
                                 consent_purposes=["p-1"], consent_scopes=["GM0344"])
        assert info.event_types == ("debt-signal", "consent") and not info.revoked
        found = registry.authenticate(key)
        assert found is not None and found.consent_scopes == ("GM0344",)
        assert registry.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        with pytest.raises(SourceRegistryError, match="already exists"):
            registry.add("woonstichting", URN, ["debt-signal"])
        assert registry.set_consent_scope("woonstichting", ["p-2"], []).consent_purposes \
            == ("p-2",)
        first = registry.revoke("woonstichting")
        assert first.revoked and registry.revoke("woonstichting").revoked_at \
            == first.revoked_at
        assert registry.authenticate(key) is None
        with pytest.raises(UnknownSource):
            registry.revoke("nobody")
        assert [s.source_id for s in registry.list()] == ["woonstichting"]


def test_sources_two_instances_share_keys_and_revocations(database_url: str) -> None:
    db = open_database(database_url)
    try:
        with SourceRegistry(db) as one, SourceRegistry(database_url) as two:
            _, key = one.add("energie", URN, ["debt-signal"])
            assert two.authenticate(key) is not None  # added on one, works on the other
            assert one.authenticate(key) is not None  # remembered check
            two.revoke("energie")
            assert one.authenticate(key) is None  # the row is read on every call
    finally:
        db.close()


def test_sources_purge_removes_only_sources_revoked_before(database_url: str) -> None:
    with SourceRegistry(database_url) as registry:
        registry.add("old", URN, ["debt-signal"])
        registry.add("active", URN, ["debt-signal"])
        registry.revoke("old")
        assert registry.purge(datetime.now(UTC) - timedelta(days=1)) == 0
        assert registry.purge(datetime.now(UTC) + timedelta(seconds=2)) == 1
        assert [s.source_id for s in registry.list()] == ["active"]


# --- ingest idempotency ----------------------------------------------------------------------


def test_idempotency_reserves_replays_and_refuses(database_url: str) -> None:
    now = [time.time()]
    with IdempotencyStore(database_url, pending_timeout=60, clock=lambda: now[0]) as store:
        assert store.begin("s", {"request:k": "fp-1", "event:e": "c-1"}) == {}
        with pytest.raises(InFlight):
            store.begin("s", {"request:k": "fp-1"})
        assert store.begin("t", {"request:k": "fp-1"}) == {}  # per source
        store.complete("s", {"request:k": {"status": 202}, "event:e": {"id": "e"}})
        assert store.begin("s", {"request:k": "fp-1"}) == {"request:k": {"status": 202}}
        with pytest.raises(KeyReused):
            store.begin("s", {"request:k": "fp-2"})
        with pytest.raises(EventIdReused):
            store.begin("s", {"event:e": "c-2"})
        store.begin("s", {"event:f": None})
        store.release("s", ["event:f", "event:e"])  # a done key stays done
        assert store.begin("s", {"event:e": "c-1"}) == {"event:e": {"id": "e"}}
        assert store.begin("s", {"event:f": None}) == {}  # released: free again
        now[0] += 59
        with pytest.raises(InFlight):  # pending, within the timeout
            store.begin("s", {"event:f": None})
        now[0] += 2  # a pending key whose request died is free after the timeout
        assert store.begin("s", {"event:f": None}) == {}


def test_idempotency_the_same_event_to_two_instances_is_taken_once(
    database_url: str,
) -> None:
    stores = [IdempotencyStore(database_url) for _ in range(2)]
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def send(store: IdempotencyStore) -> None:
        start.wait(10)
        try:
            store.begin("s", {"event:same": "c-1"})
            outcomes.append("reserved")
        except InFlight:
            outcomes.append("in flight")

    threads = [threading.Thread(target=send, args=(stores[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert sorted(outcomes) == ["in flight"] * 7 + ["reserved"]
        stores[0].complete("s", {"event:same": {"id": "x"}})
        assert stores[1].begin("s", {"event:same": "c-1"}) == {"event:same": {"id": "x"}}
    finally:
        for store in stores:
            store.close()


def test_idempotency_purge_deletes_what_is_older(database_url: str) -> None:
    with IdempotencyStore(database_url) as store:
        store.begin("s", {"event:a": None})
        store.complete("s", {"event:a": {"id": "a"}})
        store.begin("s", {"event:b": None})
        assert store.purge(datetime.now(UTC) - timedelta(hours=1)) == 0
        assert store.purge(datetime.now(UTC) + timedelta(seconds=1)) == 2
        assert store.begin("s", {"event:a": None}) == {}  # forgotten: new again


# --- the import ledger ---------------------------------------------------------------------


def test_import_ledger_remembers_published_ids_per_source(database_url: str) -> None:
    ids = [n.to_bytes(16, "big") for n in range(1, 2001)]  # more than one IN (...) chunk
    with ImportLedger(database_url) as ledger, ImportLedger(database_url) as other:
        source = ledger.source_id(URN)
        assert other.source_id(URN) == source != ledger.source_id("urn:nld:oin:2")
        run = ledger.start_run(source, "file.csv", "debt-signal")
        assert other.start_run(source, "again.csv", "debt-signal") > run
        ledger.record(source, run, ids[:1500])
        ledger.record(source, run, ids[:10])  # again: no error, no change
        ledger.finish_run(run, 1500, 1500, 0)
        assert other.known(source, ids) == {i: run for i in ids[:1500]}
        assert other.known(ledger.source_id("urn:nld:oin:2"), ids) == {}
        with pytest.raises(ImportLedgerError):  # NOT NULL: the ledger stays usable
            ledger.start_run(source, None, "debt-signal")  # type: ignore[arg-type]
        assert len(ledger.known(source, ids[:5])) == 5


def test_import_ledger_purge_forgets_old_runs(database_url: str) -> None:
    with ImportLedger(database_url) as ledger:
        source = ledger.source_id(URN)
        run = ledger.start_run(source, "file.csv", "debt-signal")
        ledger.record(source, run, [b"\x01" * 16, b"\x02" * 16])
        assert ledger.purge(datetime.now(UTC) - timedelta(days=1)) == 0
        assert ledger.purge(datetime.now(UTC) + timedelta(seconds=1)) == 2
        assert ledger.known(source, [b"\x01" * 16]) == {}

"""The store contract: each application store on the store layer behaves the same on
SQLite and on PostgreSQL (``database_url`` gives a fresh database of each backend; the
PostgreSQL half is marked ``postgres``). Two store objects on one database stand for two
instances of the hub."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.sources.keys import SourceRegistry, SourceRegistryError, UnknownSource
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

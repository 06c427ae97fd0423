"""The source registry (API keys stored as hashes only) and `signalhub sources`."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.sources import (
    SOURCES_FILE,
    SourceRegistry,
    SourceRegistryError,
    UnknownSource,
)

URN = "urn:nld:oin:00000001234567890000"
KEY = re.compile(r"sk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[SourceRegistry]:
    """Overrides conftest's schema-registry fixture of the same name in this module."""
    with SourceRegistry.in_state_dir(tmp_path) as opened:
        yield opened


def test_add_shows_the_key_once_and_stores_only_a_hash(registry: SourceRegistry) -> None:
    info, key = registry.add("woonstichting-voorbeeld", URN, ["eviction-risk", "consent"])
    assert KEY.fullmatch(key)
    assert info.source_id == "woonstichting-voorbeeld" and info.urn == URN
    assert info.event_types == ("eviction-risk", "consent") and not info.revoked
    assert info.may_send("consent") and not info.may_send("debt-signal")
    assert key.split("_", 2)[1] == info.key_id
    raw = b"".join(p.read_bytes() for p in registry.path.parent.glob(f"{SOURCES_FILE}*"))
    secret = key.split("_", 2)[2]
    assert secret.encode() not in raw and key.encode() not in raw
    assert info.key_id.encode() in raw


def test_authenticate(registry: SourceRegistry) -> None:
    info, key = registry.add("energie-voorbeeld", URN, ["debt-signal"])
    _, other_key = registry.add("ander", URN, ["debt-signal"])
    assert registry.authenticate(key) == info
    assert registry.authenticate(key) == info  # the remembered check
    assert registry.authenticate(other_key) != info
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for bad in (wrong, "", "sk_", "sk_123_abc", key.replace("sk_", "pk_"),
                f"sk_{'0' * 12}_{key.split('_', 2)[2]}", key + "x"):
        assert registry.authenticate(bad) is None, bad


def test_a_remembered_check_is_quick_and_never_outlives_a_revoke(
    registry: SourceRegistry, tmp_path: Path
) -> None:
    _, key = registry.add("energie-voorbeeld", URN, ["debt-signal"])
    assert registry.authenticate(key) is not None
    started = time.perf_counter()
    for _ in range(50):
        assert registry.authenticate(key) is not None
    assert time.perf_counter() - started < 1.0  # no scrypt per call
    with SourceRegistry.in_state_dir(tmp_path) as elsewhere:  # e.g. the CLI
        assert elsewhere.revoke("energie-voorbeeld").revoked
    assert registry.authenticate(key) is None


def test_list_and_revoke(registry: SourceRegistry) -> None:
    registry.add("b-source", URN, ["debt-signal"])
    registry.add("a-source", URN, ["youth-care-exit"])
    first = registry.revoke("a-source")
    again = registry.revoke("a-source")
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at
    assert [(s.source_id, s.revoked) for s in registry.list()] == [
        ("a-source", True), ("b-source", False)]
    with pytest.raises(UnknownSource):
        registry.revoke("nope")


@pytest.mark.parametrize(
    ("source_id", "urn", "types", "message"),
    [
        ("Bad Id", URN, ["debt-signal"], "source id"),
        ("ok", "not-a-urn", ["debt-signal"], "urn"),
        ("ok", URN, [], "event types"),
        ("ok", URN, ["debt-signal", "parking-ticket"], "parking-ticket"),
    ],
)
def test_add_refuses_bad_input(registry: SourceRegistry, source_id: str, urn: str,
                               types: list[str], message: str) -> None:
    with pytest.raises(SourceRegistryError, match=message):
        registry.add(source_id, urn, types)


def test_add_refuses_a_duplicate(registry: SourceRegistry) -> None:
    registry.add("dup", URN, ["debt-signal"])
    with pytest.raises(SourceRegistryError, match="already exists"):
        registry.add("dup", URN, ["debt-signal"])


# --- the CLI -----------------------------------------------------------------------------


def test_cli_add_list_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    state = ["--state-dir", str(tmp_path)]
    added = runner.invoke(main, ["sources", "add", "energie-voorbeeld", "--urn", URN,
                                 "--event-type", "debt-signal", "--event-type", "consent",
                                 *state])
    assert added.exit_code == 0, added.output
    (key,) = KEY.findall(added.stdout)
    assert "shown only once" in added.stderr and key not in added.stderr
    with SourceRegistry.in_state_dir(tmp_path) as registry:
        source = registry.authenticate(key)
        assert source is not None and source.event_types == ("debt-signal", "consent")

    listed = runner.invoke(main, ["sources", "list", *state])
    assert listed.exit_code == 0
    assert "energie-voorbeeld" in listed.stdout and "active" in listed.stdout
    assert key not in listed.stdout and "1 source(s)" in listed.stdout

    as_json = runner.invoke(main, ["sources", "list", "--json", *state])
    row = json.loads(as_json.stdout)
    assert row["source_id"] == "energie-voorbeeld" and "api_key" not in row

    revoked = runner.invoke(main, ["sources", "revoke", "energie-voorbeeld", *state])
    assert revoked.exit_code == 0 and "revoked energie-voorbeeld" in revoked.stdout
    assert "revoked" in runner.invoke(main, ["sources", "list", *state]).stdout
    with SourceRegistry.in_state_dir(tmp_path) as registry:
        assert registry.authenticate(key) is None


def test_cli_errors_and_help(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("HUB_STATE_DIR", str(tmp_path))  # the default state dir
    ok = runner.invoke(main, ["sources", "add", "x-1", "--urn", URN, "--event-type",
                              "eviction-risk", "--json"])
    assert ok.exit_code == 0 and KEY.fullmatch(json.loads(ok.stdout)["api_key"])
    assert (tmp_path / SOURCES_FILE).exists()
    dup = runner.invoke(main, ["sources", "add", "x-1", "--urn", URN, "--event-type",
                               "eviction-risk"])
    assert dup.exit_code == 1 and "already exists" in dup.output
    bad_type = runner.invoke(main, ["sources", "add", "x-2", "--urn", URN, "--event-type",
                                    "parking"])
    assert bad_type.exit_code == 2
    unknown = runner.invoke(main, ["sources", "revoke", "nope"])
    assert unknown.exit_code == 1 and "no source nope" in unknown.output
    help_text = runner.invoke(main, ["sources", "--help"]).output
    for word in ("add", "list", "revoke", "consent", "scrypt"):
        assert word in help_text
    assert "--event-type" in runner.invoke(main, ["sources", "add", "--help"]).output

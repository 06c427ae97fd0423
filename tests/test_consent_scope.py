"""Per source, the consent purposes and recipient scopes it may record: others are 403
(over HTTP, through the ingest app), set with `signalhub sources add` / `set-consent`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from connectors.sources.http_ingest import create_app
from hub.cli import main
from hub.connect import Connection, connect
from hub.events import ConsentAction, ConsentChange
from hub.serving import serve, server_address, stop
from hub.settings import Settings
from hub.sources import SourceRegistry, SourceRegistryError
from hub.topics import CONSENT
from tests.bus_records import read_records

URN = "urn:nld:oin:00000001234567890000"
OTHER_URN = "urn:nld:oin:00000009876543210000"
SUBJECT = "ps1-" + "ab" * 20
PURPOSE = "youth-care-exit-support"
#: what the "jeugdzorg" source may record
ALLOWED = {"consent_purposes": [PURPOSE, "youth-care-exit-handover"],
           "consent_scopes": ["jeugd-18plus", "GM9999"]}


def grant(purpose: str = PURPOSE, scope: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"subject_ref": SUBJECT, "purpose": purpose,
            "recipient_scope": scope or ["jeugd-18plus"], **extra}


@dataclass
class Api:
    url: str
    keys: dict[str, str]
    conn: Connection
    registry: SourceRegistry

    def client(self, source: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, trust_env=False,
                            headers={"Authorization": f"Bearer {self.keys[source]}"})


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as conn, \
            SourceRegistry(tmp_path / "sources.db") as registry:
        keys = {
            "jeugdzorg": registry.add("jeugdzorg", URN, ["youth-care-exit", "consent"],
                                      **ALLOWED)[1],
            "zonder": registry.add("zonder", URN, ["consent"])[1],  # no purposes: none
            "ander": registry.add("ander", OTHER_URN, ["consent"], **ALLOWED)[1],
        }
        app = create_app(conn, registry, None, idempotency_store_path=tmp_path / "idem.db")
        server, thread = serve(app, "127.0.0.1", 0)
        try:
            host, port = server_address(server)
            yield Api(f"http://{host}:{port}", keys, conn, registry)
        finally:
            stop(server, thread)


def consent_changes(conn: Connection) -> list[ConsentChange]:
    return [ConsentChange.model_validate(r) for r in read_records(conn, CONSENT)]


def fields(response: httpx.Response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


# --- over HTTP ------------------------------------------------------------------------------


def test_a_grant_within_the_sources_purposes_and_scopes_is_accepted(api: Api) -> None:
    with api.client("jeugdzorg") as client:
        answer = client.post("/v1/consents", json=grant(scope=["jeugd-18plus", "GM9999"]))
    assert answer.status_code == 202, answer.text
    [change] = consent_changes(api.conn)
    assert change.consent_id == answer.json()["consent_id"]
    assert change.purpose == PURPOSE and change.recipient_scope == ["jeugd-18plus", "GM9999"]


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (grant(purpose="eviction-prevention"), ["purpose"]),
        (grant(scope=["jeugd-18plus", "wijkteam-noord", "GM0344"]),
         ["recipient_scope.1", "recipient_scope.2"]),
        (grant(purpose="debt-support", scope=["GM0344"]), ["purpose", "recipient_scope.0"]),
        (grant(scope=["Jeugd-18plus"]), ["recipient_scope.0"]),  # compared exactly
    ],
)
def test_a_grant_outside_them_is_403_naming_the_field(
    api: Api, body: dict[str, Any], refused: list[str]
) -> None:
    with api.client("jeugdzorg") as client:
        answer = client.post("/v1/consents", json=body)
    assert answer.status_code == 403, answer.text
    assert fields(answer) == refused
    assert "jeugdzorg may not record this consent" in answer.json()["detail"]
    assert body["purpose"] not in answer.text and "GM0344" not in answer.text  # no values
    assert consent_changes(api.conn) == []  # nothing published


def test_a_consent_source_without_purposes_may_record_none(api: Api) -> None:
    with api.client("zonder") as client:
        answer = client.post("/v1/consents", json=grant())
    assert answer.status_code == 403 and fields(answer) == ["purpose", "recipient_scope.0"]
    assert consent_changes(api.conn) == []


def test_the_check_comes_before_the_consent_id_of_another_source(api: Api) -> None:
    with api.client("ander") as other:
        taken = other.post("/v1/consents", json=grant())
    consent_id = taken.json()["consent_id"]
    with api.client("jeugdzorg") as client:  # another source's id, outside the scope: 403
        outside = client.post("/v1/consents",
                              json=grant(scope=["GM0344"], consent_id=consent_id))
        inside = client.post("/v1/consents", json=grant(consent_id=consent_id))
    assert outside.status_code == 403 and inside.status_code == 409


def test_a_narrowed_scope_applies_at_once_and_never_blocks_a_withdrawal(api: Api) -> None:
    with api.client("jeugdzorg") as client:
        granted = client.post("/v1/consents", json=grant())
        assert granted.status_code == 202, granted.text
        api.registry.set_consent_scope("jeugdzorg", [PURPOSE], ["GM9999"])  # same key
        assert client.post("/v1/consents", json=grant()).status_code == 403
        assert client.post("/v1/consents", json=grant(scope=["GM9999"])).status_code == 202
        api.registry.set_consent_scope("jeugdzorg", [], [])
        withdrawn = client.delete(f"/v1/consents/{granted.json()['consent_id']}")
    assert withdrawn.status_code == 202, withdrawn.text
    first = granted.json()["consent_id"]
    changes = consent_changes(api.conn)  # in order per consent (its partition), not across
    assert [c.action for c in changes if c.consent_id == first] == [
        ConsentAction.GRANTED, ConsentAction.WITHDRAWN]
    assert [c.action for c in changes if c.consent_id != first] == [ConsentAction.GRANTED]


# --- the registry ---------------------------------------------------------------------------


def test_source_info_names_what_a_grant_may_not_record(tmp_path: Path) -> None:
    with SourceRegistry(tmp_path / "sources.db") as registry:
        info, _ = registry.add("jeugdzorg", URN, ["consent"], **ALLOWED)
        assert info.consent_purposes == (PURPOSE, "youth-care-exit-handover")
        assert info.consent_refusals(PURPOSE, ["GM9999", "jeugd-18plus"]) == []
        assert info.consent_refusals("other", ["GM9999", "GM0001"]) == [
            "purpose", "recipient_scope.1"]
        signals_only, _ = registry.add("energie", URN, ["debt-signal"])
        assert signals_only.consent_refusals(PURPOSE, ["GM9999"]) == [
            "purpose", "recipient_scope.0"]


@pytest.mark.parametrize(
    ("types", "purposes", "scopes", "error"),
    [
        (["debt-signal"], [PURPOSE], [], "for a source with the consent permission"),
        (["consent"], ["has space"], [], "a consent purpose is a code"),
        (["consent"], [PURPOSE], ["Team A"], "a consent scope is a team id"),
        (["consent"], [PURPOSE], ["GM12"], "a consent scope is a team id"),
    ],
)
def test_the_registry_refuses_bad_purposes_and_scopes(
    tmp_path: Path, types: list[str], purposes: list[str], scopes: list[str], error: str
) -> None:
    with SourceRegistry(tmp_path / "sources.db") as registry:
        with pytest.raises(SourceRegistryError, match=error):
            registry.add("bron", URN, types, consent_purposes=purposes, consent_scopes=scopes)
        assert registry.get("bron") is None


def test_an_older_registry_file_gets_the_columns_and_its_sources_record_none(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sources.db"
    with SourceRegistry(path) as registry:
        _, key = registry.add("jeugdzorg", URN, ["consent"], **ALLOWED)
    db = sqlite3.connect(path)  # as the file was before consent scopes (and schema versions)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:  # a sources.db of its own, with none of the other stores' tables
        if table != "sources":
            db.execute(f'DROP TABLE "{table}"')
    db.execute("ALTER TABLE sources DROP COLUMN consent_purposes")
    db.execute("ALTER TABLE sources DROP COLUMN consent_scopes")
    db.commit()
    db.close()
    with SourceRegistry(path) as registry:
        info = registry.authenticate(key)
        assert info is not None and info.consent_purposes == info.consent_scopes == ()
        assert info.consent_refusals(PURPOSE, ["GM9999"]) == ["purpose", "recipient_scope.0"]
        assert registry.set_consent_scope("jeugdzorg", [PURPOSE], ["GM9999"]).consent_scopes \
            == ("GM9999",)


# --- the CLI --------------------------------------------------------------------------------


def test_cli_add_list_and_set_consent(tmp_path: Path) -> None:
    runner = CliRunner()
    state = ["--state-dir", str(tmp_path)]
    added = runner.invoke(main, ["sources", "add", "jeugdzorg", "--urn", URN,
                                 "--event-type", "consent", "--consent-purpose", PURPOSE,
                                 "--consent-scope", "jeugd-18plus", "--consent-scope", "GM9999",
                                 *state])
    assert added.exit_code == 0, added.output
    assert f"consent purposes={PURPOSE} scopes=jeugd-18plus,GM9999" in added.stdout
    assert "may record no consents" not in added.stderr
    listed = runner.invoke(main, ["sources", "list", *state])
    assert f"consent purposes={PURPOSE} scopes=jeugd-18plus,GM9999" in listed.stdout
    row = json.loads(runner.invoke(main, ["sources", "list", "--json", *state]).stdout)
    assert row["consent_purposes"] == [PURPOSE]
    assert row["consent_scopes"] == ["jeugd-18plus", "GM9999"]

    narrowed = runner.invoke(main, ["sources", "set-consent", "jeugdzorg",
                                    "--consent-purpose", PURPOSE, *state])
    assert narrowed.exit_code == 0, narrowed.output
    assert "scopes=(none)" in narrowed.stdout and "may record no consents" in narrowed.stderr
    with SourceRegistry.in_state_dir(tmp_path) as registry:
        info = registry.get("jeugdzorg")
        assert info is not None and info.consent_scopes == ()


def test_cli_warns_refuses_and_documents(tmp_path: Path) -> None:
    runner = CliRunner()
    state = ["--state-dir", str(tmp_path)]
    bare = runner.invoke(main, ["sources", "add", "zonder", "--urn", URN,
                                "--event-type", "consent", *state])
    assert bare.exit_code == 0 and "may record no consents" in bare.stderr
    assert "consent purposes=(none) scopes=(none)" in bare.stdout
    wrong = runner.invoke(main, ["sources", "add", "energie", "--urn", URN, "--event-type",
                                 "debt-signal", "--consent-purpose", PURPOSE, *state])
    assert wrong.exit_code == 1 and "consent permission" in wrong.output
    unknown = runner.invoke(main, ["sources", "set-consent", "nope", *state])
    assert unknown.exit_code == 1 and "no source nope" in unknown.output
    signals = runner.invoke(main, ["sources", "add", "woon", "--urn", URN, "--event-type",
                                   "eviction-risk", *state])
    assert "consent" not in signals.stdout and "may record no consents" not in signals.stderr
    help_text = runner.invoke(main, ["sources", "add", "--help"]).output
    assert "--consent-purpose" in help_text and "--consent-scope" in help_text
    assert "set-consent" in runner.invoke(main, ["sources", "--help"]).output

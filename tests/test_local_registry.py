"""A real Apicurio Registry (hub.devtools.local_registry) through its Confluent-compatible API.

Plain httpx, no hub code, so these tests pin down what Apicurio itself answers. Observed with
Apicurio 3.3.3 (and 2.6.13.Final where noted):

* ``POST /subjects/{s}/versions`` answers ``{"id": N}``; the same schema again gives the same id.
* ``GET /schemas/ids/{id}`` answers ``{"schema": "..."}`` (3.x omits ``schemaType`` for Avro
  and ``references`` when empty; 2.x adds ``"references": []``).
* A subject without its own config answers ``GET /config/{s}`` with 200 and the global level,
  which is ``NONE`` (Confluent: 404/40408 for the subject, and a global default of BACKWARD).
* ``PUT /config/{s}`` echoes ``{"compatibility": ..., "normalize": false}`` (2.x: no normalize).
* ``POST /compatibility/subjects/{s}/versions/latest`` answers ``{"is_compatible": bool}``,
  without ``messages`` even with ``?verbose=true`` (2.x adds ``"reason": null``).
* Registering an incompatible schema: HTTP 409, ``error_code`` 409, message
  ``RuleViolationException: Incompatible artifact: <s> [AVRO], ... [kind at /fields/1]``.
* Unknown id: 404/40403; unknown subject: 404/40401; unknown version: 404/40402;
  an invalid Avro schema: 422/42201; an unknown compatibility level: 422/42203.
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub.devtools.local_registry import CCOMPAT_PATH, LocalApicurio

pytestmark = [pytest.mark.registry, pytest.mark.slow]

CONTENT = "application/vnd.schemaregistry.v1+json"

V1 = {
    "type": "record", "name": "Signal", "namespace": "nl.signalhub.test",
    "fields": [{"name": "id", "type": "string"}],
}
V2_OPTIONAL_FIELD = {  # adds a field with a default: readable by v1 readers' successors
    **V1, "fields": [*V1["fields"], {"name": "kind", "type": "string", "default": "x"}],
}
V2_REQUIRED_FIELD = {  # adds a field without a default: breaks BACKWARD(_TRANSITIVE)
    **V1, "fields": [*V1["fields"], {"name": "kind", "type": "string"}],
}


def body(schema: dict[str, Any]) -> dict[str, str]:
    return {"schema": json.dumps(schema), "schemaType": "AVRO"}


@pytest.fixture
def api(apicurio_url: str) -> Iterator[httpx.Client]:
    headers = {"Accept": CONTENT, "Content-Type": CONTENT}
    with httpx.Client(base_url=apicurio_url, headers=headers, timeout=30.0,
                      trust_env=False) as client:
        yield client


@pytest.fixture
def subject() -> str:
    return f"signal-{uuid.uuid4().hex[:8]}-value"


def test_register_then_fetch_by_id(api: httpx.Client, subject: str) -> None:
    created = api.post(f"/subjects/{subject}/versions", json=body(V1))
    assert created.status_code == 200, created.text
    schema_id = created.json()["id"]
    assert isinstance(schema_id, int)

    by_id = api.get(f"/schemas/ids/{schema_id}")
    assert by_id.status_code == 200, by_id.text
    assert json.loads(by_id.json()["schema"]) == V1
    assert by_id.json().get("schemaType", "AVRO") == "AVRO"

    again = api.post(f"/subjects/{subject}/versions", json=body(V1))
    assert again.json() == {"id": schema_id}
    assert api.get(f"/subjects/{subject}/versions").json() == [1]
    latest = api.get(f"/subjects/{subject}/versions/latest").json()
    assert (latest["subject"], latest["version"], latest["id"]) == (subject, 1, schema_id)
    assert subject in api.get("/subjects").json()


def test_backward_transitive_compatibility(api: httpx.Client, subject: str) -> None:
    assert api.post(f"/subjects/{subject}/versions", json=body(V1)).status_code == 200
    # Apicurio answers 200 with the global level (NONE) before a subject level is set.
    assert api.get(f"/config/{subject}").json() == {"compatibilityLevel": "NONE"}

    put = api.put(f"/config/{subject}", json={"compatibility": "BACKWARD_TRANSITIVE"})
    assert put.status_code == 200, put.text
    assert put.json()["compatibility"] == "BACKWARD_TRANSITIVE"
    level = api.get(f"/config/{subject}").json()
    assert level == {"compatibilityLevel": "BACKWARD_TRANSITIVE"}

    check = f"/compatibility/subjects/{subject}/versions/latest"
    ok = api.post(check, json=body(V2_OPTIONAL_FIELD))
    assert ok.status_code == 200, ok.text
    assert ok.json()["is_compatible"] is True
    bad = api.post(check, json=body(V2_REQUIRED_FIELD))
    assert bad.status_code == 200, bad.text
    assert bad.json()["is_compatible"] is False

    refused = api.post(f"/subjects/{subject}/versions", json=body(V2_REQUIRED_FIELD))
    assert refused.status_code == 409, refused.text
    assert refused.json()["error_code"] == 409
    assert "Incompatible" in refused.json()["message"]

    accepted = api.post(f"/subjects/{subject}/versions", json=body(V2_OPTIONAL_FIELD))
    assert accepted.status_code == 200, accepted.text
    assert api.get(f"/subjects/{subject}/versions").json() == [1, 2]


def test_errors_use_confluent_codes(api: httpx.Client, subject: str) -> None:
    missing_id = api.get("/schemas/ids/987654321")
    assert (missing_id.status_code, missing_id.json()["error_code"]) == (404, 40403)
    missing_subject = api.get(f"/subjects/{subject}/versions/latest")
    assert (missing_subject.status_code, missing_subject.json()["error_code"]) == (404, 40401)

    assert api.post(f"/subjects/{subject}/versions", json=body(V1)).status_code == 200
    missing_version = api.get(f"/subjects/{subject}/versions/99")
    assert (missing_version.status_code, missing_version.json()["error_code"]) == (404, 40402)
    invalid = api.post(f"/subjects/{subject}/versions",
                       json={"schema": '{"type": "record", "name": "X"}', "schemaType": "AVRO"})
    assert (invalid.status_code, invalid.json()["error_code"]) == (422, 42201)
    level = api.put(f"/config/{subject}", json={"compatibility": "SOMETIMES"})
    assert (level.status_code, level.json()["error_code"]) == (422, 42203)


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_lifecycle_start_is_idempotent_and_stop_ends_the_jvm() -> None:
    registry = LocalApicurio()
    with registry:
        url = registry.start()
        assert re.fullmatch(rf"http://127\.0\.0\.1:\d+{CCOMPAT_PATH}", url)
        assert registry.start() == url
        assert registry.version
        pid, port = registry.pid, registry.port
        assert pid is not None and port is not None
        assert os.getpgid(pid) == pid  # its own process group
        assert registry.log_path is not None and registry.log_path.is_file()
    assert not registry.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not _accepts(port)
    registry.stop()  # a second stop is harmless

"""A client for any Confluent-compatible schema registry API (Confluent, Apicurio's
``/apis/ccompat/v7``, Karapace), used by the Kafka mode."""

from __future__ import annotations

import json
from typing import Any

import httpx

from hub.compat import Compatibility
from hub.errors import IncompatibleSchema, RegistryError, RegistryUnavailable, SchemaNotFound
from hub.registry.base import RegisteredSchema, SchemaRegistry, canonical

__all__ = ["HttpRegistry"]

_CONTENT = "application/vnd.schemaregistry.v1+json"


class HttpRegistry(SchemaRegistry):
    """Talks to ``base_url`` (e.g. ``http://registry:8080/apis/ccompat/v7``)."""

    def __init__(
        self,
        base_url: str,
        *,
        default_compatibility: Compatibility = Compatibility.BACKWARD_TRANSITIVE,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.default_compatibility = default_compatibility
        self._http = client or httpx.Client(
            base_url=self.base_url, timeout=timeout,
            headers={"Accept": _CONTENT, "Content-Type": _CONTENT},
        )
        self._by_id: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(
                f"schema registry at {self.base_url} unreachable: {exc}") from exc
        if resp.status_code < 300:
            return resp.json() if resp.content else None
        detail = _error_text(resp)
        if resp.status_code == 404:
            raise SchemaNotFound(f"{method} {path}: {detail}")
        if resp.status_code == 409:
            raise IncompatibleSchema(f"{method} {path}: {detail}")
        error = RegistryUnavailable if resp.status_code >= 500 else RegistryError
        raise error(f"{method} {path} answered {resp.status_code}: {detail}")

    def register(self, subject: str, schema: str) -> int:
        text = canonical(schema)
        cached = self._ids.get((subject, text))
        if cached is not None:
            return cached
        if not self.versions(subject):
            # Registries differ in their global default (Apicurio: NONE, Confluent:
            # BACKWARD); a new subject gets the hub's level explicitly.
            self.set_compatibility(self.default_compatibility, subject)
        answer = self._call(
            "POST", f"/subjects/{subject}/versions", {"schema": text, "schemaType": "AVRO"}
        )
        schema_id = int(answer["id"])
        self._ids[(subject, text)] = schema_id
        self._by_id.setdefault(schema_id, text)
        return schema_id

    def schema_by_id(self, schema_id: int) -> str:
        if schema_id not in self._by_id:
            answer = self._call("GET", f"/schemas/ids/{schema_id}")
            self._by_id[schema_id] = str(answer["schema"])
        return self._by_id[schema_id]

    def lookup(self, subject: str, schema: str) -> RegisteredSchema | None:
        try:
            answer = self._call(
                "POST", f"/subjects/{subject}", {"schema": canonical(schema), "schemaType": "AVRO"}
            )
        except SchemaNotFound:
            return None
        return _registered(answer, subject)

    def latest(self, subject: str) -> RegisteredSchema:
        return _registered(self._call("GET", f"/subjects/{subject}/versions/latest"), subject)

    def versions(self, subject: str) -> list[int]:
        try:
            return sorted(int(v) for v in self._call("GET", f"/subjects/{subject}/versions"))
        except SchemaNotFound:
            return []

    def subjects(self) -> list[str]:
        return sorted(str(s) for s in self._call("GET", "/subjects"))

    def check_compatibility(self, subject: str, schema: str) -> list[str]:
        if not self.versions(subject):
            return []
        # Against every version for the transitive levels, else against the latest one
        # (asked explicitly: registries differ in what the version-less form covers).
        target = "versions" if self.get_compatibility(subject).transitive else "versions/latest"
        answer = self._call(
            "POST",
            f"/compatibility/subjects/{subject}/{target}?verbose=true",
            {"schema": canonical(schema), "schemaType": "AVRO"},
        )
        if answer.get("is_compatible", False):
            return []
        messages = answer.get("messages") or ["the registry says: not compatible"]
        return [str(m) for m in messages]

    def set_compatibility(self, level: Compatibility, subject: str | None = None) -> None:
        path = f"/config/{subject}" if subject else "/config"
        self._call("PUT", path, {"compatibility": level.value})

    def get_compatibility(self, subject: str | None = None) -> Compatibility:
        if subject:
            try:
                answer = self._call("GET", f"/config/{subject}?defaultToGlobal=true")
            except SchemaNotFound:
                answer = self._call("GET", "/config")
        else:
            answer = self._call("GET", "/config")
        level = answer.get("compatibilityLevel") or answer.get("compatibility")
        return Compatibility(str(level))

    def close(self) -> None:
        self._http.close()


def _registered(answer: dict[str, Any], subject: str) -> RegisteredSchema:
    return RegisteredSchema(
        subject=str(answer.get("subject", subject)),
        version=int(answer["version"]),
        schema_id=int(answer["id"]),
        schema=str(answer["schema"]),
    )


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except (json.JSONDecodeError, ValueError):
        return resp.text[:300]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("detail") or body)
    return str(body)

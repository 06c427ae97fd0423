"""A client for any Confluent-compatible schema registry API (Confluent, Apicurio's
``/apis/ccompat/v7``, Karapace), used by the Kafka mode.

Writer ids are *confirmed* (:meth:`HttpRegistry.writer_id`): an id is used for at most
``confirm_every`` seconds after the registry last said that it still names the schema,
and never after a failed call to the registry, until it has said so again. A registry
that lost its schemas (Apicurio with in-memory storage, restarted) therefore gets them
registered again, and records are written under the new id, not under an old one that
now names another schema or nothing. While the registry cannot be reached, an
unconfirmed id is not used: :meth:`writer_id` raises RegistryUnavailable (the ingest API
answers 503). Concurrent first registrations of one subject by several clients are safe:
Apicurio answers the loser of its ``PUT /config/<subject>`` race with 409 "rule already
exists", which is taken as success and the level set again.

Access (``access``, the ``HUB_REGISTRY__*`` settings): basic auth or a bearer token and a
CA file for an https registry, never in the URL (a URL with a user name or password is
refused, naming the settings to use). The password and token are registered with the log
redaction and appear in no error; a 401 or 403 is a
:class:`~hub.errors.RegistryAccessDenied` naming the settings to check.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from hub.compat import Compatibility
from hub.errors import (
    ConfigError,
    IncompatibleSchema,
    RegistryAccessDenied,
    RegistryError,
    RegistryUnavailable,
    SchemaNotFound,
)
from hub.logging import redact_text, register_secret
from hub.registry.base import RegisteredSchema, SchemaRegistry, canonical
from hub.settings import RegistrySettings

__all__ = ["CONFIRM_EVERY", "HttpRegistry", "RETRY_AFTER"]

log = structlog.get_logger(__name__)

_CONTENT = "application/vnd.schemaregistry.v1+json"
#: seconds a confirmed writer id is used before the registry is asked again
CONFIRM_EVERY = 5.0
#: seconds after a failed call during which unconfirmed ids fail at once (no new call)
RETRY_AFTER = 1.0
_CONFLICT_RETRIES = 3


@dataclass(frozen=True, slots=True)
class _Confirmed:
    schema_id: int
    at: float  # monotonic time the registry last confirmed it
    generation: int  # the registry failure count then


class HttpRegistry(SchemaRegistry):
    """Talks to ``base_url`` (e.g. ``http://registry:8080/apis/ccompat/v7``)."""

    def __init__(
        self,
        base_url: str,
        *,
        default_compatibility: Compatibility = Compatibility.BACKWARD_TRANSITIVE,
        timeout: float = 10.0,
        confirm_every: float = CONFIRM_EVERY,
        retry_after: float = RETRY_AFTER,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        access: RegistrySettings | None = None,
    ) -> None:
        _refuse_userinfo(base_url)
        self.base_url = base_url.rstrip("/")
        self.default_compatibility = default_compatibility
        self.confirm_every = confirm_every
        self.retry_after = retry_after
        self._clock = clock
        access = access or RegistrySettings()
        self._http = client or httpx.Client(
            base_url=self.base_url, timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            headers={"Accept": _CONTENT, "Content-Type": _CONTENT, **_auth_headers(access)},
            verify=_verify(access),
        )
        self._by_id: dict[int, str] = {}
        self._writers: dict[tuple[str, str], _Confirmed] = {}
        self._confirming = threading.Lock()
        self._generation = 0  # bumped by every failed call and every lost id
        self._down_until = float("-inf")

    # ---- transport

    def _send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """One request; RegistryUnavailable (and a failure noted) when the registry cannot
        be reached or answers 5xx."""
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            self._failed()
            hint = (": its certificate is not signed by a CA in HUB_REGISTRY__CAFILE (unset:"
                    " the system's CAs)" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else "")
            raise RegistryUnavailable(redact_text(
                f"schema registry at {self.base_url} unreachable: {exc}{hint}")) from exc
        if resp.status_code in (401, 403):
            raise RegistryAccessDenied(
                f"{method} {path} answered {resp.status_code}: the schema registry refused the"
                " hub's credentials; check HUB_REGISTRY__USERNAME and HUB_REGISTRY__PASSWORD"
                " (or HUB_REGISTRY__TOKEN)")
        if resp.status_code >= 500:
            self._failed()
            raise RegistryUnavailable(
                f"{method} {path} answered {resp.status_code}: {_error_text(resp)}")
        return resp

    def _failed(self) -> None:
        self._generation += 1
        self._down_until = self._clock() + self.retry_after

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self._send(method, path, body)
        if resp.status_code < 300:
            return resp.json() if resp.content else None
        detail = _error_text(resp)
        if resp.status_code == 404:
            raise SchemaNotFound(f"{method} {path}: {detail}")
        if resp.status_code == 409:
            raise IncompatibleSchema(f"{method} {path}: {detail}")
        raise RegistryError(f"{method} {path} answered {resp.status_code}: {detail}")

    # ---- writer ids

    def writer_id(self, subject: str, schema: str) -> int:
        """The id to write ``schema`` under ``subject`` with, confirmed by the registry
        within ``confirm_every`` seconds and since its last failure; re-registers when the
        registry no longer knows it. Raises RegistryUnavailable, never a stale id."""
        key = (subject, schema)
        entry = self._writers.get(key)
        if entry is not None and self._fresh(entry):
            return entry.schema_id
        with self._confirming:
            entry = self._writers.get(key)
            if entry is not None and self._fresh(entry):
                return entry.schema_id
            if self._clock() < self._down_until:
                raise RegistryUnavailable(
                    f"schema registry at {self.base_url} failed less than {self.retry_after:g} s"
                    f" ago; the schema id for {subject} is not confirmed")
            return self._confirm(subject, schema, entry)

    def _fresh(self, entry: _Confirmed) -> bool:
        return (entry.generation == self._generation
                and self._clock() - entry.at < self.confirm_every)

    def _confirm(self, subject: str, schema: str, entry: _Confirmed | None) -> int:
        generation = self._generation
        found = self.lookup(subject, schema)
        schema_id = found.schema_id if found is not None else self.register(subject, schema)
        if entry is not None and entry.schema_id != schema_id:
            log.error(
                "the schema registry changed the id of a schema: it lost its data (run it with"
                " persistent storage); records written before under the old id may not decode",
                subject=subject, old_id=entry.schema_id, new_id=schema_id)
            # Every id known so far is suspect: readers ask again, writers confirm again.
            self._by_id.clear()
            self._generation += 1
            generation = self._generation
        elif entry is None and found is None:
            log.info("schema registered", subject=subject, schema_id=schema_id)
        self._by_id[schema_id] = canonical(schema)
        self._writers[(subject, schema)] = _Confirmed(schema_id, self._clock(), generation)
        return schema_id

    def verify_ids(self) -> None:
        """Confirm every writer id now (re-registering where the registry lost it) and check
        that every cached reader id still names the same schema (else forget it and log)."""
        with self._confirming:
            self.subjects()  # answers at all, even before anything is cached
            for (subject, schema), entry in list(self._writers.items()):
                self._confirm(subject, schema, entry)
            writers = {e.schema_id for e in self._writers.values()}
            for schema_id, text in list(self._by_id.items()):
                if schema_id in writers:
                    continue
                try:
                    current = canonical(self._call("GET", f"/schemas/ids/{schema_id}")["schema"])
                except SchemaNotFound:
                    current = None
                if current != canonical(text):
                    log.error("a schema id read before names another schema or none now: the"
                              " schema registry lost its data (run it with persistent storage)",
                              schema_id=schema_id)
                    self._by_id.pop(schema_id, None)

    # ---- the registry protocol

    def register(self, subject: str, schema: str) -> int:
        text = canonical(schema)
        if not self.versions(subject):
            # Registries differ in their global default (Apicurio: NONE, Confluent:
            # BACKWARD); a new subject gets the hub's level explicitly.
            self.set_compatibility(self.default_compatibility, subject)
        answer = self._call(
            "POST", f"/subjects/{subject}/versions", {"schema": text, "schemaType": "AVRO"}
        )
        schema_id = int(answer["id"])
        self._by_id.setdefault(schema_id, text)
        return schema_id

    def schema_by_id(self, schema_id: int) -> str:
        text = self._by_id.get(schema_id)
        if text is None:
            text = str(self._call("GET", f"/schemas/ids/{schema_id}")["schema"])
            self._by_id[schema_id] = text
        return text

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
        for _attempt in range(_CONFLICT_RETRIES):
            resp = self._send("PUT", path, {"compatibility": level.value})
            if resp.status_code < 300:
                return
            if not (resp.status_code == 409 and "already exists" in _error_text(resp)):
                break
            # Apicurio: another client created the subject's rule at the same moment; the
            # rule exists now, so the next PUT updates it to our level.
        detail = _error_text(resp)
        if resp.status_code == 404:
            raise SchemaNotFound(f"PUT {path}: {detail}")
        raise RegistryError(f"PUT {path} answered {resp.status_code}: {detail}")

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


def _refuse_userinfo(base_url: str) -> None:
    try:
        userinfo = httpx.URL(base_url).userinfo
    except httpx.InvalidURL:
        raise ConfigError("HUB_REGISTRY_URL is no valid URL") from None
    if userinfo:
        raise ConfigError(
            "HUB_REGISTRY_URL holds a user name or password: remove them from the URL and"
            " set HUB_REGISTRY__USERNAME and HUB_REGISTRY__PASSWORD (or HUB_REGISTRY__TOKEN)")


def _auth_headers(access: RegistrySettings) -> dict[str, str]:
    """The Authorization header of basic auth or a bearer token (the secrets registered
    with the log redaction, in every form they are sent in)."""
    if access.token is not None and (access.username or access.password is not None):
        raise ConfigError("set HUB_REGISTRY__TOKEN or HUB_REGISTRY__USERNAME and"
                          " HUB_REGISTRY__PASSWORD, not both")
    if access.token is not None:
        token = access.token.get_secret_value()
        register_secret(token)
        return {"Authorization": f"Bearer {token}"}
    if access.password is not None and not access.username:
        raise ConfigError("HUB_REGISTRY__PASSWORD needs HUB_REGISTRY__USERNAME")
    if access.username:
        password = access.password.get_secret_value() if access.password else ""
        register_secret(password)
        basic = base64.b64encode(f"{access.username}:{password}".encode()).decode()
        register_secret(basic)
        return {"Authorization": f"Basic {basic}"}
    return {}


def _verify(access: RegistrySettings) -> ssl.SSLContext | bool:
    if access.cafile is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(access.cafile))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"HUB_REGISTRY__CAFILE: {access.cafile} is no readable PEM CA"
                          f" certificate file ({type(exc).__name__})") from None


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

"""What the HTTP ingest endpoints do, apart from HTTP routing (see ``http_ingest``).

:class:`Ingest` reads bodies within their limits, validates and pseudonymises them,
publishes through :class:`~hub.intake.SignalPublisher` / ``publish_consent`` exactly
once per idempotency key, and turns hub errors into problem details
(:mod:`connectors.sources.http_errors`: an HTTP status, a message and the invalid
fields, never a value a source sent).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from connectors.sources.http_errors import ApiError, field, from_hub_error, invalid
from connectors.sources.http_models import build_consent, content_fingerprint, fingerprint
from hub.connect import Connection
from hub.consent import (
    ConsentLedger,
    ConsentLedgerError,
    ConsentRecord,
    LedgerFollower,
    publish_consent,
)
from hub.errors import EventIdReused, HubError
from hub.events import ConsentAction, ConsentChange
from hub.idempotency import IdempotencyStore
from hub.intake import IntakeError, SignalPublisher, build_signal
from hub.jsondepth import nests_deeper_than
from hub.pseudonym import Pseudonymiser
from hub.sources import SourceInfo
from hub.store import Database
from hub.topics import ensure_topics

__all__ = ["ApiError", "Ingest", "Responses"]

log = structlog.get_logger(__name__)

#: the ``responses`` argument of a FastAPI route
Responses = dict[int | str, dict[str, Any]]


class _Event(NamedTuple):
    event_id: str
    content: str | None  # fingerprint of the content the source sent (None: not checked)
    model: BaseModel


#: how deeply a request body may nest (a batch of signals with a list field needs 4)
MAX_JSON_DEPTH = 10
#: namespace of the event ids derived from an Idempotency-Key (uuid5)
REQUEST_EVENT_NAMESPACE = uuid.UUID("3d0f5d52-8a4e-4c0b-9c57-1f2b6e7a9d41")


def derived_id(source_id: str, request_key: str, index: int, what: str = "event") -> str:
    """The id the hub gives event ``index`` of a request with an Idempotency-Key when the
    source sent none: the same for every retry of that request (uuid5 of source, key,
    index), so a retry whose first attempt may have been published publishes the same
    event id, and the router drops the second copy."""
    return str(uuid.uuid5(REQUEST_EVENT_NAMESPACE, f"{what}\n{source_id}\n{request_key}\n{index}"))


def _not_json(constant: str) -> Any:
    """``NaN`` and ``Infinity``, which Python's parser takes but JSON does not have."""
    raise ValueError(f"{constant} is not JSON")


@contextmanager
def _hub_errors(index: int | None = None) -> Iterator[None]:
    """Hub errors as HTTP answers, by their branch of the exception tree."""
    try:
        yield
    except HubError as exc:
        raise from_hub_error(exc, index) from exc


class Ingest:
    """The endpoints' work; :meth:`open` before use, :meth:`close` after."""

    def __init__(self, conn: Connection, pseudonymiser: Pseudonymiser | None,
                 store: Database | str | os.PathLike[str], ledger_path: str | os.PathLike[str],
                 *, max_batch: int, max_body_bytes: int,
                 retention: timedelta = timedelta(days=30)) -> None:
        self.conn, self.pseudonymiser = conn, pseudonymiser
        #: the idempotency store's database (shared, a URL or a SQLite path)
        self.store_target, self.ledger_path = store, Path(ledger_path)
        self.retention = retention
        self.max_batch, self.max_body_bytes = max_batch, max_body_bytes
        self.publisher = SignalPublisher(conn.bus, conn.serde)
        self._ledger_lock = threading.Lock()
        self._store: IdempotencyStore | None = None
        self._ledger: ConsentLedger | None = None
        self._follower: LedgerFollower | None = None

    def open(self) -> None:
        ensure_topics(self.conn.bus)
        self._store = IdempotencyStore(self.store_target, retention=self.retention)
        self._ledger = ConsentLedger(self.ledger_path)
        self._follower = LedgerFollower(self.conn.bus, self.conn.serde, self._ledger)

    def close(self) -> None:
        for part in (self._follower, self._ledger, self._store):
            if part is not None:
                part.close()
        self._follower = self._ledger = self._store = None

    @property
    def store(self) -> IdempotencyStore:
        if self._store is None:
            raise ApiError(503, "the ingest API is not started")
        return self._store

    # -- bodies ----------------------------------------------------------------------

    async def read_json(self, request: Request) -> Any:
        """The JSON body, read no further than ``max_body_bytes`` (413 beyond); only
        ``application/json`` (415 else), nested at most ``MAX_JSON_DEPTH`` deep."""
        media_type, _, params = request.headers.get("content-type", "").partition(";")
        charset = params.strip().lower().removeprefix("charset=").strip('"')
        if media_type.strip().lower() != "application/json" or (
                params.strip() and charset not in ("utf-8", "utf8")):
            raise ApiError(415, "send the body as JSON with Content-Type: application/json"
                           " (UTF-8)", headers={"Accept-Post": "application/json"})
        too_large = ApiError(413, f"the body is larger than {self.max_body_bytes} bytes",
                             headers={"Connection": "close"})
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ApiError(400, "invalid Content-Length")
            if int(declared) > self.max_body_bytes:
                raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise too_large
            chunks.append(chunk)
        too_deep = invalid([field("(body)", f"nested deeper than {MAX_JSON_DEPTH} levels")])
        try:
            body = json.loads(b"".join(chunks), parse_constant=_not_json)
        except RecursionError:
            raise too_deep from None
        except (ValueError, UnicodeDecodeError):
            raise invalid([field("(body)", "not valid JSON")]) from None
        if nests_deeper_than(body, MAX_JSON_DEPTH):
            raise too_deep
        return body

    def batch_items(self, body: Any) -> list[Any]:
        """The ``signals`` of a batch body (413 beyond ``max_batch``)."""
        if not isinstance(body, dict) or set(body) != {"signals"} \
                or not isinstance(body["signals"], list):
            raise invalid([field("signals", 'a batch body is {"signals": [...]}')])
        signals: list[Any] = body["signals"]
        if len(signals) > self.max_batch:
            raise ApiError(413, f"at most {self.max_batch} signals per batch",
                           errors=[field("signals", f"at most {self.max_batch} items")])
        if not signals:
            raise invalid([field("signals", "at least one signal")])
        return signals

    # -- endpoints -------------------------------------------------------------------

    def signals(self, source: SourceInfo, event_type: str, payloads: list[Any], route: str,
                request_key: str | None, batch: bool) -> JSONResponse:
        """Validate every payload, then publish them all (or none: 422)."""
        accepted: list[tuple[dict[str, Any], BaseModel]] = []
        errors: list[dict[str, Any]] = []
        for i, payload in enumerate(payloads):
            index = i if batch else None
            if not isinstance(payload, dict):
                errors.append(field("(signal)" if batch else "(body)",
                                     "must be a JSON object", index))
                continue
            data = payload
            if request_key and "event_id" not in payload:
                data = {**payload, "event_id": derived_id(source.source_id, request_key, i)}
            try:
                accepted.append((payload, build_signal(
                    event_type, data, source=source.urn, pseudonymiser=self.pseudonymiser)))
            except IntakeError as exc:
                errors.extend(field(e.field, e.message, index) for e in exc.errors)
        if errors:
            log.info("signals refused", source_id=source.source_id, event_type=event_type,
                     count=len(payloads), invalid_fields=len(errors))
            raise invalid(errors)

        def publish(todo: list[BaseModel]) -> None:
            self.publisher.publish([(event_type, m) for m in todo])

        events = [_Event(str(getattr(m, "event_id")), content_fingerprint(p, m), m)  # noqa: B009
                  for p, m in accepted]
        return self._once(source, request_key, route, events, publish, {}, what=event_type)

    def grant(self, source: SourceInfo, body: Any, request_key: str | None) -> JSONResponse:
        """Publish a GRANTED consent (403 for a purpose or scope the source may not
        record, 409 if its consent id is another source's)."""
        if not isinstance(body, dict):
            raise invalid([field("(body)", "must be a JSON object")])
        data = dict(body)
        if request_key:  # a retry gets the same ids (see derived_id)
            data.setdefault("event_id", derived_id(source.source_id, request_key, 0))
            data.setdefault("consent_id",
                            derived_id(source.source_id, request_key, 0, "consent"))
        try:
            change = build_consent(data, source=source.urn, pseudonymiser=self.pseudonymiser)
        except IntakeError as exc:
            raise invalid([field(e.field, e.message) for e in exc.errors]) from None
        refused = source.consent_refusals(change.purpose, change.recipient_scope)
        if refused:  # the purposes and recipient scopes of `signalhub sources add`
            log.info("consent refused", source_id=source.source_id, fields=len(refused))
            raise ApiError(403, f"source {source.source_id} may not record this consent",
                           errors=[field(f, "not among what this source may record")
                                   for f in refused])
        if body.get("consent_id"):
            record = self._consent(change.consent_id)
            if record is not None and record.source != source.urn:
                raise ApiError(409, "this consent_id belongs to a consent of another source")
        event = _Event(change.event_id, content_fingerprint(body, change), change)
        return self._once(source, request_key, "/v1/consents", [event],
                          self._publish_consents, {"consent_id": change.consent_id},
                          what="consent-granted")

    def withdraw(self, source: SourceInfo, consent_id: str,
                 request_key: str | None) -> JSONResponse:
        """Publish a WITHDRAWN change for a consent this source's URN recorded."""
        record = self._consent(consent_id)
        if record is None or record.source != source.urn:
            raise ApiError(404, "no consent with this id recorded by this source")
        if record.withdrawn_at is not None:  # withdrawn before: the same answer again
            body = {"event_ids": [record.event_id], "consent_id": consent_id}
            return JSONResponse(body, 202, headers={"Idempotent-Replayed": "true"})
        now = datetime.now(UTC)
        event_id = (derived_id(source.source_id, request_key, 0) if request_key
                     else str(uuid.uuid4()))
        change = ConsentChange(
            event_id=event_id, consent_id=consent_id,
            action=ConsentAction.WITHDRAWN, subject_ref=record.subject_ref,
            purpose=record.purpose, recipient_scope=list(record.recipient_scope),
            valid_from=now, valid_until=None, source=source.urn, recorded_at=now,
            municipality_code=record.municipality_code,
        )
        return self._once(source, request_key, f"/v1/consents/{consent_id}",
                          [_Event(change.event_id, None, change)], self._publish_consents,
                          {"consent_id": consent_id}, what="consent-withdrawn")

    # -- plumbing --------------------------------------------------------------------

    def _publish_consents(self, todo: list[BaseModel]) -> None:
        for change in todo:
            assert isinstance(change, ConsentChange)
            publish_consent(self.conn.bus, self.conn.serde, change)

    def _consent(self, consent_id: str) -> ConsentRecord | None:
        """The ledger's record of a consent, after catching up with consent.v1."""
        with _hub_errors(), self._ledger_lock:
            if self._follower is None or self._ledger is None:
                raise ApiError(503, "the ingest API is not started")
            try:
                self._follower.catch_up(timeout=30.0)
            except ConsentLedgerError as exc:
                log.warning("consent ledger not caught up", error=str(exc))
                raise
            return self._ledger.get(consent_id)

    def _once(self, source: SourceInfo, request_key: str | None, route: str,
              events: list[_Event], publish: Callable[[list[BaseModel]], None],
              extra: dict[str, Any], *, what: str) -> JSONResponse:
        """Publish the events not published before (by event id, and by request key);
        answer 202 with every event id once they are durable. An event id sent before,
        or twice in this request, with other content is a 409."""
        sid = source.source_id
        ids = [e.event_id for e in events]
        contents: dict[str, str | None] = {}
        for index, event in enumerate(events):
            if contents.setdefault(event.event_id, event.content) != event.content:
                raise from_hub_error(EventIdReused(event.event_id, index))
        keys = {f"event:{i}": content for i, content in contents.items()}
        request = {f"request:{request_key}": fingerprint(route, [str(c) for c in contents.values()])
                   } if request_key else {}
        with _hub_errors(index=0 if len(events) == 1 else None):
            if request:
                done = self.store.begin(sid, request)
                if done:
                    log.info("request replayed", source_id=sid, what=what, count=len(ids))
                    stored = next(iter(done.values()))
                    return JSONResponse(stored["body"], stored["status"],
                                        headers={"Idempotent-Replayed": "true"})
            try:
                done = self.store.begin(sid, keys)
            except BaseException:
                self.store.release(sid, list(request))
                raise
            todo = {f"event:{e.event_id}": e.model for e in events
                    if f"event:{e.event_id}" not in done}
            try:
                publish(list(todo.values()))
            except BaseException:
                self.store.release(sid, [*todo, *request])
                raise
            first = next(iter(keys))
            replay = len(keys) == 1 and done
            body = done[first]["body"] if replay else {"event_ids": ids, **extra}
            responses: dict[str, Any] = {
                key: {"status": 202, "body": {"event_ids": [key.split(":", 1)[1]], **extra}}
                for key in todo}
            responses.update({key: {"status": 202, "body": body} for key in request})
            self.store.complete(sid, responses)
        log.info("events accepted", source_id=sid, what=what, count=len(ids),
                 published=len(todo), replayed=len(done),
                 event_id=ids[0] if len(ids) == 1 else None)
        headers = {"Idempotent-Replayed": "true"} if done and not todo else {}
        return JSONResponse(body, 202, headers=headers)

"""What the HTTP ingest endpoints do, apart from HTTP routing (see ``http_ingest``).

:class:`Ingest` reads bodies within their limits, validates and pseudonymises them,
publishes through :class:`~hub.intake.SignalPublisher` / ``publish_consent`` exactly
once per idempotency key, and turns hub errors into :class:`ApiError` (an HTTP status,
a message and the invalid fields, never a value a source sent).
"""

from __future__ import annotations

import json
import math
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from connectors.sources.http_models import build_consent, fingerprint, safe_field
from connectors.sources.idempotency import IdempotencyStore, InFlight, KeyReused
from connectors.sources.keys import SourceInfo
from hub.connect import Connection
from hub.consent import (
    ConsentLedger,
    ConsentLedgerError,
    ConsentRecord,
    LedgerFollower,
    publish_consent,
)
from hub.errors import Backpressure, HubError
from hub.events import ConsentAction, ConsentChange
from hub.intake import IntakeError, SignalPublisher, build_signal
from hub.pseudonym import Pseudonymiser
from hub.topics import ensure_topics

__all__ = ["ApiError", "Ingest", "Responses"]

log = structlog.get_logger(__name__)

#: the ``responses`` argument of a FastAPI route
Responses = dict[int | str, dict[str, Any]]
_Event = tuple[str, BaseModel]


class ApiError(Exception):
    """An HTTP error answer: status, message, invalid fields, extra headers."""

    def __init__(self, status: int, detail: str, *, errors: Sequence[dict[str, Any]] = (),
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.errors, self.headers = list(errors), headers or {}

    def response(self) -> JSONResponse:
        body = {"detail": self.detail, "errors": self.errors}
        return JSONResponse(body, self.status, headers=self.headers)


def _field(field: str, message: str, index: int | None = None) -> dict[str, Any]:
    problem: dict[str, Any] = {"field": safe_field([field]), "message": message}
    if index is not None:
        problem["index"] = index
    return problem


def _invalid(errors: list[dict[str, Any]]) -> ApiError:
    return ApiError(422, f"{len(errors)} invalid field(s); nothing was published",
                    errors=errors)


@contextmanager
def _hub_errors() -> Iterator[None]:
    """Hub errors as HTTP answers: busy bus 429, anything unavailable 503."""
    try:
        yield
    except Backpressure as exc:
        retry = max(1, math.ceil(exc.retry_after))
        raise ApiError(429, "the bus is busy; retry later",
                       headers={"Retry-After": str(retry)}) from exc
    except InFlight as exc:
        raise ApiError(409, str(exc), headers={"Retry-After": "1"}) from exc
    except KeyReused as exc:
        raise _invalid([_field("Idempotency-Key", str(exc))]) from exc
    except HubError as exc:  # bus, registry, ledger or idempotency store unavailable
        log.warning("request failed", error=type(exc).__name__)
        raise ApiError(503, "the hub cannot take events right now; retry later",
                       headers={"Retry-After": "5"}) from exc


class Ingest:
    """The endpoints' work; :meth:`open` before use, :meth:`close` after."""

    def __init__(self, conn: Connection, pseudonymiser: Pseudonymiser | None,
                 store_path: str | os.PathLike[str], ledger_path: str | os.PathLike[str],
                 *, max_batch: int, max_body_bytes: int) -> None:
        self.conn, self.pseudonymiser = conn, pseudonymiser
        self.store_path, self.ledger_path = Path(store_path), Path(ledger_path)
        self.max_batch, self.max_body_bytes = max_batch, max_body_bytes
        self.publisher = SignalPublisher(conn.bus, conn.serde)
        self._ledger_lock = threading.Lock()
        self._store: IdempotencyStore | None = None
        self._ledger: ConsentLedger | None = None
        self._follower: LedgerFollower | None = None

    def open(self) -> None:
        ensure_topics(self.conn.bus)
        self._store = IdempotencyStore(self.store_path)
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
        """The JSON body, read no further than ``max_body_bytes`` (413 beyond)."""
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
        try:
            return json.loads(b"".join(chunks))
        except (ValueError, UnicodeDecodeError):
            raise _invalid([_field("(body)", "not valid JSON")]) from None

    def batch_items(self, body: Any) -> list[Any]:
        """The ``signals`` of a batch body (413 beyond ``max_batch``)."""
        if not isinstance(body, dict) or set(body) != {"signals"} \
                or not isinstance(body["signals"], list):
            raise _invalid([_field("signals", 'a batch body is {"signals": [...]}')])
        signals: list[Any] = body["signals"]
        if len(signals) > self.max_batch:
            raise ApiError(413, f"at most {self.max_batch} signals per batch",
                           errors=[_field("signals", f"at most {self.max_batch} items")])
        if not signals:
            raise _invalid([_field("signals", "at least one signal")])
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
                errors.append(_field("(signal)" if batch else "(body)",
                                     "must be a JSON object", index))
                continue
            try:
                accepted.append((payload, build_signal(
                    event_type, payload, source=source.urn, pseudonymiser=self.pseudonymiser)))
            except IntakeError as exc:
                errors.extend(_field(e.field, e.message, index) for e in exc.errors)
        if errors:
            log.info("signals refused", source_id=source.source_id, event_type=event_type,
                     count=len(payloads), invalid_fields=len(errors))
            raise _invalid(errors)

        def publish(todo: list[BaseModel]) -> None:
            self.publisher.publish([(event_type, m) for m in todo])

        return self._once(source, request_key, fingerprint(route, accepted),
                          [(str(getattr(m, "event_id")), m) for _, m in accepted],  # noqa: B009
                          publish, {}, what=event_type)

    def grant(self, source: SourceInfo, body: Any, request_key: str | None) -> JSONResponse:
        """Publish a GRANTED consent (403 for a purpose or scope the source may not
        record, 409 if its consent id is another source's)."""
        if not isinstance(body, dict):
            raise _invalid([_field("(body)", "must be a JSON object")])
        try:
            change = build_consent(body, source=source.urn, pseudonymiser=self.pseudonymiser)
        except IntakeError as exc:
            raise _invalid([_field(e.field, e.message) for e in exc.errors]) from None
        refused = source.consent_refusals(change.purpose, change.recipient_scope)
        if refused:  # the purposes and recipient scopes of `signalhub sources add`
            log.info("consent refused", source_id=source.source_id, fields=len(refused))
            raise ApiError(403, f"source {source.source_id} may not record this consent",
                           errors=[_field(f, "not among what this source may record")
                                   for f in refused])
        if body.get("consent_id"):
            record = self._consent(change.consent_id)
            if record is not None and record.source != source.urn:
                raise ApiError(409, "this consent_id belongs to a consent of another source")
        return self._once(source, request_key, fingerprint("/v1/consents", [(body, change)]),
                          [(change.event_id, change)], self._publish_consents,
                          {"consent_id": change.consent_id}, what="consent-granted")

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
        change = ConsentChange(
            event_id=str(uuid.uuid4()), consent_id=consent_id,
            action=ConsentAction.WITHDRAWN, subject_ref=record.subject_ref,
            purpose=record.purpose, recipient_scope=list(record.recipient_scope),
            valid_from=now, valid_until=None, source=source.urn, recorded_at=now,
            municipality_code=record.municipality_code,
        )
        route = f"/v1/consents/{consent_id}"
        return self._once(source, request_key, fingerprint(route, [({}, change)]),
                          [(change.event_id, change)], self._publish_consents,
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

    def _once(self, source: SourceInfo, request_key: str | None, request_fp: str,
              events: list[_Event], publish: Callable[[list[BaseModel]], None],
              extra: dict[str, Any], *, what: str) -> JSONResponse:
        """Publish the events not published before (by event id, and by request key);
        answer 202 with every event id once they are durable."""
        sid = source.source_id
        request = [f"request:{request_key}"] if request_key else []
        ids = [event_id for event_id, _ in events]
        keys = [f"event:{i}" for i in dict.fromkeys(ids)]
        with _hub_errors():
            if request:
                done = self.store.begin(sid, request, request_fp)
                if done:
                    log.info("request replayed", source_id=sid, what=what, count=len(ids))
                    stored = done[request[0]]
                    return JSONResponse(stored["body"], stored["status"],
                                        headers={"Idempotent-Replayed": "true"})
            try:
                done = self.store.begin(sid, keys)
            except BaseException:
                self.store.release(sid, request)
                raise
            todo = {f"event:{i}": m for i, m in events if f"event:{i}" not in done}
            try:
                publish(list(todo.values()))
            except BaseException:
                self.store.release(sid, [*todo, *request])
                raise
            replay = len(keys) == 1 and done
            body = done[keys[0]]["body"] if replay else {"event_ids": ids, **extra}
            responses: dict[str, Any] = {
                key: {"status": 202, "body": {"event_ids": [key.split(":", 1)[1]], **extra}}
                for key in todo}
            if request:
                responses[request[0]] = {"status": 202, "body": body}
            self.store.complete(sid, responses)
        log.info("events accepted", source_id=sid, what=what, count=len(ids),
                 published=len(todo), replayed=len(done),
                 event_id=ids[0] if len(ids) == 1 else None)
        headers = {"Idempotent-Replayed": "true"} if done and not todo else {}
        return JSONResponse(body, 202, headers=headers)

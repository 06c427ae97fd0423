"""Webhook: POST each alert as JSON to the team's case-management system, signed.

Request (Standard Webhooks, https://www.standardwebhooks.com; :mod:`hub.webhook_signing`)::

    POST <url>
    Content-Type: application/json
    webhook-id: <alert_id>              the same on every retry: receivers drop duplicates
    webhook-timestamp: <unix seconds>   fresh on every attempt
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")> [v1,... ]

    <the TeamAlert as JSON: alert_json(alert)>

Every attempt is signed afresh, so a receiver can refuse old timestamps (replay
protection, five minutes). During a secret rotation the team's secret variable holds
several ``whsec_`` secrets (new first) and the header carries one signature per secret.
Receivers verify with a Standard Webhooks library (the ``standardwebhooks`` package, see
``docs/sinks.md``); :func:`sign` and :func:`verify_signature` (from
:mod:`hub.webhook_signing`) are the same scheme for the hub's own tests and receivers.

Outcome of a delivery:

- **2xx**: delivered;
- **408, 429, 5xx, timeouts, connection errors**: retried, with exponential backoff and
  full jitter (sleep ``uniform(0, min(cap, base * 2**n))``; a ``Retry-After`` in seconds
  is honoured up to ``cap``), at most ``max_attempts`` attempts in all;
- **any other status** (4xx, 3xx: redirects are not followed), and a host that resolves
  to an address the allow-list does not open: a permanent failure.

An alert that is not delivered becomes a dead letter (``DELIVERY_FAILED``, stage
``webhook:<team>``) holding the original alert message from ``alerts.<team>.v1``, so
``signalhub deadletters replay`` can send it through again once the receiver is fixed.

Where it may send (:mod:`hub.webhook_targets`): the URL is checked when the sink is made
(``ConfigError``), and at every attempt the host's addresses are resolved, checked and
connected to as checked (:class:`~connectors.sinks.guarded_transport.GuardedTransport`).
A refused address (a public name that now resolves to ``127.0.0.1``, ``10.x`` or
``169.254.x`` without an allow-list entry) is a permanent failure: a ``DELIVERY_FAILED``
dead letter after one attempt, and no byte is sent.

The secrets are given to the sink (by the caller, read once from the variable that the
team's ``secret_env`` names) and checked when it is made: a value that is not one or
more ``whsec_`` secrets of at least 24 bytes is a ConfigError naming the variable. The
sink never reads ``os.environ``, and httpx's own environment lookups (proxies) are off:
pass ``proxy`` explicitly.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
import structlog
from pydantic import SecretStr

from connectors.sinks.base import BatchingSink, SinkItem
from connectors.sinks.guarded_transport import GuardedTransport
from hub.bus.base import Message, Record
from hub.config import WebhookDelivery
from hub.deadletters import DeadLetterWriter
from hub.errors import ConfigError, DeliveryFailed, DeliveryInterrupted, WebhookTargetRefused
from hub.events import TeamAlert
from hub.topics import alerts_topic
from hub.webhook_signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_secrets,
    sign,
    signature_headers,
    verify_signature,
)
from hub.webhook_targets import Resolver, TargetPolicy, system_resolver

__all__ = [
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Backoff",
    "DeliveryFailed",
    "DeliveryInterrupted",
    "WebhookSink",
    "alert_json",
    "sign",
    "verify_signature",
]

log = structlog.get_logger(__name__)

_RETRY_STATUS = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: retry ``n`` (from 0) waits
    ``uniform(0, min(cap, base * 2**n))`` seconds."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, retry: int, rng: Callable[[float, float], float] = random.uniform) -> float:
        return rng(0.0, min(self.cap, self.base * 2**retry))


def alert_json(alert: TeamAlert) -> bytes:
    """The request body: the alert as compact JSON (dates ISO 8601, enums as symbols)."""
    return json.dumps(
        alert.model_dump(mode="json"), separators=(",", ":"), sort_keys=True
    ).encode()


def _secret_text(secret: bytes | str | SecretStr) -> str:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.decode("ascii", "replace") if isinstance(secret, bytes) else secret


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to the backoff


class WebhookSink(BatchingSink):
    """Delivers one team's alerts to its webhook; undeliverable ones become dead letters."""

    def __init__(
        self,
        team_id: str,
        url: str,
        secret: bytes | str | SecretStr,
        dead_letters: DeadLetterWriter,
        *,
        secret_env: str = "the webhook secret",
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
        proxy: str | None = None,
        stop: threading.Event | None = None,
        rng: Callable[[float, float], float] = random.uniform,
        targets: TargetPolicy | None = None,
        resolve: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``secret`` is the text of the variable ``secret_env`` (named in errors): one or
        more ``whsec_`` secrets, new first; ``targets`` is the allow-list
        (``webhooks.allow_private``; default: public https targets only); ``resolve`` the
        name lookup and ``transport`` what sends the checked request (defaults:
        ``getaddrinfo`` and httpx over ``proxy``); ``clock`` gives the unix time that each
        attempt is signed with."""
        super().__init__()
        if max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1")
        targets = targets or TargetPolicy()
        problem = targets.url_problem(url)
        if problem is not None:
            raise ConfigError(f"team {team_id}: webhook url: {problem}")
        self.team_id = team_id
        self.url = url
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff()
        self.dead_letters = dead_letters
        self.stage = f"webhook:{team_id}"
        self.delivered = 0
        self.failed = 0
        self._keys = parse_secrets(_secret_text(secret), f"team {team_id}: {secret_env}")
        self._clock = clock
        self._stop = stop
        self._rng = rng
        guarded = GuardedTransport(targets, resolve=resolve, proxy=proxy, inner=transport)
        self._client = httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False, transport=guarded
        )

    @classmethod
    def for_delivery(
        cls,
        team_id: str,
        delivery: WebhookDelivery,
        secrets: Mapping[str, bytes | str | SecretStr],
        dead_letters: DeadLetterWriter,
        *,
        backoff: Backoff | None = None,
        timeout: float = 10.0,
        proxy: str | None = None,
        stop: threading.Event | None = None,
        targets: TargetPolicy | None = None,
    ) -> WebhookSink:
        """A sink for a team's configured webhook; ``secrets`` maps variable names (the
        team's ``secret_env``) to their values, ``targets`` is the configuration's
        allow-list. Raise ConfigError when the secret is missing or malformed, or the URL
        is refused."""
        if not delivery.secret_env:
            raise ConfigError(
                f"team {team_id}: the webhook has no secret_env; unsigned webhooks are not sent"
            )
        secret = secrets.get(delivery.secret_env)
        if not secret:
            raise ConfigError(
                f"team {team_id}: the webhook secret variable {delivery.secret_env} is not"
                " set; make a secret with `signalhub keys webhook-secret`"
            )
        return cls(
            team_id,
            delivery.url,
            secret,
            dead_letters,
            secret_env=delivery.secret_env,
            max_attempts=delivery.max_attempts,
            backoff=backoff,
            timeout=timeout,
            proxy=proxy,
            stop=stop,
            targets=targets,
        )

    # -- delivering ---------------------------------------------------------------------------

    def write(self, batch: list[SinkItem]) -> list[Record]:
        """Deliver each alert in order; return the dead letters of the failures (the
        runner commits them with the batch's offsets)."""
        dead: list[Record] = []
        for item in batch:
            failure = self.deliver(item.alert)
            if failure is None:
                self.delivered += 1
                continue
            self.failed += 1
            dead.append(
                self.dead_letters.build(
                    item.message or self._message_for(item.alert),
                    failure,
                    stage=self.stage,
                    reason="DELIVERY_FAILED",
                    attempts=failure.attempts,
                    event_id=item.alert.event_id,
                    trace_id=item.alert.trace_id,
                )
            )
        return dead

    def deliver(self, alert: TeamAlert) -> DeliveryFailed | None:
        """POST one alert until it is delivered or the attempts are used up; return the
        failure (None when delivered). Raise DeliveryInterrupted when stopping."""
        body = alert_json(alert)
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            headers = self._headers(alert, body)
            try:
                response = self._client.post(self.url, content=body, headers=headers)
            except WebhookTargetRefused as exc:  # the address may not be reached: no retry
                log.warning("webhook target refused", team=self.team_id,
                            alert_id=alert.alert_id, attempt=attempt, reason=str(exc))
                return DeliveryFailed(
                    f"webhook of team {self.team_id} not sent: {exc}", attempts=attempt,
                    permanent=True,
                )
            except httpx.TransportError as exc:  # timeouts, connection and protocol errors
                problem = type(exc).__name__
            else:
                status = response.status_code
                if 200 <= status < 300:
                    log.info("webhook delivered", team=self.team_id, alert_id=alert.alert_id,
                             attempt=attempt, status=status)
                    return None
                problem = f"HTTP {status}"
                if status not in _RETRY_STATUS and status < 500:
                    log.warning("webhook refused", team=self.team_id, alert_id=alert.alert_id,
                                attempt=attempt, status=status)
                    return DeliveryFailed(
                        f"webhook of team {self.team_id} refused the alert permanently:"
                        f" {problem}", attempts=attempt, permanent=True,
                    )
                retry_after = _retry_after(response)
            log.warning("webhook attempt failed", team=self.team_id, alert_id=alert.alert_id,
                        attempt=attempt, error=problem)
            if attempt < self.max_attempts:
                delay = self.backoff.delay(attempt - 1, self._rng)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, self.backoff.cap))
                self._pause(delay)
        return DeliveryFailed(
            f"webhook of team {self.team_id} failed after {self.max_attempts} attempt(s):"
            f" {problem}", attempts=self.max_attempts, permanent=False,
        )

    def close(self) -> None:
        self._client.close()

    # -- helpers -------------------------------------------------------------------------------

    def _headers(self, alert: TeamAlert, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": "signalhub-webhook/1",
            **signature_headers(self._keys, alert.alert_id, int(self._clock()), body),
        }

    def _pause(self, seconds: float) -> None:
        if self._stop is None:
            time.sleep(seconds)
        elif self._stop.wait(seconds):
            raise DeliveryInterrupted(f"stopping: webhook of team {self.team_id} not retried")

    def _message_for(self, alert: TeamAlert) -> Message:
        """An alert added without its bus message: encode it as the router would have
        (partition and offset 0: there is no origin offset)."""
        topic = alerts_topic(self.team_id)
        value = self.dead_letters.serde.encode_model(topic, alert)
        return Message(topic, 0, 0, alert.subject_ref.encode(), value)

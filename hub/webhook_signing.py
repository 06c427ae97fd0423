"""Webhook signatures as Standard Webhooks (https://www.standardwebhooks.com) defines them.

Every webhook request carries three headers::

    webhook-id: <the alert_id>                 the same on every retry: drop duplicates on it
    webhook-timestamp: <unix seconds>          fresh on every attempt
    webhook-signature: v1,<base64 sig> ...     one per secret, separated by spaces

where ``sig`` is the HMAC-SHA256, keyed with the secret's bytes, over
``"<webhook-id>.<webhook-timestamp>.<body>"`` (the exact body bytes). A receiver verifies
with any Standard Webhooks library (e.g. the ``standardwebhooks`` package) and refuses
timestamps more than five minutes away from its clock (replay protection).

A secret is written ``whsec_<base64>``: the key is the decoded bytes, at least
:data:`MIN_SECRET_BYTES` of them; :func:`new_secret` makes one (``signalhub keys
webhook-secret``). During a rotation the variable that holds a team's secret holds
several, separated by spaces, the new one first (:func:`parse_secrets`): the hub signs
with each, so a receiver that knows either one verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence

from hub.errors import ConfigError

__all__ = [
    "ID_HEADER",
    "MIN_SECRET_BYTES",
    "SECRET_PREFIX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE",
    "new_secret",
    "parse_secrets",
    "sign",
    "signature_headers",
    "verify_signature",
]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
#: seconds a timestamp may be away from the receiver's clock (the spec's five minutes)
TOLERANCE = 300
_HOW = (
    f"a webhook secret is {SECRET_PREFIX} followed by the base64 of at least"
    f" {MIN_SECRET_BYTES} random bytes (several, new first, separated by spaces during a"
    " rotation); make one with `signalhub keys webhook-secret`"
)


def new_secret(size: int = 32) -> str:
    """A fresh secret: ``whsec_`` and the base64 of ``size`` random bytes."""
    if size < MIN_SECRET_BYTES:
        raise ValueError(f"a webhook secret has at least {MIN_SECRET_BYTES} bytes")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(size)).decode("ascii")


def parse_secrets(value: str, variable: str) -> list[bytes]:
    """The keys in ``value`` (the text of the environment variable ``variable``): one or
    more ``whsec_<base64>`` secrets separated by whitespace, in order (new first).

    Raise ConfigError naming the variable (never the value) when one is malformed.
    """
    words = value.split()
    if not words:
        raise ConfigError(f"{variable} is empty: {_HOW}")
    keys: list[bytes] = []
    for position, word in enumerate(words, start=1):
        where = f"{variable}: secret {position} of {len(words)}" if len(words) > 1 else variable
        if not word.startswith(SECRET_PREFIX):
            raise ConfigError(f"{where} does not start with {SECRET_PREFIX}: {_HOW}")
        encoded = word[len(SECRET_PREFIX) :]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"{where} is not valid base64 after {SECRET_PREFIX}: {_HOW}"
            ) from None
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"{where} has {len(key)} bytes, fewer than {MIN_SECRET_BYTES}: {_HOW}"
            )
        keys.append(key)
    return keys


def sign(keys: Sequence[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64>`` for each key, space-separated."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
        for key in keys
    )


def signature_headers(
    keys: Sequence[bytes], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(keys, msg_id, timestamp, body),
    }


def verify_signature(
    key: bytes,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: int = TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when ``headers`` carry a ``v1`` signature of ``body`` by ``key`` and a timestamp
    within ``tolerance`` seconds of ``now`` (constant-time compare)."""
    lower = {name.lower(): value for name, value in headers.items()}
    msg_id = lower.get(ID_HEADER, "")
    try:
        timestamp = int(lower.get(TIMESTAMP_HEADER, ""))
    except ValueError:
        return False
    if not msg_id or abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    [expected] = sign([key], msg_id, timestamp, body).split()
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in lower.get(SIGNATURE_HEADER, "").split()
    )

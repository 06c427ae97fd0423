"""Pseudonymisation at the hub: ``subject_ref`` = keyed HMAC-SHA256 of the BSN.

Each municipality has its own secret key (``HUB_PSEUDONYM_SECRETS``), so pseudonyms of
one municipality cannot be linked to another's. Keys are versioned: a municipality may
have several (``{"1": "...", "2": "..."}``), the highest version is current and makes
every new pseudonym, ``ps<version>-<40 hex>``; older versions stay configured only to
compute pseudonyms recorded under them (see ``docs/privacy.md``, rotation). Every key
is at least :data:`MIN_SECRET_BYTES` long: a short one is a :class:`ConfigError` that
names the municipality and version, never the key.

The keys never leave the hub. The raw BSN is checked (11-proef), hashed at once and
never stored or logged; errors never echo it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Protocol

from pydantic import SecretStr

from hub.errors import ConfigError, InvalidBsn
from hub.values import SUBJECT_REF_PATTERN

__all__ = [
    "MIN_SECRET_BYTES",
    "SUBJECT_REF_PATTERN",
    "InvalidBsn",
    "KeyVersions",
    "PseudonymMaker",
    "Pseudonymiser",
    "is_subject_ref",
    "is_valid_bsn",
    "normalise_bsn",
    "parse_secrets",
]

#: the shortest pseudonym key accepted, in bytes (UTF-8)
MIN_SECRET_BYTES = 32
_MAX_VERSION = 9999  # SUBJECT_REF_PATTERN (hub.values) allows versions 1 to 9999
_SUBJECT_REF = re.compile(SUBJECT_REF_PATTERN)

#: per municipality code, its keys by version
KeyVersions = dict[str, dict[int, SecretStr]]


def is_valid_bsn(value: str) -> bool:
    """The BSN 11-test: nine digits, weighted sum 9..2 and -1 divisible by 11."""
    if len(value) != 9 or not value.isdigit():
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = sum(int(d) * w for d, w in zip(value, weights, strict=True))
    return total % 11 == 0 and value != "000000000"


def normalise_bsn(value: str) -> str:
    """Spaces and dots removed, 8 digits padded to 9; raises :class:`InvalidBsn`."""
    bsn = value.strip().replace(" ", "").replace(".", "")
    if len(bsn) == 8 and bsn.isdigit():
        bsn = "0" + bsn
    if not is_valid_bsn(bsn):
        raise InvalidBsn("bsn is not a valid BSN (nine digits passing the 11-test)")
    return bsn


def _secret(value: object, where: str) -> SecretStr:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise ConfigError(f"HUB_PSEUDONYM_SECRETS: {where} must be a string")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"HUB_PSEUDONYM_SECRETS: {where} is shorter than"
                          f" {MIN_SECRET_BYTES} bytes; make a new one with"
                          " `signalhub keys secret`")
    return SecretStr(value)


def _version(value: object, code: str) -> int:
    text = str(value)
    if not text.isdigit() or not 1 <= int(text) <= _MAX_VERSION or text != str(int(text)):
        raise ConfigError(f"HUB_PSEUDONYM_SECRETS: {code} has key version {text[:8]!r};"
                          f" versions are whole numbers 1 to {_MAX_VERSION}")
    return int(text)


def parse_secrets(raw: Mapping[str, object]) -> KeyVersions:
    """Check and normalise ``HUB_PSEUDONYM_SECRETS``: per municipality code either one
    key (version 1) or ``{version: key}``. Raises :class:`ConfigError` naming the
    municipality and version of a bad key (never the key itself)."""
    if not isinstance(raw, Mapping):
        raise ConfigError("HUB_PSEUDONYM_SECRETS must be a JSON object: municipality"
                          ' code -> key, e.g. {"GM0153": "..."}')
    keys: KeyVersions = {}
    for code, value in raw.items():
        code = str(code).strip().upper()
        if isinstance(value, Mapping):
            if not value:
                raise ConfigError(f"HUB_PSEUDONYM_SECRETS: {code} has no key versions")
            versions = {_version(v, code): k for v, k in value.items()}
        else:
            versions = {1: value}
        keys[code] = {v: _secret(k, f"{code} key version {v}")
                      for v, k in sorted(versions.items())}
    return keys


class PseudonymMaker(Protocol):
    """What intake needs to turn a BSN into a ``subject_ref`` (the hub's
    :class:`Pseudonymiser`, or a source's key-less check, :class:`hub.sealed.LocalCheck`)."""

    def subject_ref(self, bsn: str, municipality_code: str) -> str: ...


class Pseudonymiser:
    """Turns a BSN into the municipality's pseudonym, with its current key version."""

    def __init__(self, secrets: Mapping[str, object]) -> None:
        self._keys = {
            code: {v: s.get_secret_value().encode() for v, s in versions.items()}
            for code, versions in parse_secrets(secrets).items()
        }

    def current_version(self, municipality_code: str) -> int:
        """The key version new pseudonyms of ``municipality_code`` are made with."""
        return max(self._versions(municipality_code))

    def versions(self, municipality_code: str) -> list[int]:
        """Every configured key version of ``municipality_code``, oldest first."""
        return sorted(self._versions(municipality_code))

    def _versions(self, municipality_code: str) -> dict[int, bytes]:
        versions = self._keys.get(municipality_code.strip().upper())
        if versions is None:
            raise ConfigError(
                f"no pseudonym secret for municipality {municipality_code}: add it to"
                " HUB_PSEUDONYM_SECRETS"
            )
        return versions

    def subject_ref(self, bsn: str, municipality_code: str, version: int | None = None) -> str:
        """``ps<version>-`` + 40 hex of HMAC-SHA256(key, BSN); the current version unless
        ``version`` asks for an older one (to find what was recorded under it)."""
        bsn = normalise_bsn(bsn)
        versions = self._versions(municipality_code)
        version = max(versions) if version is None else version
        key = versions.get(version)
        if key is None:
            raise ConfigError(f"no pseudonym key version {version} for municipality"
                              f" {municipality_code} in HUB_PSEUDONYM_SECRETS")
        digest = hmac.new(key, bsn.encode(), hashlib.sha256).hexdigest()
        return f"ps{version}-{digest[:40]}"


def is_subject_ref(value: str) -> bool:
    """Whether ``value`` has the exact pseudonym format (:data:`SUBJECT_REF_PATTERN`)."""
    return _SUBJECT_REF.match(value) is not None

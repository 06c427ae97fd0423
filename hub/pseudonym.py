"""Pseudonymisation at the edge: ``subject_ref`` = keyed HMAC-SHA256 of the BSN.

Each municipality has its own secret key (``HUB_PSEUDONYM_SECRETS``), so pseudonyms of
one municipality cannot be linked to another's. The raw BSN is checked (11-proef),
hashed at once and never stored or logged; errors never echo it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from pydantic import SecretStr

from hub.errors import ConfigError, HubError

__all__ = ["InvalidBsn", "Pseudonymiser", "is_valid_bsn"]

PREFIX = "ps1-"


class InvalidBsn(HubError):
    """The value is not a valid BSN (nine digits passing the 11-test)."""


def is_valid_bsn(value: str) -> bool:
    """The BSN 11-test: nine digits, weighted sum 9..2 and -1 divisible by 11."""
    if len(value) != 9 or not value.isdigit():
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = sum(int(d) * w for d, w in zip(value, weights, strict=True))
    return total % 11 == 0 and value != "000000000"


class Pseudonymiser:
    """Turns a BSN into the municipality's pseudonym."""

    def __init__(self, secrets: Mapping[str, SecretStr]) -> None:
        self._keys = {code: s.get_secret_value().encode() for code, s in secrets.items()}

    def subject_ref(self, bsn: str, municipality_code: str) -> str:
        bsn = bsn.strip().replace(" ", "").replace(".", "")
        if len(bsn) == 8 and bsn.isdigit():
            bsn = "0" + bsn
        if not is_valid_bsn(bsn):
            raise InvalidBsn("bsn is not a valid BSN (nine digits passing the 11-test)")
        key = self._keys.get(municipality_code)
        if key is None:
            raise ConfigError(
                f"no pseudonym secret for municipality {municipality_code}: add it to"
                " HUB_PSEUDONYM_SECRETS"
            )
        digest = hmac.new(key, bsn.encode(), hashlib.sha256).hexdigest()
        return PREFIX + digest[:40]

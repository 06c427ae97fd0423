"""The hub's intake key pair: X25519 keys for sealed boxes (libsodium ``crypto_box_seal``).

A source system that produces to the bus directly seals each signal (BSN included) to
the hub's **public** key; only the hub's **private** key (``HUB_INTAKE_PRIVATE_KEY``)
opens it. A sealed box is anonymous: it proves nothing about the sender (the bus's
access control does that) but nobody without the private key can read or change it
unnoticed. Keys are 32 bytes, written as standard base64 (44 characters).
See ``docs/privacy.md``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from pydantic import SecretStr

from hub.errors import ConfigError, DecodeError

__all__ = [
    "Opener",
    "Sealer",
    "check_private_key",
    "check_public_key",
    "generate_key_pair",
    "key_id",
    "public_key_of",
]

_KEY_BYTES = 32


def _decode(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _KEY_BYTES:
        raise ConfigError(f"{what} must be a {_KEY_BYTES}-byte key in base64 (44 characters);"
                          " make a key pair with `signalhub keys generate`")
    return raw


def _text(value: object, what: str) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be a base64 string")
    return value.strip()


def check_private_key(value: object) -> SecretStr:
    """``HUB_INTAKE_PRIVATE_KEY`` checked (base64 of 32 bytes); never echoes the key."""
    text = _text(value, "HUB_INTAKE_PRIVATE_KEY")
    _decode(text, "HUB_INTAKE_PRIVATE_KEY")
    return SecretStr(text)


def check_public_key(value: object) -> str:
    """A hub public key checked (base64 of 32 bytes)."""
    text = _text(value, "the hub's intake public key")
    _decode(text, "the hub's intake public key")
    return text


def generate_key_pair() -> tuple[str, str]:
    """A new (private, public) key pair, both base64."""
    private = PrivateKey.generate()
    return (base64.b64encode(bytes(private)).decode(),
            base64.b64encode(bytes(private.public_key)).decode())


def _private(private_key: SecretStr | str) -> PrivateKey:
    text = _text(private_key, "HUB_INTAKE_PRIVATE_KEY")
    return PrivateKey(_decode(text, "HUB_INTAKE_PRIVATE_KEY"))


def public_key_of(private_key: SecretStr | str) -> str:
    """The base64 public key that belongs to ``private_key``."""
    return base64.b64encode(bytes(_private(private_key).public_key)).decode()


def key_id(public_key: str) -> str:
    """A short fingerprint of a public key (16 hex of its SHA-256), to tell keys apart
    in records and messages without printing the key."""
    raw = _decode(check_public_key(public_key), "the hub's intake public key")
    return hashlib.sha256(raw).hexdigest()[:16]


class Sealer:
    """Seals to the hub's public key (a source system holds one)."""

    def __init__(self, public_key: str) -> None:
        raw = _decode(check_public_key(public_key), "the hub's intake public key")
        self._box = SealedBox(PublicKey(raw))
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    def seal(self, plaintext: bytes) -> bytes:
        """``plaintext`` sealed: only the hub's private key opens it."""
        return self._box.encrypt(plaintext)


class Opener:
    """Opens what was sealed to the hub's public key (only the hub holds one)."""

    def __init__(self, private_key: SecretStr | str) -> None:
        private = _private(private_key)
        self._box = SealedBox(private)
        self.key_id = hashlib.sha256(bytes(private.public_key)).hexdigest()[:16]

    def open(self, box: bytes) -> bytes:
        """The plaintext; :class:`DecodeError` when the box was sealed to another key,
        cut short or changed on the way (the message never holds any of its content)."""
        try:
            return self._box.decrypt(box)
        except CryptoError:
            raise DecodeError("the sealed payload does not open with this hub's intake"
                              " key: sealed to another key, or changed on the way") from None

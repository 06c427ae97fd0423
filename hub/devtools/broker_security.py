"""A ``SASL_SSL`` listener for the local test broker (:mod:`hub.devtools.local_kafka`).

Everything is made at run time in the broker's work directory and never committed:

- a throw-away certificate authority and a broker certificate for ``127.0.0.1`` and
  ``localhost`` signed by it (``trustme``), the broker's key and chain as a PEM keystore
  (PKCS#8 key, which Kafka's PEM keystores need) and the CA as ``ca.pem`` for clients;
- SCRAM-SHA-256 and SCRAM-SHA-512 credentials for one user, written into the KRaft
  metadata when the storage is formatted (``kafka-storage format --add-scram``), the
  same user and password for ``PLAIN``, and ``OAUTHBEARER`` with Kafka's *unsecured*
  token validator (unsigned tokens, for tests only: :func:`unsecured_token`).

The broker keeps its ``PLAINTEXT`` listener for its own traffic and the tooling's
readiness check; clients under test use the ``SASL_SSL`` address only.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from hub.errors import ToolMissing

__all__ = ["MECHANISMS", "USER", "BrokerSecurity", "prepare", "unsecured_token"]

USER = "signalhub"
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", "OAUTHBEARER")
_LISTENER = "sasl_ssl"  # Kafka's listener name, lower case in listener.name.* keys


@dataclass(frozen=True)
class BrokerSecurity:
    """What a client needs for the ``SASL_SSL`` listener: the CA that signed the
    broker's certificate and the one user's password (SCRAM and PLAIN alike)."""

    directory: Path
    username: str
    password: str

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def keystore(self) -> Path:
        return self.directory / "broker.pem"

    def write_client_env(self, bootstrap: str, mechanism: str = "SCRAM-SHA-512") -> Path:
        """``security/client.env`` (``0600``): the ``HUB_*`` settings of a hub using the
        SASL_SSL listener at ``bootstrap`` (``set -a; . client.env``)."""
        lines = [f"HUB_BUS=kafka://{bootstrap}", "HUB_KAFKA__SECURITY_PROTOCOL=SASL_SSL",
                 f"HUB_KAFKA__SASL_MECHANISM={mechanism}",
                 f"HUB_KAFKA__SASL_USERNAME={self.username}",
                 f"HUB_KAFKA__SASL_PASSWORD={self.password}",
                 f"HUB_KAFKA__SSL_CAFILE={self.ca_file}"]
        path = self.directory / "client.env"
        _write_private(path, ("\n".join(lines) + "\n").encode())
        return path

    def format_args(self) -> list[str]:
        """``kafka-storage format`` arguments that create the SCRAM credentials."""
        args: list[str] = []
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            args += ["--add-scram", f"{mechanism}=[name={self.username},password={self.password}]"]
        return args

    def server_settings(self, host: str, port: int, sasl_port: int,
                        controller_port: int) -> dict[str, str]:
        """Broker properties: the PLAINTEXT and SASL_SSL listeners and their security."""
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        plain = ("org.apache.kafka.common.security.plain.PlainLoginModule required"
                 f' user_{self.username}="{self.password}";')
        oauth = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
        prefix = f"listener.name.{_LISTENER}"
        return {
            "listeners": f"PLAINTEXT://{host}:{port},SASL_SSL://{host}:{sasl_port},"
                         f"CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port},SASL_SSL://{host}:{sasl_port}",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": ",".join(MECHANISMS),
            f"{prefix}.scram-sha-256.sasl.jaas.config": scram,
            f"{prefix}.scram-sha-512.sasl.jaas.config": scram,
            f"{prefix}.plain.sasl.jaas.config": plain,
            f"{prefix}.oauthbearer.sasl.jaas.config": oauth,
            f"{prefix}.ssl.keystore.type": "PEM",
            f"{prefix}.ssl.keystore.location": str(self.keystore),
            f"{prefix}.ssl.client.auth": "none",
        }


def prepare(workdir: Path) -> BrokerSecurity:
    """The CA, the broker's keystore and the user's password under ``workdir/security``;
    made once, reused by a later start in the same work directory."""
    directory = workdir / "security"
    password_file = directory / "password"
    if password_file.is_file() and (directory / "broker.pem").is_file():
        password = password_file.read_text(encoding="utf-8").strip()
        return BrokerSecurity(directory, USER, password)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_pem, keystore_pem = _certificates()
    security = BrokerSecurity(directory, USER, secrets.token_urlsafe(18))
    _write_private(security.keystore, keystore_pem)
    security.ca_file.write_bytes(ca_pem)
    _write_private(password_file, security.password.encode() + b"\n")
    return security


def unsecured_token(subject: str = USER, lifetime_s: int = 3600) -> str:
    """An unsigned OAUTHBEARER token (``alg: none``) that Kafka's unsecured validator
    accepts: for the test broker only, never for a real cluster."""
    now = int(time.time())

    def part(value: object) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    claims = {"sub": subject, "iat": now, "exp": now + lifetime_s, "scope": "kafka"}
    return f"{part({'alg': 'none'})}.{part(claims)}."


def _certificates() -> tuple[bytes, bytes]:
    """(CA certificate PEM, broker keystore PEM = PKCS#8 key + certificate chain)."""
    try:
        import trustme
        from cryptography.hazmat.primitives import serialization
    except ImportError as exc:  # test dependencies: pip install -e '.[test]'
        raise ToolMissing("a SASL_SSL test broker needs `trustme` (the test extra:"
                          " pip install -e '.[test]')") from exc
    ca = trustme.CA(organization_name="Signalhub test CA")
    leaf = ca.issue_cert("127.0.0.1", "localhost", common_name="127.0.0.1")
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    return ca.cert_pem.bytes(), pkcs8 + chain


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)

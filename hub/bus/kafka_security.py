"""Secured Kafka connections: TLS and SASL for every client the Kafka bus makes.

:func:`kafka_security` turns the ``HUB_KAFKA__SECURITY_PROTOCOL``, ``..._SASL_*`` and
``..._SSL_*`` settings into one :class:`KafkaSecurity`, checked at start (a missing file,
a setting that does not fit the protocol, a CA file that is no PEM: a
:class:`~hub.errors.ConfigError` naming the setting). Its ``options`` are kafka-python's
keyword arguments, given to the producer, the transactional producers, the group
consumers, the readers, the admin client and the metadata consumer alike
(:meth:`hub.bus.kafka.KafkaBus.client_options`). TLS uses one ``ssl.SSLContext`` built
here: TLS 1.2 or newer, the broker's certificate checked against ``SSL_CAFILE`` (else
the system's CAs) and, unless ``SSL_CHECK_HOSTNAME=false``, against the host name.

kafka-python retries a refused sign-in or a failed TLS handshake until its bootstrap
timeout and then only says "Unable to bootstrap". :class:`_FailureWatch` remembers the
last such failure it logged, and :meth:`KafkaSecurity.explain` turns the timeout into a
:class:`~hub.errors.BusAccessDenied` that says what failed and which setting to check,
within ``HUB_KAFKA__MAX_BLOCK_MS``. Passwords, tokens and the key password are
registered with the log redaction (:func:`hub.logging.register_secret`): kafka-python
logs its configuration at DEBUG.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kafka.errors as kerr
from kafka.net.sasl.oauth import AbstractTokenProvider

from hub.errors import BusAccessDenied, ConfigError
from hub.logging import redact_text, register_secret
from hub.settings import KafkaSettings

__all__ = ["SECURITY_FIELDS", "KafkaSecurity", "kafka_security"]

#: the KafkaSettings fields this module reads (the others are the bus's own options)
SECURITY_FIELDS = frozenset({
    "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password",
    "sasl_oauth_token", "sasl_oauth_token_file", "ssl_cafile", "ssl_certfile",
    "ssl_keyfile", "ssl_key_password", "ssl_check_hostname",
})
_ENV = "HUB_KAFKA__"
#: a failure logged this long before an operation started still explains its timeout
_RECENT_S = 1.0


@dataclass(frozen=True)
class KafkaSecurity:
    """kafka-python's security options for every client, and what explains a refusal."""

    protocol: str = "PLAINTEXT"
    #: kafka-python's keyword arguments (the password among them: never in the repr)
    options: dict[str, Any] = field(default_factory=dict, repr=False)
    mechanism: str | None = None
    username: str | None = None
    cafile: Path | None = None

    @property
    def secured(self) -> bool:
        return self.protocol != "PLAINTEXT"

    def explain(self, exc: Exception, what: str, since: float) -> BusAccessDenied | None:
        """A clear error for ``exc`` when it is (or a timeout was caused by) a refused
        sign-in, a failed TLS handshake or a missing ACL since ``since`` (monotonic)."""
        cause: Exception | None = exc
        if isinstance(exc, kerr.KafkaTimeoutError):
            cause = _WATCH.last_since(since - _RECENT_S) if self.secured else None
        if isinstance(cause, kerr.AuthorizationError):
            return BusAccessDenied(redact_text(
                f"{what}: the broker's ACLs refuse this ({type(cause).__name__}) to the"
                f" principal of {self._who()}; give it the ACLs docs/operations.md lists"))
        if isinstance(cause, kerr.SaslAuthenticationFailedError
                      | kerr.UnsupportedSaslMechanismError):
            return BusAccessDenied(redact_text(
                f"{what}: the broker refused the SASL {self.mechanism} sign-in of"
                f" {self._who()}: check {self._credential_settings()} ({cause})"))
        if cause is not None and "Handshake failed" in str(cause):
            return BusAccessDenied(redact_text(f"{what}: {self._tls_advice(str(cause))}"))
        return None

    def _who(self) -> str:
        if self.mechanism == "OAUTHBEARER":
            return "the OAUTHBEARER token"
        if self.username:
            return f"user {self.username!r} ({_ENV}SASL_USERNAME)"
        return f"this client ({_ENV}SECURITY_PROTOCOL={self.protocol})"

    def _credential_settings(self) -> str:
        if self.mechanism == "OAUTHBEARER":
            return f"{_ENV}SASL_OAUTH_TOKEN / {_ENV}SASL_OAUTH_TOKEN_FILE"
        return f"{_ENV}SASL_USERNAME and {_ENV}SASL_PASSWORD"

    def _tls_advice(self, reason: str) -> str:
        reason = reason.replace("Handshake failed: ", "")
        if "CERTIFICATE_VERIFY_FAILED" in reason and "mismatch" in reason:
            return (f"TLS to the broker failed ({reason}): its certificate does not name the"
                    " host in HUB_BUS; use the name it was issued for"
                    f" ({_ENV}SSL_CHECK_HOSTNAME=false only for tests)")
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            where = str(self.cafile) if self.cafile else "the system's CAs"
            return (f"TLS to the broker failed ({reason}): its certificate is not signed by"
                    f" a CA in {_ENV}SSL_CAFILE ({where})")
        return (f"TLS to the broker failed ({reason}): check that the listener speaks"
                f" {self.protocol} ({_ENV}SECURITY_PROTOCOL) and the {_ENV}SSL_* settings")


def kafka_security(settings: KafkaSettings) -> KafkaSecurity:
    """Check the security settings and build every client's security options."""
    protocol = settings.security_protocol
    sasl, tls = protocol.startswith("SASL_"), protocol in ("SSL", "SASL_SSL")
    _refuse_unused(settings, sasl, tls)
    options: dict[str, Any] = {"security_protocol": protocol}
    if tls:
        options["ssl_context"] = _ssl_context(settings)
    if sasl:
        options.update(_sasl_options(settings))
    if protocol == "PLAINTEXT":
        return KafkaSecurity()
    _WATCH.install()
    return KafkaSecurity(protocol, options, settings.sasl_mechanism, settings.sasl_username,
                         settings.ssl_cafile)


def _refuse_unused(settings: KafkaSettings, sasl: bool, tls: bool) -> None:
    """Credentials the protocol would not use are a mistake, never silently ignored."""
    unused = [name for name in sorted(SECURITY_FIELDS)
              if getattr(settings, name) is not None
              and ((name.startswith("sasl_") and not sasl)
                   or (name.startswith("ssl_") and name != "ssl_check_hostname" and not tls))]
    if unused:
        names = ", ".join(f"{_ENV}{name.upper()}" for name in unused)
        raise ConfigError(f"{names} set, but {_ENV}SECURITY_PROTOCOL={settings.security_protocol}"
                          " does not use it: set SASL_SSL (or SSL) or remove it")


def _ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = settings.ssl_check_hostname
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        path = getattr(settings, name)
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"{_ENV}{name.upper()}: no file {path}")
    try:
        if settings.ssl_cafile is not None:
            ctx.load_verify_locations(cafile=str(settings.ssl_cafile))
        else:
            ctx.load_default_certs()
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"{_ENV}SSL_CAFILE: {settings.ssl_cafile} holds no PEM CA"
                          f" certificate ({exc})") from None
    if settings.ssl_keyfile is not None and settings.ssl_certfile is None:
        raise ConfigError(f"{_ENV}SSL_KEYFILE needs {_ENV}SSL_CERTFILE (the client certificate)")
    if settings.ssl_certfile is not None:
        password = settings.ssl_key_password
        if password is not None:
            register_secret(password.get_secret_value())
        try:
            ctx.load_cert_chain(str(settings.ssl_certfile),
                                str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
                                password.get_secret_value() if password else None)
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(
                f"{_ENV}SSL_CERTFILE / {_ENV}SSL_KEYFILE / {_ENV}SSL_KEY_PASSWORD: the client"
                f" certificate and key do not load ({type(exc).__name__})") from None
    return ctx


def _sasl_options(settings: KafkaSettings) -> dict[str, Any]:
    mechanism = settings.sasl_mechanism
    if mechanism is None:
        raise ConfigError(f"{_ENV}SECURITY_PROTOCOL={settings.security_protocol} needs"
                          f" {_ENV}SASL_MECHANISM (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN or"
                          " OAUTHBEARER)")
    if mechanism == "OAUTHBEARER":
        return {"sasl_mechanism": mechanism, "sasl_oauth_token_provider": _token_provider(settings)}
    if not settings.sasl_username or settings.sasl_password is None:
        raise ConfigError(f"{_ENV}SASL_MECHANISM={mechanism} needs {_ENV}SASL_USERNAME and"
                          f" {_ENV}SASL_PASSWORD")
    for name in ("sasl_oauth_token", "sasl_oauth_token_file"):
        if getattr(settings, name) is not None:
            raise ConfigError(f"{_ENV}{name.upper()} is for OAUTHBEARER, not {mechanism}")
    password = settings.sasl_password.get_secret_value()
    register_secret(password)
    return {"sasl_mechanism": mechanism, "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": password}


def _token_provider(settings: KafkaSettings) -> _TokenProvider:
    token, path = settings.sasl_oauth_token, settings.sasl_oauth_token_file
    if (token is None) == (path is None):
        raise ConfigError(f"{_ENV}SASL_MECHANISM=OAUTHBEARER needs one of"
                          f" {_ENV}SASL_OAUTH_TOKEN and {_ENV}SASL_OAUTH_TOKEN_FILE")
    if settings.sasl_username or settings.sasl_password:
        raise ConfigError(f"{_ENV}SASL_USERNAME / {_ENV}SASL_PASSWORD are not used with"
                          " OAUTHBEARER: remove them")
    provider = _TokenProvider(token.get_secret_value() if token else None, path)
    provider.token()  # a missing or empty token file fails now, naming the setting
    return provider


class _TokenProvider(AbstractTokenProvider):  # type: ignore[misc]  # kafka-python is untyped
    """The OAUTHBEARER token: fixed, or read from its file for every new connection."""

    def __init__(self, token: str | None, path: Path | None) -> None:
        super().__init__()
        self._token, self._path = token, path
        register_secret(token)

    def token(self) -> str:
        if self._path is None:
            assert self._token is not None
            return self._token
        try:
            value = self._path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{_ENV}SASL_OAUTH_TOKEN_FILE: cannot read {self._path}"
                              f" ({exc.strerror})") from None
        if not value:
            raise ConfigError(f"{_ENV}SASL_OAUTH_TOKEN_FILE: {self._path} is empty")
        register_secret(value)
        return value


class _FailureWatch(logging.Handler):
    """Remembers the last refused sign-in or failed TLS handshake that kafka-python
    logged (it retries those until its timeout and raises only the timeout)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._last: tuple[float, Exception] | None = None
        self._installed = False
        self._lock_install = threading.Lock()

    def install(self) -> None:
        with self._lock_install:
            if not self._installed:
                logging.getLogger("kafka").addHandler(self)
                self._installed = True

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        for arg in args:
            if isinstance(arg, _REFUSALS) or (isinstance(arg, kerr.KafkaConnectionError)
                                              and "Handshake failed" in str(arg)):
                self._last = (time.monotonic(), arg)
            elif _lost_during_sign_in(arg):
                # the broker closes the connection after a refused sign-in, and
                # kafka-python often sees the close before the refusal itself
                self._last = (time.monotonic(), kerr.SaslAuthenticationFailedError(
                    "the broker closed the connection during the sign-in"))

    def last_since(self, since: float) -> Exception | None:
        last = self._last
        return last[1] if last is not None and last[0] >= since else None


def _lost_during_sign_in(conn: object) -> bool:
    """A kafka-python connection that was lost after the broker answered ApiVersions
    (TLS worked) but before it was ready: in the SASL step, its only later one."""
    config = getattr(conn, "config", None)
    init = getattr(conn, "init_future", None)
    if not isinstance(config, dict) or init is None:
        return False
    return (str(config.get("security_protocol", "")).startswith("SASL_")
            and getattr(conn, "broker_version_data", None) is not None
            and bool(init.is_done) and not init.succeeded())


_REFUSALS = (kerr.SaslAuthenticationFailedError, kerr.UnsupportedSaslMechanismError,
             kerr.AuthorizationError)
_WATCH = _FailureWatch()

"""Settings, read once from ``HUB_*`` environment variables (and an optional ``.env``).

Nested settings use ``__`` as delimiter, e.g. ``HUB_EMBEDDED__SYNCHRONOUS=NORMAL``.
Connectors and the bus receive these values explicitly; nothing else reads
``os.environ``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from hub.compat import Compatibility
from hub.errors import ConfigError
from hub.intake_keys import check_private_key, check_public_key
from hub.pseudonym import KeyVersions, parse_secrets
from hub.values import field_errors

__all__ = [
    "EmbeddedSettings",
    "KafkaSettings",
    "MetricsSettings",
    "RegistrySettings",
    "Settings",
    "WebSettings",
    "given_settings",
    "load_settings",
]

#: what HUB_TOPIC_PREFIX may hold: characters Kafka allows in topic names
_TOPIC_CHARS = re.compile(r"[A-Za-z0-9._-]{1,100}")


class EmbeddedSettings(BaseModel):
    """The SQLite bus and registry."""

    #: SQLite PRAGMA synchronous: FULL survives power loss, NORMAL a process crash
    synchronous: Literal["FULL", "NORMAL", "OFF"] = "FULL"
    #: seconds before a silent consumer leaves its group
    session_timeout: float = 10.0


class KafkaSettings(BaseModel):
    """The Kafka bus."""

    linger_ms: int = 5
    batch_size: int = 256 * 1024
    #: copies of every partition of the topics the hub creates (at most the broker count)
    replication_factor: int = Field(1, ge=1)
    #: replicas that must have a record before ``acks=all`` succeeds, set on every topic
    #: the hub creates; unset: replication_factor - 1, at least 1
    min_insync_replicas: int | None = Field(None, ge=1)
    #: producer compression of record batches (zstd needs the zstandard package)
    compression_type: Literal["zstd", "lz4", "gzip", "snappy", "none"] = "zstd"
    #: how long one request to a broker may take (producer and admin)
    request_timeout_ms: int = Field(4_000, gt=0)
    #: how long a record may wait for its acknowledgement before produce fails (503)
    delivery_timeout_ms: int = Field(5_000, gt=0)
    #: how long produce may wait for metadata (and a new client for its first broker)
    max_block_ms: int = Field(3_000, gt=0)
    #: a group member silent this long is dropped and its partitions move on
    session_timeout_ms: int = Field(6_000, ge=1_000)
    #: how often a group member heartbeats (well under the session timeout)
    heartbeat_interval_ms: int = Field(1_000, gt=0)

    # -- secured connections (docs/bus.md, "Secured connections"); checked and applied
    # -- to every Kafka client by hub/bus/kafka_security.py
    #: PLAINTEXT (default), SSL (TLS), SASL_SSL (TLS + SASL) or SASL_PLAINTEXT
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"] = "PLAINTEXT"
    #: with SASL_*: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN (username + password) or
    #: OAUTHBEARER (a token)
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    #: never logged
    sasl_password: SecretStr | None = None
    #: OAUTHBEARER: a fixed token; never logged
    sasl_oauth_token: SecretStr | None = None
    #: OAUTHBEARER: a file holding the token, read again for every new connection (so an
    #: agent can renew it)
    sasl_oauth_token_file: Path | None = None
    #: PEM file of the CA(s) the broker certificates are checked against; unset: the
    #: system's CAs
    ssl_cafile: Path | None = None
    #: the client certificate (PEM) for brokers that ask for one (mutual TLS)
    ssl_certfile: Path | None = None
    #: the client certificate's private key (PEM); unset: in the certificate file
    ssl_keyfile: Path | None = None
    #: the password of an encrypted private key; never logged
    ssl_key_password: SecretStr | None = None
    #: the broker certificate must name the host connected to (off only for tests)
    ssl_check_hostname: bool = True

    @model_validator(mode="after")
    def _replicas(self) -> KafkaSettings:
        if self.min_insync_replicas is None:
            self.min_insync_replicas = max(1, self.replication_factor - 1)
        elif self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"HUB_KAFKA__MIN_INSYNC_REPLICAS ({self.min_insync_replicas}) is more than"
                f" HUB_KAFKA__REPLICATION_FACTOR ({self.replication_factor}): no write could"
                " ever succeed")
        return self


# -- the web app and the metrics listener (docs/web.md, docs/operations.md) ----------------


class WebSettings(BaseModel):
    """The web app (team inbox, operator dashboard): cookies, sessions, sign-in limits."""

    #: False only for plain-http development away from localhost: the session cookie is
    #: then ``signalhub_session`` without ``Secure`` (never in production)
    secure_cookies: bool = True
    #: addresses or networks (CIDR) of TLS-terminating proxies whose X-Forwarded-Proto and
    #: X-Forwarded-For are believed; empty: none (the connection's own scheme and address)
    trusted_proxies: list[str] = Field(default_factory=list)
    #: seconds without a request after which a session ends
    session_idle_timeout: float = Field(1800.0, gt=0)
    #: seconds after sign-in after which a session ends, however active
    session_max_age: float = Field(8 * 3600.0, gt=0)
    #: seconds over which failed sign-ins are counted
    login_window: float = Field(300.0, gt=0)
    #: failed sign-ins per window for one username from one client address
    login_failures_per_account_and_address: int = Field(5, ge=1)
    #: failed sign-ins per window for one username from any address
    login_failures_per_account: int = Field(20, ge=1)
    #: failed sign-ins per window from one client address for any username
    login_failures_per_address: int = Field(30, ge=1)
    #: password checks per minute for the whole web app
    login_checks_per_minute: int = Field(300, ge=1)
    #: password checks (Argon2, 64 MiB each) running at the same time
    login_concurrency: int = Field(4, ge=1)
    #: serve the web app's /openapi.json (never /docs or /redoc: those need a CDN)
    openapi: bool = False
    #: the key that signs session cookies (at least 32 characters), the same for every
    #: instance behind one address; unset: ``<state_dir>/web-secret.key`` (made once)
    secret_key: SecretStr | None = Field(None, min_length=32)


class RegistrySettings(BaseModel):
    """Access to the HTTP schema registry (``HUB_REGISTRY_URL``); never in the URL."""

    #: basic auth user name (with ``password``)
    username: str | None = None
    #: basic auth password; never logged
    password: SecretStr | None = None
    #: bearer token (instead of basic auth); never logged
    token: SecretStr | None = None
    #: PEM file of the CA(s) an https registry's certificate is checked against; unset:
    #: the system's CAs
    cafile: Path | None = None


class MetricsSettings(BaseModel):
    """The Prometheus listener, apart from the web app so it can be firewalled apart."""

    #: host:port of the /metrics listener (port 0: any free one); empty: no listener
    address: str = "127.0.0.1:9464"
    #: when set, /metrics needs ``Authorization: Bearer <token>``; never logged
    token: SecretStr | None = None

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value:
            host, sep, port = value.rpartition(":")
            if not sep or not host or not port.isdigit() or int(port) > 65535:
                raise ValueError("expected host:port, e.g. 127.0.0.1:9464 (empty: off)")
        return value

    @property
    def host_port(self) -> tuple[str, int] | None:
        """(host, port) of the listener, None when off; ``[::1]`` becomes ``::1``."""
        if not self.address:
            return None
        host, _, port = self.address.rpartition(":")
        return host.strip("[]"), int(port)


class Settings(BaseSettings):
    """All of Signalhub's settings; every field can be set as ``HUB_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    bus: str = Field(
        "embedded:var/signalhub.db",
        description="bus URL: embedded:<path> (default) or kafka://host:9092",
    )
    topic_prefix: str = Field(
        "",
        description="put in front of every topic, consumer group, transactional id and"
        " registry subject, so several environments share one Kafka cluster and registry"
        " (e.g. test.); empty: none",
    )
    registry_url: str | None = Field(
        None,
        description="Confluent-compatible registry URL; unset = embedded registry in the"
        " bus's SQLite file (required for the kafka bus)",
    )
    compatibility: Compatibility = Field(
        Compatibility.BACKWARD_TRANSITIVE, description="default subject compatibility"
    )
    schemas_dir: Path | None = Field(None, description="directory of .avsc files")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto = console on a terminal, JSON otherwise"
    )
    pseudonym_secrets: KeyVersions = Field(
        default_factory=dict,
        description="per municipality code, the key of subject_ref = HMAC-SHA256(BSN),"
        ' at least 32 bytes; JSON, e.g. {"GM0153": "..."} or with versions'
        ' {"GM0153": {"1": "...", "2": "..."}} (the highest is current); never logged,'
        " never given to a source",
    )
    intake_private_key: SecretStr | None = Field(
        None,
        description="the hub's X25519 private key (base64) that opens sealed signals on"
        " intake.sealed.v1; make a pair with `signalhub keys generate`; never logged",
    )
    intake_public_key: str | None = Field(
        None,
        description="on a source's machine: the hub's X25519 public key (base64) that"
        " `signalhub import` seals rows to (like --seal-to)",
    )
    config: Path = Field(Path("hub.yaml"), description="the hub's configuration file")
    host: str = Field("127.0.0.1", description="address of `signalhub run`'s ingest API and"
                      " web app (0.0.0.0 in the container image); --host wins")
    port: int = Field(8080, ge=0, le=65535,
                      description="ingest API port of `signalhub run` (0: any); --port wins")
    web_port: int = Field(8081, ge=0, le=65535, description="web app (team inbox) port of"
                          " `signalhub run` (0: any); --web-port wins")
    state_dir: Path = Field(
        Path("var/state"), description="local state of routers (consent ledger, history)"
    )
    database_url: SecretStr | None = Field(
        None,
        description="the application stores' database (sources and keys, idempotency,"
        " import ledger, ...): sqlite:///path/store.db or postgresql://user:password@host/db;"
        " unset = SQLite <state_dir>/store.db; secret: shown only without its password",
    )
    ddas_supplier_code: str | None = Field(
        None, min_length=1, max_length=200,
        description="the codeGegevensleverancier of the DDAS Vroegsignalering delivery"
        " (`signalhub export ddas`): the code CBS knows whoever runs this hub by;"
        " --supplier-code wins",
    )
    idempotency_retention_days: float = Field(
        30.0, gt=0, description="days an ingest idempotency entry is kept (replays of a"
        " request or event id within this time answer as the first time)",
    )
    import_ledger_retention_days: float = Field(
        365.0, gt=0, description="days the import ledger remembers a published row (a file"
        " imported again within this time publishes only what is new)",
    )
    revoked_source_retention_days: float = Field(
        365.0, gt=0, description="days a revoked source (its revoked key's hash) is kept"
        " before the retention run deletes it; active sources are never deleted",
    )
    retention_interval_hours: float = Field(
        24.0, ge=0, description="hours between the retention runs of `signalhub run` (the"
        " first at start); 0: none (run `signalhub retention run` yourself)",
    )
    processing_guarantee: Literal["exactly-once", "at-least-once"] = Field(
        "exactly-once",
        description="exactly-once: a router batch's outputs, changelog records and input"
        " offsets are committed in one transaction (Kafka transactions; one SQLite"
        " transaction on the embedded bus); at-least-once: produced, then committed (a"
        " crash replays the batch, recipients drop duplicates by alert id)",
    )
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    web: WebSettings = Field(default_factory=WebSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, value: str) -> str:
        if value and not _TOPIC_CHARS.fullmatch(value):
            raise ValueError("HUB_TOPIC_PREFIX may hold letters, digits, '.', '_' and '-' only")
        return value

    @field_validator("pseudonym_secrets", mode="before")
    @classmethod
    def _versioned_secrets(cls, value: object) -> KeyVersions:
        # ConfigError (not ValueError) on purpose: pydantic would put the key in its message
        return parse_secrets(value)  # type: ignore[arg-type]

    @field_validator("intake_private_key", mode="before")
    @classmethod
    def _intake_private_key(cls, value: object) -> SecretStr | None:
        return None if value in (None, "") else check_private_key(value)

    @field_validator("intake_public_key", mode="before")
    @classmethod
    def _intake_public_key(cls, value: object) -> str | None:
        return None if value in (None, "") else check_public_key(value)


class _GivenSettings(Settings):
    """:class:`Settings` from keyword arguments and defaults only (no HUB_*, no .env)."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def given_settings(**values: object) -> Settings:
    """Settings from ``values`` and the defaults alone: no ``HUB_*`` variable and no
    ``.env`` file is read (for code that runs inside another program, e.g.
    :class:`hub.client.HubClient`). Errors as :func:`load_settings`."""
    return _build(_GivenSettings, values)


def load_settings(**overrides: object) -> Settings:
    """Read the settings once; keyword arguments win over the environment.

    Raises :class:`ConfigError` for a bad pseudonym or intake key (naming where, never
    the key), for a value that is not valid JSON where JSON is expected, and for any
    other invalid value (naming the variable and the problem, never the input: pydantic's
    own message would show a whole nested model's input, passwords included)."""
    return _build(Settings, overrides)


def _build(cls: type[Settings], values: dict[str, object]) -> Settings:
    try:
        return cls(**values)  # type: ignore[arg-type]
    except SettingsError as exc:  # its message names the field, not the value
        raise ConfigError(f"{exc}: check that it is valid JSON") from None
    except ValidationError as exc:
        problems = [f"HUB_{e.field.replace('.', '__').upper()}: {e.message}"
                    for e in field_errors(exc)]
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None

"""Settings, read once from ``HUB_*`` environment variables (and an optional ``.env``).

Nested settings use ``__`` as delimiter, e.g. ``HUB_EMBEDDED__SYNCHRONOUS=NORMAL``.
Connectors and the bus receive these values explicitly; nothing else reads
``os.environ``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from hub.compat import Compatibility
from hub.errors import ConfigError
from hub.intake_keys import check_private_key, check_public_key
from hub.pseudonym import KeyVersions, parse_secrets

__all__ = ["EmbeddedSettings", "KafkaSettings", "Settings", "load_settings"]


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
    replication_factor: int = 1


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
    state_dir: Path = Field(
        Path("var/state"), description="local state of routers (consent ledger, history)"
    )
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

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


def load_settings(**overrides: object) -> Settings:
    """Read the settings once; keyword arguments win over the environment.

    Raises :class:`ConfigError` for a bad pseudonym or intake key (naming where, never
    the key) and for a value that is not valid JSON where JSON is expected."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:  # its message names the field, not the value
        raise ConfigError(f"{exc}: check that it is valid JSON") from None

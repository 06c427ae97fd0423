"""The sources that may send to the hub: the source registry and its API keys
(:mod:`hub.sources.registry`). The HTTP ingest API, the CLI and the web app use it from
here."""

from hub.sources.registry import (
    CONSENT_PERMISSION,
    OUTCOMES_PERMISSION,
    PERMISSIONS,
    SOURCES_FILE,
    SourceInfo,
    SourceRegistry,
    SourceRegistryError,
    UnknownSource,
)

__all__ = [
    "CONSENT_PERMISSION",
    "OUTCOMES_PERMISSION",
    "PERMISSIONS",
    "SOURCES_FILE",
    "SourceInfo",
    "SourceRegistry",
    "SourceRegistryError",
    "UnknownSource",
]

"""Schema registries: embedded (SQLite) and any Confluent-compatible HTTP registry."""

from __future__ import annotations

from hub.registry.base import RegisteredSchema, SchemaRegistry, canonical, subject_for

__all__ = ["RegisteredSchema", "SchemaRegistry", "canonical", "subject_for"]

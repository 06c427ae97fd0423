"""The registry protocol, against the embedded registry and a real Apicurio Registry."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from hub.compat import Compatibility
from hub.errors import IncompatibleSchema, SchemaNotFound
from hub.registry.base import SchemaRegistry, canonical, subject_for


def person(*extra: dict[str, Any], name: str = "Person") -> str:
    fields = [{"name": "subject_ref", "type": "string", "doc": "pseudonym"}, *extra]
    return json.dumps({"type": "record", "name": name, "namespace": "test.v1",
                       "doc": "test", "fields": fields})


@pytest.fixture
def subject(unique: Callable[[str], str]) -> str:
    return subject_for(unique("topic"), "test.v1.Person")


def test_subject_naming_is_topic_record() -> None:
    assert subject_for("signals.debt.v1", "nl.signalhub.v1.DebtSignal") == (
        "signals.debt.v1-nl.signalhub.v1.DebtSignal"
    )


def test_register_is_idempotent_and_ids_resolve(registry: SchemaRegistry, subject: str) -> None:
    schema = person()
    first = registry.register(subject, schema)
    assert registry.register(subject, schema) == first
    assert json.loads(registry.schema_by_id(first)) == json.loads(canonical(schema))
    latest = registry.latest(subject)
    assert (latest.version, latest.schema_id) == (1, first)
    assert registry.versions(subject) == [1]
    assert subject in registry.subjects()
    found = registry.lookup(subject, schema)
    assert found is not None and found.schema_id == first
    assert registry.lookup(subject, person({"name": "x", "type": "int", "default": 0})) is None


def test_unknown_ids_and_subjects(registry: SchemaRegistry) -> None:
    with pytest.raises(SchemaNotFound):
        registry.schema_by_id(987_654_321)
    with pytest.raises(SchemaNotFound):
        registry.latest(f"no-such-subject-{uuid.uuid4().hex}")
    assert registry.versions(f"no-such-subject-{uuid.uuid4().hex}") == []


def test_backward_transitive_is_enforced(registry: SchemaRegistry, subject: str) -> None:
    registry.set_compatibility(Compatibility.BACKWARD_TRANSITIVE, subject)
    assert registry.get_compatibility(subject) is Compatibility.BACKWARD_TRANSITIVE
    registry.register(subject, person())
    compatible = person({"name": "postcode", "type": ["null", "string"], "default": None,
                         "doc": "optional"})
    assert registry.check_compatibility(subject, compatible) == []
    assert registry.register(subject, compatible) > 0
    breaking = person({"name": "amount_cents", "type": "long", "doc": "no default"})
    assert registry.check_compatibility(subject, breaking) != []
    with pytest.raises(IncompatibleSchema):
        registry.register(subject, breaking)
    assert registry.versions(subject) == [1, 2]


def test_new_subjects_default_to_backward_transitive(
    registry: SchemaRegistry, subject: str
) -> None:
    registry.register(subject, person())
    assert registry.get_compatibility(subject) is Compatibility.BACKWARD_TRANSITIVE
    v2 = person({"name": "team", "type": "string", "default": "none", "doc": "with default"})
    registry.register(subject, v2)
    # compatible with v2 (which has the field) but not with v1 (which lacks it)
    v3 = person({"name": "team", "type": "string", "doc": "default dropped"})
    assert registry.check_compatibility(subject, v3) != []
    with pytest.raises(IncompatibleSchema):
        registry.register(subject, v3)
    registry.set_compatibility(Compatibility.BACKWARD, subject)
    assert registry.check_compatibility(subject, v3) == []

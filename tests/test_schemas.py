"""The Avro schemas, their pydantic models, and the compatibility check.

(a) every schema parses (fastavro and Apache avro) and documents every field;
(b) schema and model agree field by field, both ways;
(c) every model survives an Avro round trip;
(d-e) ``signalhub schemas check`` passes on the committed schemas and fails, readably,
on a breaking change;
(f) ``hub.compat.check`` tells BACKWARD from BACKWARD_TRANSITIVE.
"""

from __future__ import annotations

import copy
import enum
import io
import json
import shutil
import types
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import avro.schema
import fastavro
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ValidationError

from hub import schemas as store
from hub.cli import main
from hub.compat import Compatibility, Direction, check, find_problems
from hub.errors import ConfigError, DecodeError, SchemaNotFound
from hub.events import (
    EVENT_TYPES,
    MODELS,
    AlertOutcome,
    AlertUrgency,
    AvroModel,
    ConsentAction,
    ConsentChange,
    CreditorType,
    DeadLetter,
    DeadLetterHeader,
    DeadLetterReason,
    DebtSignal,
    DebtSignalKind,
    DecisionOutcome,
    EvictionRisk,
    EvictionStage,
    PickUpOutcome,
    ProcessingRecord,
    ProcessingStatus,
    SealedSignal,
    TeamAlert,
    YouthCareExit,
    YouthCareForm,
    YouthSupportNeed,
    decode_avro,
    encode_avro,
)

REPO_SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
#: every model of a schema: hub.events.MODELS and the sealed-intake record (hub.sealed)
NAMES = store.schema_names(REPO_SCHEMAS)
SUBJECT = "ps1-3f6c1e0b9a7d4c2e8f5b1a0d9c8e7f6a5b4c3d2e"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
NOW = datetime(2024, 5, 14, 9, 30, 12, 345000, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _repo_schemas(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HUB_SCHEMAS_DIR", raising=False)  # the CLI tests use the shipped ones
    store.clear_cache()
    yield
    store.clear_cache()


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((REPO_SCHEMAS / f"{name}.avsc").read_text("utf-8"))
    return schema


# --- (a) parse and document -------------------------------------------------------------


def test_the_expected_schemas_exist() -> None:
    assert set(NAMES) == set(MODELS) == {
        "DebtSignal", "EvictionRisk", "YouthCareExit", "ConsentChange", "TeamAlert",
        "ProcessingRecord", "DeadLetter", "AlertOutcome", "SealedSignal",
    }
    assert store.schema_names() == NAMES  # the default lookup finds the repo's schemas


@pytest.mark.parametrize("name", NAMES)
def test_schema_parses_with_fastavro_and_avro(name: str) -> None:
    schema = _schema(name)
    assert schema["type"] == "record"
    assert schema["name"] == name
    assert schema["namespace"] == "nl.signalhub.v1"
    fastavro.parse_schema(copy.deepcopy(schema))
    parsed = avro.schema.parse(json.dumps(schema))
    assert isinstance(parsed, avro.schema.RecordSchema)
    assert parsed.fullname == f"nl.signalhub.v1.{name}"


def test_named_types_are_unique_across_all_schemas() -> None:
    named: dict[str, Any] = {}
    for name in NAMES:  # fastavro refuses to redefine a name in one named_schemas
        fastavro.parse_schema(_schema(name), named_schemas=named)
    full_names = [n for n in named if n.startswith("nl.signalhub.v1.")]
    assert len(full_names) == len(set(full_names)) >= len(NAMES)


def _walk_named(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every named type (record, enum) and every field, with a readable path."""
    if isinstance(node, list):
        for branch in node:
            yield from _walk_named(branch, path)
    elif isinstance(node, dict):
        if node.get("type") in ("record", "enum"):
            yield f"{path} (type {node['name']})", node
        for field in node.get("fields", []):
            yield f"{path}.{field['name']}", field
            yield from _walk_named(field["type"], f"{path}.{field['name']}")
        for key in ("items", "values"):
            if key in node:
                yield from _walk_named(node[key], path)


@pytest.mark.parametrize("name", NAMES)
def test_every_field_and_type_has_a_doc(name: str) -> None:
    undocumented = [
        path
        for path, node in _walk_named(_schema(name), name)
        if not isinstance(node.get("doc"), str) or not node["doc"].strip()
    ]
    assert undocumented == []


@pytest.mark.parametrize("name", NAMES)
def test_optional_fields_are_null_unions_with_null_default(name: str) -> None:
    for path, node in _walk_named(_schema(name), name):
        if "name" in node and isinstance(node.get("type"), list):
            assert node["type"][0] == "null" and len(node["type"]) == 2, path
            assert "default" in node and node["default"] is None, path


def test_no_direct_identifiers_in_any_schema() -> None:
    for name in NAMES:
        for path, _node in _walk_named(_schema(name), name):
            field = path.rsplit(".", 1)[-1].lower()
            assert "bsn" not in field and field not in {"first_name", "last_name", "email"}


# --- (b) schema and model agree ---------------------------------------------------------

_PRIMITIVES: dict[str, type] = {
    "string": str, "int": int, "long": int, "boolean": bool, "bytes": bytes,
    "float": float, "double": float,
}
_LOGICAL: dict[str, type] = {"timestamp-millis": datetime, "date": date, "uuid": str}


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _split_optional(tp: Any) -> tuple[Any, bool]:
    tp = _strip(tp)
    if get_origin(tp) in (Union, types.UnionType):
        args = get_args(tp)
        rest = [a for a in args if a is not type(None)]
        if len(args) == 2 and len(rest) == 1:
            return _strip(rest[0]), True
    return tp, False


def _assert_type(avro_type: Any, py_type: Any, where: str) -> None:
    py_type = _strip(py_type)
    if isinstance(avro_type, str):
        assert avro_type in _PRIMITIVES, f"{where}: unexpected Avro type {avro_type!r}"
        assert py_type is _PRIMITIVES[avro_type], f"{where}: {py_type} is not {avro_type}"
        return
    assert isinstance(avro_type, dict), f"{where}: unions other than [null, T] are not used"
    if "logicalType" in avro_type:
        expected = _LOGICAL[avro_type["logicalType"]]
        assert py_type is expected, f"{where}: {py_type} is not {expected}"
        return
    kind = avro_type["type"]
    if kind == "enum":
        assert isinstance(py_type, type) and issubclass(py_type, enum.StrEnum), where
        assert py_type.__name__ == avro_type["name"], where
        assert [m.value for m in py_type] == avro_type["symbols"], where
    elif kind == "array":
        assert get_origin(py_type) is list, f"{where}: {py_type} is not a list"
        _assert_type(avro_type["items"], get_args(py_type)[0], f"{where}[]")
    elif kind == "map":
        assert get_origin(py_type) is dict, f"{where}: {py_type} is not a dict"
        key, value = get_args(py_type)
        assert _strip(key) is str, where
        _assert_type(avro_type["values"], value, f"{where}{{}}")
    elif kind == "record":
        assert isinstance(py_type, type) and issubclass(py_type, AvroModel), where
        _assert_record(avro_type, py_type)
    else:
        _assert_type(kind, py_type, where)


def _assert_record(schema: dict[str, Any], model: type[BaseModel]) -> None:
    assert getattr(model, "avro_name", None) == schema["name"]
    avro_fields = [f["name"] for f in schema["fields"]]
    assert avro_fields == list(model.model_fields), f"{schema['name']}: field names or order"
    for field in schema["fields"]:
        where = f"{schema['name']}.{field['name']}"
        info = model.model_fields[field["name"]]
        py_type, optional = _split_optional(info.annotation)
        avro_type = field["type"]
        nullable = isinstance(avro_type, list)
        assert optional == nullable, f"{where}: optional in one, not in the other"
        if nullable:
            assert not info.is_required() and info.default is None, where
            avro_type = avro_type[1]
        else:
            assert info.is_required(), f"{where}: required in Avro, has a default in the model"
        _assert_type(avro_type, py_type, where)


@pytest.mark.parametrize("name", NAMES)
def test_schema_and_model_agree(name: str) -> None:
    _assert_record(_schema(name), MODELS[name])


def test_event_types_name_the_signal_models() -> None:
    expected = {
        "debt-signal": DebtSignal, "eviction-risk": EvictionRisk,
        "youth-care-exit": YouthCareExit,
    }
    assert expected == EVENT_TYPES


# --- (c) round trip ----------------------------------------------------------------------


def _signal_common() -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "source": "urn:nld:oin:00000001003214345000",
        "occurred_at": NOW - timedelta(hours=2),
        "received_at": NOW,
        "municipality_code": "GM0344",
        "subject_ref": SUBJECT,
    }


EXAMPLES: dict[str, Callable[[], AvroModel]] = {
    "DebtSignal": lambda: DebtSignal(
        **_signal_common(), postcode="3511 ab", house_number=12, house_number_addition="A",
        creditor_type=CreditorType.ENERGY, signal_kind=DebtSignalKind.END_OF_SUPPLY,
        arrears_amount_cents=48_750, arrears_since=date(2024, 2, 1),
        signal_date=date(2024, 5, 14), crisis=True, objection_recorded=False,
        supply_end_date=date(2024, 6, 12), creditor_reference="EN-2024-000123",
    ),
    "EvictionRisk": lambda: EvictionRisk(
        **_signal_common(), postcode="3532VX", house_number=7,
        stage=EvictionStage.EVICTION_SCHEDULED, stage_date=date(2024, 5, 13),
        eviction_date=date(2024, 6, 3), arrears_amount_cents=312_000, crisis=True,
        objection_recorded=False, case_reference="DW-88121",
    ),
    "YouthCareExit": lambda: YouthCareExit(
        **_signal_common(), postcode="3581KP", turns_18_on=date(2024, 11, 2),
        care_form=YouthCareForm.FAMILY_HOME, planned_end_date=date(2025, 11, 2),
        support_needs=[YouthSupportNeed.HOUSING, YouthSupportNeed.INCOME],
        provider_contact_role="mentor",
    ),
    "ConsentChange": lambda: ConsentChange(
        event_id=str(uuid.uuid4()), consent_id="cons-2024-0042", action=ConsentAction.GRANTED,
        subject_ref=SUBJECT, purpose="youth-care-exit-handover",
        recipient_scope=["team-utrecht-west", "GM0344"], valid_from=NOW,
        valid_until=NOW + timedelta(days=365), source="urn:nld:oin:00000001003214345000",
        recorded_at=NOW, municipality_code="GM0344",
    ),
    "TeamAlert": lambda: TeamAlert(
        alert_id=str(uuid.uuid4()), event_id=str(uuid.uuid4()), event_type="debt-signal",
        team_id="team-utrecht-west", municipality_code="GM0344", subject_ref=SUBJECT,
        urgency=AlertUrgency.URGENT, due_date=date(2024, 5, 17),
        fields={"creditor_type": "ENERGY", "arrears_amount_cents": "48750"},
        prior_signals_180d=1, legal_basis="GDPR 6(1)(e); Wgs art. 3", created_at=NOW,
        trace_id=TRACE, source="urn:nld:oin:00000001003214345000",
    ),
    "AlertOutcome": lambda: AlertOutcome(
        outcome_id=str(uuid.uuid4()), alert_id=str(uuid.uuid4()), event_id=str(uuid.uuid4()),
        team_id="team-utrecht-west", outcome=PickUpOutcome.NOT_PICKED_UP, recorded_at=NOW,
        source="urn:nld:oin:00000001003214345000",
    ),
    "ProcessingRecord": lambda: ProcessingRecord(
        trace_id=TRACE, span_id="00f067aa0ba902b7", parent_span_id="a3ce929d0e0e4736",
        name="route", start_time=NOW, end_time=NOW + timedelta(milliseconds=12),
        status=ProcessingStatus.OK,
        processing_activity_id="https://register.example.nl/activiteiten/vroegsignalering",
        data_subject_id=SUBJECT, data_subject_id_type="signalhub-pseudonym",
        outcome=DecisionOutcome.FORWARDED, reason_code="FORWARDED_BY_LAW",
        legal_basis="GDPR 6(1)(e); Wgs art. 3", team_id="team-utrecht-west",
        municipality_code="GM0344", event_id=str(uuid.uuid4()), event_type="debt-signal",
        alert_id=str(uuid.uuid4()),
    ),
    "DeadLetter": lambda: DeadLetter(
        topic="signals.debt.v1", partition=2, offset=1_234_567, original_key=SUBJECT.encode(),
        original_value=b"\x00\x00\x00\x00\x07garbage",
        original_headers=[
            DeadLetterHeader(key="ce_type", value=b"debt-signal"),
            DeadLetterHeader(key="ce_id", value=b"x"),
        ],
        original_timestamp=NOW, reason_code=DeadLetterReason.DECODE_FAILED,
        error_class="hub.errors.DecodeError", error_message="cannot decode DebtSignal",
        stage="router", attempts=1, failed_at=NOW, event_id=None, trace_id=TRACE,
    ),
    "SealedSignal": lambda: SealedSignal(
        event_id=str(uuid.uuid4()), event_type="debt-signal",
        source="urn:nld:oin:00000001003214345000", key_id="0123456789abcdef",
        sealed_payload=b"\x8a\x01sealed box bytes", sent_at=NOW,
    ),
}


def test_every_model_has_an_example() -> None:
    assert set(EXAMPLES) == set(MODELS)


@pytest.mark.parametrize("name", NAMES)
def test_round_trip(name: str) -> None:
    model = EXAMPLES[name]()
    body = encode_avro(model)
    assert decode_avro(type(model), body) == model
    if name in MODELS:  # by record name: the models of hub.events
        assert decode_avro(name, body) == model
        assert decode_avro(f"nl.signalhub.v1.{name}", body) == model
    # the plain body is exactly what fastavro writes with the schema file itself
    parsed = fastavro.parse_schema(_schema(name))
    assert type(model).from_avro(_read(parsed, body)) == model


def _read(parsed: Any, body: bytes) -> dict[str, Any]:
    record = fastavro.schemaless_reader(io.BytesIO(body), parsed, None)
    assert isinstance(record, dict)
    return record


def test_round_trip_with_an_older_writer_schema() -> None:
    model = EXAMPLES["DebtSignal"]()
    older = _schema("DebtSignal")
    older["fields"] = [f for f in older["fields"] if f["name"] != "creditor_reference"]
    body = fastavro_write(
        older, {k: v for k, v in model.to_avro().items() if k != "creditor_reference"}
    )
    decoded = decode_avro(DebtSignal, body, writer_schema=older)
    assert decoded == model.model_copy(update={"creditor_reference": None})


def fastavro_write(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    return buffer.getvalue()


def test_bad_bytes_raise_decode_error() -> None:
    body = encode_avro(EXAMPLES["DebtSignal"]())
    with pytest.raises(DecodeError):
        decode_avro("DebtSignal", body[:10])
    with pytest.raises(DecodeError, match="left over"):
        decode_avro("DebtSignal", body + b"\x00")
    with pytest.raises(SchemaNotFound):
        decode_avro("NoSuchRecord", body)


def test_values_are_normalised_and_checked() -> None:
    signal = EXAMPLES["DebtSignal"]()
    assert isinstance(signal, DebtSignal)
    assert signal.postcode == "3511AB"
    data = signal.model_dump()
    plus_two = timezone(timedelta(hours=2))
    local = DebtSignal(**{**data, "event_id": data["event_id"].upper(),
                          "occurred_at": datetime(2024, 5, 14, 11, 0, 0, 999999, plus_two),
                          "municipality_code": "gm0344"})
    assert local.event_id == data["event_id"]
    assert local.occurred_at == datetime(2024, 5, 14, 9, 0, 0, 999000, UTC)
    assert local.occurred_at.tzinfo is UTC
    assert local.municipality_code == "GM0344"
    for bad in (
        {"postcode": "0123AB"}, {"postcode": "3511A"}, {"house_number": 0},
        {"arrears_amount_cents": -1}, {"municipality_code": "0344"},
        {"subject_ref": "123456782"}, {"event_id": "not-a-uuid"},
        {"occurred_at": datetime(2024, 5, 14, 9, 0)}, {"unknown_field": 1},
    ):
        with pytest.raises(ValidationError):
            DebtSignal(**{**data, **bad})


def test_consent_and_processing_rules() -> None:
    consent = EXAMPLES["ConsentChange"]().model_dump()
    with pytest.raises(ValidationError, match="recipient_scope"):
        ConsentChange(**{**consent, "recipient_scope": []})
    ConsentChange(**{**consent, "action": "WITHDRAWN", "recipient_scope": []})
    record = EXAMPLES["ProcessingRecord"]().model_dump()
    with pytest.raises(ValidationError, match="end_time"):
        ProcessingRecord(**{**record, "end_time": NOW - timedelta(seconds=1)})


# --- schema lookup -----------------------------------------------------------------------


def test_lookup_takes_the_configured_directory(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(REPO_SCHEMAS / "TeamAlert.avsc", tmp_path / "TeamAlert.avsc")
    monkeypatch.setenv("HUB_SCHEMAS_DIR", str(tmp_path))
    assert store.schemas_dir() != tmp_path  # the module itself never reads the environment
    assert store.schema_names(tmp_path) == ["TeamAlert"]
    assert store.released_versions("TeamAlert", tmp_path) == []
    assert store.load_schema("TeamAlert", tmp_path)["name"] == "TeamAlert"
    with pytest.raises(SchemaNotFound):
        store.load_schema("DebtSignal", tmp_path)
    with pytest.raises(SchemaNotFound):
        store.load_schema("../etc/passwd", tmp_path)
    listed = CliRunner().invoke(main, ["schemas", "list"])  # the setting reaches the CLI
    assert listed.exit_code == 0, listed.output
    assert "TeamAlert" in listed.output and "DebtSignal" not in listed.output


#: working schemas not released yet (``signalhub schemas check`` notes them)
UNRELEASED = {"AlertOutcome", "SealedSignal"}


def test_released_versions_are_sorted_and_parsed() -> None:
    assert store.released_names(REPO_SCHEMAS).keys() == set(NAMES) - UNRELEASED
    for name in sorted(set(NAMES) - UNRELEASED):
        versions = store.released_versions(name, REPO_SCHEMAS)
        assert [v for v, _ in versions] == sorted(v for v, _ in versions)
        assert versions and versions[0][0] == 1
        assert all(schema["name"] == name for _, schema in versions)
    assert store.stray_released_files(REPO_SCHEMAS) == []


# --- (d, e) the CLI check ----------------------------------------------------------------


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, ["schemas", *args], catch_exceptions=False)


def test_check_passes_on_the_committed_schemas() -> None:
    result = _run("check")
    assert result.exit_code == 0, result.output
    assert f"OK: {len(NAMES)} schema(s)" in result.output
    result = _run("check", "--schemas-dir", str(REPO_SCHEMAS), "--level", "full_transitive")
    assert result.exit_code == 0, result.output


def test_list_shows_fields_and_released_version() -> None:
    result = _run("list", "--schemas-dir", str(REPO_SCHEMAS))
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("DebtSignal "))
    assert line.split() == ["DebtSignal", str(len(_schema("DebtSignal")["fields"])), "v1"]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(REPO_SCHEMAS, target)
    return target


def _edit(work: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = work / f"{name}.avsc"
    schema = json.loads(path.read_text(encoding="utf-8"))
    change(schema)
    path.write_text(json.dumps(schema, indent=2), encoding="utf-8")


def test_check_fails_on_a_required_field_without_default(work: Path) -> None:
    _edit(work, "DebtSignal", lambda s: s["fields"].append(
        {"name": "collector_id", "type": "string", "doc": "Debt collector."}))
    result = _run("check", "--schemas-dir", str(work))
    assert result.exit_code == 1
    assert "DebtSignal: incompatible with released v1" in result.output
    assert "reader field 'collector_id' has no default value" in result.output
    assert "To fix: give the new field a default" in result.output
    assert "new major topic version" in result.output
    assert "EvictionRisk" not in result.output


def test_check_fails_on_a_changed_type(work: Path) -> None:
    def change(schema: dict[str, Any]) -> None:
        next(f for f in schema["fields"] if f["name"] == "house_number")["type"] = "string"

    _edit(work, "DebtSignal", change)
    result = _run("check", "--schemas-dir", str(work))
    assert result.exit_code == 1
    assert "DebtSignal" in result.output and "'house_number'" in result.output
    assert "type_mismatch" in result.output


def test_check_passes_on_a_new_optional_field(work: Path) -> None:
    _edit(work, "DebtSignal", lambda s: s["fields"].append(
        {"name": "collector_id", "type": ["null", "string"], "default": None,
         "doc": "Debt collector, when one is involved."}))
    result = _run("check", "--schemas-dir", str(work))
    assert result.exit_code == 0, result.output


def test_check_fails_when_a_released_schema_disappears(work: Path) -> None:
    (work / "TeamAlert.avsc").unlink()
    result = _run("check", "--schemas-dir", str(work))
    assert result.exit_code == 1
    assert "TeamAlert: released as v1 but there is no working TeamAlert.avsc" in result.output


def test_check_notes_an_unreleased_schema(work: Path) -> None:
    (work / "released" / "TeamAlert.v1.avsc").unlink()
    result = _run("check", "--schemas-dir", str(work))
    assert result.exit_code == 0, result.output
    assert "note: TeamAlert: not released yet" in result.output


def test_check_reports_a_schema_that_does_not_parse(work: Path) -> None:
    (work / "TeamAlert.avsc").write_text("{not json", encoding="utf-8")
    result = _run("check", "--schemas-dir", str(work))
    assert result.exit_code == 1
    assert "TeamAlert:" in result.output and "not valid JSON" in result.output


# --- (f) compat levels -------------------------------------------------------------------


def _record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "R", "namespace": "t", "fields": list(fields)}


ID = {"name": "id", "type": "string"}
V1 = _record(ID)
V2 = _record(ID, {"name": "x", "type": "int", "default": 0})  # added with a default
V3 = _record(ID, {"name": "x", "type": "int"})  # then the default was dropped


def test_backward_checks_only_the_latest_version() -> None:
    assert check(V3, [V1, V2], Compatibility.BACKWARD) == []


def test_backward_transitive_checks_every_version() -> None:
    problems = check(V3, [V1, V2], Compatibility.BACKWARD_TRANSITIVE)
    assert len(problems) == 1
    assert problems[0].startswith("incompatible with v1 (backward:")
    assert "reader field 'x' has no default value" in problems[0]
    assert "reader_field_missing_default_value at /fields/1" in problems[0]


def test_version_numbers_and_json_text_are_accepted() -> None:
    problems = find_problems(json.dumps(V3), [json.dumps(V1)], "BACKWARD", versions=[7])
    assert [(p.version, p.direction, p.kinds, p.fields) for p in problems] == [
        ("v7", Direction.BACKWARD, ("reader_field_missing_default_value",), ("x",))
    ]


def test_forward_and_full() -> None:
    assert check(V1, [V2], Compatibility.BACKWARD) == []
    assert check(V3, [V1], Compatibility.FORWARD) == []  # v1 readers ignore the new field
    removed = check(V1, [V3], Compatibility.FULL)  # v3 readers need x, v1 data lacks it
    assert len(removed) == 1 and "(forward: v1 cannot read" in removed[0]
    assert check(V3, [V1], Compatibility.NONE) == []


def test_enum_and_union_problems_name_the_field() -> None:
    color = {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}
    old = _record({"name": "color", "type": color},
                  {"name": "n", "type": ["null", "long"], "default": None})
    new = _record({"name": "color", "type": {**color, "symbols": ["RED"]}},
                  {"name": "n", "type": ["null", "int"], "default": None})
    problems = find_problems(new, [old], Compatibility.BACKWARD)
    assert len(problems) == 1
    assert set(problems[0].fields) == {"color", "n"}
    assert "reader enum lacks writer symbols {'GREEN'}" in str(problems[0])


def test_invalid_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        check({"type": "record", "name": "R"}, [V1], Compatibility.BACKWARD)

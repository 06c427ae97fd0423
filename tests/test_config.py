"""hub.yaml: the example loads, and every kind of mistake is named with file, path, reason."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.config import HubConfig, load_config, parse_config
from hub.config_checks import cross_check
from hub.directory import TeamDirectory
from hub.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hub.yaml"
FIX = "give one a higher priority, add an exclude, or add an overlaps rule listing both"


def example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def problems_of(data: dict[str, Any], tmp_path: Path) -> str:
    """Write ``data`` to a file, load it, and return the error message."""
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert f"{path}: " in message
    return message


def loads(data: dict[str, Any]) -> HubConfig:
    return parse_config(data, "hub.yaml")


def test_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert [t.id for t in config.teams] == [
        "schuldhulp-centrum",
        "wijkteam-noord",
        "wijkteam-zuid",
        "jeugd-18plus",
    ]
    assert cross_check(config) == []
    eviction = config.policies["eviction-risk"]
    rule, name = eviction.rule_for({"stage": "EVICTION_SCHEDULED"})
    assert (rule.legal_basis, name, rule.due_working_days) == (
        "statutory",
        "stage=EVICTION_SCHEDULED",
        3,
    )
    assert [c.field for c in rule.urgent_when] == ["event_id"]
    assert eviction.rule_for({"stage": "RENT_ARREARS"})[0].roles == ["debt"]
    assert eviction.rule_for({"stage": "EXECUTED"})[0].roles == ["neighbourhood"]
    assert eviction.rule_for({"stage": "RESOLVED"})[0].forward is False
    summons = eviction.rule_for({"stage": "SUMMONS"})[0]
    assert (summons.legal_basis, summons.consent_purpose) == ("consent", "eviction-prevention")
    assert summons.covenant_sources == ["urn:nld:oin:00000009999999999001"]
    debt = config.policies["debt-signal"].default
    assert debt.block_when[0].values == [True]
    youth = config.policies["youth-care-exit"].default
    assert youth.consent_purpose == "youth-care-exit-support"


Edit = Callable[[dict[str, Any]], None]


def _set(path: list[str | int], value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return edit


def _append(path: list[str | int], value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path:
            node = node[part]
        node.append(value)

    return edit


DEBT = ["policies", "debt-signal", "default"]
EVICTION = ["policies", "eviction-risk"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            _set(["teams", 2, "municipality"], "GM0001"),
            "teams[2].municipality: unknown municipality 'GM0001' (known: GM9999)",
        ),
        (
            _set([*DEBT, "teams"], ["schuldhulp-centrum", "schuldhulp-west"]),
            "policies.debt-signal.default.teams[1]: unknown team 'schuldhulp-west'",
        ),
        (
            _set(["overlaps"], [{"teams": ["wijkteam-noord", "wijkteam-oost"]}]),
            "overlaps[0].teams[1]: unknown team 'wijkteam-oost'",
        ),
        (
            _append([*DEBT, "fields", "debt"], "iban"),
            "policies.debt-signal.default.fields.debt[11]: unknown field 'iban'"
            " (not in the DebtSignal schema",
        ),
        (
            _set([*DEBT, "block_when"], [{"field": "objection", "values": [True]}]),
            "policies.debt-signal.default.block_when[0].field: unknown field 'objection'",
        ),
        (
            _set([*EVICTION, "cases", "SUMMONS", "urgent_when"], [{"field": "x", "values": [1]}]),
            "policies.eviction-risk.cases.SUMMONS.urgent_when[0].field: unknown field 'x'",
        ),
        (
            _set([*EVICTION, "cases_by"], "phase"),
            "policies.eviction-risk.cases_by: unknown field 'phase' (not in the EvictionRisk",
        ),
        (
            _set([*EVICTION, "cases", "EVICTED"], {"forward": False}),
            "policies.eviction-risk.cases.EVICTED: 'EVICTED' is not a value of stage (one of"
            " RENT_ARREARS, SUMMONS,",
        ),
        (
            _set([*EVICTION, "cases", "EXECUTED", "fields"], {"neighbourhood": ["stag"]}),
            "policies.eviction-risk.cases.EXECUTED.fields.neighbourhood[0]: unknown field 'stag'",
        ),
        (
            _set([*DEBT, "urgent_when"], [{"field": "signal_kind", "values": ["END_OF_SUPPL"]}]),
            "policies.debt-signal.default.urgent_when[0].values[0]: 'END_OF_SUPPL' is not a"
            " DebtSignalKind",
        ),
        (
            _set([*DEBT, "block_when"], [{"field": "objection_recorded", "values": ["yes"]}]),
            "policies.debt-signal.default.block_when[0].values[0]: 'yes' is not true or false",
        ),
        (
            _set([*DEBT, "roles"], ["debt", "neighbourhod"]),
            "policies.debt-signal.default.roles[1]: unknown role 'neighbourhod'"
            " (teams have: debt, neighbourhood, youth)",
        ),
        (
            _set([*DEBT, "fields", "schulden"], ["postcode"]),
            "policies.debt-signal.default.fields.schulden: unknown role 'schulden'",
        ),
        (
            _set([*EVICTION, "cases", "EXECUTED", "roles"], ["wijk"]),
            "policies.eviction-risk.cases.EXECUTED.roles[0]: unknown role 'wijk'",
        ),
        (
            _set(["teams", 1, "id"], "schuldhulp-centrum"),
            "teams[1].id: duplicate team id 'schuldhulp-centrum' (also teams[0])",
        ),
        (
            _set(["teams", 0, "areas"], ["7548-7511"]),
            "teams[0].areas[0]: range 7548-7511 runs backwards",
        ),
        (
            _set(["teams", 0, "areas"], ["7511-7560"]),
            "teams[0].areas[0]: 7511-7560 is not inside the areas of GM9999 (e.g. 7549 is"
            " outside them)",
        ),
        (
            _set(["teams", 1, "exclude"], ["7530AB"]),
            "teams[1].exclude[0]: 7530AB is not inside the team's areas",
        ),
        (
            _set(["teams", 0, "areas"], ["75AB"]),
            "teams[0].areas: Value error, area '75AB' is not a PC4 code (7511), a PC4 range",
        ),
        (
            _set(["teams", 0, "priority"], "high"),
            "teams[0].priority: Input should be a valid integer",
        ),
        (_set(["teams", 0, "colour"], "blue"), "teams[0].colour: Extra inputs are not permitted"),
        (
            _set(["policies", "youth-care-exit", "default", "consent_purpose"], None),
            "policies.youth-care-exit.default.consent_purpose: legal_basis consent needs",
        ),
        (
            _set(
                [*EVICTION, "cases", "SUMMONS"], {"legal_basis": "covenant", "covenant_sources": []}
            ),
            "policies.eviction-risk.cases.SUMMONS.covenant_sources: legal_basis covenant needs",
        ),
        (
            _set([*DEBT, "roles"], ["debt", "youth"]),
            "policies.debt-signal.default.roles[1]: role 'youth' has no entry in fields",
        ),
        (
            _set([*EVICTION, "cases", "EXECUTED", "due_working_days"], 0),
            "policies.eviction-risk.cases.EXECUTED.due_working_days: Input should be greater"
            " than or equal to 1",
        ),
        (
            _set(["policies", "debt-signal", "cases"], {"ARREARS": {"forward": False}}),
            "policies.debt-signal.cases: cases need cases_by",
        ),
        (
            _append(["municipalities"], {"code": "GM8888", "name": "Buur", "areas": ["7540-7560"]}),
            "municipalities[1].areas[0]: GM8888 area 7540-7560 overlaps GM9999 area 7511-7548"
            " (municipalities[0].areas[0]) at the same specificity (PC4 range), e.g. 7540",
        ),
        (
            _append(["municipalities"], {"code": "GM9999", "name": "Twee", "areas": ["7600"]}),
            "municipalities[1].code: duplicate municipality GM9999 (also municipalities[0])",
        ),
        (
            _set(["overlaps"], [{"teams": ["wijkteam-noord", "jeugd-18plus"]}]),
            "overlaps[0].teams[1]: team 'jeugd-18plus' (youth, GM9999) is not of the role and"
            " municipality of 'wijkteam-noord'",
        ),
    ],
)
def test_errors_name_file_path_and_reason(edit: Edit, expected: str, tmp_path: Path) -> None:
    data = example()
    edit(data)
    message = problems_of(data, tmp_path)
    assert f"{tmp_path / 'hub.yaml'}: {expected}" in message, message


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    data = example()
    data["teams"][2]["municipality"] = "GM0001"
    data["policies"]["debt-signal"]["default"]["teams"] = ["nobody"]
    message = problems_of(data, tmp_path)
    assert "teams[2].municipality" in message
    assert "policies.debt-signal.default.teams[0]" in message


# --- overlapping areas -------------------------------------------------------------------


def _zuid(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data["teams"][2].update(changes)
    return data


@pytest.mark.parametrize(
    ("noord_areas", "zuid_areas", "level", "example_postcode"),
    [
        (["7511-7523"], ["7520-7548"], "PC4 range", "7520"),
        (["7511-7519", "7520"], ["7524-7548", "7520"], "PC4", "7520"),
        (["7511-7523", "7515CD"], ["7524-7548", "7515CD"], "PC6", "7515CD"),
        (
            ["7511-7523", "7515CD 1-20"],
            ["7524-7548", "7515CD 10-30"],
            "PC6 with house numbers",
            "7515CD 10",
        ),
    ],
)
def test_overlap_without_rule_is_an_error(
    noord_areas: list[str], zuid_areas: list[str], level: str, example_postcode: str
) -> None:
    data = example()
    data["teams"][1]["areas"] = noord_areas
    data["teams"][1]["exclude"] = []
    _zuid(data, areas=zuid_areas)
    with pytest.raises(ConfigError) as info:
        loads(data)
    message = str(info.value)
    assert "team 'wijkteam-zuid' overlaps team 'wijkteam-noord'" in message
    assert (
        f"same specificity ({level}) with priority 0, e.g. postcode {example_postcode};" in message
    )
    assert FIX in message
    assert message.startswith("invalid configuration:\n  hub.yaml: teams[2].areas[")


def _overlapping() -> dict[str, Any]:
    data = example()
    return _zuid(data, areas=["7520-7548"])


def _receivers(config: HubConfig, postcode: str, event_type: str = "eviction-risk"
               ) -> list[str]:
    """The neighbourhood teams (wijkteam-*) that receive ``event_type`` at ``postcode`` 1."""
    found = TeamDirectory(config).resolve(postcode, 1, event_type).teams
    return sorted(t.id for t in found if t.id.startswith("wijkteam-"))


def test_overlap_resolved_by_priority() -> None:
    config = loads(_zuid(_overlapping(), priority=1))
    assert _receivers(config, "7521AA") == ["wijkteam-zuid"]  # shared ground: the higher
    assert _receivers(config, "7519AA") == ["wijkteam-noord"]  # noord's own ground


def test_overlap_resolved_by_overlaps_rule() -> None:
    data = _overlapping()
    data["overlaps"] = [{"teams": ["wijkteam-noord", "wijkteam-zuid"], "resolve": "all"}]
    config = loads(data)
    assert _receivers(config, "7521AA") == ["wijkteam-noord", "wijkteam-zuid"]
    assert _receivers(config, "7530AA") == ["wijkteam-zuid"]


def test_overlap_resolved_by_exclude() -> None:
    data = _overlapping()
    data["teams"][1]["exclude"] = ["7520-7523"]
    config = loads(data)
    assert _receivers(config, "7521AA") == ["wijkteam-zuid"]
    assert _receivers(config, "7519AA") == ["wijkteam-noord"]


def test_overlap_partly_excluded_names_what_is_left() -> None:
    data = _overlapping()
    data["teams"][1]["exclude"] = ["7520-7521"]
    with pytest.raises(ConfigError, match=r"e\.g\. postcode 7522;"):
        loads(data)


def test_overlap_rule_with_resolve_priority_needs_different_priorities() -> None:
    data = _overlapping()
    data["overlaps"] = [{"teams": ["wijkteam-noord", "wijkteam-zuid"], "resolve": "priority"}]
    with pytest.raises(ConfigError, match="overlaps\\[0\\] lists both with resolve: priority"):
        loads(data)
    _zuid(data, priority=2)
    assert _receivers(loads(data), "7521AA") == ["wijkteam-zuid"]


@pytest.mark.parametrize(
    ("changes", "receivers"),
    [
        # another role: each role's team receives
        ({"role": "housing"}, ["wijkteam-noord", "wijkteam-zuid"]),
        # no common event type: only noord receives eviction risks there
        ({"event_types": ["debt-signal"]}, ["wijkteam-noord"]),
        # PC6 beats the range: not the same specificity, noord keeps the rest of 7520
        ({"areas": ["7524-7548", "7520AB"]}, ["wijkteam-noord"]),
    ],
)
def test_no_overlap(changes: dict[str, Any], receivers: list[str]) -> None:
    config = loads(_zuid(_overlapping(), **changes))
    assert _receivers(config, "7520AC") == receivers


def test_a_more_specific_area_wins_over_a_range() -> None:
    config = loads(_zuid(_overlapping(), areas=["7524-7548", "7520AB"]))
    assert _receivers(config, "7520AB") == ["wijkteam-zuid"]
    assert _receivers(config, "7520AC") == ["wijkteam-noord"]


# --- files -------------------------------------------------------------------------------


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("teams: [\n  - id: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "line" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="cannot read: No such file or directory") as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_bytes(b"teams: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"hub\.yaml: \(top\): Input should be a valid dict"):
        load_config(path)


def test_area_spelling_is_normalised() -> None:
    data = example()
    data["teams"][1]["areas"] = ["7511 - 7523"]
    data["teams"][1]["exclude"] = ["7523 ab"]
    config = loads(data)
    assert config.teams[1].areas == ["7511-7523"]
    assert config.teams[1].exclude == ["7523AB"]


def test_overlap_example_skips_excluded_house_numbers() -> None:
    data = example()
    data["teams"][1]["areas"] = ["7511-7523", "7515CD"]
    data["teams"][1]["exclude"] = ["7515CD 1-5"]
    _zuid(data, areas=["7524-7548", "7515CD"])
    with pytest.raises(ConfigError, match=r"same specificity \(PC6\) .* e\.g\. postcode 7515CD 6;"):
        loads(data)


def test_inherited_problem_is_reported_once_at_the_default(tmp_path: Path) -> None:
    data = example()
    data["policies"]["eviction-risk"]["default"]["consent_purpose"] = None
    message = problems_of(data, tmp_path)
    assert "policies.eviction-risk.default.consent_purpose: legal_basis consent needs" in message
    assert "cases.RESOLVED" not in message
    assert message.count("legal_basis consent needs") == 1

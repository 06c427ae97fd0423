"""TeamDirectory: which teams receive a signal at an address, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.config import HubConfig, load_config, parse_config
from hub.directory import NO_TEAM, UNKNOWN_MUNICIPALITY, Resolution, TeamDirectory, parse_area

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hub.yaml"


def _team(team_id: str, role: str, areas: list[str], types: list[str], **extra: Any) -> Any:
    municipality = extra.pop("municipality", "GM9999")
    return {
        "id": team_id,
        "name": team_id.title(),
        "municipality": municipality,
        "role": role,
        "areas": areas,
        "event_types": types,
        **extra,
    }


DEBT_EVICTION = ["debt-signal", "eviction-risk"]

CONFIG: dict[str, Any] = {
    "municipalities": [
        {"code": "GM9999", "name": "Gemeente Voorbeeld", "areas": ["7511-7548"]},
        # a neighbour that owns one street inside GM9999's PC4 range: the PC6 wins
        {"code": "GM8888", "name": "Gemeente Buur", "areas": ["7600-7610", "7548ZZ"]},
    ],
    "teams": [
        _team("debt-all", "debt", ["7511-7548"], DEBT_EVICTION),
        _team("debt-special", "debt", ["7512 ab"], ["debt-signal"]),
        _team("debt-prio", "debt", ["7530-7535"], ["debt-signal"], priority=1),
        _team("nb-noord", "neighbourhood", ["7511-7523"], ["eviction-risk"], exclude=["7515AA"]),
        _team("nb-zuid", "neighbourhood", ["7524-7548"], ["eviction-risk"]),
        _team("nb-flat", "neighbourhood", ["7520CD 1-99"], ["eviction-risk"]),
        _team("nb-pc4", "neighbourhood", ["7521"], ["eviction-risk"]),
        _team("youth-a", "youth", ["7511-7548"], ["youth-care-exit"]),
        _team("youth-b", "youth", ["7511-7548"], ["youth-care-exit"]),
        _team("debt-8888", "debt", ["7600-7610", "7548ZZ"], ["debt-signal"], municipality="GM8888"),
    ],
    "policies": {},
    "overlaps": [{"teams": ["youth-a", "youth-b"], "resolve": "all"}],
}


@pytest.fixture(scope="module")
def directory() -> TeamDirectory:
    return TeamDirectory(parse_config(CONFIG, "test.yaml"))


@pytest.mark.parametrize(
    ("postcode", "house_number", "event_type", "code", "municipality", "teams", "reason"),
    [
        # normalisation
        ("7512AB", 3, "debt-signal", None, "GM9999", ["debt-special"], None),
        ("7512 AB", 3, "debt-signal", None, "GM9999", ["debt-special"], None),
        (" 7512 ab ", 3, "debt-signal", None, "GM9999", ["debt-special"], None),
        # a PC4 range elsewhere
        ("7513AA", 3, "debt-signal", None, "GM9999", ["debt-all"], None),
        # priority on equal ground (both PC4 ranges)
        ("7531AA", 1, "debt-signal", None, "GM9999", ["debt-prio"], None),
        # other event type: debt-prio does not receive it
        ("7531AA", 1, "eviction-risk", None, "GM9999", ["debt-all", "nb-zuid"], None),
        # exclude
        ("7515AA", 1, "eviction-risk", None, "GM9999", ["debt-all"], None),
        ("7515AB", 1, "eviction-risk", None, "GM9999", ["debt-all", "nb-noord"], None),
        # house-number ranges beat the PC4 range; outside them the range applies
        ("7520CD", 1, "eviction-risk", None, "GM9999", ["debt-all", "nb-flat"], None),
        ("7520CD", 99, "eviction-risk", None, "GM9999", ["debt-all", "nb-flat"], None),
        ("7520CD", 100, "eviction-risk", None, "GM9999", ["debt-all", "nb-noord"], None),
        ("7520CE", 50, "eviction-risk", None, "GM9999", ["debt-all", "nb-noord"], None),
        ("7520CD", None, "eviction-risk", None, "GM9999", ["debt-all", "nb-noord"], None),
        ("7520CD", 0, "eviction-risk", None, "GM9999", ["debt-all", "nb-noord"], None),
        # a single PC4 beats a PC4 range
        ("7521AA", 5, "eviction-risk", None, "GM9999", ["debt-all", "nb-pc4"], None),
        # overlaps rule with resolve: all
        ("7540AA", 5, "youth-care-exit", None, "GM9999", ["youth-a", "youth-b"], None),
        ("7540AA", None, "youth-care-exit", None, "GM9999", ["youth-a", "youth-b"], None),
        # a PC6 of the neighbour inside GM9999's range belongs to the neighbour
        ("7548ZZ", 1, "debt-signal", None, "GM8888", ["debt-8888"], None),
        ("7548ZY", 1, "debt-signal", None, "GM9999", ["debt-all"], None),
        # municipality named by the signal
        ("7512AB", 1, "debt-signal", "GM9999", "GM9999", ["debt-special"], None),
        ("7512AB", 1, "debt-signal", "gm 9999", "GM9999", ["debt-special"], None),
        ("7512AB", 1, "debt-signal", "GM8888", None, [], UNKNOWN_MUNICIPALITY),
        ("7512AB", 1, "debt-signal", "GM0001", None, [], UNKNOWN_MUNICIPALITY),
        # no municipality, no team
        ("7700AA", 1, "debt-signal", None, None, [], UNKNOWN_MUNICIPALITY),
        ("1000AA", 1, "debt-signal", None, None, [], UNKNOWN_MUNICIPALITY),
        ("7600AA", 1, "youth-care-exit", None, "GM8888", [], NO_TEAM),
        ("7600AA", 1, "eviction-risk", None, "GM8888", [], NO_TEAM),
    ],
)
def test_resolve(
    directory: TeamDirectory,
    postcode: str,
    house_number: int | None,
    event_type: str,
    code: str | None,
    municipality: str | None,
    teams: list[str],
    reason: str | None,
) -> None:
    found = directory.resolve(postcode, house_number, event_type, code)
    assert isinstance(found, Resolution)
    assert [t.id for t in found.teams] == teams
    assert (found.municipality.code if found.municipality else None) == municipality
    assert found.reason == reason
    assert found.trace


@pytest.mark.parametrize(
    ("postcode", "house_number", "event_type", "expected"),
    [
        (
            "7512ab",
            14,
            "debt-signal",
            [
                "postcode 7512AB 14 lies in GM9999 (area 7511-7548)",
                "team debt-all covers it via 7511-7548",
                "team debt-special covers it via 7512AB",
                "team debt-special (PC6 7512AB) wins over team debt-all (PC4 range 7511-7548)"
                " for role debt: more specific",
            ],
        ),
        (
            "7531AA",
            1,
            "debt-signal",
            ["team debt-prio (priority 1) wins over team debt-all (priority 0) for role debt"],
        ),
        ("7515AA", 1, "eviction-risk", ["team nb-noord excluded by 7515AA"]),
        (
            "7540AA",
            1,
            "youth-care-exit",
            ["teams youth-a, youth-b share this ground for role youth: all receive"],
        ),
        ("7700AA", 1, "debt-signal", ["postcode 7700AA 1 lies in no configured municipality"]),
        (
            "7600AA",
            1,
            "youth-care-exit",
            ["no team of GM8888 receives youth-care-exit at 7600AA 1"],
        ),
    ],
)
def test_trace(
    directory: TeamDirectory, postcode: str, house_number: int, event_type: str, expected: list[str]
) -> None:
    trace = directory.resolve(postcode, house_number, event_type).trace
    for line in expected:
        assert line in trace, trace


def test_trace_for_a_mismatched_municipality(directory: TeamDirectory) -> None:
    trace = directory.resolve("7512AB", 1, "debt-signal", "GM8888").trace
    assert "the signal names GM8888, but 7512AB 1 lies in GM9999" in trace
    trace = directory.resolve("7512AB", 1, "debt-signal", "GM0001").trace
    assert trace == ["the signal names municipality GM0001, which is not configured"]


def test_unresolved_tie_gives_all_and_says_so() -> None:
    """A config that skipped the checks: both receive, and the trace says why."""
    data: dict[str, Any] = {**CONFIG, "overlaps": []}
    config = HubConfig.model_validate(data)
    found = TeamDirectory(config).resolve("7540AA", 1, "youth-care-exit")
    assert [t.id for t in found.teams] == ["youth-a", "youth-b"]
    assert any("no overlaps rule covers them" in line for line in found.trace)


@pytest.mark.parametrize(
    ("postcode", "house_number", "event_type", "message"),
    [
        ("0512AB", 1, "debt-signal", "not a Dutch postcode"),
        ("7512A", 1, "debt-signal", "not a Dutch postcode"),
        ("7512-AB", 1, "debt-signal", "not a Dutch postcode"),
        ("", 1, "debt-signal", "not a Dutch postcode"),
        ("7512ABC", 1, "debt-signal", "not a Dutch postcode"),
        ("7512AB", -1, "debt-signal", "house number -1"),
        ("7512AB", 100000, "debt-signal", "house number 100000"),
        ("7512AB", 1, "rent-signal", "unknown event type 'rent-signal'"),
    ],
)
def test_invalid_input(
    directory: TeamDirectory, postcode: str, house_number: int, event_type: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        directory.resolve(postcode, house_number, event_type)


def test_cached(directory: TeamDirectory) -> None:
    first = directory.resolve("7513AA", 7, "debt-signal")
    assert directory.resolve("7513AA", 7, "debt-signal") is first
    directory.clear_cache()
    again = directory.resolve("7513AA", 7, "debt-signal")
    assert again is not first
    assert again == first


def test_example_config() -> None:
    directory = TeamDirectory(load_config(EXAMPLE))
    found = directory.resolve("7512 AB", 14, "eviction-risk")
    assert [t.id for t in found.teams] == ["schuldhulp-centrum", "wijkteam-noord"]
    found = directory.resolve("7523AB", 14, "eviction-risk")
    assert [t.id for t in found.teams] == ["schuldhulp-centrum", "wijkteam-zuid"]
    assert "team wijkteam-noord excluded by 7523AB" in found.trace
    assert [t.id for t in directory.resolve("7540AA", 1, "youth-care-exit").teams] == [
        "jeugd-18plus"
    ]
    assert directory.resolve("7600AA", 1, "debt-signal").reason == UNKNOWN_MUNICIPALITY


@pytest.mark.parametrize(
    ("text", "level", "inside", "outside"),
    [
        ("7511-7523", 0, [(7511, "AA", 1), (7523, "ZZ", 9)], [(7524, "AA", 1)]),
        ("7511", 1, [(7511, "AB", None)], [(7512, "AB", 1)]),
        ("7511 ab", 2, [(7511, "AB", None), (7511, "AB", 5)], [(7511, "AC", 5)]),
        (
            "7511AB 10-40",
            3,
            [(7511, "AB", 10), (7511, "AB", 40)],
            [(7511, "AB", 9), (7511, "AB", None)],
        ),
        ("7511AB 12", 3, [(7511, "AB", 12)], [(7511, "AB", 13)]),
    ],
)
def test_parse_area(
    text: str,
    level: int,
    inside: list[tuple[int, str, int | None]],
    outside: list[tuple[int, str, int | None]],
) -> None:
    area = parse_area(text)
    assert area.level == level
    assert all(area.contains(*address) for address in inside)
    assert not any(area.contains(*address) for address in outside)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("7548-7511", "runs backwards"),
        ("7511AB 40-10", "runs backwards"),
        ("7511AB 0-10", "between 1 and 99999"),
        ("75AB", "is not a PC4 code"),
    ],
)
def test_parse_area_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_area(text)

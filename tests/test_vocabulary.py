"""One validation vocabulary: the configuration and the team directory read areas alike,
municipality codes and postcodes have one pattern, and pydantic's errors become the same
field-named messages (never the input) wherever they are shown."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.config import parse_config
from hub.directory import parse_area
from hub.errors import ConfigError, SignalRejected
from hub.validation import validated_signal
from tests.router_cases import CASES

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hub.yaml"


def example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def _config_areas(areas: list[str]) -> list[str]:
    data = example()
    data["municipalities"][0]["areas"] = areas
    return parse_config(data, "hub.yaml").municipalities[0].areas


@pytest.mark.parametrize(("text", "kept"), [
    ("7511", "7511"),
    (" 7511 - 7523 ", "7511-7523"),
    ("7541 ab", "7541AB"),
    ("7541ab  10 -40", "7541AB 10-40"),
])
def test_config_and_directory_keep_an_area_in_one_form(text: str, kept: str) -> None:
    assert parse_area(text).text == kept
    assert _config_areas(["7500-7599", text]) == ["7500-7599", kept]


@pytest.mark.parametrize("text", [
    "75AB",          # too short
    "0511",          # PC4 starts with 1-9
    "7５11",         # full-width digits are no PC4 code
    "7541AB 1٠-20",  # nor are Arabic-Indic ones in a house-number range
])
def test_config_and_directory_refuse_the_same_areas(text: str) -> None:
    with pytest.raises(ValueError, match="is not a PC4 code") as directory:
        parse_area(text)
    with pytest.raises(ConfigError) as config:
        _config_areas([text])
    assert str(directory.value) in str(config.value)
    assert "hub.yaml: municipalities[0].areas: Value error, area " in str(config.value)


@pytest.mark.parametrize("code", ["GM0153x", "gm0153", "GM١٢٣٤"])
def test_a_configured_municipality_code_is_gm_and_four_ascii_digits(code: str) -> None:
    data = example()
    data["municipalities"][0]["code"] = code
    with pytest.raises(ConfigError, match=r"municipalities\[0\]\.code: String should match"):
        parse_config(data, "hub.yaml")


def test_a_decoded_signal_is_refused_by_field_and_rule_never_by_value() -> None:
    case = next(c for c in CASES if c.event_type == "debt-signal")
    record = {**case.record(), "postcode": "0000 ZZ secret", "house_number": 0}
    with pytest.raises(SignalRejected) as refused:
        validated_signal("debt-signal", record)
    message = str(refused.value)
    assert refused.value.reason_code == "VALIDATION_FAILED"
    assert message.startswith("invalid debt-signal: ")
    assert "postcode: must be at most 12 characters" in message
    assert "house_number: Input should be greater than or equal to 1" in message
    assert "secret" not in message and "Value error" not in message

"""Pseudonymisation at the hub: versioned keys of at least 32 bytes, ``ps<version>-``."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from hub.cli import main
from hub.errors import ConfigError
from hub.pseudonym import (
    SUBJECT_REF_PATTERN,
    InvalidBsn,
    Pseudonymiser,
    is_subject_ref,
    is_valid_bsn,
)
from hub.settings import load_settings

BSN = "111222333"  # passes the 11-test; a well-known test number
KEY_ONE = "key-one-" + "1" * 32
KEY_TWO = "key-two-" + "2" * 32


def test_eleven_test() -> None:
    assert is_valid_bsn(BSN)
    assert not is_valid_bsn("111222334")
    assert not is_valid_bsn("12345678a")
    assert not is_valid_bsn("000000000")


def test_keyed_per_municipality_and_stable() -> None:
    p = Pseudonymiser({"GM0001": SecretStr(KEY_ONE), "GM0002": SecretStr(KEY_TWO)})
    a = p.subject_ref(BSN, "GM0001")
    assert a == p.subject_ref(" 111.222.333 ", "GM0001")
    assert a != p.subject_ref(BSN, "GM0002"), "municipalities cannot link pseudonyms"
    assert BSN not in a
    other_key = Pseudonymiser({"GM0001": SecretStr(KEY_TWO)}).subject_ref(BSN, "GM0001")
    assert other_key != a, "the pseudonym depends on the secret"


def test_the_format_is_ps_version_dash_40_hex() -> None:
    ref = Pseudonymiser({"GM0001": KEY_ONE}).subject_ref(BSN, "GM0001")
    digest = hmac.new(KEY_ONE.encode(), BSN.encode(), hashlib.sha256).hexdigest()
    assert ref == "ps1-" + digest[:40]
    assert re.match(SUBJECT_REF_PATTERN, ref) and is_subject_ref(ref)
    for bad in ("ps-" + "a" * 40, "ps0-" + "a" * 40, "ps1-" + "A" * 40, "ps1-" + "a" * 39,
                "ps10000-" + "a" * 40, "123456782"):
        assert not is_subject_ref(bad), bad


@pytest.mark.parametrize("secret", ["", "kort-geheim", "x" * 31, "é" * 15])
def test_a_key_under_32_bytes_is_refused_without_echoing_it(secret: str) -> None:
    with pytest.raises(ConfigError) as short:
        Pseudonymiser({"GM0001": {"1": KEY_ONE, "2": secret}})
    message = str(short.value)
    assert "GM0001" in message and "version 2" in message and "32 bytes" in message
    assert not secret or secret not in message
    assert KEY_ONE not in message
    Pseudonymiser({"GM0001": "é" * 16})  # 32 bytes in UTF-8


def test_a_short_key_is_a_config_error_at_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PSEUDONYM_SECRETS", json.dumps({"GM0153": "s3cret-but-short"}))
    with pytest.raises(ConfigError) as short:
        load_settings()
    assert "GM0153 key version 1" in str(short.value)
    assert "s3cret" not in str(short.value)
    monkeypatch.setenv("HUB_PSEUDONYM_SECRETS", json.dumps({"GM0153": {"v2": KEY_ONE}}))
    with pytest.raises(ConfigError, match="GM0153 has key version 'v2'"):
        load_settings()
    monkeypatch.setenv("HUB_PSEUDONYM_SECRETS", '{"GM0153": "unclosed-secret-value')
    with pytest.raises(ConfigError, match="pseudonym_secrets.*valid JSON") as broken:
        load_settings()
    assert "unclosed" not in str(broken.value)


def test_one_key_is_version_1_and_versions_can_be_listed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PSEUDONYM_SECRETS", json.dumps(
        {"GM0153": KEY_ONE, "GM0344": {"1": KEY_ONE, "2": KEY_TWO}}))
    secrets = load_settings().pseudonym_secrets
    assert secrets["GM0153"][1].get_secret_value() == KEY_ONE
    assert set(secrets["GM0344"]) == {1, 2}
    assert KEY_ONE not in repr(secrets), "never shown"
    p = Pseudonymiser(secrets)
    assert p.subject_ref(BSN, "GM0153").startswith("ps1-")
    assert p.versions("GM0344") == [1, 2] and p.current_version("GM0344") == 2


def test_rotation_makes_new_pseudonyms_with_the_current_version() -> None:
    before = Pseudonymiser({"GM0001": KEY_ONE})
    after = Pseudonymiser({"GM0001": {"1": KEY_ONE, "2": KEY_TWO}})
    old = before.subject_ref(BSN, "GM0001")
    new = after.subject_ref(BSN, "GM0001")
    assert new.startswith("ps2-") and new != old, "the current (highest) version is used"
    assert after.subject_ref(BSN, "GM0001", version=1) == old, "the old one still computes"
    digest = hmac.new(KEY_TWO.encode(), BSN.encode(), hashlib.sha256).hexdigest()
    assert new == "ps2-" + digest[:40]
    with pytest.raises(ConfigError, match="no pseudonym key version 3 for municipality"):
        after.subject_ref(BSN, "GM0001", version=3)


def test_errors_never_echo_the_bsn() -> None:
    p = Pseudonymiser({"GM0001": SecretStr(KEY_ONE)})
    with pytest.raises(InvalidBsn) as bad:
        p.subject_ref("111222334", "GM0001")
    assert "111222334" not in str(bad.value)
    with pytest.raises(ConfigError) as missing:
        p.subject_ref(BSN, "GM0003")
    assert BSN not in str(missing.value) and "HUB_PSEUDONYM_SECRETS" in str(missing.value)


def test_after_rotation_old_consents_are_found_by_bsn_but_no_longer_match(
        tmp_path: Path) -> None:
    """Rotation (docs/privacy.md): a new key version makes new pseudonyms; a consent
    recorded under the old one no longer matches them, and while the old version stays
    configured ``consent show --bsn`` still finds it, marked with its version."""
    env = {"HUB_BUS": f"embedded:{tmp_path / 'hub.db'}", "HUB_STATE_DIR": str(tmp_path / "st"),
           "HUB_PSEUDONYM_SECRETS": json.dumps({"GM9999": KEY_ONE})}
    person = ["--bsn", BSN, "--municipality", "GM9999"]

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["consent", *args], env=env)
        assert result.exit_code == 0, result.output
        assert BSN not in result.output
        return result.stdout

    consent_id = run("grant", *person, "--purpose", "youth-care-exit-handover",
                     "--recipient", "team-a").strip()
    team = ["--purpose", "youth-care-exit-handover", "--team", "team-a"]
    assert "VALID" in run("check", *person, *team)
    env["HUB_PSEUDONYM_SECRETS"] = json.dumps({"GM9999": {"1": KEY_ONE, "2": KEY_TWO}})
    shown = run("show", *person)
    assert consent_id in shown and "key=v1" in shown and "1 consent(s)" in shown
    assert "MISSING" in run("check", *person, *team), "the new pseudonym has no consent"
    env["HUB_PSEUDONYM_SECRETS"] = json.dumps({"GM9999": {"2": KEY_TWO}})
    assert "0 consent(s)" in run("show", *person), "once version 1 is removed"

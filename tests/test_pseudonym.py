"""Pseudonymisation at the edge."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from hub.errors import ConfigError
from hub.pseudonym import InvalidBsn, Pseudonymiser, is_valid_bsn

BSN = "111222333"  # passes the 11-test; a well-known test number


def test_eleven_test() -> None:
    assert is_valid_bsn(BSN)
    assert not is_valid_bsn("111222334")
    assert not is_valid_bsn("12345678a")
    assert not is_valid_bsn("000000000")


def test_keyed_per_municipality_and_stable() -> None:
    p = Pseudonymiser({"GM0001": SecretStr("key-one"), "GM0002": SecretStr("key-two")})
    a = p.subject_ref(BSN, "GM0001")
    assert a == p.subject_ref(" 111.222.333 ", "GM0001")
    assert a != p.subject_ref(BSN, "GM0002"), "municipalities cannot link pseudonyms"
    assert a.startswith("ps1-") and BSN not in a and len(a) == 44
    other_key = Pseudonymiser({"GM0001": SecretStr("another")}).subject_ref(BSN, "GM0001")
    assert other_key != a, "the pseudonym depends on the secret"


def test_errors_never_echo_the_bsn() -> None:
    p = Pseudonymiser({"GM0001": SecretStr("k")})
    with pytest.raises(InvalidBsn) as bad:
        p.subject_ref("111222334", "GM0001")
    assert "111222334" not in str(bad.value)
    with pytest.raises(ConfigError) as missing:
        p.subject_ref(BSN, "GM0003")
    assert BSN not in str(missing.value) and "HUB_PSEUDONYM_SECRETS" in str(missing.value)

"""docs/settings.md names every setting the code reads, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from hub.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def setting_variables() -> set[str]:
    """Every HUB_* variable the Settings model reads (nested ones as HUB_<GROUP>__<NAME>)."""
    names = set()
    for name, field in Settings.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= {f"HUB_{name}__{sub}".upper() for sub in kind.model_fields}
        else:
            names.add(f"HUB_{name}".upper())
    return names


def test_the_settings_table_matches_the_code() -> None:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| `HUB_")]
    documented = {re.match(r"\| `(HUB_[A-Z0-9_]+)`", row).group(1)  # type: ignore[union-attr]
                  for row in rows}
    assert documented == setting_variables(), (
        f"missing from docs/settings.md: {sorted(setting_variables() - documented)};"
        f" not read by the code: {sorted(documented - setting_variables())}")

"""The router crash test (tests/test_router_crash.py) with 10 SIGKILLs per bus, run in
both processing guarantees: exactly-once leaves 0 raw duplicates on the team topics and
audit.v1; at-least-once may leave raw duplicates, which the recipients drop by alert id
(the crash test checks that every copy of an alert is the same alert)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import tests.test_router_crash as crash
from tests.router_proc import RouterProcesses

pytestmark = pytest.mark.slow

KILLS = {"embedded": 10, "kafka": 10}
MODES = ["embedded", pytest.param("kafka", marks=[pytest.mark.kafka, pytest.mark.registry])]


def _duplicates(report: str, what: str) -> int:
    found = re.search(rf"{what}: (\d+) records, \d+ unique[^,]*, (\d+) duplicates", report)
    assert found, report
    return int(found.group(2))


@pytest.mark.parametrize("guarantee", ["exactly-once", "at-least-once"])
@pytest.mark.parametrize("mode", MODES)
def test_ten_sigkills(mode: str, guarantee: str, request: pytest.FixtureRequest,
                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    class Routers(RouterProcesses):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.env["HUB_PROCESSING_GUARANTEE"] = guarantee

    monkeypatch.setattr(crash, "KILLS", KILLS)
    monkeypatch.setattr(crash, "N_SIGNALS", 1_200 if mode == "embedded" else 1_500)
    monkeypatch.setattr(crash, "RouterProcesses", Routers)
    # nothing lost, every signal decided as predicted, copies identical: asserted inside
    crash.test_router_survives_sigkill(mode, request, tmp_path)
    report = capsys.readouterr().out
    with capsys.disabled():
        print(f"\n[{guarantee}] " + report[report.index(f"[{mode}]"):])
    alerts, audit = _duplicates(report, "alerts"), _duplicates(report, "audit.v1")
    if guarantee == "exactly-once":
        assert (alerts, audit) == (0, 0), report

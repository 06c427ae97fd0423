"""The README's sample output of `signalhub demo` is what the demo prints: the same lines
in the same order, the changing parts (numbers, ports, passwords, times, the reasons
seen so far, how the program was called) aside; the log goes to the demo's log file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.demo_run import ACCOUNT_LINE, start_demo

pytestmark = pytest.mark.slow

README = Path(__file__).parent.parent / "README.md"
_REASON = re.compile(r"(?:refused|dead_lettered):[A-Z_]+ N,?")


def readme_sample() -> list[str]:
    """The fenced block of README.md that starts with the demo's first line."""
    blocks = re.findall(r"^```text\n(.*?)^```", README.read_text(), re.M | re.S)
    found = [b for b in blocks if b.startswith("Signalhub demo:")]
    assert len(found) == 1, "README.md has one sample of the demo's output"
    return found[0].splitlines()


def shape(line: str) -> str:
    """``line`` with what changes from run to run replaced by placeholders."""
    m = ACCOUNT_LINE.match(line)
    if m:  # the column widths follow the URLs' lengths
        page = m["url"].split("/", 3)[-1]
        line = f"  account {m['role']} /{page} {m['username']} / <pw> ({line[m.end():]}"
    line = re.sub(r"https?://[^/\s]+", "<host>", line)
    line = re.sub(r"(?:\S*/)?signalhub (?=[a-z])", "signalhub ", line)  # the program's path
    line = re.sub(r"\d+", "N", line)
    if line.startswith("  by reason "):  # which reasons occurred differs from run to run
        items = line.removeprefix("  by reason ").split()
        pairs = [" ".join(items[i:i + 2]) for i in range(0, len(items), 2)]
        assert all(_REASON.fullmatch(p) for p in pairs) or items == ["-"], line
        line = "  by reason <reasons>"
    return " ".join(line.split())


def unique(lines: list[str]) -> list[str]:
    """The lines' shapes, each once, in the order of their first appearance."""
    seen: dict[str, None] = {}
    for line in lines:
        seen.setdefault(shape(line), None)
    return list(seen)


def test_the_readme_shows_what_the_demo_prints(tmp_path: Path) -> None:
    demo = start_demo(tmp_path, "--duration", "3", "--rate", "20")
    printed = demo.wait(timeout=120)
    assert demo.proc.returncode == 0, (printed, demo.errors)
    assert unique(printed) == unique(readme_sample())
    assert re.fullmatch(r"stopped after \d+ s; the log: var/demo/hub\.log", printed[-1])
    # the JSON log lines went to the file, not to the terminal
    log = (tmp_path / "var" / "demo" / "hub.log").read_text().splitlines()
    events = [json.loads(line)["event"] for line in log]
    assert "hub started" in events and "hub stopped" in events
    assert not any(line.startswith("{") for line in printed + demo.errors)


def test_shapes_tell_a_changed_line_from_changed_numbers() -> None:
    sample = readme_sample()
    assert shape(sample[1]) != shape(sample[1].replace("member ", "reader "))
    assert shape("[12:00:01] accepted 5 signals (0 refused by the API)") == shape(
        "[09:10:11] accepted 812 signals (3 refused by the API)")
    assert shape("  by reason    refused:CONSENT_MISSING 2") == shape(
        "  by reason    dead_lettered:UNKNOWN_MUNICIPALITY 1, refused:OBJECTION_RECORDED 7")
    assert shape("  decisions    8: 4 forwarded") != shape("  decision     8: 4 forwarded")

"""The test setup's Debian packages (tools/apt-install.sh, used by the Makefile's *-deps
targets): one line on the terminal, apt's output in a log, its tail on a failure, and
nothing upgraded that is already installed. apt-get is a stub here: it records its
arguments, talks as much as apt does, and fails when asked to."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "apt-install.sh"

APT_GET = """#!/bin/sh
echo "$*" >> "$STUB_CALLS"
for i in $(seq 1 200); do echo "Get:$i http://deb.debian.org/debian trixie/main libfoo$i"; done
if [ "$1" = install ] && [ -n "${STUB_FAIL:-}" ]; then
    echo "E: Unable to locate package $STUB_FAIL" >&2
    exit 100
fi
"""
ID = """#!/bin/sh
echo "${STUB_UID:-0}"
"""


@pytest.fixture
def stubs(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("apt-get", APT_GET), ("id", ID)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "STUB_CALLS": str(tmp_path / "calls"), "APT_LOG": str(tmp_path / "var/setup.log")}


def install(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT), *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_one_line_and_the_output_in_the_log(stubs: dict[str, str], tmp_path: Path) -> None:
    result = install(stubs, "container image test", "--no-install-recommends", "podman", "runc")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"installing podman runc (container image test; Debian packages, log: {stubs['APT_LOG']})"]
    assert result.stderr == ""
    assert (tmp_path / "var/setup.log").read_text().count("Get:") == 400
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0].split() == ["update", "-q"]
    assert calls[1].split() == ["install", "-y", "-q", "--no-upgrade",
                                "--no-install-recommends", "podman", "runc"]


def test_a_failure_says_where_the_log_is_and_shows_its_tail(
        stubs: dict[str, str]) -> None:
    result = install({**stubs, "STUB_FAIL": "chromium"}, "browser tests", "chromium")
    assert result.returncode == 1
    assert f"the last lines of {stubs['APT_LOG']}" in result.stderr
    assert "E: Unable to locate package chromium" in result.stderr
    assert len(result.stderr.splitlines()) <= 27


def test_without_root_nothing_is_run_and_the_message_says_what_to_do(
        stubs: dict[str, str], tmp_path: Path) -> None:
    result = install({**stubs, "STUB_UID": "1000"}, "PostgreSQL store tests", "postgresql")
    assert result.returncode == 1
    assert "apt-get install postgresql" in result.stderr
    assert not (tmp_path / "calls").exists()


def test_the_makefile_installs_debian_packages_only_through_the_script() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "apt-get" not in makefile
    assert not re.search(r"\b(dist-upgrade|full-upgrade)\b", makefile)
    assert makefile.count("tools/apt-install.sh ") >= 3

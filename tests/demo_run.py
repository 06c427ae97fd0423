"""`signalhub demo` as a subprocess, the way `make run` starts it (the console script of
this virtual environment), with its printed output read line by line within a deadline."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ACCOUNT_LINE", "DemoRun", "start_demo"]

#: a role's line of the banner: role, home page URL, username / password
ACCOUNT_LINE = re.compile(
    r"^\s+(?:sign in\s+)?(?P<role>member|operator|admin)\s+(?P<url>https?://\S+)\s+"
    r"(?P<username>\S+) / (?P<password>\S+) \(")
_END_OF_BANNER = "  stop "


def _program() -> list[str]:
    script = Path(sys.executable).parent / "signalhub"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "hub.cli"]


@dataclass
class DemoRun:
    """A running demo: its process and what it printed so far."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    #: what it wrote to stderr (warnings and errors, one line each)
    errors: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)
    _readers: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_errors, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        self.errors.extend(line.rstrip("\n") for line in self.proc.stderr)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def read_banner(self, timeout: float) -> list[str]:
        """The lines up to the banner's last (``stop``); fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not any(line.startswith(_END_OF_BANNER) for line in self.lines):
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no banner within {timeout} s: {self.lines}") from None
            if line is None:
                raise AssertionError(f"the demo ended: {self.lines}\n{self.errors}")
            self.lines.append(line)
        return list(self.lines)

    def accounts(self) -> dict[str, tuple[str, str, str]]:
        """role: (home page URL, username, password), as printed."""
        found = (ACCOUNT_LINE.match(line) for line in self.lines)
        return {m["role"]: (m["url"], m["username"], m["password"]) for m in found if m}

    def stop(self, timeout: float) -> list[str]:
        """SIGTERM, then every line printed until it ended (within ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float) -> list[str]:
        """Every line printed until the demo ended (within ``timeout``; killed after)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.close()
                raise AssertionError(f"the demo did not end within {timeout} s") from None
            if line is None:
                break
            self.lines.append(line)
        self.close()
        return list(self.lines)

    def close(self) -> None:
        """Kill the demo if it still runs and close its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def start_demo(cwd: Path, *args: str) -> DemoRun:
    """Start ``signalhub demo --port 0 --web-port 0 ARGS`` in ``cwd`` (its folder:
    ``var/demo`` there), with no ``HUB_*`` variable of the caller and the metrics on a
    free port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_METRICS__ADDRESS"] = "127.0.0.1:0"
    proc = subprocess.Popen(
        [*_program(), "demo", "--port", "0", "--web-port", "0", *args], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return DemoRun(proc)

"""What `signalhub demo` shows: where to look (each role's page and credentials, metrics,
the ingest API, the log file) and a summary of what happened, refreshed in place.

On a terminal the summary is a :class:`rich.live.Live` block redrawn about once a second
(the final state stays on screen); off a terminal (a pipe, a file, CI) the same block is
printed every :data:`PLAIN_INTERVAL` seconds. Both show the same lines, which the
README's sample output shows too (tests/test_demo_output.py compares them).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live
from rich.text import Text

__all__ = ["PLAIN_INTERVAL", "Account", "Summary", "SummaryView", "banner",
           "command_prefix", "summary_lines"]

#: seconds between two summaries off a terminal
PLAIN_INTERVAL = 10.0
#: why the decisions can outnumber the accepted signals (the router decides per team)
DECISIONS_NOTE = "one per signal and team: a signal can go to several teams"
_INDENT = " " * 15


@dataclass(frozen=True)
class Account:
    """A demo account: its role, its home page (a full URL) and what it sees."""

    role: str
    url: str
    username: str
    password: str
    sees: str


@dataclass(frozen=True)
class Summary:
    """What happened so far: the traffic's and the router's counts, the inboxes."""

    accepted: int
    refused_by_api: int
    counts: Mapping[str, int]
    inboxes: Sequence[tuple[str, int]]
    at: float = field(default_factory=time.time)

    def total(self, prefix: str) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith(prefix))


def _listed(label: str, items: Sequence[str], width: int | None) -> list[str]:
    """``label`` and the comma-separated ``items``, wrapped at ``width`` (None: one line)
    under the label's column."""
    lines = [f"  {label:<13}"]
    for i, item in enumerate(items or ["-"]):
        piece = item + ("," if i < len(items) - 1 else "")
        if width is not None and lines[-1].strip() and len(lines[-1]) + 1 + len(piece) > width:
            lines.append(_INDENT)
        lines[-1] += ("" if lines[-1].endswith(" ") else " ") + piece
    return lines


def summary_lines(s: Summary, width: int | None = None) -> list[str]:
    """The summary block (the same on a terminal and off one); lists wrapped at
    ``width`` (None: not wrapped)."""
    forwarded, refused = s.total("forwarded"), s.total("refused")
    dead = s.total("dead_lettered")
    reasons = [f"{k} {v}" for k, v in sorted(s.counts.items())
               if k.startswith(("refused", "dead_lettered"))]
    return [
        f"[{time.strftime('%H:%M:%S', time.localtime(s.at))}] accepted {s.accepted}"
        f" signals ({s.refused_by_api} refused by the API)",
        f"  decisions    {forwarded + refused + dead}: {forwarded} forwarded, {refused}"
        f" refused, {dead} dead letters",
        f"{_INDENT}({DECISIONS_NOTE})",
        *_listed("inboxes", [f"{team} {n}" for team, n in s.inboxes], width),
        *_listed("by reason", reasons, width),
    ]


def command_prefix() -> str:
    """How to call this program in the printed commands: ``signalhub`` when that is on
    PATH, else its path (``.venv/bin/signalhub`` in a checkout)."""
    program = Path(sys.argv[0])
    on_path = shutil.which("signalhub")
    if program.name != "signalhub" or (on_path and Path(on_path).resolve()
                                        == program.resolve()):
        return "signalhub"
    path = program.absolute()
    return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)


def banner(*, title: str, accounts: Sequence[Account], metrics: str | None,
           api: str, rate: float, log_file: Path, commands: Sequence[str]) -> str:
    """The lines printed once at the start: where to look."""
    width = max(len(a.role) for a in accounts)
    url_width = max(len(a.url) for a in accounts)
    signin = [f"{a.role:<{width}}  {a.url:<{url_width}}  {a.username} / {a.password}"
              f" ({a.sees})" for a in accounts]
    prefix = command_prefix()
    lines = [
        title,
        f"  sign in      {signin[0]}",
        *(f"               {line}" for line in signin[1:]),
        f"  metrics      {metrics or 'off ($HUB_METRICS__ADDRESS)'}",
        f"  ingest API   {api}/v1/signals/debt (OpenAPI: {api}/openapi.json,"
        f" health: {api}/healthz)",
        f"  traffic      {rate:g} signals/s over HTTP with a demo key; fictional BSNs,"
        " pseudonymised",
        f"  log          {log_file} (JSON lines; warnings and errors also here, one line"
        " each)",
        f"  look at      {prefix} {commands[0]}",
        *(f"               {prefix} {c}" for c in commands[1:]),
        "  stop         Ctrl-C",
    ]
    return "\n".join(lines)


class SummaryView:
    """Shows the summary ``summarise()`` makes: in place on a terminal (about once a
    second), every :data:`PLAIN_INTERVAL` seconds otherwise; :meth:`final` shows the
    last one."""

    def __init__(self, summarise: Callable[[], Summary], *, live: bool | None = None) -> None:
        self._summarise = summarise
        self._console = Console(highlight=False)
        self.live = self._console.is_terminal if live is None else live
        self._live: Live | None = None
        self._printed_at = time.monotonic()

    def _text(self) -> Text:
        lines = summary_lines(self._summarise(), self._console.width - 1)
        return Text("\n".join(lines), no_wrap=True, overflow="ellipsis")

    @contextmanager
    def showing(self) -> Iterator[SummaryView]:
        """While inside: a terminal's live block (other output goes above it)."""
        if not self.live:
            yield self
            return
        with Live(self._text(), console=self._console, refresh_per_second=1,
                  auto_refresh=False, redirect_stdout=True, redirect_stderr=True) as live:
            self._live = live
            try:
                yield self
            finally:
                self._live = None

    def tick(self) -> None:
        """Called about once a second: redraw, or print when the interval is over."""
        if self._live is not None:
            self._live.update(self._text(), refresh=True)
        elif not self.live and time.monotonic() - self._printed_at >= PLAIN_INTERVAL:
            self._printed_at = time.monotonic()
            click.echo("\n".join(summary_lines(self._summarise())))

    def final(self) -> None:
        """Show the last summary (in the live block, or printed)."""
        if self._live is not None:
            self._live.update(self._text(), refresh=True)
        else:
            click.echo("\n".join(summary_lines(self._summarise())))

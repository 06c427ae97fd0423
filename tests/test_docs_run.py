"""Docs that run: every `signalhub ...` example is run, from the repository root.

Examples are collected, never listed by hand:

- README.md and docs/*.md: each line of a fenced block (untagged, ``sh``, ``shell``,
  ``bash``, ``console``) that starts with ``signalhub `` (or ``$ signalhub ``);
- every command's --help text (the click tree of ``hub.cli.main``): each line that starts
  with ``signalhub `` after its indent (the ``\\b`` example blocks).

A trailing backslash continues a line, ``#`` starts a comment, ``< FILE`` is the
standard input. The examples of one file (or one --help text) run in order in one
session: a fresh state folder, embedded bus and application database, so an example may
use what an earlier one of the same place made (a source, a user, a consent id). Each
must exit with 0. Prompts are answered (``--bsn -`` with a fictional BSN, a password
prompt with a password); ``HUB_PSEUDONYM_SECRETS`` has a test key for every municipality
code the docs and examples name.

An example that cannot run here is in ``CANNOT_RUN`` with the reason; an entry that
matches no example fails, so the list stays short and current.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from hub.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = {"", "sh", "shell", "bash", "console"}

#: examples that cannot run in a test, by their command as written (comment stripped)
CANNOT_RUN = {
    # a long-running process that needs a Kafka broker (the main job is run by
    # tests/test_main_job.py, on Kafka by tests/test_two_instances_kafka.py)
    "signalhub run --config examples/hub.yaml --bus kafka://localhost:9092":
        "runs until SIGTERM, on a Kafka broker",
    # a source's machine producing to the hub's Kafka (docs/import.md, import --help;
    # sealed import is run by tests/test_sealed_intake.py)
    "signalhub import schuldsignalen-2025-05.csv --type debt-signal"
    " --source urn:nld:oin:00000001234567890000 --mapping examples/mappings/debt-nl.yaml"
    ' --seal-to "$HUB_PUBLIC_KEY" --bus kafka://hub.example:9092'
    " --registry https://registry.example/apis/ccompat/v7":
        "needs the hub's Kafka and registry",
    # an alert exists only once a router delivered one (closing from the command line
    # is run by tests/test_sinks.py)
    "signalhub inbox close 0b6f3a52-5d1e-4c8a-9f7e-2a4b6c8d0e13 --outcome picked-up"
    ' --note "called, appointment made"':
        "needs an alert a router delivered to the inbox",
    # a case exists only once a debt alert reached the inbox (the case commands are run
    # by tests/test_inbox_case_cli.py)
    **{line: "needs a case made from a debt alert a router delivered to the inbox"
       for line in (
           "signalhub inbox case show --alert 0b6f3a52-5d1e-4c8a-9f7e-2a4b6c8d0e13 --by anna",
           "signalhub inbox case take-up CASE_ID --by anna",
           "signalhub inbox case attempt CASE_ID --by anna --kind Telefoon --reached no"
           " --on 2025-04-07 --part-of-day Ochtend",
           "signalhub inbox case attempt CASE_ID --by anna --kind Huisbezoek --reached yes"
           " --on 2025-04-09 --part-of-day Avond",
           "signalhub inbox case signal-status CASE_ID ALERT_ID --by anna"
           ' --status "Niet opgepakt: herhaalde melding"',
           "signalhub inbox case close CASE_ID --by anna"
           ' --result "Vervolghulp en/of verwijzing financieel"',
       )},
}

#: paths of a server's layout that stand for the repository's files here
SERVER_PATHS = {"/etc/signalhub/hub.yaml": "examples/hub.yaml"}

BSN = "111222333"  # fictional, passes the 11-test
PASSWORD = "correct horse battery staple 42"


@dataclass(frozen=True)
class Example:
    """One command as written in ``place`` (a file and line, or a --help text)."""

    place: str
    command: str

    def argv(self) -> list[str]:
        words = [SERVER_PATHS.get(w, w) for w in shlex.split(self.command, comments=True)]
        if "<" in words:  # the standard input is the test's (see stdin)
            words = words[: words.index("<")]
        assert words[0] == "signalhub"
        return words[1:]

    def stdin(self) -> str:
        words = self.argv()
        if any(a == "--bsn" and b == "-" for a, b in zip(words, words[1:], strict=False)):
            return BSN + "\n"
        return f"{PASSWORD}\n{PASSWORD}\n"  # a password prompt, asked twice


def _commands(lines: Iterable[tuple[int, str]], *, indented: bool) -> Iterator[tuple[int, str]]:
    """``signalhub`` commands among numbered lines, continuation lines joined."""
    numbered = iter(lines)
    for number, line in numbered:
        text = line.strip() if indented else line
        text = text.removeprefix("$ ")
        if not text.startswith("signalhub "):
            continue
        while text.rstrip().endswith("\\"):
            text = text.rstrip()[:-1].rstrip() + " " + next(numbered)[1].strip()
        yield number, text


def _fenced_shell_lines(text: str) -> Iterator[tuple[int, str]]:
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence = line.strip()[3:].strip() if fence is None else None
            continue
        if fence in SHELL_FENCES:
            yield number, line


def doc_examples(path: Path) -> list[Example]:
    name = path.relative_to(ROOT).as_posix()
    return [Example(f"{name}:{number}", command) for number, command
            in _commands(_fenced_shell_lines(path.read_text(encoding="utf-8")), indented=False)]


def _command_tree(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _command_tree(sub, f"{path} {name}")


def help_texts() -> dict[str, str]:
    return {f"{path} --help": "\n".join(filter(None, (command.help, command.epilog)))
            for path, command in _command_tree(main, "signalhub")}


def help_examples(place: str, text: str) -> list[Example]:
    return [Example(place, command) for _, command
            in _commands(enumerate(text.splitlines(), 1), indented=True)]


def sessions() -> dict[str, list[Example]]:
    found = {path.relative_to(ROOT).as_posix(): doc_examples(path) for path in DOCS}
    found |= {place: help_examples(place, text) for place, text in help_texts().items()}
    return {place: examples for place, examples in found.items() if examples}


def _comment_free(command: str) -> str:
    return shlex.join(shlex.split(command, comments=True))


def _municipality_secrets() -> str:
    """A test key for every municipality code the docs and examples name."""
    texts = [path.read_text(encoding="utf-8") for path in DOCS]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "examples").rglob("*")
              if p.is_file()]
    texts += list(help_texts().values())
    codes = sorted(set(re.findall(r"\bGM\d{4}\b", "\n".join(texts))))
    return json.dumps({code: f"docs-run-test-key-of-{code}-at-least-32-bytes" for code in codes})


SESSIONS = sessions()


def test_the_docs_have_examples_everywhere_they_show_commands() -> None:
    """The collection finds what it should: a --help that says "Example" shows one as a
    block (an example inside a sentence is not found), and the README shows some."""
    inline = [place for place, text in help_texts().items()
              if "Example" in text and place not in SESSIONS]
    assert not inline, f"an example in a sentence, not in a \\b block: {inline}"
    assert "README.md" in SESSIONS
    assert sum(len(examples) for examples in SESSIONS.values()) >= 40


def test_every_command_that_cannot_run_here_is_still_an_example() -> None:
    written = {_comment_free(e.command) for examples in SESSIONS.values() for e in examples}
    stale = [command for command in CANNOT_RUN if _comment_free(command) not in written]
    assert not stale, f"CANNOT_RUN names commands no doc shows any more: {stale}"


@pytest.mark.parametrize("place", sorted(SESSIONS))
def test_the_examples_run(place: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [v for v in os.environ if v.startswith("HUB_")]:
        monkeypatch.delenv(variable)
    monkeypatch.chdir(ROOT)
    env = {
        "HUB_STATE_DIR": str(tmp_path / "state"),
        "HUB_BUS": f"embedded:{tmp_path / 'hub.db'}",
        "HUB_PSEUDONYM_SECRETS": _municipality_secrets(),
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_METRICS__ADDRESS": "127.0.0.1:0",  # a demo example must not need port 9464
    }
    skipped = {_comment_free(command) for command in CANNOT_RUN}
    runner = CliRunner()
    failures = []
    for example in SESSIONS[place]:
        if _comment_free(example.command) in skipped:
            continue
        result = runner.invoke(main, example.argv(), input=example.stdin(), env=env)
        if result.exit_code != 0:
            failures.append(f"{example.place}: {example.command}\n  exit {result.exit_code}:"
                            f" {result.output[-600:]!s}  {result.exception!r}")
    assert not failures, "\n".join(failures)

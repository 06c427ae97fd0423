"""docs/deployment.md names only what exists: settings, commands and their options, files
and the sections it links to; its example environment file is a valid configuration;
README.md and docs/operations.md link to it."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import click
import pytest

from hub.cli import main
from hub.intake_keys import generate_key_pair
from hub.settings import Settings
from hub.webhook_signing import new_secret, parse_secrets
from tests.test_settings_docs import setting_variables

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GUIDE = DOCS / "deployment.md"

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
_SPAN = re.compile(r"`([^`\n]+(?:\n[^`\n]+)*)`")
_SETTING = re.compile(r"(?<![A-Za-z0-9_])(HUB_[A-Z0-9_]+)(\*?)")
_COMMAND = re.compile(r"(?<![\w./:@-])signalhub[ \t]+(?=\S)")
_WORD = re.compile(r"[a-z][a-z0-9-]*")
_SHELL_END = {"|", "||", "&&", ";", "#", ">", "<"}
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_REPO_PATH = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+/?$")


def _code(text: str) -> list[str]:
    """The code of a Markdown text: fenced blocks (continuation lines joined) and the
    inline code spans outside them."""
    blocks = [m.group(1).replace("\\\n", " ") for m in _FENCE.finditer(text)]
    prose = _FENCE.sub("", text)
    return blocks + [" ".join(m.group(1).split()) for m in _SPAN.finditer(prose)]


def _documented_settings() -> set[str]:
    rows = (DOCS / "settings.md").read_text().splitlines()
    return {m.group(1) for row in rows if (m := re.match(r"\| `(HUB_[A-Z0-9_]+)`", row))}


def _secret_env_names(text: str) -> set[str]:
    """Variables a ``hub.yaml`` snippet of the guide names as a webhook's ``secret_env``
    (docs/config.md): the operator's own names, not hub settings."""
    return set(re.findall(r"secret_env:\s*(HUB_[A-Z0-9_]+)", text))


def test_every_setting_named_is_a_documented_setting() -> None:
    text = GUIDE.read_text()
    real = _documented_settings() & setting_variables()
    allowed = _secret_env_names(text)
    unknown = []
    for m in _SETTING.finditer(text):
        wildcard = bool(m.group(2))
        name = m.group(1) if wildcard else m.group(1).rstrip("_")
        known = any(s.startswith(name) for s in real) if wildcard else name in real
        if not known and name not in allowed:
            unknown.append(m.group(0))
    assert not unknown, f"not in docs/settings.md and hub/settings.py: {sorted(set(unknown))}"
    assert len(set(_SETTING.findall(text))) > 20


def _resolve(words: list[str]) -> tuple[click.Command, list[str], str | None]:
    """Walk the click group along ``words``: the command reached, the path taken, and
    the first word that names no subcommand of a group (None: all words were used or
    the rest are arguments of a command)."""
    command: click.Command = main
    path: list[str] = []
    for word in words:
        if not isinstance(command, click.Group):
            return command, path, None
        sub = command.commands.get(word)
        if sub is None:
            return command, path, word
        command, path = sub, [*path, word]
    return command, path, None


def _options(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        if isinstance(param, click.Option):
            names |= {*param.opts, *param.secondary_opts}
    return names


def _command_lines(text: str) -> list[tuple[str, list[str], list[str]]]:
    """Each ``signalhub ...`` in the guide's code: (the line, the words that may name
    commands, the options given)."""
    found = []
    for code in _code(text):
        for line in code.splitlines():
            for m in _COMMAND.finditer(line):
                words: list[str] = []
                options: list[str] = []
                in_path = True
                for token in line[m.end():].split():
                    if token in _SHELL_END or token.startswith("#"):
                        break
                    if token.startswith("-"):
                        in_path = False
                        options.append(token.split("=", 1)[0])
                        continue
                    if not in_path:
                        continue
                    word = _WORD.match(token)
                    if word is None:
                        in_path = False
                        continue
                    words.append(word.group(0))
                    if word.end() != len(token):  # "secret>" ends the command's words
                        in_path = False
                found.append((line.strip(), words, options))
    return found


def test_every_command_line_names_a_command_and_its_options() -> None:
    lines = _command_lines(GUIDE.read_text())
    problems = []
    for line, words, options in lines:
        command, path, stray = _resolve(words)
        if not path:
            problems.append(f"{line!r}: no command {words[:1]}")
            continue
        if stray is not None:
            problems.append(f"{line!r}: signalhub {' '.join(path)} has no subcommand {stray!r}")
            continue
        unknown = [o for o in options if o not in _options(command)]
        if unknown:
            problems.append(f"{line!r}: signalhub {' '.join(path)} has no option {unknown}")
    assert not problems, "\n".join(problems)
    assert len(lines) > 20


def test_the_checker_finds_a_wrong_command() -> None:
    text = "Run `signalhub purge run --dry-run` and `signalhub db upgrade --force`."
    lines = _command_lines(text)
    results = [_resolve(words) for _, words, _ in lines]
    assert results[0][2] == "purge"
    command, path, stray = results[1]
    assert (path, stray) == (["db", "upgrade"], None)
    assert "--force" not in _options(command)


def _anchors(markdown: Path) -> set[str]:
    slugs = set()
    for line in markdown.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slugs.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return slugs


def test_every_file_and_link_exists() -> None:
    text = GUIDE.read_text()
    missing = []
    for code in _code(text):
        token = code.strip()
        if _REPO_PATH.match(token) and not (ROOT / token).exists():
            missing.append(token)
    for target in _LINK.findall(text):
        if "://" in target:
            continue
        page, _, anchor = target.partition("#")
        path = (DOCS / page) if page else GUIDE
        if not path.exists() or (anchor and anchor not in _anchors(path)):
            missing.append(target)
    assert not missing, f"named in docs/deployment.md but missing: {missing}"


def test_readme_and_operations_link_to_the_guide() -> None:
    assert "(docs/deployment.md)" in (ROOT / "README.md").read_text()
    assert "(deployment.md)" in (DOCS / "operations.md").read_text()


def _example_environment() -> dict[str, str]:
    """The guide's environment file, placeholders filled with values of the right kind."""
    block = next(b for b in _FENCE.findall(GUIDE.read_text()) if "\nHUB_BUS=" in f"\n{b}")
    private, _ = generate_key_pair()
    fill = {
        "<signalhub keys secret>": lambda: secrets.token_urlsafe(32),
        "<private key of signalhub keys generate>": lambda: private,
        "<signalhub keys webhook-secret>": new_secret,
        "<from the secret store>": lambda: secrets.token_urlsafe(24),
        "<password>": lambda: "pw",
    }
    env = {}
    for line in block.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        for placeholder, make in fill.items():
            while placeholder in value:
                value = value.replace(placeholder, make(), 1)
        assert "<" not in value, f"a placeholder the test cannot fill: {line}"
        env[name] = value
    return env


def test_the_example_environment_is_a_valid_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [n for n in os.environ if n.startswith("HUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env file of the checkout
    env = _example_environment()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.kafka.replication_factor == 3
    assert settings.kafka.min_insync_replicas == 2
    assert settings.kafka.security_protocol == "SASL_SSL"
    assert settings.kafka.sasl_password is not None
    assert settings.registry.password is not None
    assert settings.database_url is not None
    assert sorted(settings.pseudonym_secrets) == ["GM0001", "GM0002"]
    assert settings.intake_private_key is not None
    assert settings.web.secure_cookies is True
    assert len(settings.web.trusted_proxies) == 2
    assert settings.topic_prefix == ""
    assert env["HUB_STATE_DIR"] != "var/state"
    parse_secrets(env["HUB_WEBHOOK_SECRET_SCHULDHULP"], "the guide's webhook secret")

"""The layers of the code, checked on its import graph (``ast`` over hub/ and connectors/).

- the core (``hub`` outside ``hub.web`` and ``hub.commands``) never imports the web app
  or the commands; only the composition roots wire them together;
- the core (``hub`` outside the composition roots, ``hub.commands``, ``hub.web`` and the
  test tooling ``hub.devtools``) imports no connector: it holds the logic, the edges
  only their technology;
- pages and commands call the core: neither ``hub.web`` nor ``hub.commands`` imports a
  connector (the composition roots hand them the edges they use, e.g. the batch file
  formats to ``signalhub import``) or logic that moved to the core (the inbox workflow,
  outcomes, the server runner, the source registry, the stores of the intake, the
  batch import); the web app and the commands do not import each other;
- the edges (``connectors``) never import the web app, the commands or a composition root;
- nobody imports another module's private names;
- settings are the only reader of the environment (``os.environ`` / ``os.getenv``), with
  the exceptions listed in :data:`ENVIRONMENT_READERS`, each with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: the only modules that wire core, edges, web app and commands together
COMPOSITION_ROOTS = {
    "hub.cli": "the `signalhub` command line: adds every command group",
    "hub.app": "the running hub: ingest, routers, sinks, web app and metrics in one process",
}
#: logic that lives in the core now (old place: new place); everyone imports it from there
MOVED_TO_THE_CORE = {
    **{f"connectors.sinks.inbox.{name}": "hub.inbox" for name in (
        "AlertNotFound", "CloseOutcome", "Closure", "InboxError", "InboxItem", "InboxStatus",
        "InboxStore", "Note")},
    "connectors.sinks.inbox_tables": "hub.inbox.tables",
    "connectors.sinks.outcomes": "hub.inbox.outcomes",
    **{f"connectors.sources.http_ingest.{name}": "hub.serving"
       for name in ("serve", "stop", "server_address")},
    "hub.commands.deadletters.replay_deadletters": "hub.deadletters",
    "hub.commands.deadletters.replay_one": "hub.deadletters",
    "hub.web.accounts": "hub.accounts",
    "hub.web.account_tables": "hub.accounts.tables",
    "hub.web.sessions": "hub.accounts.sessions",
    "connectors.sources.keys": "hub.sources",
    "connectors.sources.idempotency": "hub.idempotency",
    "connectors.sources.batch_sealed": "hub.sealed_import",
    **{f"connectors.sources.batch_io.{name}": "hub.import_ledger"
       for name in ("IMPORTS_FILE", "ImportLedger", "ImportLedgerError")},
    **{f"connectors.sources.csv_batch.{name}": "hub.batch_import"
       for name in ("DEFAULT_BATCH", "ImportSummary", "ProgressCallback")},
}
#: the parts of ``hub`` that are not the core: they compose it, render it, or test it
NOT_THE_CORE = (*COMPOSITION_ROOTS, "hub.commands", "hub.web", "hub.devtools")
#: modules besides hub.settings that read the process environment, and why
ENVIRONMENT_READERS = {
    "hub.app": "hands the process environment to the webhook sinks, whose secrets hub.yaml"
               " names by variable (secret_env); the composition root is the one place",
    "hub.devtools.kafka_for_tests": "test tooling: DOCKER_HOST and the HUB_TEST_* overrides"
                                    " of the test broker, not hub settings",
    "hub.devtools.postgres_for_tests": "test tooling: HUB_TEST_POSTGRES_DSN of an external"
                                       " test server",
    "hub.devtools.local_postgres": "test tooling: finds Debian's PostgreSQL binaries and"
                                   " copies the environment for the server subprocess",
    "hub.devtools.local_registry": "test tooling: JAVA_HOME / cache directory of the test"
                                   " registry",
    "hub.devtools.local_kafka": "test tooling: JAVA_HOME / cache directory of the test broker",
    "hub.devtools.podman": "test tooling: copies the environment for a podman subprocess",
}


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module (for ``from m import n``: m)
    names: tuple[str, ...]  # for ``from m import n``: the names; else ()
    line: int

    def targets(self) -> Iterator[str]:
        """The module and each ``module.name`` (a name may be a submodule)."""
        yield self.target
        for name in self.names:
            yield f"{self.target}.{name}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(*packages: str) -> dict[str, tuple[Path, ast.Module]]:
    found = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = (path, ast.parse(path.read_text("utf-8"), str(path)))
    return found


SOURCES = _sources("hub", "connectors")


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _imports(sources: dict[str, tuple[Path, ast.Module]]) -> list[Import]:
    """Every import of every module, at any depth (in functions, under TYPE_CHECKING)."""
    found = []
    for module, (path, tree) in sources.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [Import(module, alias.name, (), node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                found.append(Import(module, _resolve(module, path, node),
                                    tuple(a.name for a in node.names), node.lineno))
    return found


IMPORTS = _imports(SOURCES)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _violations(importers: str | None, targets: Collection[str], *,
                allowed: Collection[str] = (), imports: list[Import] = IMPORTS) -> list[str]:
    """Imports by modules of ``importers`` (None: every module) of anything in ``targets``,
    except by the modules in ``allowed`` and by those within ``targets`` themselves."""
    return sorted({
        f"{i.module}:{i.line} imports {target}"
        for i in imports
        if (importers is None or _within(i.module, importers)) and i.module not in allowed
        and not any(_within(i.module, t) for t in targets)
        for target in i.targets() if any(_within(target, t) for t in targets)
    })


def test_the_graph_is_read() -> None:
    """The walk finds what is known to be there (so an empty graph cannot pass)."""
    assert {"hub.cli", "hub.app", "hub.inbox.workflow", "connectors.sinks.inbox"} <= set(SOURCES)
    assert _violations("hub.cli", ("hub.commands",)), "hub.cli adds the commands"
    assert _violations("hub.app", ("hub.web",)), "hub.app starts the web app"
    relative = ast.parse("from .model import Note\nfrom ..store import Database").body
    assert all(isinstance(node, ast.ImportFrom) for node in relative)
    store, package = Path("hub/inbox/store.py"), Path("hub/inbox/__init__.py")
    assert [_resolve("hub.inbox.store", store, n) for n in relative] == [  # type: ignore[arg-type]
        "hub.inbox.model", "hub.store"]
    assert _resolve("hub.inbox", package, relative[0]) == "hub.inbox.model"  # type: ignore[arg-type]


def test_the_core_imports_neither_the_web_app_nor_the_commands() -> None:
    assert _violations("hub", ("hub.web", "hub.commands"), allowed=COMPOSITION_ROOTS) == []


def test_the_core_imports_no_connector() -> None:
    core = {module for module in SOURCES
            if _within(module, "hub") and not any(_within(module, p) for p in NOT_THE_CORE)}
    assert {"hub.sources", "hub.idempotency", "hub.import_ledger", "hub.batch_import"} <= core
    assert _violations("hub.app", ("connectors",)), "the walk sees hub.app use the edges"
    assert _violations("hub", ("connectors",), allowed=set(SOURCES) - core) == []


@pytest.mark.parametrize(("importers", "targets"), [
    ("hub.web", ("hub.commands", "connectors", *COMPOSITION_ROOTS)),
    ("hub.commands", ("hub.web", "connectors", *MOVED_TO_THE_CORE)),
])
def test_pages_and_commands_call_the_core(importers: str, targets: tuple[str, ...]) -> None:
    assert _violations(importers, targets) == []


def test_the_edges_import_no_web_app_commands_or_root() -> None:
    assert _violations("connectors", ("hub.web", "hub.commands", *COMPOSITION_ROOTS)) == []


def test_no_module_imports_the_old_locations_of_core_logic() -> None:
    """The names moved to the core are imported from there, by the code and the tests."""
    everything = IMPORTS + _imports(_sources("tests", "bench"))
    assert _violations(None, MOVED_TO_THE_CORE, imports=everything) == []


def test_the_inbox_sink_holds_only_the_edge() -> None:
    """``connectors/sinks/inbox.py`` consumes alerts into the core's store, nothing more."""
    _, tree = SOURCES["connectors.sinks.inbox"]
    defined = [node.name for node in tree.body
               if isinstance(node, ast.ClassDef | ast.FunctionDef)]
    assert defined == ["InboxSink"]


def test_no_module_imports_another_modules_private_names() -> None:
    private = sorted(
        f"{i.module}:{i.line} imports {i.target}.{name}"
        for i in IMPORTS for name in i.names
        if name.startswith("_") and not name.startswith("__")
    )
    assert private == []


_ENVIRONMENT = {"environ", "environb", "getenv"}


def _reads_environment(node: ast.AST) -> bool:
    """``os.environ`` / ``os.getenv`` or ``from os import environ``."""
    if isinstance(node, ast.Attribute):
        return (isinstance(node.value, ast.Name) and node.value.id == "os"
                and node.attr in _ENVIRONMENT)
    if isinstance(node, ast.ImportFrom):
        return node.module == "os" and any(a.name in _ENVIRONMENT for a in node.names)
    return False


def _environment_reads(tree: ast.Module) -> list[int]:
    return [node.lineno for node in ast.walk(tree)  # type: ignore[attr-defined]
            if _reads_environment(node)]


def test_settings_are_the_only_reader_of_the_environment() -> None:
    readers = {module: lines for module, (_, tree) in SOURCES.items()
               if (lines := _environment_reads(tree))}
    assert "hub.settings" not in readers, "pydantic-settings reads it, hub.settings need not"
    unexpected = {m: lines for m, lines in readers.items() if m not in ENVIRONMENT_READERS}
    assert unexpected == {}
    stale = set(ENVIRONMENT_READERS) - set(readers)
    assert stale == set(), "listed as a reader but reads nothing: drop it from the list"

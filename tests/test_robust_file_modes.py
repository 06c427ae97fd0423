"""State stays private: under umask 022 the main job's state folders are 0700 and every
file in them (databases, their -wal/-shm files, the web key) 0600; a database left
world-readable by an older version is narrowed when a store opens it."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.app import HubProcess
from hub.config import load_config
from hub.import_ledger import IMPORTS_FILE, ImportLedger
from hub.inbox import InboxStore
from hub.settings import Settings

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Permission bits of the folders (``root`` included) and of the files under
    ``root``, by path relative to ``root``'s parent."""
    folders: dict[str, int] = {}
    files: dict[str, int] = {}
    for path in (root, *root.rglob("*")):
        try:
            info = path.stat()
        except FileNotFoundError:  # a -wal or -shm file removed meanwhile
            continue
        kind = folders if stat.S_ISDIR(info.st_mode) else files
        kind[str(path.relative_to(root.parent))] = stat.S_IMODE(info.st_mode)
    return folders, files


def test_the_main_job_keeps_its_state_private(tmp_path: Path, umask_022: None) -> None:
    var = tmp_path / "var"  # missing: made by the hub
    settings = Settings(bus=f"embedded:{var / 'bus' / 'hub.db'}", state_dir=var / "state")
    process = HubProcess(settings, load_config(EXAMPLE), port=0, web_port=0)
    process.start()
    try:
        ImportLedger(var / "state" / IMPORTS_FILE).close()  # what `signalhub import` opens
        folders, files = modes(var)
    finally:
        process.stop()
    assert {"var/state/store.db", "var/state/store.db-wal",
            "var/state/router/consent-ledger.db",
            "var/state/web-secret.key", f"var/state/{IMPORTS_FILE}", "var/bus/hub.db",
            "var/bus/hub.db-wal", "var/bus/hub.db-shm"} <= set(files)
    assert {"var", "var/state", "var/bus", "var/state/router"} <= set(folders)
    assert {p: oct(m) for p, m in files.items() if m != 0o600} == {}
    assert {p: oct(m) for p, m in folders.items() if m != 0o700} == {}


def test_a_world_readable_database_is_narrowed(tmp_path: Path, umask_022: None) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    path = folder / "inbox.db"
    old = sqlite3.connect(path)  # as an older version left it: 0644, with a WAL
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE leftover (x)")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    store = InboxStore(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(Path(f"{path}-wal").stat().st_mode) == 0o600
        assert stat.S_IMODE(Path(f"{path}-shm").stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # an existing folder: left as is
    finally:
        store.close()
        old.close()

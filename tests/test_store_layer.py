"""The store layer (hub.store): one database on SQLite or PostgreSQL, transactions that
always end, migrations, and URLs that never show their password."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hub.cli import main
from hub.devtools.local_kafka import free_ports
from hub.errors import ConfigError, StoreUnavailable, Unavailable
from hub.settings import Settings
from hub.store import database_target, open_database, redact, safe_url
from hub.store.migrate import heads, state

SECRET = "s3cret-Pw_that-must-not-show"


def test_safe_url_leaves_out_the_password_however_it_is_given() -> None:
    assert safe_url(f"postgresql://hub:{SECRET}@db.example:5432/hub?sslmode=require") \
        == "postgresql://hub:***@db.example:5432/hub?sslmode=require"
    assert SECRET not in safe_url(f"postgresql://hub@db/hub?password={SECRET}")
    assert safe_url("sqlite:////var/state/store.db") == "sqlite:////var/state/store.db"
    assert SECRET not in safe_url(f"not a url {SECRET}")
    assert redact(f"failed for {SECRET}", f"postgresql://u:{SECRET}@h/d") == "failed for ***"


def test_the_setting_is_secret_and_defaults_to_sqlite_under_the_state_dir(
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=f"postgresql://hub:{SECRET}@h/db")  # type: ignore[arg-type]
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    assert database_target(Settings(state_dir=tmp_path)) == f"sqlite:///{tmp_path}/store.db"


def test_an_unsupported_url_is_a_config_error_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        open_database(f"mysql://hub:{SECRET}@localhost/hub")
    assert SECRET not in str(caught.value)


def test_a_server_that_does_not_answer_is_unavailable_without_the_password() -> None:
    port = free_ports(1)[0]  # nothing listens there
    with pytest.raises(StoreUnavailable) as caught:
        open_database(f"postgresql://hub:{SECRET}@127.0.0.1:{port}/hub")
    assert isinstance(caught.value, Unavailable)
    assert SECRET not in str(caught.value) and f"127.0.0.1:{port}" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_sqlite_file_and_its_folder_are_private(tmp_path: Path) -> None:
    db = open_database(tmp_path / "new" / "store.db")
    db.close()
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "store.db").stat().st_mode) == 0o600
    assert SECRET not in repr(db) and repr(db) == f"Database(sqlite:///{tmp_path}/new/store.db)"


def test_a_sqlite_write_transaction_holds_the_write_lock_from_its_start(
    tmp_path: Path,
) -> None:
    db = open_database(tmp_path / "store.db")
    other = sqlite3.connect(tmp_path / "store.db", timeout=0, isolation_level=None)
    try:
        with db.transaction() as conn:
            conn.execute(text("SELECT 1"))  # a read only, yet the lock is taken
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            with db.read() as reader:  # readers are not held up
                assert reader.execute(text("SELECT 1")).scalar() == 1
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        db.close()


def test_a_transaction_commits_or_rolls_back_as_a_whole(database_url: str) -> None:
    db = open_database(database_url)
    try:
        with db.transaction() as conn:
            conn.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES ('a', 1)"))
        with pytest.raises(RuntimeError), db.transaction() as conn:
            conn.execute(text("INSERT INTO t VALUES ('b', 2)"))
            raise RuntimeError("half-way")
        with pytest.raises(IntegrityError), db.transaction() as conn:
            conn.execute(text("INSERT INTO t VALUES ('c', 3)"))
            conn.execute(text("INSERT INTO t VALUES ('a', 4)"))
        with db.transaction() as conn:  # the connection is usable again at once
            conn.execute(text("INSERT INTO t VALUES ('d', 5)"))
        with db.read() as conn:
            assert conn.execute(text("SELECT k FROM t ORDER BY k")).scalars().all() \
                == ["a", "d"]
    finally:
        db.close()


def test_a_shared_database_closes_with_its_last_user(database_url: str) -> None:
    db = open_database(database_url)
    second = open_database(db)
    assert second is db
    db.close()
    with second.read() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    second.close()
    with pytest.raises(StoreUnavailable):
        db.acquire()


def test_opening_migrates_every_store_and_two_processes_at_once_agree(
    database_url: str,
) -> None:
    results: list[object] = []

    def open_one() -> None:
        try:
            results.append(open_database(database_url))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            results.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 3 and not [r for r in results if isinstance(r, Exception)]
    db = results[0]
    assert not isinstance(db, Exception)
    assert [b.current for b in state(db)] == list(heads().values())  # type: ignore[arg-type]
    for each in results:
        each.close()  # type: ignore[union-attr]


def test_db_upgrade_and_current_on_the_command_line(database_url: str) -> None:
    runner = CliRunner()
    env = {"HUB_DATABASE_URL": database_url}
    shown = safe_url(database_url)
    before = runner.invoke(main, ["db", "current"], env=env)
    assert before.exit_code == 1 and "behind" in before.output
    upgraded = runner.invoke(main, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert f"{shown}: applied" in upgraded.output
    again = runner.invoke(main, ["db", "upgrade"], env=env)
    assert "already at the newest version" in again.output
    after = runner.invoke(main, ["db", "current"], env=env)
    assert after.exit_code == 0 and f"database: {shown}" in after.output
    for branch in heads():
        assert branch in after.output
    password = database_url.partition("://")[2].partition("@")[0].partition(":")[2]
    for output in (before.output, upgraded.output, after.output):
        assert not password or password not in output


@pytest.mark.postgres
def test_a_wrong_password_is_unavailable_and_never_shown(postgres_url: str) -> None:
    wrong = postgres_url.replace("://hub:", f"://hub:{SECRET}", 1)
    with pytest.raises(StoreUnavailable) as caught:
        open_database(wrong)
    assert "password authentication failed" in str(caught.value)
    assert SECRET not in str(caught.value)

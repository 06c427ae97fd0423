"""Run a throwaway PostgreSQL server from Debian's ``postgresql`` package binaries.

No Docker: the server binaries under ``/usr/lib/postgresql/<version>/bin`` (the newest
version there; ``$HUB_POSTGRES_BIN`` names another folder) run in a temporary folder,
on a free port on 127.0.0.1 (and a Unix socket in that folder), with password
authentication (SCRAM) for one superuser ``hub`` whose password is made at random.

``initdb`` and ``postgres`` refuse to run as root. Run as root (CI, containers), the
server runs as an unprivileged user: ``postgres`` (made by Debian's package) when it
exists, else ``nobody``, switched to with ``setpriv``; the temporary folder is given to
that user. ``make test`` installs the package when it is missing.

Library use (tests, scripts)::

    with LocalPostgres() as pg:                  # free port, temporary data
        url = pg.create_database("test_x")       # postgresql://hub:<pw>@127.0.0.1:<port>/test_x

Developers::

    python -m hub.devtools.local_postgres        # foreground server on 127.0.0.1:5432
    make postgres                                # the same

The server is not durable (``fsync=off``): it is for tests and development only. It
is stopped at :meth:`LocalPostgres.stop`, at interpreter exit at the latest.
"""

from __future__ import annotations

import argparse
import atexit
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from types import FrameType, TracebackType

from hub.devtools.local_kafka import free_ports, port_accepts
from hub.errors import LocalPostgresError

__all__ = ["LocalPostgres", "LocalPostgresError", "find_bindir", "main"]

HOST = "127.0.0.1"
USER = "hub"
DEFAULT_CLI_PORT = 5432
STOP_GRACE_S = 20.0
_INSTALL = "install Debian's postgresql package (apt-get install postgresql; make test does)"


def find_bindir() -> Path:
    """The folder with ``initdb`` and ``postgres``: ``$HUB_POSTGRES_BIN`` or the newest
    ``/usr/lib/postgresql/*/bin``."""
    named = os.environ.get("HUB_POSTGRES_BIN", "").strip()
    candidates = [Path(named)] if named else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)] or [0],
        reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    where = named or "/usr/lib/postgresql/*/bin"
    raise LocalPostgresError(f"no PostgreSQL server binaries in {where}: {_INSTALL}")


def _server_user() -> pwd.struct_passwd | None:
    """The user the server runs as when we are root (None: as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with suppress(KeyError):
            return pwd.getpwnam(name)
    raise LocalPostgresError("running as root and neither a postgres nor a nobody user"
                             " exists to run the server as")


class LocalPostgres:
    """A PostgreSQL server of our own; ``port=None`` picks a free port."""

    def __init__(self, port: int | None = None, *, max_connections: int = 300) -> None:
        self.bindir = find_bindir()
        self.version = self.bindir.parent.name
        self.port = port
        self.max_connections = max_connections
        self.password = secrets.token_urlsafe(18)
        self.workdir: Path | None = None
        self._user = _server_user()
        self._proc: subprocess.Popen[bytes] | None = None

    # -- where it is -----------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """The URL of ``database`` on this server (with the password: a secret)."""
        assert self.port is not None
        return f"postgresql://{USER}:{self.password}@{HOST}:{self.port}/{database}"

    @property
    def log_path(self) -> Path | None:
        return self.workdir / "postgres.log" if self.workdir else None

    def log_tail(self, lines: int = 30) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return "(no server log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # -- running ---------------------------------------------------------------------------

    def _as_user(self, *argv: str) -> list[str]:
        if self._user is None:
            return list(argv)
        return ["setpriv", f"--reuid={self._user.pw_uid}", f"--regid={self._user.pw_gid}",
                "--clear-groups", "--", *argv]

    def _prepare(self) -> Path:
        workdir = Path(tempfile.mkdtemp(prefix="signalhub-postgres-"))
        self.workdir = workdir
        pwfile = workdir / "pw"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        if self._user is not None:
            for path in (workdir, pwfile):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        env = dict(os.environ, LC_ALL="C", LANG="C")
        result = subprocess.run(
            self._as_user(str(self.bindir / "initdb"), "-D", str(workdir / "data"),
                          "-U", USER, f"--pwfile={pwfile}", "--auth=scram-sha-256",
                          "-E", "UTF8", "--no-locale", "--no-sync"),
            capture_output=True, text=True, env=env, cwd=workdir, timeout=120, check=False)
        pwfile.unlink()
        if result.returncode != 0:
            raise LocalPostgresError(f"initdb failed ({result.returncode}):"
                                     f" {(result.stderr or result.stdout).strip()[-800:]}")
        return workdir

    def start(self, timeout: float = 60.0) -> str:
        """Make the data folder, start the server and wait until it answers; return the
        URL of its ``postgres`` database."""
        if self._proc is not None and self._proc.poll() is None:
            return self.url()
        workdir = self._prepare()
        self.port = self.port or free_ports(1)[0]
        log = open(workdir / "postgres.log", "ab")  # noqa: SIM115 - the server's, until it ends
        if self._user is not None:
            os.chown(workdir / "postgres.log", self._user.pw_uid, self._user.pw_gid)
        settings = {"listen_addresses": HOST, "port": str(self.port),
                    "unix_socket_directories": str(workdir),
                    "max_connections": str(self.max_connections), "fsync": "off",
                    "synchronous_commit": "off", "full_page_writes": "off"}
        argv = [str(self.bindir / "postgres"), "-D", str(workdir / "data")]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self._proc = subprocess.Popen(self._as_user(*argv), stdout=log, stderr=log,
                                      stdin=subprocess.DEVNULL, cwd=workdir,
                                      start_new_session=True)
        log.close()
        atexit.register(self.stop)
        self._wait_ready(timeout)
        return self.url()

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        assert self._proc is not None and self.port is not None
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise LocalPostgresError(f"postgres exited ({self._proc.returncode}):\n"
                                         + self.log_tail())
            if port_accepts(HOST, self.port):
                try:
                    psycopg.connect(self.url(), connect_timeout=5).close()
                    return
                except psycopg.OperationalError:
                    pass  # still starting up
            if time.monotonic() > deadline:
                self.stop()
                raise LocalPostgresError(f"postgres did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def create_database(self, name: str) -> str:
        """Make an empty database ``name``; return its URL."""
        self._admin(f'CREATE DATABASE "{_ident(name)}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` even while clients are connected to it."""
        self._admin(f'DROP DATABASE IF EXISTS "{_ident(name)}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.encode())

    def wait(self) -> int | None:
        return self._proc.wait() if self._proc is not None else None

    def stop(self) -> None:
        """Stop the server (fast shutdown, then kill) and remove its folder."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _ident(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9_]{1,63}", name):
        raise ValueError(f"database names here are [a-z0-9_]{{1,63}}, not {name!r}")
    return name


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Foreground server for developers; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m hub.devtools.local_postgres",
        description="Run a throwaway PostgreSQL server (Debian's postgresql binaries) in"
        " the foreground on 127.0.0.1, data in a temporary folder removed on exit (not"
        " durable: for development and tests). Stop it with Ctrl-C.")
    parser.add_argument("--port", type=int, default=DEFAULT_CLI_PORT,
                        help=f"port on 127.0.0.1 (default {DEFAULT_CLI_PORT}; 0 = any free)")
    parser.add_argument("--database", default="signalhub",
                        help="a database made at start (default signalhub)")
    args = parser.parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)
    server: LocalPostgres | None = None
    try:
        server = LocalPostgres(port=args.port or None)
        if args.port and port_accepts(HOST, args.port):
            print(f"error: port {args.port} is taken; try --port 0", file=sys.stderr)
            return 1
        print(f"starting PostgreSQL {server.version} ...", flush=True)
        server.start()
        url = server.create_database(args.database)
        print(f"PostgreSQL {server.version} ready on {HOST}:{server.port}")
        print(f"  export HUB_DATABASE_URL='{url}'")
        print(f"  server log: {server.log_path}")
        print("  Ctrl-C to stop", flush=True)
        code = server.wait()
        print(f"error: the server exited on its own (exit {code})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping PostgreSQL ...", flush=True)
        return 0
    except LocalPostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())

"""A real Apicurio Registry on this machine, for tests and local development.

Apicurio publishes each release's runnable distribution on Maven Central as
``io.apicurio:apicurio-registry-app:<version>:tar.gz:all`` (a Quarkus fast-jar for 3.x, a
``-runner.jar`` with ``lib/`` for 2.x). :meth:`LocalApicurio.ensure_built` has Maven fetch and
unpack it once (``tools/apicurio/pom.xml``) into ``$HUB_CACHE_DIR/apicurio-<version>`` (default
``~/.cache/signalhub/apicurio-<version>``); :meth:`LocalApicurio.start` runs it on 127.0.0.1.

Storage is persistent by default: Apicurio's SQL storage on an H2 *file* database
(``apicurio.storage.kind=sql``, ``apicurio.storage.sql.kind=h2``, ``apicurio.datasource.url=
jdbc:h2:file:<data dir>/registry``), so schema ids survive a restart (:meth:`LocalApicurio.restart`)
and a record written under id N still names the same schema afterwards. The data directory is
``data_dir`` if given (the command line's default: ``$HUB_CACHE_DIR/apicurio-<version>/data``),
else a private temporary one kept for the life of the object and removed when its ``with``
block ends. ``in_memory=True`` (``--in-memory``) gives Apicurio's H2 in-memory database: every
start is an empty registry, which hands out ids 1, 2, 3 again to whatever registers first.
Only 3.x has SQL storage in this distribution; 2.x runs in memory only.

The Confluent-compatible API is served under ``/apis/ccompat/v7`` (3.x and 2.x alike; 2.x also
answers under ``/apis/ccompat/v6``, 3.x also under ``/apis/ccompat/v8``).

Apicurio 3.x is built for Java 21: a JDK 21+ is looked up in ``APICURIO_JAVA_HOME``,
``JAVA_HOME``, ``PATH`` and ``/usr/lib/jvm`` (here: Temurin 25). 2.x runs on Java 17.

Run it in the foreground with ``python -m hub.devtools.local_registry --help``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

import httpx

from hub.errors import LocalRegistryError

__all__ = [
    "CCOMPAT_PATH",
    "DEFAULT_VERSION",
    "LocalApicurio",
    "LocalRegistryError",
    "cache_root",
    "find_java",
    "find_maven",
    "main",
]

DEFAULT_VERSION = "3.3.3"
CCOMPAT_PATH = "/apis/ccompat/v7"
DEFAULT_XMX = "512m"
MARKER = "COMPLETE.json"
TOOLS_DIR = Path(__file__).resolve().parents[2] / "tools" / "apicurio"
JVM_DIRS = (Path("/usr/lib/jvm"),)
_PORT_IN_USE = re.compile(
    r"address already in use|port already bound|bindexception|seems to be in use", re.I
)


# --------------------------------------------------------------------------- discovery


def cache_root() -> Path:
    """``$HUB_CACHE_DIR`` if set, else ``~/.cache/signalhub``."""
    configured = os.environ.get("HUB_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "signalhub"


def required_java(version: str) -> int:
    """The oldest Java major version an Apicurio release runs on (3.x is built for 21)."""
    major = version.split(".", 1)[0]
    return 21 if major.isdigit() and int(major) >= 3 else 11


def _release_major(home: Path) -> int | None:
    """Java major version read from a JDK's ``release`` file, or None."""
    try:
        text = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', text, re.M)
    if found is None:
        return None
    first = int(found.group(1))
    return int(found.group(2) or 0) if first == 1 else first


def _java_in(home: Path) -> Path | None:
    java = home / "bin" / "java"
    return java if java.is_file() and os.access(java, os.X_OK) else None


def _candidate_homes(explicit: str | None) -> Iterator[Path]:
    for value in (explicit, os.environ.get("APICURIO_JAVA_HOME"), os.environ.get("JAVA_HOME")):
        if value:
            yield Path(value).expanduser()
    on_path = shutil.which("java")
    if on_path:
        yield Path(on_path).resolve().parent.parent
    for root in JVM_DIRS:
        if root.is_dir():
            yield from sorted(
                (p for p in root.iterdir() if p.is_dir() and not p.is_symlink()),
                key=lambda p: _release_major(p) or 0,
                reverse=True,
            )


def find_java(min_major: int, java_home: str | None = None) -> Path:
    """A ``java`` executable of at least ``min_major``, or a clear error."""
    seen: list[str] = []
    for home in _candidate_homes(java_home):
        java = _java_in(home)
        major = _release_major(home)
        if java is None or any(entry.startswith(f"{home} ") for entry in seen):
            continue
        seen.append(f"{home} (Java {major if major is not None else '?'})")
        if major is not None and major >= min_major:
            return java
    found = "; ".join(seen) or "none"
    raise LocalRegistryError(
        f"Apicurio needs Java {min_major} or newer, found: {found}. Install a JDK "
        f"{min_major}+ (e.g. under /usr/lib/jvm) or point APICURIO_JAVA_HOME at one."
    )


def find_maven() -> Path:
    """The ``mvn`` executable, or a clear error."""
    on_path = shutil.which("mvn")
    if on_path:
        return Path(on_path)
    for var in ("MAVEN_HOME", "M2_HOME"):
        home = os.environ.get(var)
        if home and (Path(home) / "bin" / "mvn").is_file():
            return Path(home) / "bin" / "mvn"
    raise LocalRegistryError(
        "Maven (mvn) is not on PATH: it fetches Apicurio Registry from Maven Central "
        "(install it, e.g. `apt-get install maven`, or set MAVEN_HOME)."
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def runnable_jar(app_dir: Path) -> Path | None:
    """``quarkus-run.jar`` (3.x fast-jar) or ``*-runner.jar`` (2.x) in an unpacked app."""
    fast = app_dir / "quarkus-run.jar"
    if fast.is_file():
        return fast
    runners = sorted(app_dir.glob("*-runner.jar"))
    return runners[0] if runners else None


def _errors_or_tail(path: Path, lines: int = 25) -> str:
    """Maven's ``[ERROR]`` lines of a build log, else its last lines."""
    errors = [line for line in _tail(path, 400).splitlines()
              if line.startswith("[ERROR]") and line.strip() != "[ERROR]"]
    return "\n".join(errors[:2]) if errors else _tail(path, lines)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so parallel test processes build only once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- the registry


class LocalApicurio:
    """One Apicurio Registry JVM on 127.0.0.1 with persistent (H2 file) or in-memory storage.

    ``with LocalApicurio() as reg:`` starts it (``reg.base_url`` is the Confluent-compatible
    API root) and stops it on exit; :meth:`start` is idempotent and returns that URL;
    :meth:`stop` then :meth:`start` (or :meth:`restart`) runs it again on the same port and
    the same data.
    """

    def __init__(
        self,
        version: str = DEFAULT_VERSION,
        *,
        cache_dir: Path | str | None = None,
        java_home: str | None = None,
        port: int | None = None,
        xmx: str = DEFAULT_XMX,
        extra_properties: dict[str, str] | None = None,
        tools_dir: Path = TOOLS_DIR,
        data_dir: Path | str | None = None,
        in_memory: bool = False,
    ) -> None:
        self.version = version
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root() / f"apicurio-{version}"
        self.app_dir = self.cache_dir / "app"
        self.java_home = java_home
        self.requested_port = port
        self.xmx = xmx
        self.extra_properties = dict(extra_properties or {})
        self.tools_dir = tools_dir
        self.in_memory = in_memory
        self.data_dir = Path(data_dir).expanduser().resolve() if data_dir else None
        self._own_data_dir = False
        self._data_lock: IO[str] | None = None
        self.port: int | None = None
        self._kept_port: int | None = None  # the port of the last good start
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # ---- build

    @property
    def is_built(self) -> bool:
        """True when a complete unpacked app (marker and runnable jar) is cached."""
        return (self.cache_dir / MARKER).is_file() and runnable_jar(self.app_dir) is not None

    def ensure_built(self) -> Path:
        """Fetch and unpack the release once via Maven; returns the app directory."""
        if self.is_built:
            return self.app_dir
        with _locked(self.cache_dir / "build.lock"):
            if not self.is_built:
                self._build()
        return self.app_dir

    def _build(self) -> None:
        pom = self.tools_dir / "pom.xml"
        if not pom.is_file():
            raise LocalRegistryError(f"{pom} not found: run from a Signalhub source checkout")
        mvn = find_maven()
        work, staging = self.cache_dir / "mvn", self.cache_dir / "app.partial"
        for stale in (work, staging, self.app_dir, self.cache_dir / MARKER):
            _remove(stale)
        work.mkdir(parents=True)
        for name in ("pom.xml", "settings.xml"):
            shutil.copy2(self.tools_dir / name, work / name)
        log = self.cache_dir / "build.log"
        command = [
            str(mvn), "-B", "-ntp", "-Dstyle.color=never", "-s", "settings.xml", "-f", "pom.xml",
            "package",
            f"-Dapicurio.version={self.version}", f"-Dapicurio.output={staging}",
        ]
        with log.open("wb") as out:
            done = subprocess.run(command, cwd=work, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, check=False)
        jar = runnable_jar(staging)
        if done.returncode != 0 or jar is None:
            raise LocalRegistryError(
                f"Maven could not fetch io.apicurio:apicurio-registry-app:{self.version}"
                f":tar.gz:all (exit {done.returncode}); see {log}:\n{_errors_or_tail(log)}"
            )
        staging.rename(self.app_dir)
        _remove(work)
        marker = {"version": self.version, "runnable": jar.name,
                  "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (self.cache_dir / MARKER).write_text(json.dumps(marker, indent=2) + "\n")

    # ---- run

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/apis/ccompat/v7`` of the running registry."""
        if self.port is None or not self.running:
            raise LocalRegistryError("the registry is not running: call start() first")
        return f"http://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def command(self, port: int, management_port: int) -> list[str]:
        """The java command line for one run."""
        app = self.ensure_built()
        jar = runnable_jar(app)
        assert jar is not None  # ensure_built checked it
        java = find_java(required_java(self.version), self.java_home)
        props = {
            "quarkus.http.host": "127.0.0.1",
            "quarkus.http.port": str(port),
            "quarkus.management.host": "127.0.0.1",
            "quarkus.management.port": str(management_port),
            "quarkus.otel.sdk.disabled": "true",
            **self.storage_properties(),
            **self.extra_properties,
        }
        # A small test server: C1 only and the serial GC start faster and use less memory.
        jvm = [f"-Xmx{self.xmx}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               "-XX:+ExitOnOutOfMemoryError"]
        return [str(java), *jvm, *(f"-D{k}={v}" for k, v in props.items()), "-jar", str(jar)]

    def storage_properties(self) -> dict[str, str]:
        """Apicurio's storage settings: SQL on an H2 file in :attr:`data_dir`, or in memory."""
        if self.in_memory:
            return {}
        if required_java(self.version) < 21:
            raise LocalRegistryError(
                f"Apicurio {self.version} has no SQL storage in this distribution: run it with"
                " in_memory=True (--in-memory) or use a 3.x release"
            )
        if self.data_dir is None:
            raise LocalRegistryError("no data directory yet: call start() first")
        return {
            "apicurio.storage.kind": "sql",
            "apicurio.storage.sql.kind": "h2",
            "apicurio.datasource.url": f"jdbc:h2:file:{self.data_dir / 'registry'}",
        }

    def _claim_data_dir(self) -> None:
        """Create (or pick a private) data directory and lock it: H2 opens a file once."""
        if self.in_memory or self._data_lock is not None:
            return
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="apicurio-data-"))
            self._own_data_dir = True
            atexit.register(self.remove_data)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.data_dir / "registry.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise LocalRegistryError(
                f"{self.data_dir} is in use by another local registry; stop it or choose"
                " another data directory"
            ) from None
        self._data_lock = handle

    def _release_data_dir(self) -> None:
        if self._data_lock is not None:
            self._data_lock.close()  # closing drops the lock
            self._data_lock = None

    def start(self, timeout: float = 180.0) -> str:
        """Start (once) and wait until the Confluent API answers; returns its base URL.

        After a :meth:`stop` it starts on the port it had, so clients keep their URL."""
        if self.running:
            return self.base_url
        self.ensure_built()
        deadline = time.monotonic() + timeout
        for _attempt in range(3):  # a free port may be taken before the JVM binds it
            port = self.requested_port or self._kept_port or free_port()
            if self._launch(port, deadline):
                return self.base_url
            if self.requested_port or self._kept_port:
                break
        raise LocalRegistryError(
            f"Apicurio {self.version} could not bind port {self.port} on 127.0.0.1 (in use); "
            f"see {self.log_path}"
        )

    def _launch(self, port: int, deadline: float) -> bool:
        """One attempt; False when its port was taken meanwhile (the caller retries)."""
        self._claim_data_dir()
        try:
            command = self.command(port, free_port())  # raises before anything is opened
        except LocalRegistryError:
            self._release_data_dir()
            raise
        self.port = port
        logs = self.cache_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"apicurio-{port}.log"
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            command, cwd=self.app_dir, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        atexit.register(self.stop)
        try:
            self._wait_ready(deadline)
        except LocalRegistryError:
            self.stop()
            if _PORT_IN_USE.search(_tail(self.log_path, 60)):
                return False
            raise
        self._kept_port = port
        return True

    def _wait_ready(self, deadline: float) -> None:
        url = f"http://127.0.0.1:{self.port}{CCOMPAT_PATH}/subjects"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                if self._proc is None or self._proc.poll() is not None:
                    code = None if self._proc is None else self._proc.returncode
                    raise LocalRegistryError(
                        f"Apicurio exited during startup (code {code}); log {self.log_path}:\n"
                        f"{_tail(self.log_path or Path('-'))}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise LocalRegistryError(
                        f"Apicurio not ready at {url} in time; log {self.log_path}:\n"
                        f"{_tail(self.log_path or Path('-'))}"
                    )
                time.sleep(0.25)

    def restart(self, down_for: float = 0.0, timeout: float = 180.0) -> str:
        """Stop, stay down ``down_for`` seconds, start again on the same port and data."""
        self.stop()
        time.sleep(down_for)
        return self.start(timeout)

    def remove_data(self) -> None:
        """Stop, and delete a private temporary data directory (a given one is kept)."""
        self.stop()
        if self._own_data_dir and self.data_dir is not None:
            atexit.unregister(self.remove_data)
            _remove(self.data_dir)
            self.data_dir, self._own_data_dir = None, False

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to its process group, SIGKILL if it lingers; safe to call twice. The
        data (and the port, for the next :meth:`start`) are kept."""
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        self._release_data_dir()

    def __enter__(self) -> LocalApicurio:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove_data()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hub.devtools.local_registry",
        description=(
            "Run a real Apicurio Registry on 127.0.0.1 in the foreground until Ctrl-C, with "
            "persistent storage (an H2 file database in --data-dir), so schema ids survive a "
            "restart. The first run has Maven fetch "
            "io.apicurio:apicurio-registry-app:<version>:tar.gz:all from Maven Central into "
            "$HUB_CACHE_DIR/apicurio-<version> (default ~/.cache/signalhub/apicurio-<version>)."
        ),
        epilog=(
            f"The Confluent-compatible API is at http://127.0.0.1:<port>{CCOMPAT_PATH}, e.g. "
            "GET .../subjects. Apicurio 3.x needs Java 21+ (found in APICURIO_JAVA_HOME, "
            "JAVA_HOME, PATH or /usr/lib/jvm); 2.x runs on Java 17. "
            "Example: python -m hub.devtools.local_registry --port 8081"
        ),
    )
    parser.add_argument("--apicurio-version", default=DEFAULT_VERSION,
                        help="release of io.apicurio:apicurio-registry-app (default %(default)s)")
    parser.add_argument("--port", type=int, default=None,
                        help="HTTP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--xmx", default=DEFAULT_XMX, help="JVM max heap (default %(default)s)")
    parser.add_argument("--java-home", default=None, help="JDK to run it with")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the unpacked release lives (default: see above)")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="seconds to wait for readiness (default %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where its H2 database lives (default: "
                             "$HUB_CACHE_DIR/apicurio-<version>/data)")
    parser.add_argument("--in-memory", action="store_true",
                        help="keep nothing: an empty registry at every start, ids reused "
                             "(tests only; never for data that outlives the registry)")
    parser.add_argument("--build-only", action="store_true",
                        help="fetch and unpack the release, then exit")
    return parser


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m hub.devtools.local_registry``."""
    args = _parser().parse_args(argv)
    cache_dir = args.cache_dir or cache_root() / f"apicurio-{args.apicurio_version}"
    data_dir = None if args.in_memory else args.data_dir or cache_dir / "data"
    registry = LocalApicurio(args.apicurio_version, cache_dir=cache_dir,
                             java_home=args.java_home, port=args.port, xmx=args.xmx,
                             data_dir=data_dir,
                             in_memory=args.in_memory)
    try:
        if args.build_only:
            print(registry.ensure_built())
            return 0
        url = registry.start(timeout=args.timeout)
    except LocalRegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Apicurio Registry {registry.version} ready: {url}", flush=True)
    storage = "in memory" if registry.in_memory else f"H2 file in {registry.data_dir}"
    print(f"storage: {storage}; log: {registry.log_path}  (Ctrl-C to stop)", flush=True)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while registry.running:
            time.sleep(0.5)
        print("error: the registry exited by itself; see the log", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        registry.stop()


if __name__ == "__main__":
    raise SystemExit(main())

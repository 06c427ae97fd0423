"""Run a real single-node Apache Kafka broker (KRaft) from Apache Kafka's own jars.

No Docker and no Kafka download page: ``tools/kafka/pom.xml`` names Apache Kafka's
broker artifact (``org.apache.kafka:kafka_2.13``) plus a log4j2 backend; Maven resolves
them from Maven Central once into a cache directory, and the broker runs straight from
those jars with ``java -cp '<jars>/*' kafka.Kafka server.properties``.

Library use (tests, scripts)::

    with LocalKafka() as kafka:          # free ports, temporary data directory
        use(kafka.bootstrap)             # "127.0.0.1:<port>"

Developers::

    python -m hub.devtools.local_kafka            # foreground broker on 127.0.0.1:9092
    python -m hub.devtools.local_kafka --help

Needs Java 17+ (``java`` on PATH or ``$JAVA_HOME``) and, for the first run only, Apache
Maven (``mvn``). Jars are cached under ``$HUB_CACHE_DIR`` (default
``~/.cache/signalhub``) in ``kafka-<version>/libs``; a marker file holding the POM's
hash says the set is complete, so later starts never run Maven.

The broker listens on 127.0.0.1 only, runs in its own process group, logs to
``<workdir>/kafka.log`` and is stopped at interpreter exit at the latest (``atexit``);
a temporary work directory is removed on ``stop()``.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import structlog

from hub.devtools.broker_security import BrokerSecurity, prepare
from hub.errors import LocalKafkaError, ToolMissing

__all__ = [
    "LOG4J_CONFIG",
    "POM",
    "LocalKafka",
    "LocalKafkaError",
    "ToolMissing",
    "broker_api_version",
    "default_cache_dir",
    "kafka_version",
    "main",
    "wait_for_broker",
]

log = structlog.get_logger(__name__)

TOOLS_DIR = Path(__file__).resolve().parents[2] / "tools" / "kafka"
POM = TOOLS_DIR / "pom.xml"
LOG4J_CONFIG = TOOLS_DIR / "log4j2.xml"

MIN_JAVA = 17
HOST = "127.0.0.1"
DEFAULT_CLI_PORT = 9092
MVN_TIMEOUT_S = 900.0
STOP_GRACE_S = 30.0
BROKER_JVM_OPTS = ("-Xmx512m", "-XX:+ExitOnOutOfMemoryError")
# C1 only + serial GC: roughly halves the CPU a 2-core machine spends starting Kafka
FAST_START_JVM_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
_MARKER = "complete"
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}

JAVA_HINT = (
    "Apache Kafka 4.x needs Java 17 or newer: install a JDK/JRE 17+ "
    "(Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`; macOS: "
    "`brew install openjdk@17`) and put `java` on PATH or set JAVA_HOME"
)
MVN_HINT = (
    "Apache Maven is needed once, to fetch Kafka's jars from Maven Central: install it "
    "(Debian/Ubuntu: `apt-get install maven`; macOS: `brew install maven`) and put `mvn` "
    "on PATH"
)


# --------------------------------------------------------------------------- jars


def kafka_version(pom: Path = POM) -> str:
    """The Apache Kafka version that ``tools/kafka/pom.xml`` pins (``kafka.version``)."""
    if not pom.is_file():
        raise LocalKafkaError(f"{pom} not found: run from a Signalhub source checkout")
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", _POM_NS)
    if node is None or not (node.text or "").strip():
        raise LocalKafkaError(f"{pom} has no <properties><kafka.version>")
    return (node.text or "").strip()


def default_cache_dir() -> Path:
    """``$HUB_CACHE_DIR`` if set, else ``~/.cache/signalhub``."""
    env = os.environ.get("HUB_CACHE_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "signalhub"


def _pom_fingerprint(pom: Path = POM) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def _jars_complete(libs: Path, marker: Path, fingerprint: str, version: str) -> bool:
    try:
        recorded = marker.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return recorded == fingerprint and (libs / f"kafka_2.13-{version}.jar").is_file()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so parallel test runs resolve the jars only once."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def find_mvn() -> str:
    """Path of ``mvn``; :class:`ToolMissing` with install advice when absent."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissing(f"`mvn` not found. {MVN_HINT}")
    return mvn


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run_mvn(mvn: str, output_dir: Path) -> None:
    cmd = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={output_dir}",
    ]
    try:
        done = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=MVN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LocalKafkaError(f"mvn did not finish within {MVN_TIMEOUT_S:.0f}s") from exc
    if done.returncode != 0:
        raise LocalKafkaError(
            f"mvn could not fetch Kafka's jars (exit {done.returncode}):\n"
            f"{_tail(done.stdout + done.stderr)}"
        )


def resolve_jars(cache_dir: Path, version: str) -> Path:
    """Make sure ``<cache_dir>/kafka-<version>/libs`` holds the complete jar set."""
    version_dir = cache_dir / f"kafka-{version}"
    libs, marker = version_dir / "libs", version_dir / _MARKER
    fingerprint = _pom_fingerprint()
    if _jars_complete(libs, marker, fingerprint, version):
        return libs
    mvn = find_mvn()
    version_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(version_dir / ".lock"):
        if _jars_complete(libs, marker, fingerprint, version):
            return libs  # another process finished while we waited for the lock
        log.info("kafka.jars.resolving", version=version, into=str(libs))
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=version_dir))
        try:
            _run_mvn(mvn, staging)
            if not (staging / f"kafka_2.13-{version}.jar").is_file():
                raise LocalKafkaError(f"mvn finished but kafka_2.13-{version}.jar is missing")
            marker.unlink(missing_ok=True)
            shutil.rmtree(libs, ignore_errors=True)
            staging.chmod(0o755)  # mkdtemp makes it private
            staging.rename(libs)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        marker.write_text(fingerprint + "\n", encoding="utf-8")
        log.info("kafka.jars.ready", version=version, seconds=round(time.monotonic() - started, 1))
    return libs


# --------------------------------------------------------------------------- java


def find_java() -> str:
    """``$JAVA_HOME/bin/java`` if present, else ``java`` on PATH; checks for Java 17+."""
    java_home = os.environ.get("JAVA_HOME", "").strip()
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    java = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
    if java is None:
        raise ToolMissing(f"`java` not found. {JAVA_HINT}")
    major = java_major_version(java)
    if major < MIN_JAVA:
        raise ToolMissing(f"{java} is Java {major}. {JAVA_HINT}")
    return java


def java_major_version(java: str) -> int:
    """The feature version of ``java`` (8 for ``1.8.0_x``, 17 for ``17.0.15``)."""
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissing(f"could not run `{java} -version` ({exc}). {JAVA_HINT}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if match is None:
        raise ToolMissing(f"could not read the version of {java}. {JAVA_HINT}")
    first, second = int(match.group(1)), int(match.group(2) or 0)
    return second if first == 1 else first


# --------------------------------------------------------------------------- network


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that are free right now."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _split_hostport(address: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    return host.strip("[]") or HOST, int(port or 9092)


def _any_accepts(bootstrap: str) -> bool:
    return any(port_accepts(*_split_hostport(a)) for a in bootstrap.split(",") if a.strip())


def _admin_client(bootstrap: str, timeout_s: float) -> Any:
    """A kafka-python ``KafkaAdminClient`` (imported lazily: it is slow to import)."""
    from kafka import KafkaAdminClient

    timeout_ms = max(1000, int(timeout_s * 1000))
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="signalhub-local-kafka",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
    )


def _broker_answers(bootstrap: str, timeout_s: float) -> bool:
    """Bootstrap with kafka-python, list topics and see at least one unfenced broker."""
    from kafka.errors import KafkaError

    try:
        admin = _admin_client(bootstrap, timeout_s)
    except KafkaError:
        return False
    try:
        admin.list_topics()
        return bool(admin.describe_cluster().get("brokers"))
    except KafkaError:
        return False
    finally:
        admin.close()


def wait_for_broker(
    bootstrap: str,
    timeout: float = 60.0,
    alive: Callable[[], bool] | None = None,
    describe_failure: Callable[[], str] | None = None,
) -> None:
    """Block until a Kafka broker at ``bootstrap`` answers kafka-python's admin client.

    The TCP port is polled first (cheap, and a kafka-python client that never bootstraps
    leaves sockets behind); ``alive`` lets a caller stop waiting for a dead process.
    """
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and not alive():
            raise LocalKafkaError(
                _with_details("the broker exited during startup", describe_failure)
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LocalKafkaError(
                _with_details(
                    f"no Kafka broker answered at {bootstrap} within {timeout:.0f}s",
                    describe_failure,
                )
            )
        if _any_accepts(bootstrap) and _broker_answers(bootstrap, min(remaining, 15.0)):
            return
        time.sleep(0.2)


def _with_details(message: str, describe_failure: Callable[[], str] | None) -> str:
    return f"{message}\n{describe_failure()}" if describe_failure else message


def broker_api_version(bootstrap: str, timeout: float = 10.0) -> str:
    """What kafka-python infers from the broker's API versions, e.g. ``"4.3+"``.

    Kafka does not report its release over the wire; this is the newest release whose
    API set kafka-python knows and the broker supports. ``"unknown"`` on any failure.
    """
    from kafka.errors import KafkaError

    if not _any_accepts(bootstrap):
        return "unknown"
    try:
        admin = _admin_client(bootstrap, timeout)
    except KafkaError:
        return "unknown"
    try:
        broker_id = admin.describe_cluster()["brokers"][0]["broker_id"]
        version = admin.get_broker_version_data(broker_id).broker_version
        return ".".join(str(part) for part in version) + "+"
    except (KafkaError, LookupError, TypeError, AttributeError):
        return "unknown"
    finally:
        admin.close()


# --------------------------------------------------------------------------- broker


def new_cluster_id() -> str:
    """A random KRaft cluster id (base64url UUID, not starting with ``-``)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def server_properties(
    port: int, controller_port: int, data_dir: Path, extra: Mapping[str, str] | None = None
) -> str:
    """A single-node combined broker+controller configuration, loopback only; ``extra``
    adds or replaces properties (the SASL_SSL listener)."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "3",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "5",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.dedupe.buffer.size": "1048577",
        "log.cleaner.backoff.ms": "1000",
        "log.segment.bytes": str(16 * 1024 * 1024),
        "log.segment.delete.delay.ms": "1000",
        "num.network.threads": "2",
        "num.io.threads": "4",
        **(extra or {}),
    }
    lines = [f"{key}={value}" for key, value in settings.items()]
    return "# written by hub/devtools/local_kafka.py\n" + "\n".join(lines) + "\n"


def _previous_ports(props: Path) -> tuple[int | None, int | None, int | None]:
    """(broker, controller, SASL_SSL) ports of an earlier run in the same work directory."""
    try:
        text = props.read_text(encoding="utf-8")
    except OSError:
        return None, None, None
    broker = re.search(r"^advertised\.listeners=PLAINTEXT://[^:]+:(\d+)", text, re.M)
    controller = re.search(r"^controller\.quorum\.bootstrap\.servers=[^:]+:(\d+)", text, re.M)
    sasl = re.search(r"^advertised\.listeners=.*SASL_SSL://[^:]+:(\d+)", text, re.M)
    return tuple(int(m.group(1)) if m else None  # type: ignore[return-value]
                 for m in (broker, controller, sasl))


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the broker's process group, then SIGKILL it after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        log.warning("kafka.stop.kill", pid=proc.pid, grace=grace)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


class LocalKafka:
    """A real single-node Apache Kafka broker (KRaft, broker+controller) run from jars.

    ``port=None`` picks a free port (the controller always gets another free port);
    ``workdir=None`` uses a temporary directory removed by :meth:`stop`. A given
    ``workdir`` is kept, and a later start in it reuses its data and ports.

    ``fast_start`` (default) runs the JVM with the C1 compiler only and the serial GC:
    about half the CPU to start, which is what tests want; a broker for benchmarks or a
    long developer session should pass ``fast_start=False`` for full JIT throughput.

    ``sasl_ssl=True`` adds a ``SASL_SSL`` listener at :attr:`sasl_bootstrap` with a CA,
    a broker certificate and a SCRAM/PLAIN user made at start
    (:mod:`hub.devtools.broker_security`; :attr:`security` has the CA file and the
    password); the ``PLAINTEXT`` listener at :attr:`bootstrap` stays.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        port: int | None = None,
        cache_dir: Path | None = None,
        *,
        fast_start: bool = True,
        sasl_ssl: bool = False,
    ) -> None:
        self.version: str = kafka_version()
        self.fast_start = fast_start
        self.port: int | None = port
        self.controller_port: int | None = None
        self.sasl_ssl = sasl_ssl
        self.sasl_port: int | None = None
        #: the SASL_SSL listener's CA and user, once :meth:`start` has made them
        self.security: BrokerSecurity | None = None
        self.cache_dir: Path = cache_dir if cache_dir is not None else default_cache_dir()
        self.workdir: Path | None = workdir
        self._owns_workdir = workdir is None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- properties ---------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:<port>``; known once :meth:`start` has chosen the port."""
        if self.port is None:
            raise LocalKafkaError("the broker has no port yet: call start() first")
        return f"{HOST}:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        """``127.0.0.1:<port>`` of the SASL_SSL listener (``sasl_ssl=True`` only)."""
        if self.sasl_port is None:
            raise LocalKafkaError("the broker has no SASL_SSL listener: LocalKafka(sasl_ssl=True)")
        return f"{HOST}:{self.sasl_port}"

    @property
    def log_path(self) -> Path | None:
        """The broker's stdout/stderr log (``<workdir>/kafka.log``)."""
        return self.workdir / "kafka.log" if self.workdir is not None else None

    @property
    def pid(self) -> int | None:
        """Process id of the running broker JVM, if any."""
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ------------------------------------------------------------------

    def ensure_jars(self) -> Path:
        """The directory of Kafka's jars, running Maven once if they are not cached yet."""
        return resolve_jars(self.cache_dir, self.version)

    def start(self, timeout: float = 90) -> str:
        """Start the broker, wait until it answers, return its bootstrap address.

        ``timeout`` covers formatting, launch and readiness; the one-time jar download
        has its own limit. On failure the broker is stopped and the error carries the
        tail of its log.
        """
        if self.is_running():
            return self.bootstrap
        java = find_java()
        libs = self.ensure_jars()
        started = time.monotonic()
        try:
            props = self._prepare_workdir()
            self._format_storage(java, libs, props, timeout)
            self._launch(java, libs, props)
            wait_for_broker(
                self.bootstrap,
                timeout=max(1.0, timeout - (time.monotonic() - started)),
                alive=self.is_running,
                describe_failure=self.log_tail,
            )
        except BaseException:
            self.stop()
            raise
        log.info(
            "kafka.started",
            bootstrap=self.bootstrap,
            version=self.version,
            seconds=round(time.monotonic() - started, 1),
            workdir=str(self.workdir),
        )
        return self.bootstrap

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the broker process to exit; its exit code, or None if not started."""
        if self._proc is None:
            return None
        return self._proc.wait(timeout=timeout)

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and remove a temporary work directory.

        Safe to call more than once, and also called at interpreter exit.
        """
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is not None:
            _terminate(proc, STOP_GRACE_S)
            log.info("kafka.stopped", bootstrap=f"{HOST}:{self.port}", exit_code=proc.returncode)
        if self._owns_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def halt(self, *, kill: bool = False) -> None:
        """Stop the broker process (SIGTERM; ``kill``: SIGKILL, a crash) but keep its
        work directory, data and ports: :meth:`start` brings the same broker back on the
        same address with its topics, offsets and groups (for fault tests)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if kill:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        else:
            _terminate(proc, STOP_GRACE_S)
        log.info("kafka.halted", bootstrap=self.bootstrap, exit_code=proc.returncode,
                 killed=kill)

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- steps ------------------------------------------------------------------------

    def _prepare_workdir(self) -> Path:
        """Create the work directory, choose ports, write ``server.properties``."""
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="signalhub-kafka-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = self.workdir / "server.properties"
        self._choose_ports(props)
        assert self.port is not None and self.controller_port is not None
        extra: dict[str, str] = {}
        if self.sasl_ssl:
            assert self.sasl_port is not None
            self.security = prepare(self.workdir)
            extra = self.security.server_settings(HOST, self.port, self.sasl_port,
                                                  self.controller_port)
        for port in (self.port, self.controller_port, self.sasl_port):
            if port is None:
                continue
            if port_accepts(HOST, port, timeout=0.2):
                raise LocalKafkaError(
                    f"port {port} on {HOST} is already in use (another Kafka?); pick another"
                    " port, or let one be chosen (port=None; CLI: --port 0)"
                )
        props.write_text(
            server_properties(self.port, self.controller_port, self.workdir / "data", extra),
            encoding="utf-8",
        )
        return props

    def _choose_ports(self, props: Path) -> None:
        formatted = (props.parent / "data" / "meta.properties").is_file()
        old_port, old_controller, old_sasl = (
            _previous_ports(props) if formatted else (None, None, None))
        if self.port is None:
            self.port = old_port
        # a formatted KRaft log records its controller endpoint: keep the same port
        self.controller_port = old_controller
        if self.sasl_ssl and self.sasl_port is None:
            self.sasl_port = old_sasl
        wanted = [p for p in (self.port, self.controller_port, self.sasl_port) if p is not None]
        spare = iter(p for p in free_ports(6) if p not in wanted)
        if self.port is None:
            self.port = next(spare)
        if self.controller_port is None or self.controller_port == self.port:
            self.controller_port = next(spare)
        if self.sasl_ssl and self.sasl_port in (None, self.port, self.controller_port):
            self.sasl_port = next(spare)

    @staticmethod
    def _java_cmd(java: str, libs: Path, jvm_opts: Sequence[str], *args: str) -> list[str]:
        return [
            java,
            *jvm_opts,
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-Djava.awt.headless=true",
            "-cp",
            str(libs / "*"),
            *args,
        ]

    def _format_storage(self, java: str, libs: Path, props: Path, timeout: float) -> None:
        """``kafka-storage format --standalone`` unless the data directory is formatted."""
        if (props.parent / "data" / "meta.properties").is_file():
            return
        format_args = ["format", "-t", new_cluster_id(), "-c", str(props), "--standalone",
                       *(self.security.format_args() if self.security else ())]
        cmd = self._java_cmd(
            java, libs, FAST_START_JVM_OPTS, "kafka.tools.StorageTool", *format_args
        )
        try:
            done = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                cwd=props.parent,
            )
        except subprocess.TimeoutExpired as exc:
            raise LocalKafkaError(f"formatting Kafka storage took over {timeout:.0f}s") from exc
        if done.returncode != 0:
            raise LocalKafkaError(
                f"formatting Kafka storage failed (exit {done.returncode}):\n"
                f"{_tail(done.stdout + done.stderr)}"
            )

    def _launch(self, java: str, libs: Path, props: Path) -> None:
        jvm_opts = [*BROKER_JVM_OPTS, *(FAST_START_JVM_OPTS if self.fast_start else ())]
        cmd = self._java_cmd(java, libs, jvm_opts, "kafka.Kafka", str(props))
        log_path = props.parent / "kafka.log"
        with log_path.open("ab") as log_file:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=props.parent,
                start_new_session=True,  # own process group: Ctrl-C goes to us, not to it
            )
        atexit.register(self.stop)

    def log_tail(self) -> str:
        """The last lines of the broker's log, for error messages."""
        path = self.log_path
        if path is None or not path.is_file():
            return "(no broker log)"
        text = path.read_text(encoding="utf-8", errors="replace")
        return f"last lines of {path}:\n{_tail(text) or '(empty)'}"


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hub.devtools.local_kafka",
        description=(
            "Run a real single-node Apache Kafka broker (KRaft mode) in the foreground, "
            "from Apache Kafka's own jars (fetched once from Maven Central with mvn and "
            "cached). Listens on 127.0.0.1 only. Stop it with Ctrl-C."
        ),
        epilog=(
            "Needs Java 17+ and, on first use, Apache Maven. Jars are cached in "
            "$HUB_CACHE_DIR (default ~/.cache/signalhub). Point Signalhub at the broker "
            "with HUB_BUS=kafka://127.0.0.1:9092. Examples: `python -m "
            "hub.devtools.local_kafka` (port 9092, throw-away data); `... --port 0 "
            "--workdir var/kafka` (free port, data kept in var/kafka)."
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_CLI_PORT,
        help=f"broker port on 127.0.0.1 (default {DEFAULT_CLI_PORT}; 0 = any free port)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        default=None,
        help="keep config, data and kafka.log in DIR, reused by later runs "
        "(default: a temporary directory, removed on exit)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        default=None,
        help="where the jars are cached (default $HUB_CACHE_DIR or ~/.cache/signalhub)",
    )
    parser.add_argument(
        "--fast-start",
        action="store_true",
        help="start quicker (C1 JIT only, serial GC) at the cost of peak throughput",
    )
    parser.add_argument(
        "--sasl-ssl",
        action="store_true",
        help="also listen with SASL_SSL (a CA, a broker certificate and a SCRAM/PLAIN user"
        " made at start; the hub's settings for it are written to"
        " <workdir>/security/client.env)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        default=90.0,
        help="seconds to wait for the broker to answer (default 90)",
    )
    return parser


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Foreground broker for developers; returns the process exit code."""
    args = _parser().parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)  # all mean "stop the broker and exit"
    kafka: LocalKafka | None = None
    try:
        kafka = LocalKafka(
            workdir=args.workdir,
            port=args.port or None,
            cache_dir=args.cache_dir,
            fast_start=args.fast_start,
            sasl_ssl=args.sasl_ssl,
        )
        print(f"starting Apache Kafka {kafka.version} (KRaft, single node) ...", flush=True)
        return _serve(kafka, args.timeout)
    except KeyboardInterrupt:
        print("stopping Kafka ...", flush=True)
        return 0
    except ToolMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if kafka is not None:
            kafka.stop()


def _serve(kafka: LocalKafka, timeout: float) -> int:
    bootstrap = kafka.start(timeout=timeout)
    print(f"Apache Kafka {kafka.version} ready at {bootstrap}")
    print(f"  export HUB_BUS=kafka://{bootstrap}")
    if kafka.security is not None:
        env = kafka.security.write_client_env(kafka.sasl_bootstrap)
        print(f"  SASL_SSL listener at {kafka.sasl_bootstrap}; its settings: set -a; . {env}")
    print(f"  broker log: {kafka.log_path}")
    print("  Ctrl-C to stop", flush=True)
    code = kafka.wait()
    print(f"error: the broker exited on its own (exit {code})", file=sys.stderr)
    print(kafka.log_tail(), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

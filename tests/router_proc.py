"""Helpers for tests that run `signalhub router` as a real subprocess.

- :class:`RouterProcesses`: starts routers in their own process group with stdout and
  stderr in files, kills (SIGKILL) or stops (SIGTERM) them, and kills whatever is left
  when the ``with`` block ends;
- reading a topic between two offsets, consumer-group lag and progress;
- valid BSNs (11-test) for the privacy scan.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import kafka.errors as kerr
import pytest
from kafka import TopicPartition as KafkaTP
from kafka.structs import OffsetAndMetadata

from hub.bus.base import Bus, Message, TopicPartition
from hub.bus.kafka import KafkaBus
from hub.settings import Settings

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
RECORD_NAMES = {
    "debt-signal": "DebtSignal",
    "eviction-risk": "EvictionRisk",
    "youth-care-exit": "YouthCareExit",
}


def settings_for(mode: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of one mode: embedded (one SQLite file) or a real Kafka + Apicurio."""
    if mode == "kafka":
        return Settings(
            bus=f"kafka://{request.getfixturevalue('kafka_bootstrap')}",
            registry_url=request.getfixturevalue("apicurio_url"),
        )
    return Settings(bus=f"embedded:{tmp_path / 'hub.db'}")


def _signalhub() -> list[str]:
    script = Path(sys.executable).parent / "signalhub"
    if script.exists():
        return [str(script)]
    found = shutil.which("signalhub")
    if found:
        return [found]
    return [sys.executable, "-c", "from hub.cli import main; main()"]


@dataclass
class RouterProcess:
    """One `signalhub router` subprocess (leader of its own process group)."""

    index: int
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> int:
        """SIGKILL the whole process group; wait for the exit code."""
        self._signal_group(signal.SIGKILL)
        return self.popen.wait(timeout=30)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM (the router finishes its batch and commits); wait for the exit code."""
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def logs(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


class RouterProcesses:
    """Starts router subprocesses; every one still running is killed on exit."""

    def __init__(
        self,
        settings: Settings,
        state_dir: Path,
        log_dir: Path,
        *,
        group: str,
        config: Path = EXAMPLE,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.log_dir = log_dir
        self.group = group
        self.config = config
        self.env = dict(env or {})
        self.started: list[RouterProcess] = []

    def argv(self) -> list[str]:
        argv = [
            *_signalhub(), "router",
            "--bus", self.settings.bus,
            "--config", str(self.config),
            "--state-dir", str(self.state_dir),
            "--group", self.group,
        ]
        if self.settings.registry_url:
            argv += ["--registry", self.settings.registry_url]
        return argv

    def start(self) -> RouterProcess:
        index = len(self.started)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = self.log_dir / f"router-{index}.out"
        err = self.log_dir / f"router-{index}.err"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update(self.env)
        with out.open("wb") as fout, err.open("wb") as ferr:
            popen = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=fout,
                stderr=ferr,
                env=env,
                cwd=self.log_dir,  # no stray .env file is read
                start_new_session=True,  # own process group: killpg reaches everything
            )
        proc = RouterProcess(index, popen, out, err)
        self.started.append(proc)
        return proc

    def logs(self) -> str:
        return "".join(
            f"--- router {p.index} (rc={p.popen.returncode}) ---\n{p.logs()}\n"
            for p in self.started
        )

    def __enter__(self) -> RouterProcesses:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for proc in self.started:
            if proc.alive():
                proc.kill()
            else:
                proc.popen.wait()


# -- offsets, lag, reading --------------------------------------------------------------


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2,
    alive: RouterProcess | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if alive is not None and not alive.alive():
            raise AssertionError(
                f"router {alive.index} exited (rc={alive.popen.returncode}) while waiting"
                f" for {what}:\n{alive.logs()[-4000:]}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def committed_total(bus: Bus, group: str, topics: Iterable[str]) -> int:
    return sum(o or 0 for t in topics for o in bus.committed(group, t).values())


def total_lag(bus: Bus, group: str, topics: Iterable[str]) -> int:
    return sum(p.lag for t in topics for p in bus.lag(group, t))


def start_group_at_end(bus: Bus, group: str, topics: list[str], timeout: float = 60.0) -> None:
    """Commit the current end offsets for a new group, so that on a shared broker the
    group only reads what this test produces from now on."""
    ends = {TopicPartition(t, p): o for t in topics for p, o in bus.end_offsets(t).items()}
    if isinstance(bus, KafkaBus):
        # through the admin API: no group join (the group has no members yet); on a
        # fresh broker the offsets topic may still be coming up: retry what is retriable
        offsets = {KafkaTP(tp.topic, tp.partition): OffsetAndMetadata(o, "", -1)
                   for tp, o in ends.items()}
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = bus.admin.alter_group_offsets(group, offsets)
            except kerr.KafkaError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
                continue
            failed = {tp: err for tp, err in result.items() if err is not kerr.NoError}
            if not failed:
                return
            assert time.monotonic() < deadline, f"cannot set the offsets of {group}: {failed}"
            time.sleep(0.5)
    consumer = bus.consumer(group, topics, auto_offset_reset="latest")
    try:
        deadline = time.monotonic() + timeout
        while not set(ends) <= consumer.assignment():
            assert time.monotonic() < deadline, f"{group} was not assigned every partition"
            consumer.poll(1, 0.2)
        consumer.commit(ends)
    finally:
        consumer.close()


def end_offsets(bus: Bus, topics: Iterable[str]) -> dict[str, dict[int, int]]:
    return {t: bus.end_offsets(t) for t in topics}


def read_topics(
    bus: Bus, start: Mapping[str, Mapping[int, int]], timeout: float = 60.0
) -> dict[str, list[Message]]:
    """Every message of each topic in ``start`` from its start offsets (per partition) to
    the end offsets of now, read outside any consumer group (``Bus.reader``)."""
    ends = {topic: bus.end_offsets(topic) for topic in start}
    first = {TopicPartition(t, p): start[t].get(p, 0) for t in ends for p in ends[t]}
    last = {TopicPartition(t, p): end for t in ends for p, end in ends[t].items()}
    want = {tp for tp in last if last[tp] > first[tp]}
    got: dict[tuple[str, int, int], Message] = {}
    if want:
        reader = bus.reader(want)
        try:
            assert want <= reader.assignment()
            for tp in want:
                reader.seek(tp, first[tp])
            deadline = time.monotonic() + timeout
            while any(reader.position(tp) < last[tp] for tp in want):
                assert time.monotonic() < deadline, f"timed out reading {sorted(ends)}"
                for m in reader.poll(5000, 0.5):
                    tp = TopicPartition(m.topic, m.partition)
                    if first[tp] <= m.offset < last[tp]:
                        got[(m.topic, m.partition, m.offset)] = m
        finally:
            reader.close()
    return {t: [got[k] for k in sorted(got) if k[0] == t] for t in start}


def valid_bsn(rng: random.Random, leading_zero: bool = False) -> str:
    """A nine-digit number passing the BSN 11-test (fictional: drawn at random)."""
    while True:
        head = [0 if leading_zero else rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
        check = sum(d * w for d, w in zip(head, range(9, 1, -1), strict=True)) % 11
        if check < 10:
            bsn = "".join(map(str, head)) + str(check)
            if bsn != "000000000":
                return bsn

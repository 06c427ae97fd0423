"""The consent ledger at scale: load, lookup latency, memory, reopen, idle catch-up.

1. **load**: ``--consents`` (default 1,000,000) active consents, one per random
   pseudonym, applied with ``ConsentLedger.apply_batch`` in batches of 20,000 (the
   follower's transaction size; the consent-change objects are built outside the
   timed part, one batch at a time, so they never pile up in memory);
2. **lookup**: ``ConsentLedger.check`` for random subjects of the ledger against a
   baseline measured in the same run on the same file: a raw ``sqlite3`` SELECT of the
   same rows through the same ``(subject_ref, purpose)`` index, same pragmas. Each
   lookup is timed on its own; p50/p99 of both sides, interleaved in rounds whose order
   flips (each side first equally often, each drawing its own subjects), after a
   warm-up. The same is measured on a ledger 100 times smaller, to show how little
   lookups grow with the number of consents;
3. **memory**: peak RSS of the whole process (``resource.getrusage`` ``ru_maxrss``)
   against the 500 MB limit;
4. **restart**: time to reopen the ledger file, read its offsets and answer a check;
5. **idle catch-up**: ``LedgerFollower.catch_up()`` when nothing is new, on the
   embedded bus (one end-offsets read and one offsets read, no poll).

Run with ``python -m bench --only consent`` (see ``--help``). Reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import pinned_to_one_core
from hub.bus.base import TopicSpec
from hub.bus.embedded import EmbeddedBus
from hub.consent import ConsentLedger, ConsentStatus, LedgerFollower, ledger_path
from hub.events import ConsentAction, ConsentChange
from hub.registry.embedded import EmbeddedRegistry
from hub.serde import AvroSerde

__all__ = ["main", "parser"]

DEFAULT_CONSENTS = 1_000_000
DEFAULT_LOOKUPS = 100_000
DEFAULT_ROUNDS = 6
#: changes per ledger transaction: LedgerFollower's default ``max_batch``
BATCH = 20_000
RSS_LIMIT_MB = 500
PURPOSES = ("youth-care-exit-handover", "eviction-prevention", "debt-help")
TEAMS = 40
NOW = datetime(2025, 6, 1, tzinfo=UTC)
RAW_LOOKUP = (
    "SELECT consent_id, recipient_scope, valid_from, valid_until, withdrawn_at"
    " FROM consents WHERE subject_ref = ? AND purpose = ?"
)


def _digest(salt: bytes, i: int, size: int) -> bytes:
    return hashlib.blake2b(i.to_bytes(8, "big"), digest_size=size, person=salt).digest()


def subject_of(i: int) -> str:
    """Pseudonym of consent ``i``: random-looking, so index inserts land anywhere."""
    return "ps1-" + _digest(b"subject", i, 20).hex()


def purpose_of(i: int) -> str:
    return PURPOSES[i % len(PURPOSES)]


def team_of(i: int) -> tuple[str, str]:
    """(team id, municipality code) named in consent ``i``'s scope."""
    t = i % TEAMS
    return f"team-{t:03d}", f"GM{t:04d}"


def consent_of(i: int) -> ConsentChange:
    team, gm = team_of(i)
    return ConsentChange.model_construct(
        event_id=str(uuid.UUID(bytes=_digest(b"event", i, 16), version=4)),
        consent_id=str(uuid.UUID(bytes=_digest(b"consent", i, 16), version=4)),
        action=ConsentAction.GRANTED,
        subject_ref=subject_of(i),
        purpose=purpose_of(i),
        recipient_scope=[team, gm],
        valid_from=NOW - timedelta(days=i % 365),
        valid_until=NOW + timedelta(days=365 + i % 365),
        source="urn:nld:oin:bench",
        recorded_at=NOW - timedelta(days=i % 365),
        municipality_code=gm,
    )


def load(ledger: ConsentLedger, count: int) -> tuple[float, float]:
    """Apply ``count`` grants; return (seconds in apply_batch, wall seconds)."""
    applying = 0.0
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        batch = [consent_of(i) for i in range(start, min(count, start + BATCH))]
        t0 = time.perf_counter()
        ledger.apply_batch(batch, {("consent.v1", 0): start + len(batch)})
        applying += time.perf_counter() - t0
    return applying, time.perf_counter() - started


def _timed(
    n: int, count: int, rng: random.Random, lookup: Callable[[str, str, str, str], object]
) -> list[int]:
    """Nanoseconds of each of ``n`` lookups of random consents."""
    out: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(n):
        i = rng.randrange(count)
        subject, purpose = subject_of(i), purpose_of(i)
        team, gm = team_of(i)
        t0 = clock()
        lookup(subject, purpose, team, gm)
        out.append(clock() - t0)
    return out


def lookups(
    path: Path, ledger: ConsentLedger, count: int, n: int, rounds: int, seed: int
) -> dict[str, Any]:
    """p50/p99 of ``ledger.check`` and of the raw SELECT, interleaved in ``rounds``."""
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA cache_size=-32768")  # the ledger's default page cache (32 MB)

    def hub(subject: str, purpose: str, team: str, gm: str) -> object:
        result = ledger.check(subject, purpose, team, gm, NOW)
        assert result.status is ConsentStatus.VALID, result
        return result

    def baseline(subject: str, purpose: str, team: str, gm: str) -> object:
        rows = raw.execute(RAW_LOOKUP, (subject, purpose)).fetchall()
        assert rows
        return rows

    rng = random.Random(seed)
    _timed(min(n, 5_000), count, rng, hub)  # warm-up, both sides
    _timed(min(n, 5_000), count, rng, baseline)
    per_round = max(1, n // rounds)
    hub_ns: list[int] = []
    base_ns: list[int] = []
    for r in range(rounds):
        sides = [(0, hub, hub_ns), (1, baseline, base_ns)]
        for side, fn, sink in sides if r % 2 == 0 else reversed(sides):
            # each side draws its own subjects, so neither warms the other's pages
            picks = random.Random(seed * 1_000_003 + 2 * r + side)
            sink.extend(_timed(per_round, count, picks, fn))
    raw.close()
    return {"hub": _percentiles(hub_ns), "baseline": _percentiles(base_ns)}


def _percentiles(ns: list[int]) -> dict[str, float]:
    q = statistics.quantiles(ns, n=100, method="inclusive")
    return {
        "p50_us": q[49] / 1000,
        "p99_us": q[98] / 1000,
        "mean_us": statistics.fmean(ns) / 1000,
        "count": float(len(ns)),
    }


def reopen(path: Path, count: int) -> float:
    """Seconds to open the ledger file, read its offsets and answer one check."""
    t0 = time.perf_counter()
    with ConsentLedger(path) as ledger:
        ledger.offsets()
        team, gm = team_of(count - 1)
        ledger.check(subject_of(count - 1), purpose_of(count - 1), team, gm, NOW)
    return time.perf_counter() - t0


def idle_catch_up(workdir: Path, ledger: ConsentLedger, n: int = 2_000) -> dict[str, float]:
    """``catch_up()`` with nothing new on the embedded bus, ``n`` times."""
    bus = EmbeddedBus(workdir / "bus.db")
    registry = EmbeddedRegistry(bus.path)
    try:
        topic = f"bench.consent.{uuid.uuid4().hex[:8]}"
        bus.create_topic(TopicSpec(topic, 3, cleanup_policy="compact"))
        with LedgerFollower(bus, AvroSerde(registry), ledger, topic=topic) as follower:
            ns = []
            for _ in range(n):
                t0 = time.perf_counter_ns()
                follower.catch_up()
                ns.append(time.perf_counter_ns() - t0)
        return _percentiles(ns)
    finally:
        registry.close()
        bus.close()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def run(args: argparse.Namespace) -> dict[str, Any]:
    small_count = max(1_000, args.consents // 100)
    with _workdir(args.workdir) as workdir, pinned_to_one_core() as pinning:
        rss_start = peak_rss_mb()
        path = ledger_path(workdir / "big")
        with ConsentLedger(path) as ledger:
            applying, wall = load(ledger, args.consents)
            rss_loaded = peak_rss_mb()
            big = lookups(path, ledger, args.consents, args.lookups, args.rounds, args.seed)
            idle = idle_catch_up(workdir, ledger)
        reopen_s = reopen(path, args.consents)
        size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
        small_path = ledger_path(workdir / "small")
        with ConsentLedger(small_path) as small:
            load(small, small_count)
            little = lookups(small_path, small, small_count, args.lookups, args.rounds, args.seed)
        rss_peak = peak_rss_mb()
    return {
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "sqlite": sqlite3.sqlite_version,
            "pinning": pinning,
        },
        "consents": args.consents,
        "load": {
            "apply_s": applying,
            "wall_s": wall,
            "per_s": args.consents / applying,
            "wall_per_s": args.consents / wall,
            "file_mb": size_mb,
        },
        "lookup": big,
        "lookup_small": {"consents": small_count, **little},
        "rss_mb": {
            "start": rss_start,
            "after_load": rss_loaded,
            "peak": rss_peak,
            "limit": RSS_LIMIT_MB,
            "result": "PASS" if rss_peak < RSS_LIMIT_MB else "MISS",
        },
        "reopen_ms": reopen_s * 1000,
        "idle_catch_up": idle,
    }


@contextlib.contextmanager
def _workdir(given: str | None) -> Iterator[Path]:
    if given:
        path = Path(given)
        for name in ("big", "small"):  # a fresh load every run
            shutil.rmtree(path / name, ignore_errors=True)
        for name in ("bus.db", "bus.db-wal", "bus.db-shm"):
            (path / name).unlink(missing_ok=True)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="bench-consent-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def report(r: dict[str, Any]) -> str:
    env, ld, lk, sm, rss = r["environment"], r["load"], r["lookup"], r["lookup_small"], r["rss_mb"]
    hub, base = lk["hub"], lk["baseline"]
    lines = [
        f"Signalhub consent ledger: {r['consents']:,} active consents",
        f"python {env['python']}, sqlite {env['sqlite']}, {env['platform']},"
        f" {env['cpus']} CPUs; {env['pinning']}",
        "",
        f"load          {ld['per_s']:>12,.0f} consents/s in apply_batch"
        f" ({ld['apply_s']:.1f} s; {ld['wall_per_s']:,.0f}/s with building the changes);"
        f" file {ld['file_mb']:,.0f} MB",
        f"lookup check  p50 {hub['p50_us']:7.1f} us   p99 {hub['p99_us']:7.1f} us"
        f"   ({int(hub['count']):,} random subjects)",
        f"raw SELECT    p50 {base['p50_us']:7.1f} us   p99 {base['p99_us']:7.1f} us"
        "   (same index, same file: the baseline)",
        f"ratio         p50 {hub['p50_us'] / base['p50_us']:7.2f} x   p99"
        f" {hub['p99_us'] / base['p99_us']:7.2f} x   (hub / baseline)",
        f"at {sm['consents']:,}  check p50 {sm['hub']['p50_us']:7.1f} us -> at"
        f" {r['consents']:,}: {hub['p50_us'] / sm['hub']['p50_us']:.2f} x"
        " (flat = constant-time)",
        f"peak RSS      {rss['peak']:7.1f} MB of {rss['limit']} MB: {rss['result']}"
        f"   (at start {rss['start']:.1f} MB, after load {rss['after_load']:.1f} MB)",
        f"reopen        {r['reopen_ms']:7.1f} ms   (open file, read offsets, one check)",
        f"idle catch-up p50 {r['idle_catch_up']['p50_us']:7.1f} us   p99"
        f" {r['idle_catch_up']['p99_us']:7.1f} us   (embedded bus, nothing new: no poll)",
    ]
    return "\n".join(lines)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench --only consent",
        description=(
            "The consent ledger at scale: load N active consents, time ConsentLedger.check"
            " for random subjects against a raw SQLite SELECT of the same rows (same"
            " index, same file, same run), report peak RSS against the 500 MB limit, the"
            " time to reopen the ledger after a restart, and an idle catch_up()."
        ),
    )
    p.add_argument(
        "--consents",
        type=_positive,
        default=DEFAULT_CONSENTS,
        metavar="N",
        help=f"active consents to load (default {DEFAULT_CONSENTS:,})",
    )
    p.add_argument(
        "--lookups",
        type=_positive,
        default=DEFAULT_LOOKUPS,
        metavar="N",
        help=f"timed lookups per side (default {DEFAULT_LOOKUPS:,})",
    )
    p.add_argument(
        "--rounds",
        type=_positive,
        default=DEFAULT_ROUNDS,
        metavar="N",
        help=f"interleaved hub/baseline rounds (default {DEFAULT_ROUNDS})",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed of the lookups")
    p.add_argument(
        "--workdir",
        default=None,
        metavar="DIR",
        help="keep the ledger files here (default: a temporary directory, removed afterwards)",
    )
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="FILE",
        help="also write the results as JSON: to stdout, or to FILE",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the consent ledger benchmark; 0 when it ran (PASS or MISS), 1 otherwise."""
    args = parser().parse_args(argv)
    try:
        result = run(args)
    except (OSError, sqlite3.Error, AssertionError) as exc:
        print(f"NOT MEASURED: consent: {type(exc).__name__}: {exc}")
        return 1
    print(report(result))
    if args.json == "-":
        print()
        print(json.dumps(result, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Batch import throughput: a creditor's million-row CSV onto the embedded bus.

Workload: ``--rows`` (default 1,000,000) synthetic rows in the Dutch export format of
``examples/mappings/debt-nl.yaml`` (``;``-separated, UTF-8, amounts like ``1.234,56``,
dates ``dd-mm-yyyy``, ``ja``/``nee``), generated before any clock starts. Every person
is fictional: BSNs are random nine-digit numbers made to pass the 11-test, addresses lie
in the fictional municipality GM9999, pseudonymised with a test secret. One row in a
thousand has a malformed postcode (``--bad-rate``), so the rejects path is exercised.

hub side
    ``CsvBatchSource.run()`` with the mapping (encoding check, parse, convert,
    ``build_signal`` with pseudonymisation, event ids, ledger look-ups, Avro encoding,
    ``SignalPublisher`` to a fresh embedded bus with ``--synchronous`` (default FULL,
    the hub's default), batches of ``--batch``), timed from ``setup()`` to the end.
baseline
    ``csv.reader`` over the same file (same encoding and delimiter), counting rows: the
    floor any import of this file pays, measured in the same run.

Target: the whole import of a million rows in under 2 minutes, i.e. at least 8,334
rows/s (the same rate is asked of smaller ``--rows``). ``--reimport`` also times a
second import of the same file (everything skipped as already imported);
``--profile`` prints the hub side's top functions (cProfile, on a second import into a
fresh bus). Run with ``python -m bench --only import``. Reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import io
import os
import platform
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench.harness import Result, Target, format_table, pinned_to_one_core, results_json
from connectors.sources.batch_mapping import load_mapping
from connectors.sources.csv_batch import CsvBatchSource
from hub.batch_import import DEFAULT_BATCH, ImportSummary
from hub.bus.embedded import EmbeddedBus
from hub.pseudonym import Pseudonymiser
from hub.registry.embedded import EmbeddedRegistry
from hub.serde import AvroSerde

__all__ = ["generate", "main", "parser"]

DEFAULT_ROWS = 1_000_000
TARGET_SECONDS_PER_MILLION = 120.0
MAPPING = Path(__file__).resolve().parent.parent / "examples" / "mappings" / "debt-nl.yaml"
SOURCE = "urn:nld:oin:00000009999999999000"  # a fictional OIN
MUNICIPALITY = "GM9999"  # not a real CBS code
SECRET = "bench-only-pseudonym-secret-not-for-production"
HEADER = ("bsn;gemeente;postcode;huisnummer;toevoeging;soort_schuldeiser;soort_signaal;"
          "bedrag_achterstand;achterstand_sinds;datum_signaal;crisis;bezwaar;referentie")
CREDITORS = ("Energie", "Huur", "Water", "Zorgverzekering", "Hypotheek", "DUO")
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


def fictional_bsn(rng: random.Random) -> str:
    """A random nine-digit number passing the BSN 11-test (no real person is meant)."""
    while True:
        head = f"{rng.randrange(10_000_000, 100_000_000):08d}"
        check = sum(int(d) * w for d, w in zip(head, _WEIGHTS, strict=True)) % 11
        if check < 10:
            return head + str(check)


def _euros(cents: int) -> str:
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", ".") + f",{rest:02d}"


def generate(path: Path, rows: int, seed: int = 1, bad_rate: float = 0.001) -> int:
    """Write the workload CSV; return how many rows are malformed on purpose."""
    rng = random.Random(seed)
    signal_day = date(2025, 5, 1)
    bad = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        lines: list[str] = []
        for i in range(rows):
            postcode = f"{rng.randint(7511, 7548)} {rng.choice('ABCDEFGHJK')}" \
                       f"{rng.choice('ABCDEFGHJK')}"
            if rng.random() < bad_rate:
                postcode, bad = "75X1", bad + 1
            since = signal_day - timedelta(days=rng.randint(30, 100))
            lines.append(";".join((
                fictional_bsn(rng), MUNICIPALITY, postcode, str(rng.randint(1, 250)),
                "A" if i % 17 == 0 else "", rng.choice(CREDITORS), "Achterstand",
                _euros(rng.randint(5_000, 400_000)), since.strftime("%d-%m-%Y"),
                signal_day.strftime("%d-%m-%Y"), "ja" if i % 50 == 0 else "nee", "nee",
                f"REF-{i:08d}")))
            if len(lines) == 10_000:
                out.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            out.write("\n".join(lines) + "\n")
    return bad


def raw_parse(path: Path) -> tuple[int, float]:
    """The baseline: (rows, seconds) of csv.reader over ``path``."""
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.reader(file, delimiter=";")
        next(reader)
        rows = sum(1 for _ in reader)
    return rows, time.perf_counter() - started


def run_import(path: Path, workdir: Path, synchronous: str, batch: int,
               profile: cProfile.Profile | None = None) -> tuple[ImportSummary, float]:
    """Import ``path`` into the bus and state in ``workdir`` (created if missing); the
    summary and the CPU seconds this process spent."""
    workdir.mkdir(parents=True, exist_ok=True)
    bus = EmbeddedBus(workdir / "hub.db", synchronous=synchronous)  # type: ignore[arg-type]
    registry = EmbeddedRegistry(bus.path)
    try:
        source = CsvBatchSource(
            path, event_type="debt-signal", source=SOURCE, bus=bus, serde=AvroSerde(registry),
            pseudonymiser=Pseudonymiser({MUNICIPALITY: SecretStr(SECRET)}),
            state_dir=workdir / "state", mapping=load_mapping(MAPPING, "debt-signal"),
            rejects_path=workdir / "rejects.csv", batch_size=batch)
        started, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        with source:
            source.run()
        if profile is not None:
            profile.disable()
        source.summary.elapsed_s = time.perf_counter() - started  # setup included
        return source.summary, time.process_time() - cpu
    finally:
        registry.close()
        bus.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench --only import",
        description="Batch import of a synthetic creditor CSV on the embedded bus, against"
        " a raw csv.reader parse of the same file (see bench/import_throughput.py).")
    p.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows in the file"
                   " (default: %(default)s)")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                   help="signals per publish (default: %(default)s, the CLI's default)")
    p.add_argument("--synchronous", choices=("FULL", "NORMAL", "OFF"), default="FULL",
                   help="embedded bus PRAGMA synchronous (default: FULL, the hub's default)")
    p.add_argument("--bad-rate", type=float, default=0.001,
                   help="fraction of rows with a malformed postcode (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-pin", action="store_true",
                   help="do not pin to one CPU (pinning is the default, as for the bus bench)")
    p.add_argument("--reimport", action="store_true",
                   help="also time a second import of the same file (all skipped)")
    p.add_argument("--profile", action="store_true",
                   help="also profile an import into a fresh bus; print the top functions")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where the file, bus and state go (default: a temporary directory,"
                   " removed at the end)")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                   help="also print (or write to FILE) the results as JSON")
    return p


def _environment(args: argparse.Namespace, pinning: str, size: int) -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "pinning": pinning, "rows": args.rows,
            "file_bytes": size, "batch": args.batch, "synchronous": args.synchronous}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="signalhub-import-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        path = workdir / "schuldsignalen.csv"
        started = time.perf_counter()
        bad = generate(path, args.rows, args.seed, args.bad_rate)
        size = path.stat().st_size
        print(f"generated {args.rows:,} rows ({size / 1e6:,.1f} MB, {bad:,} malformed on"
              f" purpose) in {time.perf_counter() - started:.1f}s: {path}")
        with contextlib.nullcontext("not pinned (--no-pin)") if args.no_pin \
                else pinned_to_one_core() as pinning:
            raw_rows, raw_s = raw_parse(path)
            summary, cpu = run_import(path, workdir / "run1", args.synchronous, args.batch)
            again, again_cpu = (run_import(path, workdir / "run1", args.synchronous, args.batch)
                                if args.reimport else (None, 0.0))
        target = Target("rate", DEFAULT_ROWS / TARGET_SECONDS_PER_MILLION, "csv.reader")
        results = [Result("embedded", "import csv", args.rows, target, [summary.rate],
                          [raw_rows / raw_s], note=f"{summary.elapsed_s:.1f}s")]
        if again is not None:
            results.append(Result("embedded", "re-import (all skipped)", args.rows, target,
                                  [again.rate], [raw_rows / raw_s],
                                  note=f"{again.elapsed_s:.1f}s"))
        print(format_table(results))
        per_million = summary.elapsed_s * DEFAULT_ROWS / max(args.rows, 1)
        print(f"\nimport: {summary.elapsed_s:.1f}s for {args.rows:,} rows"
              f" ({per_million:.1f}s per million; target < {TARGET_SECONDS_PER_MILLION:.0f}s)"
              f"; CPU {cpu:.1f}s ({cpu * 1e6 / max(args.rows, 1):.0f} us/row); raw csv.reader:"
              f" {raw_s:.2f}s; {pinning}")
        print(f"published {summary.published:,}, rejected {summary.rejected:,}, already"
              f" imported {summary.already_imported:,}; batches of {args.batch:,},"
              f" synchronous={args.synchronous}")
        if again is not None:
            print(f"re-import: {again.elapsed_s:.1f}s (CPU {again_cpu:.1f}s), published"
                  f" {again.published:,},"
                  f" already imported {again.already_imported:,}")
        if summary.published + summary.rejected != args.rows or summary.rejected != bad:
            print("WARNING: counts do not add up", file=sys.stderr)
        if args.profile:
            profile = cProfile.Profile()
            run_import(path, workdir / "profiled", args.synchronous, args.batch, profile)
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
            print("\nprofile (tottime, top 25):\n" + out.getvalue())
        if args.json is not None:
            document = results_json(results, _environment(args, pinning, size))
            if args.json == "-":
                print(document)
            else:
                Path(args.json).write_text(document + "\n", encoding="utf-8")
        return 0
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

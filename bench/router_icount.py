"""Instructions per signal of one router side, counted by valgrind (deterministic, unlike
CPU time on a shared machine). Run it under callgrind, which counts only what runs
inside ``operator.call`` here (the routing after the first batch)::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        --toggle-collect='_operator_call*' \\
        .venv/bin/python -m bench.router_icount router 2000

and divide callgrind's ``Collected`` by the signals this prints. ``pass-through`` instead
of ``router`` counts the baseline. Embedded bus, ``synchronous=OFF`` (no fsync to wait
for), the workload of ``bench/router_throughput.py``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import operator
import sys
import tempfile
from pathlib import Path

from bench import router_throughput as rt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.router_icount")
    p.add_argument("side", choices=["router", "pass-through"])
    p.add_argument("signals", type=int, nargs="?", default=2000)
    a = p.parse_args(argv)
    args = rt.parser().parse_args(["--signals", str(a.signals), "--backend", "embedded",
                                   "--synchronous", "OFF"])
    with tempfile.TemporaryDirectory(prefix="signalhub-icount-") as tmp:
        suite = rt.Suite("embedded", args, a.signals, Path(tmp))
        rnd = suite.prepare(a.signals)
        side = suite._side(rnd, a.side)  # noqa: SLF001 - the bench's own sides
        try:
            suite._warm(side)  # noqa: SLF001
            first = 0
            while first == 0:  # join and the first batch: not counted
                first = side.step()

            def rest() -> int:
                seen = first
                while seen < a.signals:
                    seen += side.step()
                return seen

            seen: int = operator.call(rest)
        finally:
            side.close()
            suite.cleanup(rnd)
    print(f"{a.side}: {seen - first} signals counted", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench``: run every benchmark (see ``python -m bench --help``).

- bus throughput (``bench/bus_throughput.py``): ``--only embedded`` or ``--only kafka``;
- consent ledger (``bench/consent_ledger.py``): ``--only consent``, with its own options
  ``--consents N``, ``--lookups N``, ``--rounds N``, ``--seed N``, ``--workdir DIR``;
- router (``bench/router_throughput.py``): ``--only router`` only (not part of the full
  run: it needs a schema registry for Kafka), with its own options (``--signals N``,
  ``--backend``, ... see ``python -m bench --only router --help``);
- batch import (``bench/import_throughput.py``): ``--only import`` only (not part of the
  full run: a million-row file takes minutes), with its own options (``--rows N``,
  ``--batch N``, ``--reimport``, ``--profile``, ... see ``python -m bench --only import
  --help``).

Without ``--only`` both run, the bus benchmarks first; ``--json FILE`` then writes the
consent results next to FILE as ``<FILE stem>.consent<suffix>``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from bench import bus_throughput, consent_ledger

#: options only the consent ledger benchmark takes (each with one value)
_CONSENT_ONLY = ("--consents", "--lookups", "--rounds", "--seed", "--workdir")


def _split(argv: Sequence[str]) -> tuple[str | None, list[str], list[str], str | None]:
    """(--only value, bus arguments, consent arguments, --json value) of ``argv``."""
    only: str | None = None
    json_target: str | None = None
    bus: list[str] = []
    consent: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        name, has_value, value = arg.partition("=")
        if name == "--only":
            only = value if has_value else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if has_value else 2
            continue
        if name in _CONSENT_ONLY:
            taken = [arg] if has_value else args[i : i + 2]
            consent += taken
            i += len(taken)
            continue
        if name == "--json":
            if has_value:
                json_target = value
            elif i + 1 < len(args) and not args[i + 1].startswith("-"):
                json_target = args[i + 1]
                i += 1
            else:
                json_target = "-"
            i += 1
            continue
        bus.append(arg)
        i += 1
    return only, bus, consent, json_target


def _help() -> str:
    return "\n".join(
        [
            bus_throughput.parser().format_help().rstrip(),
            "",
            "--only consent runs the consent ledger benchmark instead (also part of the full",
            "run, after the bus benchmarks):",
            "",
            consent_ledger.parser().format_help().rstrip(),
            "",
            "--only router runs the router benchmark (router against a pass-through baseline on",
            "both buses; only on request): see python -m bench --only router --help",
            "",
            "--only import runs the batch import benchmark (a million-row CSV against a raw",
            "csv.reader parse; only on request): see python -m bench --only import --help",
        ]
    )


def _router_args(args: list[str]) -> list[str] | None:
    """``args`` without ``--only router`` when they name the router benchmark, else None."""
    for i, arg in enumerate(args):
        if arg == "--only=router":
            return args[:i] + args[i + 1 :]
        if arg == "--only" and args[i + 1 : i + 2] == ["router"]:
            return args[:i] + args[i + 2 :]
    return None


def _only_args(args: list[str], name: str) -> list[str] | None:
    """``args`` without ``--only NAME`` when they name that benchmark, else None."""
    for i, arg in enumerate(args):
        if arg == f"--only={name}":
            return args[:i] + args[i + 1 :]
        if arg == "--only" and args[i + 1 : i + 2] == [name]:
            return args[:i] + args[i + 2 :]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    router_args = _router_args(args)
    if router_args is not None:  # its own options and --help
        from bench import router_throughput

        return router_throughput.main(router_args)
    import_args = _only_args(args, "import")
    if import_args is not None:  # its own options and --help
        from bench import import_throughput

        return import_throughput.main(import_args)
    if "-h" in args or "--help" in args:
        print(_help())
        return 0
    only, bus, consent, json_target = _split(args)
    json_args = [] if json_target is None else ["--json", json_target]
    if only == "consent":
        if bus:
            print(
                f"python -m bench --only consent: not a consent option: {bus[0]} (see --help)",
                file=sys.stderr,
            )
            return 2
        return consent_ledger.main(consent + json_args)
    if only is not None:
        if consent:
            print(
                f"python -m bench --only {only}: {consent[0]} belongs to --only consent",
                file=sys.stderr,
            )
            return 2
        return bus_throughput.main(["--only", only, *bus, *json_args])
    code = bus_throughput.main(bus + json_args)
    print()
    if json_target not in (None, "-"):
        target = Path(str(json_target))
        consent += ["--json", str(target.with_name(f"{target.stem}.consent{target.suffix}"))]
    elif json_target == "-":
        consent += ["--json"]
    return max(code, consent_ledger.main(consent))


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench``: run every benchmark (see ``python -m bench --help``)."""

from __future__ import annotations

import sys

from bench.bus_throughput import main

if __name__ == "__main__":
    sys.exit(main())

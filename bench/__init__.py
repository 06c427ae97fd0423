"""Signalhub's throughput benchmarks; run them all with ``python -m bench``.

Each benchmark prints the hub's rate next to a baseline measured in the same run with
the raw library, so results compare across machines as ratios. See ``bench/README.md``.
"""

"""Sentinelle benchmarks: `python -m bench` runs every bench/bench_*.py module and writes results.json."""

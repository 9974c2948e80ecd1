"""Sentinelle benchmarks: `python -m bench` runs each bench/bench_*.py and writes results.json."""

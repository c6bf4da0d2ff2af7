"""Benchmarks, run by `make bench` (`python -m bench.run`); see bench/README.md."""

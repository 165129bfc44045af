"""Benchmarks of the NP6 connector (`python -m benchmarks.bench_floor`, `make bench`)."""

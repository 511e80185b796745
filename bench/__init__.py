"""Benchmarks (`make bench`): measured here, recorded in docs/benchmarks.md, never asserted in tests."""

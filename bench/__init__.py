"""Benchmarks: each prints its result next to a baseline measured in the same run."""

"""Benchmarks of the hub against bare baselines, run together with `python -m bench` (see README.md)."""

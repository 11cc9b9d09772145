"""Benchmarks of what Voice Lab users feel: `python -m bench` prints the figures."""

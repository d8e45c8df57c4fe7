"""Benchmarks that print figures and write JSON records.

Run ``python -m recft_utils.benchmark --help``.
"""

"""Benchmark tooling (no notebook and no module outside it imports it): commands that print figures and
write JSON records.

README's tables and ``docs/benchmarks/`` are generated from their output by ``scripts/readme_tables.py``.

Run ``python -m recft_utils.benchmark --help``.
"""

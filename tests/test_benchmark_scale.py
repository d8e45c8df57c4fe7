"""`python -m recft_utils.benchmark scale`: its tables and growth exponents (the measured run is a benchmark,
not a test; here one tiny synthetic size goes through every step once)."""

import pytest

from recft_utils.benchmark import scale
from recft_utils.errors import ParameterError


def records(seconds_small, seconds_large, status="ok"):
    small = {
        "items": 1000,
        "interactions": 100_000,
        "step": scale.STEPS[0],
        "status": "ok",
        "seconds": seconds_small,
        "peak_rss_mb": 1000,
    }
    large = {
        **small,
        "items": 10_000,
        "interactions": 1_000_000,
        "status": status,
        "seconds": seconds_large,
        "peak_rss_mb": 4000,
    }
    return [small, large]


def test_the_growth_exponent_is_the_slope_on_log_log_axes():
    linear = scale.growth(records(10.0, 100.0))
    assert linear["time exponent"].tolist() == [1.0] and linear["memory exponent"].tolist() == [0.6]
    assert scale.growth(records(10.0, 1000.0))["time exponent"].tolist() == [2.0]
    assert scale.growth(records(10.0, 0.0, status="failed: MemoryError")).empty  # a failed step has no slope


def test_the_table_keeps_the_sizes_in_order_and_shows_failures():
    rows = records(10.0, 100.0, status="failed: MemoryError: 300 GB")
    rows.append({**rows[0], "items": 100_000, "interactions": 10_000_000, "seconds": 5.0})
    shown = scale.table(rows)
    assert list(shown.index) == ["1,000 / 100,000", "10,000 / 1,000,000", "100,000 / 10,000,000"]
    assert shown.iloc[1, 0].startswith("failed: MemoryError") and shown.iloc[0, 1] == "not reached"


def test_a_size_that_cannot_work_is_refused():
    assert scale.parse_size("4000:400000") == (4000, 400_000)
    with pytest.raises(ParameterError, match="fewer than 10 per item"):
        scale.parse_size("4000:1000")


@pytest.mark.integration
def test_every_step_runs_at_a_tiny_size(tmp_path):
    from recft_utils.artefacts import read_json
    from recft_utils.benchmark.__main__ import main

    out = tmp_path / "scale.json"
    assert (
        main(["scale", "--sizes", "200:4000", "--requests", "20", "--work", str(tmp_path / "w"), "--out", str(out)])
        == 0
    )
    result = read_json(out)
    assert [r["status"] for r in result["records"]] == ["ok"] * 4
    assert {r["step"] for r in result["records"]} == set(scale.STEPS) and out.with_suffix(".png").exists()
    assert all(r["peak_rss_mb"] > 0 and r["seconds"] >= 0 for r in result["records"])
    assert result["records"][-1]["ann_recall@10"] >= 0.9 and result["records"][-1]["errors"] == 0

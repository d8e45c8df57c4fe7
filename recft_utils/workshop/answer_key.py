"""The facilitator's answer key: what each notebook shows on a complete run, read from its artefacts.

``make notebooks`` writes it into docs/facilitator.md from the run behind the committed notebooks
(``python -m recft_utils.workshop.answer_key runs/default``), so the guide shows the numbers the
learners see in the notebooks they open and get in their own workshop run (every result is seeded;
only times differ between machines).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import pandas as pd

from recft_utils.run import Run


def _share(value: float) -> str:
    return f"{value:.1%}"


def _requirements(run: Run) -> list[tuple[str, str]]:
    figures = run.figures("01_requirements")
    split = run.split()
    rows = [
        (
            "data",
            f"{figures['customers']:,} customers, {figures['items']:,} products, "
            f"{figures['interactions']:,} purchase lines",
        ),
        (
            "test window",
            f"from {split.test_start:%Y-%m-%d}; {_share(figures['repeat_share_test'])} of its purchases are repeats",
        ),
    ]
    for target in figures["targets"]:
        if target["view"] != "all":
            rows.append(
                (
                    f"bar, {target['view']}",
                    f"{target['best baseline']}: NDCG@10 {target['its NDCG@10']:.3f}, "
                    f"target {target['target NDCG@10']:.3f}",
                )
            )
    return rows


def _preparation(run: Run) -> list[tuple[str, str]]:
    figures = run.figures("02_data_preparation")
    return [
        ("sequence length", f"{figures['sequence_length']} word pieces"),
        ("augmented titles", f"{figures['augmented_rows']:,} rows"),
        ("cold products in the test window", f"{figures['cold_items_test']:,}"),
    ]


def _base_models(run: Run) -> str:
    """The base-model comparison: parameters (the same everywhere) and speed (the benchmark machine's ratio)."""
    table = run.read("03a_two_tower", Run.BASE_MODELS).set_index("model")
    ours = table.iloc[0]
    return f"{table.index[0]}, {ours['parameters (M)']:.1f}M parameters; " + "; ".join(
        f"{name} {row['parameters (M)']:.0f}M, {_speed(row['× slower than MiniLM'])}"
        for name, row in table.iloc[1:].iterrows()
    )


def _speed(slower: float) -> str:
    """A time-per-title ratio against MiniLM in words: a ratio under 1 is faster, not "0.5× slower"."""
    return f"{slower:.1f}× slower" if slower >= 1 else f"{1 / slower:.1f}× faster"


def _served(run: Run) -> str:
    """What step 4 serves and the validation margin the serving rule read (``served_choice.json``)."""
    choice = run.read("03b_fine_tuning", Run.SERVED_CHOICE)
    served = next(c for c in choice["candidates"] if c["served"])
    if served["against"] is None:
        return f"{served['model']} (the cheapest candidate; no costlier one has a margin)"
    return (
        f"{served['model']}: validation NDCG@10 {served['valid_ndcg@10']:.4f}, {served['difference']:+.4f} "
        f"({served['low']:+.4f} to {served['high']:+.4f}) against {served['against']}"
    )


def _target_state(row) -> str:
    """Met, or which of the target's two conditions (the gain, the coverage) was missed."""
    if row["met"]:
        return "target met"
    if row["relative change"] < row["target"]:
        return f"not met: the target is {row['target']:+.0%}"
    return f"not met: coverage@10 {row['coverage@10']:.3f}, below the bar's {row['target coverage@10']:.3f}"


def _two_tower(run: Run) -> list[tuple[str, str]]:
    figures = run.figures("03a_two_tower")
    return [
        ("base model", _base_models(run)),
        ("epochs kept by early stopping", f"{figures['best_epochs']}"),
        ("blend weight of the two-tower model", f"{figures['blend_weight']:g}"),
    ]


def _fine_tuning(run: Run) -> list[tuple[str, str]]:
    verdict = pd.DataFrame(run.figures("03b_fine_tuning")["verdict"])
    rows = [("served model", _served(run))]
    for view, group in verdict.groupby("view", sort=False):
        top = group.loc[group["relative change"].idxmax()]
        rows.append(
            (
                f"best text model, {view}",
                f"{top['model']}: {top['relative change']:+.1%} against {top['against']} ({_target_state(top)})",
            )
        )
    return rows


def _serving(run: Run) -> list[tuple[str, str]]:
    figures = run.figures("04_serving")
    ab, first = figures["replay_comparison"], figures["latency"][0]
    return [
        ("parity", f"{figures['parity_identical']} of {figures['parity_customers']} customers ranked identically"),
        (f"latency at concurrency {first['concurrency']}", f"p99 {first['p99_ms']:.0f} ms (machine-dependent)"),
        (
            "replay",
            f"hit-rate {ab['a']} {_share(ab['hit_rate_' + ab['a']])}, {ab['b']} "
            f"{_share(ab['hit_rate_' + ab['b']])}; difference {100 * ab['difference']:+.1f} points "
            f"(95 % interval {100 * ab['low']:+.1f} to {100 * ab['high']:+.1f})",
        ),
    ]


def _collaboration(run: Run) -> list[tuple[str, str]]:
    figures = run.figures("05_collaboration")
    return [
        ("customers evaluated", f"{figures['customers']:,}; mean NDCG@10 {figures['mean']['ndcg']:.3f}"),
        ("popularity bias", figures["finding"]),
    ]


def _iteration(run: Run) -> list[tuple[str, str]]:
    figures = run.figures("06_iteration")
    decisions = ", ".join(
        f"{d['month']} {d['decision']}" + (f" ({d['challenger']})" if d.get("challenger") else "")
        for d in figures["decisions"]
    )
    warm = figures["warm_start"]
    return [
        ("decisions", decisions),
        (
            "warm start against scratch",
            f"NDCG@10 {warm['warm_ndcg']:.4f} against {warm['scratch_ndcg']:.4f} "
            f"on average over {warm['months']} months",
        ),
    ]


SECTIONS = {
    "01_requirements": _requirements,
    "02_data_preparation": _preparation,
    "03a_two_tower": _two_tower,
    "03b_fine_tuning": _fine_tuning,
    "04_serving": _serving,
    "05_collaboration": _collaboration,
    "06_iteration": _iteration,
}


def answer_key(run_dir) -> pd.DataFrame:
    """notebook, what to check, what a complete run shows: one row per figure, from ``run_dir``'s artefacts."""
    run = Run(run_dir)
    rows = [
        {"notebook": step, "check": check, "the workshop run shows": shown}
        for step, section in SECTIONS.items()
        for check, shown in section(run)
    ]
    return pd.DataFrame(rows)


START, END = "<!-- notebooks:answers:start -->", "<!-- notebooks:answers:end -->"


def fill_guide(run_dir, guide) -> Path:
    """Write ``run_dir``'s answer key between the guide's answers markers (a temporary file, then rename)."""
    guide = Path(guide)
    text = guide.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{guide} has no {START} ... {END} block for the answer key.")
    before, rest = text.split(START, 1)
    caption = (
        f"*Read by `recft_utils.workshop.answer_key` from the artefacts of the run behind the committed "
        f"notebooks (`make notebooks`, {dt.date.today().isoformat()}).*"
    )
    block = f"{START}\n{caption}\n\n{answer_key(run_dir).to_markdown(index=False)}\n{END}"
    temporary = guide.with_name(f".{guide.name}.tmp")
    temporary.write_text(before + block + rest.split(END, 1)[1])
    os.replace(temporary, guide)
    return guide


if __name__ == "__main__":  # python -m recft_utils.workshop.answer_key [RUN_DIR [GUIDE]]
    from recft_utils.config import default_run_dir, project_root

    arguments = sys.argv[1:] or [default_run_dir()]
    print(fill_guide(arguments[0], arguments[1] if len(arguments) > 1 else project_root() / "docs" / "facilitator.md"))

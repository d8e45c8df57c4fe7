"""``python -m recft_utils.benchmark scale``: what steps 1–4 cost as a shop grows.

Synthetic shops (:mod:`recft_utils.datasets.synthetic`: generated, never results) of growing
size go through a fixed, reduced plan, each step in its own process so that its peak memory
is its own:

1. **data and baselines**: generate the shop, split it, freeze the test window, fit and
   evaluate the classical baselines that fit (popularity, sparse ItemKNN; dense EASE only where
   :func:`~recft_utils.models.item_to_item.choose_item_model` affords it);
2. **text vectors**: the frozen encoder's vector of every product title;
3. **two-tower**: the frozen-encoder two-tower model, one seed, a fixed number of epochs;
4. **export and serving**: the SavedModel and its side files, then a short load test of the HTTP
   service on 127.0.0.1, and the approximate index's recall@10 against exact search with both speeds
   (one query at a time, on real customers' user vectors).

Quality is evaluated on a fixed sample of :data:`EVALUATED` test customers at every size, so
that evaluation cost grows with the catalogue only. The point is cost growth, not quality.
Each record holds the step's wall time, its process's peak RSS, and the figures it measured;
:func:`growth` gives the exponent ``log(t2 / t1) / log(n2 / n1)`` between successive sizes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recft_utils.machine import peak_rss_mb

# (items, interactions) of each size, smallest first; the 4k → 20k → 100k products
SIZES = ((4_000, 400_000), (20_000, 2_000_000), (100_000, 10_000_000))
EVALUATED = 5_000  # test customers evaluated at every size
STEPS = ("data and baselines", "text vectors", "two-tower", "export and serving")
EPOCHS = 1  # the two-tower's fixed training: the cost of one pass over the examples
LOAD_REQUESTS = 200  # measured requests of the load test (concurrency 1)


def parse_size(text: str) -> tuple[int, int]:
    """``ITEMS:INTERACTIONS`` (e.g. ``4000:400000``) as two numbers, checked like a synthetic dataset name."""
    from recft_utils.datasets.synthetic import parse_spec

    items, interactions, _ = parse_spec(f"synthetic:{text}")
    return items, interactions


def _test_task(work: Path):
    from recft_utils.artefacts import read_json
    from recft_utils.evaluation import build_task
    from recft_utils.evaluation.protocol import sample_evaluated
    from recft_utils.evaluation.split import TemporalSplit

    interactions = pd.read_parquet(work / "interactions.parquet")
    split = TemporalSplit.from_dict(read_json(work / "split.json"))
    return interactions, sample_evaluated(build_task(interactions, split, "test"), EVALUATED)


def _ndcg(model, task) -> float:
    from recft_utils.evaluation import evaluate

    return round(float(evaluate(model, task, views=("discovery",))["discovery"]["ndcg"].mean()), 4)


def data_and_baselines(work: Path, items: int, interactions: int) -> dict:
    """Step 1: the shop to ``work/interactions.parquet``, its split, and the classical baselines that fit."""
    from recft_utils.artefacts import write_json
    from recft_utils.datasets import load_interactions
    from recft_utils.evaluation import temporal_split
    from recft_utils.models import ItemKNN, Popularity
    from recft_utils.models.item_to_item import choose_item_model

    shop, _ = load_interactions(f"synthetic:{items}:{interactions}")
    shop.to_parquet(work / "interactions.parquet", index=False)
    write_json(work / "split.json", temporal_split(shop).as_dict())
    _, task = _test_task(work)
    figures = {
        "rows": len(shop),
        "catalogue": len(task.items),
        "customers": int(shop["user_id"].nunique()),
        "evaluated": len(task.eval_rows),
    }
    models = {"popularity": Popularity(30), "ItemKNN": ItemKNN(100)}
    choice = choose_item_model(len(task.items))  # as step 1 chooses: dense EASE where this machine affords it
    if choice.model == "EASE":
        models["EASE"] = choice.build()
    for name, model in models.items():
        started = time.perf_counter()
        figures[f"ndcg {name}"] = _ndcg(model.fit(task), task)
        figures[f"seconds {name}"] = round(time.perf_counter() - started, 1)
    if "EASE" not in models:
        figures["EASE"] = choice.reason
    return figures


def text_vectors(work: Path) -> dict:
    """Step 2: every title through the frozen encoder, to ``work/item_vectors.parquet``."""
    from recft_utils.artefacts import write_item_vectors
    from recft_utils.text import SentenceEncoder
    from recft_utils.text.catalogue_vectors import encode_catalogue

    interactions = pd.read_parquet(work / "interactions.parquet")
    vectors = encode_catalogue(interactions, SentenceEncoder.load())
    write_item_vectors(work / "item_vectors.parquet", vectors)
    return {"titles": len(vectors)}


def two_tower(work: Path, epochs: int = EPOCHS) -> dict:
    """Step 3: the frozen-encoder two-tower, one seed, ``epochs`` epochs, on the test window's history."""
    from recft_utils.artefacts import read_item_vectors
    from recft_utils.models.two_tower import TwoTowerConfig
    from recft_utils.models.two_tower_files import save_model
    from recft_utils.models.two_tower_recommender import TwoTowerRecommender

    _, task = _test_task(work)
    vectors = read_item_vectors(work / "item_vectors.parquet")
    model = TwoTowerRecommender(vectors, TwoTowerConfig(epochs=epochs), seed=0).fit(task, epochs)
    save_model(model.model, work / "two_tower.keras")
    return {
        "examples": model.stats["train_examples"],
        "train_seconds": round(model.stats["train_seconds"], 1),
        "examples_per_second": round(model.stats["examples_per_second"]),
        "ndcg two-tower": _ndcg(model, task),
    }


def export_and_serve(work: Path, requests: int = LOAD_REQUESTS) -> dict:
    """Step 4: export the model folder, start the service, a short load test at concurrency 1."""
    from recft_utils.models.two_tower_files import load_model
    from recft_utils.serving.export import export_recommender
    from recft_utils.serving.load_test import history_payloads, load_test
    from recft_utils.serving.process import ServiceProcess

    _, task = _test_task(work)
    started = time.perf_counter()
    folder = export_recommender(load_model(work / "two_tower.keras"), task, work / "model")
    figures = {
        "export_seconds": round(time.perf_counter() - started, 1),
        "model_mb": round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1),
    }
    with ServiceProcess(folder) as service:
        search = service.health().get("search", "exact")
        result = load_test(service.url, history_payloads(task, n=200), concurrency=1, requests=requests)
    return {
        **figures,
        "search": search,
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "requests_per_second": result["requests_per_second"],
        "errors": result["errors"],
        **ann_figures(folder, task),
    }


def ann_figures(folder: Path, task, queries: int = 1000) -> dict:
    """Recall@10 of the approximate index against exact search, and both speeds, on real customers'
    user vectors (the index the export built, or one built here for a catalogue below its threshold)."""
    from recft_utils.benchmark.ann_search import compare_with_exact
    from recft_utils.serving.ann import AnnSettings
    from recft_utils.serving.model_folder import ServedModel

    served = ServedModel.load(folder)
    customers = task.users[task.eval_rows[:queries]]
    result = compare_with_exact(
        folder,
        served.customer_user_vectors(customers),
        k=10,
        settings=None if served.metadata.get("ann") else AnnSettings(),
    )
    return {
        "ann_recall@10": round(result["recall"], 4),
        "exact_ms_per_query": round(result["exact_ms_per_query"], 3),
        "ann_ms_per_query": round(result["ann_ms_per_query"], 3),
        "ann_speedup": round(result["speedup"], 1),
        "ann_build_seconds": round(result["build_seconds"], 1),
    }


def run_step(step: str, work: Path, items: int, interactions: int, epochs: int, requests: int) -> dict:
    """One step (in its own process: see :func:`run_sizes`); its figures, wall time and peak RSS."""
    started = time.perf_counter()
    if step == STEPS[0]:
        figures = data_and_baselines(work, items, interactions)
    elif step == STEPS[1]:
        figures = text_vectors(work)
    elif step == STEPS[2]:
        figures = two_tower(work, epochs)
    else:
        figures = export_and_serve(work, requests)
    return {"seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak_rss_mb()), **figures}


def run_sizes(
    sizes, folder: Path, epochs: int = EPOCHS, requests: int = LOAD_REQUESTS, progress: bool = True, on_record=None
) -> list[dict]:
    """Every step at every size, each in a fresh process; a failing step is recorded (with its error)
    and ends that size, so a table shows where a size stops rather than nothing. ``on_record(records)``
    is called after every step (the command writes its JSON then: an hour's run is never lost)."""
    from tqdm import tqdm

    from recft_utils.benchmark.processes import in_child_process

    records = []
    bar = tqdm(total=len(sizes) * len(STEPS), desc="scale", disable=not progress)
    for items, interactions in sizes:
        work = Path(folder) / f"{items}-{interactions}"
        work.mkdir(parents=True, exist_ok=True)
        for step in STEPS:
            bar.set_postfix_str(f"{items:,} items, {interactions:,} interactions: {step}")
            base = {"items": items, "interactions": interactions, "step": step}
            try:
                records.append(
                    {
                        **base,
                        "status": "ok",
                        **in_child_process(run_step, step, work, items, interactions, epochs, requests),
                    }
                )
            except Exception as exc:  # recorded, not hidden: where a size stops is the finding
                records.append({**base, "status": f"failed: {type(exc).__name__}: {str(exc)[:300]}"})
                bar.update(len(STEPS) - STEPS.index(step))
                break
            finally:
                if on_record is not None:
                    on_record(records)
            bar.update(1)
    bar.close()
    return records


def growth(records: list[dict], by: str = "interactions") -> pd.DataFrame:
    """Per step and pair of successive sizes: the exponent of time (and of peak RSS) in ``by``.

    1 is linear growth; 2, quadratic. Only steps that completed at both sizes count.
    """
    frame = pd.DataFrame([r for r in records if r["status"] == "ok"])
    rows = []
    for step, group in frame.groupby("step", sort=False):
        group = group.sort_values(by)
        for (_, a), (_, b) in zip(group.iterrows(), group.iloc[1:].iterrows()):
            ratio = math.log(b[by] / a[by])
            rows.append(
                {
                    "step": step,
                    "from": f"{a['items']:,} / {a['interactions']:,}",
                    "to": f"{b['items']:,} / {b['interactions']:,}",
                    "time exponent": round(math.log(max(b["seconds"], 0.1) / max(a["seconds"], 0.1)) / ratio, 2),
                    "memory exponent": round(math.log(b["peak_rss_mb"] / a["peak_rss_mb"]) / ratio, 2),
                }
            )
    return pd.DataFrame(rows)


def table(records: list[dict]) -> pd.DataFrame:
    """Step × size: wall time and peak RSS (or the failure)."""
    rows = []
    for r in records:
        cell = f"{r['seconds']:,.0f} s, {r['peak_rss_mb'] / 1024:.1f} GB" if r["status"] == "ok" else r["status"][:60]
        rows.append(
            {"size (items / interactions)": f"{r['items']:,} / {r['interactions']:,}", "step": r["step"], "cell": cell}
        )
    frame = pd.DataFrame(rows)
    sizes = list(dict.fromkeys(frame["size (items / interactions)"]))  # smallest first, as run
    return (
        frame.pivot(index="size (items / interactions)", columns="step", values="cell")
        .reindex(index=sizes, columns=list(STEPS))
        .fillna("not reached")
    )


def plot(records: list[dict]):
    """Wall time and peak RSS of each step against interactions, log-log."""
    import matplotlib.pyplot as plt

    frame = pd.DataFrame([r for r in records if r["status"] == "ok"])
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for step, group in frame.groupby("step", sort=False):
        group = group.sort_values("interactions")
        time_axis.plot(group["interactions"], group["seconds"], marker="o", label=step)
        memory_axis.plot(group["interactions"], group["peak_rss_mb"] / 1024, marker="o", label=step)
    sizes = frame["interactions"].unique()
    reference = np.array([sizes.min(), sizes.max()], dtype=float)
    for axis, ylabel in ((time_axis, "wall time (s)"), (memory_axis, "peak RSS (GB)")):
        axis.set(xscale="log", yscale="log", xlabel="interactions", ylabel=ylabel)
        axis.grid(True, which="both", alpha=0.3)
    first = frame[frame["interactions"] == sizes.min()]["seconds"].max()
    time_axis.plot(reference, first * reference / reference[0], "k:", label="linear growth")
    time_axis.legend(fontsize=8)
    memory_axis.axhline(16, color="grey", linestyle="--", linewidth=1, label="16 GB target")
    memory_axis.legend(fontsize=8)
    figure.suptitle("Cost of steps 1–4 as the synthetic shop grows (2 cores)")
    figure.tight_layout()
    return figure

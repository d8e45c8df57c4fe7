"""The speed and scale benchmarks: serving, notebooks, tests, the scale sweep, the large shop, two workers."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recft_utils.artefacts import atomic_path, read_json, write_json
from recft_utils.config import DEFAULT_PROFILE, get_profile
from recft_utils.run import Run


def serving_command(args) -> None:
    from recft_utils.errors import MissingArtefactError
    from recft_utils.serving.export import export_run
    from recft_utils.serving.load_test import TARGETS, history_payloads, load_test_levels, target_check
    from recft_utils.serving.model_folder import METADATA
    from recft_utils.serving.process import ServiceProcess

    run = Run(args.run_dir)
    model_dir = Path(args.model) if args.model else run.path("04_serving", Run.EXPORTED_MODEL)
    if not (model_dir / METADATA).exists():
        if args.model:
            raise MissingArtefactError(f"{model_dir} is not an exported model: run notebook 04 or `recft export`.")
        print(f"exporting step 3's model of {run.folder} to {model_dir}")
        export_run(run.folder, model_dir)
    task = run.task("test")
    payloads = history_payloads(task, n=500, k=args.k)
    requests = args.requests or get_profile(DEFAULT_PROFILE).load_requests
    with ServiceProcess(model_dir) as service:
        version = service.health()["model_version"]
        records = load_test_levels(service.url, payloads, args.concurrency, requests)
    table = pd.DataFrame(records)
    check = target_check(records)
    print(table.to_string(index=False))
    print("targets:", TARGETS, "->", check)
    write_json(
        args.out, {"model_version": version, "k": args.k, "records": records, "targets": TARGETS, "check": check}
    )
    with atomic_path(args.out.with_suffix(".md")) as tmp:
        tmp.write_text(
            f"Model {version}, k = {args.k}, {requests} measured requests per level, "
            f"client and server on this machine.\n\n" + table.to_markdown(index=False) + "\n"
        )
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


def notebooks_command(args) -> None:
    from recft_utils.workshop.timings import machine, profile_timings

    records = []
    for profile in args.profiles:
        records += profile_timings(profile, args.out.parent / f"notebooks-{profile}", solutions=args.solutions)
    table = pd.DataFrame(records).pivot_table(index=["notebook"], columns=["profile", "kind"], values="seconds")
    print(table.to_string())
    write_json(args.out, {"machine": machine(), "records": records})
    print(f"wrote {args.out}")


# What `benchmark tests` times: a name, and the pytest arguments of that selection (README, "Tests").
TEST_SELECTIONS = {
    "fast (-m unit -n 2)": ["tests", "-m", "unit", "-n", "2"],
    "all (make test)": [
        "tests",
        "notebooks",
        "--nbval-lax",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        "tests/nbval_sanitize.cfg",
        "-n",
        "2",
        "--dist",
        "loadgroup",
    ],
}


def tests_command(args) -> None:
    import re
    import subprocess

    from recft_utils.config import project_root

    records = []
    for name, selection in TEST_SELECTIONS.items():
        if args.only and name.split()[0] not in args.only:
            continue
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *selection, "-q", "-p", "no:cacheprovider"],
            cwd=project_root(),
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
        counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
        records.append(
            {
                "selection": name,
                "command": "pytest " + " ".join(selection),
                "seconds": round(seconds, 1),
                "exit_code": done.returncode,
                **counts,
            }
        )
        print(f"{name}: {seconds:.0f} s, {summary}")
    from recft_utils.workshop.timings import machine

    if args.out.exists():  # keep the selections not timed this time (--only)
        timed = {record["selection"] for record in records}
        records = [r for r in read_json(args.out)["records"] if r["selection"] not in timed] + records
    write_json(args.out, {"machine": machine(), "records": records})
    print(f"wrote {args.out}")


def large_shop_command(args) -> None:
    from recft_utils.benchmark.large_shop import large_shop, summary_table, verdict

    result = large_shop(args.dataset, args.profile, args.run_dir)
    write_json(args.out, result)
    print(summary_table(result).to_string(index=False))
    print(verdict(result))
    print(f"wrote {args.out}")


def scale_command(args) -> None:
    from recft_utils.artefacts import save_figure
    from recft_utils.benchmark import scale
    from recft_utils.workshop.timings import machine

    sizes = [scale.parse_size(size) for size in args.sizes]

    def save(records):
        write_json(
            args.out,
            {
                "machine": machine(),
                "evaluated_customers": scale.EVALUATED,
                "epochs": args.epochs,
                "load_requests": args.requests,
                "records": records,
            },
        )

    records = scale.run_sizes(sizes, args.work, epochs=args.epochs, requests=args.requests, on_record=save)
    print(scale.table(records).to_string())
    print(scale.growth(records).to_string(index=False))
    if any(r["status"] == "ok" for r in records):
        save_figure(args.out.with_suffix(".png"), scale.plot(records))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


def worker_summary(records: list[dict]) -> dict:
    """Mean and spread of validation NDCG@10 over seeds, one worker against several; the difference counts as
    seed noise when it is within twice the one-worker seeds' standard deviation."""
    by = {}
    for r in records:
        by.setdefault(r["workers"], []).append(r["valid_ndcg@10"])
    one, many = by[1], by[max(by)]
    noise = 2 * float(np.std(one, ddof=1)) if len(one) > 1 else float("nan")
    difference = float(np.mean(many) - np.mean(one))
    return {
        "workers": max(by),
        "one_worker_mean": float(np.mean(one)),
        "workers_mean": float(np.mean(many)),
        "difference": difference,
        "two_standard_deviations": noise,
        "within_seed_noise": bool(abs(difference) <= noise),
    }


def workers_command(args) -> None:
    from recft_utils.artefacts import write_item_vectors
    from recft_utils.datasets import load_interactions
    from recft_utils.experiments.worker_quality import validation_ndcg
    from recft_utils.multi_worker import launch
    from recft_utils.text import SentenceEncoder
    from recft_utils.text.catalogue_vectors import encode_catalogue
    from recft_utils.workshop.timings import machine

    interactions, _ = load_interactions(args.dataset)
    vectors = encode_catalogue(interactions, SentenceEncoder.load(), progress=True)
    work = args.out.with_suffix("")
    work.mkdir(parents=True, exist_ok=True)
    interactions.to_parquet(work / "interactions.parquet", index=False)
    write_item_vectors(work / "item_vectors.parquet", vectors)
    records = [{"workers": 1, **run} for run in validation_ndcg(interactions, vectors, args.epochs, args.seeds)]
    result = launch(
        args.workers,
        work / "interactions.parquet",
        work / "item_vectors.parquet",
        work / "chief.json",
        args.epochs,
        args.seeds,
    )
    records += [{"workers": result["workers"], **run} for run in result["runs"]]
    summary = worker_summary(records)
    print(pd.DataFrame(records).to_string(index=False))
    print(summary)
    write_json(
        args.out,
        {"machine": machine(), "dataset": args.dataset, "epochs": args.epochs, "records": records, "summary": summary},
    )
    print(f"wrote {args.out}")

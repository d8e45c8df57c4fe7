"""``python -m recft_utils.benchmark baselines|models|rolling|rolling-top-k|learning-curve|base-models|serving|notebooks|tests|scale|large-shop|workers --out FILE``:
benchmark tables as JSON."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from recft_utils.artefacts import atomic_path, read_json, write_json
from recft_utils.benchmark.large_shop import LARGE_SHOP
from recft_utils.benchmark.scale import EPOCHS as SCALE_EPOCHS, LOAD_REQUESTS as SCALE_REQUESTS, SIZES
from recft_utils.config import DEFAULT_PROFILE, PROFILES, get_profile
from recft_utils.errors import run_action
from recft_utils.run import Run


def _baselines(args) -> None:
    from recft_utils.evaluation.comparison import records_table
    from recft_utils.models.baseline_plan import baseline_records
    from recft_utils.config import resolve_settings
    from recft_utils.datasets import load_interactions
    from recft_utils.evaluation import temporal_split

    settings = resolve_settings(dataset=args.dataset, test_days=args.test_days,
                                valid_days=args.valid_days, seed=args.seed)
    interactions, _ = load_interactions(settings.dataset, seed=settings.seed)
    split = temporal_split(interactions, settings.test_days, settings.valid_days)
    records = baseline_records(interactions, split, args.window, bootstrap=args.bootstrap,
                               seed=settings.seed)
    print(records_table(records).to_string())
    print("split:", split.as_dict())
    write_json(args.out, records)
    print(f"wrote {len(records)} records to {args.out}")


def _models(args) -> None:
    from recft_utils import plots
    from recft_utils.artefacts import save_figure
    from recft_utils.models.baseline_plan import baseline_records
    from recft_utils.benchmark.models import (ablation_records, model_records, seed_summary,
                                             throughput_records)
    from recft_utils.config import resolve_settings
    from recft_utils.datasets import load_interactions
    from recft_utils.evaluation import temporal_split
    from recft_utils.models.two_tower import encode_catalogue
    from recft_utils.text import SentenceEncoder

    settings = resolve_settings(dataset=args.dataset, profile=args.profile, seed=args.seed)
    interactions, _ = load_interactions(settings.dataset, settings.profile.max_customers, settings.seed)
    split = temporal_split(interactions, settings.test_days, settings.valid_days)
    encoder = SentenceEncoder.load()
    started = time.perf_counter()
    vectors = encode_catalogue(interactions, encoder, progress=True)
    encode_seconds = time.perf_counter() - started
    print(f"encoded {len(vectors)} items in {encode_seconds:.1f} s ({len(vectors) / encode_seconds:.0f} items/s)")
    speed = throughput_records(interactions, split, vectors, args.profile)
    speed_table = pd.DataFrame(speed)
    print(speed_table.to_string(index=False))
    throughput_file = args.out.with_name(f"{args.out.stem}-throughput.json")
    if args.only_throughput:  # re-measure the ratios on a quiet machine without the 45-minute rest
        write_json(throughput_file, speed)
        print(f"wrote {throughput_file}")
        return
    records = [{**r, "seed": settings.seed, "regime": "classical"}
               for r in baseline_records(interactions, split, "test", bootstrap=args.bootstrap, seed=settings.seed)]
    search_dir = args.out.parent / f"{args.out.stem}-search" if args.search else None
    chosen: dict = {}
    records += model_records(interactions, split, vectors, args.profile, bootstrap=args.bootstrap,
                             strategy=args.strategy, selection_seed=settings.seed, search_dir=search_dir,
                             chosen=chosen)
    summary = seed_summary(records)
    print(summary.round(4).to_string(index=False))
    ablation = pd.DataFrame(ablation_records(interactions, split, vectors, chosen["config"], args.profile,
                                             settings.seed))
    ablation_table = ablation.groupby("variant", sort=False)["valid_ndcg@10"].agg(["mean", "min", "max"])
    print(ablation_table.round(4).to_string())
    write_json(args.out, records)
    write_json(throughput_file, speed)
    write_json(args.out.with_name(f"{args.out.stem}-ablation.json"), ablation.to_dict(orient="records"))
    save_figure(args.out.with_suffix(".png"), plots.quality_cost(summary))
    with atomic_path(args.out.with_suffix(".md")) as tmp:
        tmp.write_text(f"Profile {args.profile}, seeds {get_profile(args.profile).training['seeds']}, "
                       f"catalogue encoding {len(vectors) / encode_seconds:.0f} items/s.\n\n"
                       + summary.round(4).to_markdown(index=False) + "\n\n"
                       + "Training throughput at the same batch size (each variant in its own process):\n\n"
                       + speed_table.to_markdown(index=False) + "\n\n"
                       + f"Chosen on the validation window: {chosen['config']}, {chosen['epochs']} epochs; "
                       + f"fine-tuning epochs {chosen['regime_epochs']}; "
                       + f"blend weight of the two-tower model with EASE {chosen['blend_weight']:g}.\n\n"
                       + "Ablation, best validation NDCG@10 over the profile's seeds:\n\n"
                       + ablation_table.round(4).to_markdown() + "\n")
    print(f"wrote {len(records)} records to {args.out}, throughput to {throughput_file}, "
          f"a table to {args.out.with_suffix('.md')} and a plot to {args.out.with_suffix('.png')}")


def _rolling(args) -> None:
    from recft_utils import plots
    from recft_utils.artefacts import save_figure, write_parquet
    from recft_utils.benchmark.rolling import rolling_comparison, summary_tables
    from recft_utils.config import resolve_settings
    from recft_utils.datasets import load_interactions
    from recft_utils.datasets.preparation import catalogue_titles
    from recft_utils.models.two_tower import encode_catalogue
    from recft_utils.text import SentenceEncoder

    settings = resolve_settings(dataset=args.dataset, profile=args.profile, seed=args.seed, test_days=args.test_days,
                                valid_days=args.valid_days, data_end=args.data_end)
    interactions, _ = load_interactions(settings.dataset, settings.profile.max_customers, settings.seed,
                                        settings.data_end)
    started = time.perf_counter()
    vectors = encode_catalogue(interactions, SentenceEncoder.load(), progress=True)
    records, scores, gains, choices = rolling_comparison(
        interactions, vectors, catalogue_titles(interactions), args.profile, args.windows, settings.test_days,
        settings.valid_days, settings.seed, args.bootstrap, adapt_encoder=args.adapt_encoder)
    tables = summary_tables(scores, choices, args.bootstrap, gains)
    lines = [f"Rolling origin, profile {args.profile}: {args.windows} test windows of {settings.test_days} days "
             f"(window 1 = the latest), every choice made on each window's validation window.", ""]
    for view, table in tables["windows"].items():
        lines += [f"NDCG@10, {view} view (mean over seeds; pooled = every window's customers):", "",
                  table.round(4).to_markdown(), ""]
    lines += ["Pooled verdict: each language model against its lexical twin and the best lexical and classical "
              "models of each view (paired per customer; cold: also customers and products resampled):", "",
              tables["verdict"].round(4).to_markdown(index=False), "",
              "Per window:", "", tables["paired"].round(4).to_markdown(index=False), "",
              "Ablations of the best text model (chosen on each window's validation), pooled:", "",
              tables["ablation"].round(4).to_markdown(index=False), ""]
    if len(tables["fine_tuned"]):
        lines += ["The adapted encoder against the frozen one, same heads (paired per customer):", "",
                  tables["fine_tuned"].round(4).to_markdown(index=False), ""]
    print("\n".join(lines))
    write_json(args.out, {"profile": args.profile, "dataset": args.dataset, "windows": args.windows, "seconds": time.perf_counter() - started,
                          "records": records, "choices": choices,
                          "verdict": tables["verdict"].to_dict(orient="records"),
                          "paired": tables["paired"].to_dict(orient="records"),
                          "ablation": tables["ablation"].to_dict(orient="records"),
                          "fine_tuned": tables["fine_tuned"].to_dict(orient="records")})
    write_parquet(args.out.with_suffix(".scores.parquet"), scores)
    write_parquet(args.out.with_suffix(".gains.parquet"), gains)
    with atomic_path(args.out.with_suffix(".md")) as tmp:
        tmp.write_text("\n".join(lines))
    save_figure(args.out.with_suffix(".png"), plots.paired_windows(tables["paired"]))
    print(f"wrote {args.out}, its per-customer scores, {args.out.with_suffix('.md')} and {args.out.with_suffix('.png')}")


def _learning_curve(args) -> None:
    from recft_utils import plots
    from recft_utils.artefacts import save_figure, write_parquet
    from dataclasses import asdict

    from recft_utils.benchmark.learning_curve import CURVE_PAIRS, CURVE_TOP_K, learning_curve
    from recft_utils.evaluation.learning_curve import curve_differences, curve_sentences, curve_table
    from recft_utils.config import resolve_settings
    from recft_utils.datasets import load_interactions
    from recft_utils.datasets.preparation import catalogue_titles
    from recft_utils.models.two_tower import encode_catalogue
    from recft_utils.text import SentenceEncoder

    settings = resolve_settings(dataset=args.dataset, profile=args.profile, seed=args.seed)
    interactions, _ = load_interactions(settings.dataset, settings.profile.max_customers, settings.seed)
    started = time.perf_counter()
    vectors = encode_catalogue(interactions, SentenceEncoder.load(), progress=True)
    scores, gains, choices = learning_curve(interactions, vectors, catalogue_titles(interactions), args.profile,
                                            args.windows, args.fractions, settings.seed)
    table = curve_table(scores, args.bootstrap)
    differences = curve_differences(scores, CURVE_PAIRS, args.bootstrap, gains)
    print(table.round(4).to_string(index=False))
    print(differences.round(4).to_string(index=False))
    print("\n".join(curve_sentences(differences)))
    write_json(args.out, {"profile": args.profile, "dataset": args.dataset, "windows": args.windows,
                          "fractions": list(args.fractions), "seconds": time.perf_counter() - started,
                          "top_k_settings": asdict(CURVE_TOP_K), "choices": choices, "curve": table.to_dict(orient="records"),
                          "differences": differences.to_dict(orient="records")})
    write_parquet(args.out.with_suffix(".scores.parquet"), scores)
    write_parquet(args.out.with_suffix(".gains.parquet"), gains)
    save_figure(args.out.with_suffix(".png"), plots.learning_curve(table, differences))
    print(f"wrote {args.out}, its per-customer scores, the cold views' per-product gains and "
          f"{args.out.with_suffix('.png')}")


def _base_models(args) -> None:
    from recft_utils.artefacts import write_parquet
    from recft_utils.benchmark.base_models import ENCODERS, base_model_comparison, base_model_table
    from recft_utils.config import resolve_settings
    from recft_utils.datasets import load_interactions
    from recft_utils.datasets.preparation import catalogue_titles

    settings = resolve_settings(dataset=args.dataset, profile=args.profile, seed=args.seed)
    interactions, _ = load_interactions(settings.dataset, settings.profile.max_customers, settings.seed)
    encoders = [tuple(e.split(":", 1)) if ":" in e else (e, "mean") for e in args.encoders] if args.encoders \
        else list(ENCODERS)
    started = time.perf_counter()
    scores, gains, costs, choices = base_model_comparison(interactions, catalogue_titles(interactions),
                                                          args.profile, args.windows, encoders, settings.seed)
    table = base_model_table(scores, costs, args.bootstrap, gains)
    print(costs.round(2).to_string(index=False))
    print(table.round(4).to_string(index=False))
    write_json(args.out, {"profile": args.profile, "dataset": args.dataset, "windows": args.windows,
                          "seconds": time.perf_counter() - started, "costs": costs.to_dict(orient="records"),
                          "table": table.to_dict(orient="records"), "choices": choices})
    write_parquet(args.out.with_suffix(".scores.parquet"), scores)
    if gains is not None:  # the cold view's per-product gains, for intervals that resample products too
        write_parquet(args.out.with_suffix(".gains.parquet"), gains)
    print(f"wrote {args.out}, its per-customer scores" + (" and per-product gains" if gains is not None else ""))


def _rolling_top_k(args) -> None:
    from dataclasses import asdict

    from recft_utils.benchmark.rolling import TOP_K_SETTINGS, top_k_table, top_k_windows
    from recft_utils.config import resolve_settings
    from recft_utils.datasets import load_interactions
    from recft_utils.datasets.preparation import catalogue_titles
    from recft_utils.models.two_tower import encode_catalogue
    from recft_utils.text import SentenceEncoder

    settings = resolve_settings(dataset=args.dataset, profile=args.profile, seed=args.seed)
    interactions, _ = load_interactions(settings.dataset, settings.profile.max_customers, settings.seed)
    started = time.perf_counter()
    plan = get_profile(args.profile).rolling_benchmark
    vectors = encode_catalogue(interactions, SentenceEncoder.load(), progress=True)
    scores, choices = top_k_windows(interactions, vectors, catalogue_titles(interactions), plan["seeds"],
                                    args.windows, epochs=plan["two_tower_epochs"], selection_seed=settings.seed,
                                    bootstrap=args.bootstrap)
    table = top_k_table(scores, args.bootstrap)
    print(table.round(4).to_string(index=False))
    write_json(args.out, {"profile": args.profile, "dataset": args.dataset, "seeds": plan["seeds"],
                          "settings": asdict(TOP_K_SETTINGS), "seconds": time.perf_counter() - started,
                          "choices": choices, "paired": table.to_dict(orient="records")})
    print(f"wrote {args.out}")


def _serving(args) -> None:
    from recft_utils.serving.load_test import TARGETS, history_payloads, serving_records, target_check
    from recft_utils.errors import MissingArtefactError
    from recft_utils.serving.export import export_run
    from recft_utils.serving.process import ServiceProcess

    run = Run(args.run_dir)
    model_dir = Path(args.model) if args.model else run.path("04_serving", Run.EXPORTED_MODEL)
    if not (model_dir / "metadata.json").exists():
        if args.model:
            raise MissingArtefactError(f"{model_dir} is not an exported model: run notebook 04 or `recft export`.")
        print(f"exporting step 3's model of {run.folder} to {model_dir}")
        export_run(run.folder, model_dir)
    task = run.task("test")
    payloads = history_payloads(task, n=500, k=args.k)
    requests = args.requests or get_profile(DEFAULT_PROFILE).load_requests
    with ServiceProcess(model_dir) as service:
        version = service.health()["model_version"]
        records = serving_records(service.url, payloads, args.concurrency, requests)
    table = pd.DataFrame(records)
    check = target_check(records)
    print(table.to_string(index=False))
    print("targets:", TARGETS, "->", check)
    write_json(args.out, {"model_version": version, "k": args.k, "records": records, "targets": TARGETS,
                          "check": check})
    with atomic_path(args.out.with_suffix(".md")) as tmp:
        tmp.write_text(f"Model {version}, k = {args.k}, {requests} measured requests per level, "
                       f"client and server on this machine.\n\n" + table.to_markdown(index=False) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


def _notebooks(args) -> None:
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
    "all (make test)": ["tests", "notebooks", "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with",
                        "tests/nbval_sanitize.cfg", "-n", "2", "--dist", "loadgroup"],
}


def _tests(args) -> None:
    import re
    import subprocess
    import sys

    from recft_utils.config import project_root

    records = []
    for name, selection in TEST_SELECTIONS.items():
        if args.only and name.split()[0] not in args.only:
            continue
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", *selection, "-q", "-p", "no:cacheprovider"],
                              cwd=project_root(), capture_output=True, text=True)
        seconds = time.perf_counter() - started
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
        counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
        records.append({"selection": name, "command": "pytest " + " ".join(selection), "seconds": round(seconds, 1),
                        "exit_code": done.returncode, **counts})
        print(f"{name}: {seconds:.0f} s, {summary}")
    from recft_utils.workshop.timings import machine

    if args.out.exists():  # keep the selections not timed this time (--only)
        timed = {record["selection"] for record in records}
        records = [r for r in read_json(args.out)["records"] if r["selection"] not in timed] + records
    write_json(args.out, {"machine": machine(), "records": records})
    print(f"wrote {args.out}")


def _large_shop(args) -> None:
    from recft_utils.benchmark.large_shop import large_shop, summary_table, verdict

    result = large_shop(args.dataset, args.profile, args.run_dir)
    write_json(args.out, result)
    print(summary_table(result).to_string(index=False))
    print(verdict(result))
    print(f"wrote {args.out}")


def _scale(args) -> None:
    from recft_utils.artefacts import save_figure
    from recft_utils.benchmark import scale
    from recft_utils.workshop.timings import machine

    sizes = [scale.parse_size(size) for size in args.sizes]

    def save(records):
        write_json(args.out, {"machine": machine(), "evaluated_customers": scale.EVALUATED, "epochs": args.epochs,
                              "load_requests": args.requests, "records": records})

    records = scale.run_sizes(sizes, args.work, epochs=args.epochs, requests=args.requests, on_record=save)
    print(scale.table(records).to_string())
    print(scale.growth(records).to_string(index=False))
    if any(r["status"] == "ok" for r in records):
        save_figure(args.out.with_suffix(".png"), scale.plot(records))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


def _workers(args) -> None:
    from recft_utils.artefacts import write_item_vectors
    from recft_utils.datasets import load_interactions
    from recft_utils.models.multi_worker import launch, validation_ndcg, worker_summary
    from recft_utils.models.two_tower import encode_catalogue
    from recft_utils.text import SentenceEncoder
    from recft_utils.workshop.timings import machine

    interactions, _ = load_interactions(args.dataset)
    vectors = encode_catalogue(interactions, SentenceEncoder.load(), progress=True)
    work = args.out.with_suffix("")
    work.mkdir(parents=True, exist_ok=True)
    interactions.to_parquet(work / "interactions.parquet", index=False)
    write_item_vectors(work / "item_vectors.parquet", vectors)
    records = [{"workers": 1, **run} for run in validation_ndcg(interactions, vectors, args.epochs, args.seeds)]
    result = launch(args.workers, work / "interactions.parquet", work / "item_vectors.parquet",
                    work / "chief.json", args.epochs, args.seeds)
    records += [{"workers": result["workers"], **run} for run in result["runs"]]
    summary = worker_summary(records)
    print(pd.DataFrame(records).to_string(index=False))
    print(summary)
    write_json(args.out, {"machine": machine(), "dataset": args.dataset, "epochs": args.epochs,
                          "records": records, "summary": summary})
    print(f"wrote {args.out}")


def _window_benchmark(sub, name: str, description: str, seed_help: str) -> argparse.ArgumentParser:
    """A sub-command over the rolling origin's test windows, with the options every such command takes."""
    parser = sub.add_parser(name, help=description)
    parser.add_argument("--profile", choices=list(PROFILES), default=DEFAULT_PROFILE)
    parser.add_argument("--windows", type=int, default=3, help="successive test windows (rolling origin)")
    parser.add_argument("--out", type=Path, default=Path(f"runs/benchmarks/{name}.json"))
    parser.add_argument("--dataset", default="online-retail")
    parser.add_argument("--seed", type=int, default=42, help=seed_help)
    parser.add_argument("--bootstrap", type=int, default=1000)
    return parser


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recft_utils.benchmark", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    base = sub.add_parser("baselines", help="classical baselines on the temporal split")
    base.add_argument("--out", type=Path, default=Path("runs/benchmarks/baselines.json"))
    base.add_argument("--dataset", default="online-retail")
    base.add_argument("--window", choices=["test", "valid"], default="test")
    base.add_argument("--test-days", type=int, default=30)
    base.add_argument("--valid-days", type=int, default=30)
    base.add_argument("--seed", type=int, default=0)
    base.add_argument("--bootstrap", type=int, default=1000)
    models = sub.add_parser("models", help="step 3's models, several seeds, on the test window")
    models.add_argument("--profile", choices=list(PROFILES), default=DEFAULT_PROFILE)
    models.add_argument("--out", type=Path, default=Path("runs/benchmarks/models.json"))
    models.add_argument("--dataset", default="online-retail")
    models.add_argument("--strategy", default="default", help="default | mirrored | one_device")
    models.add_argument("--seed", type=int, default=42, help="seeds epoch selection (notebook 03's seed)")
    models.add_argument("--bootstrap", type=int, default=1000)
    models.add_argument("--no-search", dest="search", action="store_false",
                        help="skip the KerasTuner search (default settings, early stopping only)")
    models.add_argument("--only-throughput", action="store_true",
                        help="measure only the training throughput table (writes OUT-throughput.json)")
    rolling = _window_benchmark(sub, "rolling", "step 3's fair comparison on successive test windows, pooled",
                                "seeds the validation runs that choose settings")
    rolling.add_argument("--data-end", default="", help="end the data before this day first (YYYY-MM-DD, or -60d: days back from its end)")
    rolling.add_argument("--test-days", type=int, default=30)
    rolling.add_argument("--valid-days", type=int, default=30)
    rolling.add_argument("--no-adaptation", dest="adapt_encoder", action="store_false",
                         help="skip the encoder adapted on co-purchases (the slowest part)")
    _window_benchmark(sub, "rolling-top-k", "the frozen two-tower against its encoder's top layer fine-tuned, on "
                      "successive test windows", "seeds the validation runs that choose settings")
    curve = _window_benchmark(sub, "learning-curve", "the language model, its lexical twin, IDs only and EASE + "
                              "recent popularity trained on growing shares of the customers",
                              "seeds the customer samples and the validation runs")
    curve.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    bases = _window_benchmark(sub, "base-models", "BERT or GPT: each base model frozen in the same two-tower and "
                              "cold-start recipes, on successive test windows", "seeds the validation runs")
    bases.add_argument("--encoders", nargs="+", default=None, metavar="MODEL[:POOLING]",
                       help="base models (default: all-MiniLM-L6-v2, paraphrase-MiniLM-L3-v2, SmolLM2-135M-Instruct "
                            "with mean and with last-token prompt pooling)")
    serving = sub.add_parser("serving", help="load test of the HTTP service (started on a free local port)")
    serving.add_argument("--run-dir", default=None, help="a run with steps 1-3 (real customers' histories); "
                         "default: $RECFT_RUN_DIR, else runs/default")
    serving.add_argument("--model", default=None, help="an exported model folder (default RUN_DIR/04_serving/model, "
                                                       "exported from step 3 when missing)")
    serving.add_argument("--out", type=Path, default=Path("runs/benchmarks/serving.json"))
    serving.add_argument("--requests", type=int, default=0, help="measured requests per concurrency level")
    serving.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    serving.add_argument("-k", type=int, default=10)
    notebooks = sub.add_parser("notebooks", help="run time of each notebook and solution notebook, per profile")
    notebooks.add_argument("--profiles", nargs="+", choices=list(PROFILES), default=["tiny", DEFAULT_PROFILE])
    notebooks.add_argument("--out", type=Path, default=Path("runs/benchmarks/notebooks.json"))
    notebooks.add_argument("--no-solutions", dest="solutions", action="store_false", help="time the notebooks only")
    large = sub.add_parser("large-shop", help="the whole chain on a grocery chain's size (70,000 products, 1.5 million "
                           "lines): each notebook's time and the peak memory of the process tree")
    large.add_argument("--dataset", default=LARGE_SHOP, help=f"any dataset name (default {LARGE_SHOP})")
    large.add_argument("--profile", choices=list(PROFILES), default=DEFAULT_PROFILE)
    large.add_argument("--run-dir", type=Path, default=Path("runs/benchmarks/large-shop"))
    large.add_argument("--out", type=Path, default=Path("runs/benchmarks/large-shop.json"))
    scaling = sub.add_parser("scale", help="steps 1-4 on growing synthetic shops: wall time and peak RSS per step")
    scaling.add_argument("--sizes", nargs="+", default=[f"{i}:{n}" for i, n in SIZES],
                         help="ITEMS:INTERACTIONS each (default: " + " ".join(f"{i}:{n}" for i, n in SIZES) + ")")
    scaling.add_argument("--epochs", type=int, default=SCALE_EPOCHS, help="two-tower epochs at every size")
    scaling.add_argument("--requests", type=int, default=SCALE_REQUESTS, help="measured requests of the load test")
    scaling.add_argument("--work", type=Path, default=Path("runs/benchmarks/scale"), help="data and models per size")
    scaling.add_argument("--out", type=Path, default=Path("runs/benchmarks/scale.json"))
    workers = sub.add_parser("workers", help="step 3's two-tower on one worker and on local workers "
                                            "(MultiWorkerMirroredStrategy): validation NDCG@10 per seed")
    workers.add_argument("--dataset", default="synthetic:1000:60000", help="any dataset name (default: a synthetic shop)")
    workers.add_argument("--workers", type=int, default=2)
    workers.add_argument("--epochs", type=int, default=5)
    workers.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    workers.add_argument("--out", type=Path, default=Path("runs/benchmarks/workers.json"))
    tests = sub.add_parser("tests", help="wall time of the fast tests and of the whole suite (README, Tests)")
    tests.add_argument("--out", type=Path, default=Path("runs/benchmarks/tests.json"))
    tests.add_argument("--only", nargs="+", choices=[name.split()[0] for name in TEST_SELECTIONS],
                       help="time only these selections")
    args = parser.parse_args(argv)
    return run_action({"baselines": _baselines, "models": _models, "rolling": _rolling, "rolling-top-k": _rolling_top_k,
                       "learning-curve": _learning_curve, "base-models": _base_models, "serving": _serving, "notebooks": _notebooks, "tests": _tests, "large-shop": _large_shop,
                       "scale": _scale, "workers": _workers}[args.command], args)


if __name__ == "__main__":
    sys.exit(main())

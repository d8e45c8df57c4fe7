"""The quality benchmarks: models on the temporal split and its rolling windows, base models, learning curves."""

from __future__ import annotations

import time

import pandas as pd

from recft_utils.artefacts import atomic_path, write_json
from recft_utils.config import get_profile


def baselines_command(args) -> None:
    from recft_utils.datasets import load_interactions
    from recft_utils.evaluation import temporal_split
    from recft_utils.evaluation.comparison import records_table
    from recft_utils.experiments.baseline_plan import baseline_records
    from recft_utils.settings import resolve_settings

    settings = resolve_settings(
        dataset=args.dataset, test_days=args.test_days, valid_days=args.valid_days, seed=args.seed
    )
    interactions, _ = load_interactions(settings.dataset, seed=settings.seed)
    split = temporal_split(interactions, settings.test_days, settings.valid_days)
    records = baseline_records(interactions, split, args.window, bootstrap=args.bootstrap, seed=settings.seed)
    print(records_table(records).to_string())
    print("split:", split.as_dict())
    write_json(args.out, records)
    print(f"wrote {len(records)} records to {args.out}")


def models_command(args) -> None:
    from recft_utils import plots
    from recft_utils.artefacts import save_figure
    from recft_utils.benchmark.models import ablation_records, model_records, seed_summary, throughput_records
    from recft_utils.datasets import load_interactions
    from recft_utils.evaluation import temporal_split
    from recft_utils.experiments.baseline_plan import baseline_records
    from recft_utils.settings import resolve_settings
    from recft_utils.text import SentenceEncoder
    from recft_utils.text.catalogue_vectors import encode_catalogue

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
    records = [
        {**r, "seed": settings.seed, "regime": "classical"}
        for r in baseline_records(interactions, split, "test", bootstrap=args.bootstrap, seed=settings.seed)
    ]
    search_dir = args.out.parent / f"{args.out.stem}-search" if args.search else None
    chosen: dict = {}
    records += model_records(
        interactions,
        split,
        vectors,
        args.profile,
        bootstrap=args.bootstrap,
        strategy=args.strategy,
        selection_seed=settings.seed,
        search_dir=search_dir,
        chosen=chosen,
    )
    summary = seed_summary(records)
    print(summary.round(4).to_string(index=False))
    ablation = pd.DataFrame(
        ablation_records(interactions, split, vectors, chosen["config"], args.profile, settings.seed)
    )
    ablation_table = ablation.groupby("variant", sort=False)["valid_ndcg@10"].agg(["mean", "min", "max"])
    print(ablation_table.round(4).to_string())
    write_json(args.out, records)
    write_json(throughput_file, speed)
    write_json(args.out.with_name(f"{args.out.stem}-ablation.json"), ablation.to_dict(orient="records"))
    save_figure(args.out.with_suffix(".png"), plots.quality_cost(summary))
    with atomic_path(args.out.with_suffix(".md")) as tmp:
        tmp.write_text(
            f"Profile {args.profile}, seeds {get_profile(args.profile).training['seeds']}, "
            f"catalogue encoding {len(vectors) / encode_seconds:.0f} items/s.\n\n"
            + summary.round(4).to_markdown(index=False)
            + "\n\n"
            + "Training throughput at the same batch size (each variant in its own process):\n\n"
            + speed_table.to_markdown(index=False)
            + "\n\n"
            + f"Chosen on the validation window: {chosen['config']}, {chosen['epochs']} epochs; "
            + f"fine-tuning epochs {chosen['regime_epochs']}; "
            + f"blend weight of the two-tower model with EASE {chosen['blend_weight']:g}.\n\n"
            + "Ablation, best validation NDCG@10 over the profile's seeds:\n\n"
            + ablation_table.round(4).to_markdown()
            + "\n"
        )
    print(
        f"wrote {len(records)} records to {args.out}, throughput to {throughput_file}, "
        f"a table to {args.out.with_suffix('.md')} and a plot to {args.out.with_suffix('.png')}"
    )


def rolling_command(args) -> None:
    from recft_utils.artefacts import save_figure, write_parquet
    from recft_utils.benchmark import plots as benchmark_plots
    from recft_utils.benchmark.rolling import rolling_comparison, summary_tables
    from recft_utils.datasets import load_interactions
    from recft_utils.datasets.preparation import catalogue_titles
    from recft_utils.settings import resolve_settings
    from recft_utils.text import SentenceEncoder
    from recft_utils.text.catalogue_vectors import encode_catalogue

    settings = resolve_settings(
        dataset=args.dataset,
        profile=args.profile,
        seed=args.seed,
        test_days=args.test_days,
        valid_days=args.valid_days,
        data_end=args.data_end,
    )
    interactions, _ = load_interactions(
        settings.dataset, settings.profile.max_customers, settings.seed, settings.data_end
    )
    started = time.perf_counter()
    vectors = encode_catalogue(interactions, SentenceEncoder.load(), progress=True)
    records, scores, gains, choices = rolling_comparison(
        interactions,
        vectors,
        catalogue_titles(interactions),
        args.profile,
        args.windows,
        settings.test_days,
        settings.valid_days,
        settings.seed,
        args.bootstrap,
        adapt_encoder=args.adapt_encoder,
    )
    tables = summary_tables(scores, choices, args.bootstrap, gains)
    lines = [
        f"Rolling origin, profile {args.profile}: {args.windows} test windows of {settings.test_days} days "
        f"(window 1 = the latest), every choice made on each window's validation window.",
        "",
    ]
    for view, table in tables["windows"].items():
        lines += [
            f"NDCG@10, {view} view (mean over seeds; pooled = every window's customers):",
            "",
            table.round(4).to_markdown(),
            "",
        ]
    lines += [
        "Pooled verdict: each language model against its lexical twin and the best lexical and classical "
        "models of each view (paired per customer; cold: also customers and products resampled):",
        "",
        tables["verdict"].round(4).to_markdown(index=False),
        "",
        "Per window:",
        "",
        tables["paired"].round(4).to_markdown(index=False),
        "",
        "Ablations of the best text model (chosen on each window's validation), pooled:",
        "",
        tables["ablation"].round(4).to_markdown(index=False),
        "",
    ]
    if len(tables["fine_tuned"]):
        lines += [
            "The adapted encoder against the frozen one, same heads (paired per customer):",
            "",
            tables["fine_tuned"].round(4).to_markdown(index=False),
            "",
        ]
    print("\n".join(lines))
    write_json(
        args.out,
        {
            "profile": args.profile,
            "dataset": args.dataset,
            "windows": args.windows,
            "seconds": time.perf_counter() - started,
            "records": records,
            "choices": choices,
            "verdict": tables["verdict"].to_dict(orient="records"),
            "paired": tables["paired"].to_dict(orient="records"),
            "ablation": tables["ablation"].to_dict(orient="records"),
            "fine_tuned": tables["fine_tuned"].to_dict(orient="records"),
        },
    )
    write_parquet(args.out.with_suffix(".scores.parquet"), scores)
    write_parquet(args.out.with_suffix(".gains.parquet"), gains)
    with atomic_path(args.out.with_suffix(".md")) as tmp:
        tmp.write_text("\n".join(lines))
    save_figure(args.out.with_suffix(".png"), benchmark_plots.paired_windows(tables["paired"]))
    print(
        f"wrote {args.out}, its per-customer scores, {args.out.with_suffix('.md')} and {args.out.with_suffix('.png')}"
    )


def learning_curve_command(args) -> None:
    from dataclasses import asdict

    from recft_utils.artefacts import save_figure, write_parquet
    from recft_utils.benchmark import plots as benchmark_plots
    from recft_utils.benchmark.learning_curve import CURVE_PAIRS, CURVE_TOP_K, learning_curve
    from recft_utils.datasets import load_interactions
    from recft_utils.datasets.preparation import catalogue_titles
    from recft_utils.evaluation.learning_curve import curve_differences, curve_sentences, curve_table
    from recft_utils.settings import resolve_settings
    from recft_utils.text import SentenceEncoder
    from recft_utils.text.catalogue_vectors import encode_catalogue

    settings = resolve_settings(dataset=args.dataset, profile=args.profile, seed=args.seed)
    interactions, _ = load_interactions(settings.dataset, settings.profile.max_customers, settings.seed)
    started = time.perf_counter()
    vectors = encode_catalogue(interactions, SentenceEncoder.load(), progress=True)
    scores, gains, choices = learning_curve(
        interactions, vectors, catalogue_titles(interactions), args.profile, args.windows, args.fractions, settings.seed
    )
    table = curve_table(scores, args.bootstrap)
    differences = curve_differences(scores, CURVE_PAIRS, args.bootstrap, gains)
    print(table.round(4).to_string(index=False))
    print(differences.round(4).to_string(index=False))
    print("\n".join(curve_sentences(differences)))
    write_json(
        args.out,
        {
            "profile": args.profile,
            "dataset": args.dataset,
            "windows": args.windows,
            "fractions": list(args.fractions),
            "seconds": time.perf_counter() - started,
            "top_k_settings": asdict(CURVE_TOP_K),
            "choices": choices,
            "curve": table.to_dict(orient="records"),
            "differences": differences.to_dict(orient="records"),
        },
    )
    write_parquet(args.out.with_suffix(".scores.parquet"), scores)
    write_parquet(args.out.with_suffix(".gains.parquet"), gains)
    save_figure(args.out.with_suffix(".png"), benchmark_plots.learning_curve(table, differences))
    print(
        f"wrote {args.out}, its per-customer scores, the cold views' per-product gains and "
        f"{args.out.with_suffix('.png')}"
    )


def base_models_command(args) -> None:
    from recft_utils.artefacts import write_parquet
    from recft_utils.benchmark.base_models import ENCODERS, base_model_comparison, base_model_table
    from recft_utils.datasets import load_interactions
    from recft_utils.datasets.preparation import catalogue_titles
    from recft_utils.settings import resolve_settings

    settings = resolve_settings(dataset=args.dataset, profile=args.profile, seed=args.seed)
    interactions, _ = load_interactions(settings.dataset, settings.profile.max_customers, settings.seed)
    encoders = (
        [tuple(e.split(":", 1)) if ":" in e else (e, "mean") for e in args.encoders]
        if args.encoders
        else list(ENCODERS)
    )
    started = time.perf_counter()
    scores, gains, costs, choices = base_model_comparison(
        interactions, catalogue_titles(interactions), args.profile, args.windows, encoders, settings.seed
    )
    table = base_model_table(scores, costs, args.bootstrap, gains)
    print(costs.round(2).to_string(index=False))
    print(table.round(4).to_string(index=False))
    write_json(
        args.out,
        {
            "profile": args.profile,
            "dataset": args.dataset,
            "windows": args.windows,
            "seconds": time.perf_counter() - started,
            "costs": costs.to_dict(orient="records"),
            "table": table.to_dict(orient="records"),
            "choices": choices,
        },
    )
    write_parquet(args.out.with_suffix(".scores.parquet"), scores)
    if gains is not None:  # the cold view's per-product gains, for intervals that resample products too
        write_parquet(args.out.with_suffix(".gains.parquet"), gains)
    print(f"wrote {args.out}, its per-customer scores" + (" and per-product gains" if gains is not None else ""))


def rolling_top_k_command(args) -> None:
    from dataclasses import asdict

    from recft_utils.benchmark.rolling import TOP_K_SETTINGS, top_k_table, top_k_windows
    from recft_utils.datasets import load_interactions
    from recft_utils.datasets.preparation import catalogue_titles
    from recft_utils.settings import resolve_settings
    from recft_utils.text import SentenceEncoder
    from recft_utils.text.catalogue_vectors import encode_catalogue

    settings = resolve_settings(dataset=args.dataset, profile=args.profile, seed=args.seed)
    interactions, _ = load_interactions(settings.dataset, settings.profile.max_customers, settings.seed)
    started = time.perf_counter()
    plan = get_profile(args.profile).rolling_benchmark
    vectors = encode_catalogue(interactions, SentenceEncoder.load(), progress=True)
    scores, choices = top_k_windows(
        interactions,
        vectors,
        catalogue_titles(interactions),
        plan["seeds"],
        args.windows,
        epochs=plan["two_tower_epochs"],
        selection_seed=settings.seed,
        bootstrap=args.bootstrap,
    )
    table = top_k_table(scores, args.bootstrap)
    print(table.round(4).to_string(index=False))
    write_json(
        args.out,
        {
            "profile": args.profile,
            "dataset": args.dataset,
            "seeds": plan["seeds"],
            "settings": asdict(TOP_K_SETTINGS),
            "seconds": time.perf_counter() - started,
            "choices": choices,
            "paired": table.to_dict(orient="records"),
        },
    )
    print(f"wrote {args.out}")

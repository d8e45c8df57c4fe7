"""``python -m recft_utils.benchmark baselines|models --out FILE``: benchmark tables as JSON."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from recft_utils.artefacts import atomic_path, write_json
from recft_utils.errors import RecftError


def _baselines(args) -> None:
    from recft_utils.benchmark.baselines import baseline_records, records_table
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
    from recft_utils.benchmark.baselines import baseline_records
    from recft_utils.benchmark.models import (PROFILE_PLAN, ablation_records, model_records, seed_summary,
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
    records = [{**r, "seed": settings.seed, "regime": "classical (IDs only)"}
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
    throughput_file = args.out.with_name(f"{args.out.stem}-throughput.json")
    write_json(throughput_file, speed)
    write_json(args.out.with_name(f"{args.out.stem}-ablation.json"), ablation.to_dict(orient="records"))
    save_figure(args.out.with_suffix(".png"), plots.quality_cost(summary))
    with atomic_path(args.out.with_suffix(".md")) as tmp:
        tmp.write_text(f"Profile {args.profile}, seeds {PROFILE_PLAN[args.profile]['seeds']}, "
                       f"catalogue encoding {len(vectors) / encode_seconds:.0f} items/s.\n\n"
                       + summary.round(4).to_markdown(index=False) + "\n\n"
                       + "Training throughput at the same batch size (one process, one after the other):\n\n"
                       + speed_table.to_markdown(index=False) + "\n\n"
                       + f"Chosen on the validation window: {chosen['config']}, {chosen['epochs']} epochs; "
                       + f"fine-tuning epochs {chosen['regime_epochs']}; "
                       + f"blend weight of the two-tower model with EASE {chosen['blend_weight']:g}.\n\n"
                       + "Ablation, best validation NDCG@10 over the profile's seeds:\n\n"
                       + ablation_table.round(4).to_markdown() + "\n")
    print(f"wrote {len(records)} records to {args.out}, throughput to {throughput_file}, "
          f"a table to {args.out.with_suffix('.md')} and a plot to {args.out.with_suffix('.png')}")


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
    models.add_argument("--profile", choices=["tiny", "workshop", "full"], default="workshop")
    models.add_argument("--out", type=Path, default=Path("runs/benchmarks/models.json"))
    models.add_argument("--dataset", default="online-retail")
    models.add_argument("--strategy", default="default", help="default | mirrored | one_device")
    models.add_argument("--seed", type=int, default=42, help="seeds epoch selection (notebook 03's seed)")
    models.add_argument("--bootstrap", type=int, default=1000)
    models.add_argument("--no-search", dest="search", action="store_false",
                        help="skip the KerasTuner search (default settings, early stopping only)")
    args = parser.parse_args(argv)
    try:
        {"baselines": _baselines, "models": _models}[args.command](args)
    except RecftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

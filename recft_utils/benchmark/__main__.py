"""``python -m recft_utils.benchmark baselines --out FILE``: the baseline table as JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recft_utils.artefacts import write_json
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
    args = parser.parse_args(argv)
    try:
        {"baselines": _baselines}[args.command](args)
    except RecftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

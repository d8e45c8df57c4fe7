"""Personal data and pseudonymous ids (recft_utils.datasets.privacy)."""

import pandas as pd
import pytest

from recft_utils.datasets.privacy import personal_data_table, pseudonymise
from recft_utils.errors import ParameterError

KEY = "a-secret-of-at-least-sixteen-bytes"


def test_pseudonyms_are_stable_keyed_and_unlinkable_without_the_key():
    ids = pd.Series(["17850", "13047", "17850"], name="user_id")
    first = pseudonymise(ids, KEY)
    assert first.name == "user_id" and first.iloc[0] == first.iloc[2] != first.iloc[1]  # histories still join
    assert first.str.len().eq(16).all() and not first.isin(ids).any()
    assert (pseudonymise(ids, KEY + "!") != first).all()  # another key, other pseudonyms
    with pytest.raises(ParameterError, match="at least 16 bytes"):
        pseudonymise(ids, "short")


def test_every_personal_column_is_named_with_its_handling():
    frame = pd.DataFrame(columns=["user_id", "item_id", "timestamp", "item_text", "country", "extra"])
    table = personal_data_table(frame)
    assert list(table.index) == ["user_id", "item_id", "timestamp", "item_text", "country"]
    assert table.loc["user_id", "handling"].startswith("pseudonymise")

"""Descriptive statistics of an interaction table, for exploration and reports."""

from __future__ import annotations

import pandas as pd


def dataset_summary(interactions: pd.DataFrame) -> dict:
    """Counts and dates a reader checks first."""
    n_users = interactions["user_id"].nunique()
    n_items = interactions["item_id"].nunique()
    pairs = interactions[["user_id", "item_id"]].drop_duplicates()
    return {
        "interactions": int(len(interactions)),
        "orders": int(interactions["order_id"].nunique()),
        "customers": int(n_users),
        "items": int(n_items),
        "countries": int(interactions["country"].nunique()),
        "first_day": str(interactions["timestamp"].min().date()),
        "last_day": str(interactions["timestamp"].max().date()),
        "density": float(len(pairs) / (n_users * n_items)),
    }


def item_popularity(interactions: pd.DataFrame) -> pd.Series:
    """Distinct customers per item, most popular first."""
    return interactions.groupby("item_id")["user_id"].nunique().sort_values(ascending=False)


def head_share(popularity: pd.Series, top_fraction: float = 0.1) -> float:
    """Share of (customer, item) purchases that go to the top ``top_fraction`` of items."""
    n_top = max(1, int(round(len(popularity) * top_fraction)))
    return float(popularity.iloc[:n_top].sum() / popularity.sum())


def orders_per_customer(interactions: pd.DataFrame) -> pd.Series:
    return interactions.groupby("user_id")["order_id"].nunique()


def weekly_activity(interactions: pd.DataFrame) -> pd.DataFrame:
    """Orders and active customers per week."""
    weeks = interactions.set_index("timestamp").groupby(pd.Grouper(freq="W-MON", label="left"))
    return pd.DataFrame(
        {
            "orders": weeks["order_id"].nunique(),
            "customers": weeks["user_id"].nunique(),
        }
    )


def seasonality_note(interactions: pd.DataFrame) -> str:
    """One sentence on the busiest and the quietest month, from the data (orders per day with data, so
    that a month the extract covers only in part compares fairly)."""
    when = interactions["timestamp"]
    month = when.dt.to_period("M")
    per_day = interactions.groupby(month)["order_id"].nunique() / when.dt.normalize().groupby(month).nunique()
    per_day = per_day.sort_values(kind="stable")
    if len(per_day) < 2:
        return f"The data covers one month ({per_day.index[0]:%B %Y}): too short to show a season."
    quiet, low, busy, high = per_day.index[0], per_day.iloc[0], per_day.index[-1], per_day.iloc[-1]
    return (
        f"Busiest month: {busy:%B %Y} with {high:.0f} orders a day, {high / low:.1f}× the quietest "
        f"({quiet:%B %Y}, {low:.0f} a day)."
    )


def repeat_share(history: pd.DataFrame, target: pd.DataFrame) -> float:
    """Share of (customer, item) purchases in ``target`` the customer had made before."""
    bought = target[["user_id", "item_id"]].drop_duplicates()
    before = history[["user_id", "item_id"]].drop_duplicates()
    known = bought.merge(before, how="inner", on=["user_id", "item_id"])
    return float(len(known) / max(len(bought), 1))


def implicit_feedback(interactions: pd.DataFrame) -> pd.DataFrame:
    """One row per (customer, item): a positive label with its strength and dates.

    There are no ratings or impressions: a purchase is a positive, anything
    not bought is unlabelled (not a negative). ``orders`` counts how often it
    was bought, which a model may use as a confidence weight.
    """
    grouped = interactions.groupby(["user_id", "item_id"])
    return (
        pd.DataFrame(
            {
                "orders": grouped["order_id"].nunique(),
                "quantity": grouped["quantity"].sum(),
                "first_bought": grouped["timestamp"].min(),
                "last_bought": grouped["timestamp"].max(),
            }
        )
        .reset_index()
        .assign(label=1)
    )


def text_sharing(texts: pd.Series) -> dict:
    """How far a shop's product texts are names: ``texts`` is one (normalised) text per product.

    A gift shop's titles name one product each; a grocery export's category-level texts ("soup:
    chunky 18.8 oz") name several, and a text model cannot tell those products apart.
    """
    per_text = texts.value_counts()
    shared = per_text[per_text > 1]
    return {
        "products": len(texts),
        "texts": len(per_text),
        "shared_texts": len(shared),
        "products_with_a_shared_text": int(shared.sum()),
    }


def text_sharing_note(texts: pd.Series) -> str:
    """:func:`text_sharing` in one sentence."""
    sharing = text_sharing(texts)
    if not sharing["shared_texts"]:
        return f"Each of the {sharing['products']:,} products has a text of its own: the texts work as names."
    return (
        f"The {sharing['products']:,} products carry {sharing['texts']:,} distinct texts: "
        f"{sharing['products_with_a_shared_text']:,} products share one of {sharing['shared_texts']:,} texts "
        f"with another product, and a model that reads only the text cannot tell those apart."
    )


def new_products_with_known_text(task, texts: pd.Series) -> int:
    """How many of ``task``'s new (cold) products have exactly the text of a product sold before the window."""
    warm = set(texts.reindex(task.items[: task.n_warm]).dropna())
    return int(texts.reindex(task.items[task.n_warm :]).isin(warm).sum())

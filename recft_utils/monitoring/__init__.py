"""Step 6: watching the data a deployed recommender sees change (drift, new items)."""

"""Step 6: a model's life after the first deployment: versions, promotion decisions, rollback."""

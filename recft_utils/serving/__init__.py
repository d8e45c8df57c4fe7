"""Step 4: export a trained recommender, serve it over HTTP, and replay traffic against it."""

"""Step 5: documents and reports for people who do not read code (model card, datasheet, segment reports)."""

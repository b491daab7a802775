"""Robot models and versions (the catalog), robots, stock and ingest."""

"""The bare Django app the benchmarks compare against (its own settings, no project code)."""

"""Where a request's time goes, measured inside the running web process (benchmarks/profile.py)."""

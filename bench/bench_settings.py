"""Production settings plus the baseline views the benchmarks compare against."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "baseline_urls"

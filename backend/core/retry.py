"""Back-off for work that is retried from its row (e-mails, reports)."""

import random


def backoff_delay(attempts: int, *, base: float, cap: float) -> float:
    """Seconds before the next try after `attempts` failed ones: exponential, capped, with
    jitter over the upper half so a crowd of failures does not retry in step."""
    ceiling = min(cap, base * 2 ** (attempts - 1))
    return random.uniform(ceiling / 2, ceiling)

"""The production settings with a timing probe between every two middleware (profiling.probe).

The probes time each middleware on its own (the time it spends before and after the
middleware inside it) and install the span timers of profiling.probe.SPANS.
"""

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE as PROJECT_MIDDLEWARE

MIDDLEWARE = ["profiling.probe.Probe0"]
for _index, _middleware in enumerate(PROJECT_MIDDLEWARE, start=1):
    MIDDLEWARE += [_middleware, f"profiling.probe.Probe{_index}"]

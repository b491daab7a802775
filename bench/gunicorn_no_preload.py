"""backend/config/gunicorn.py with preloading off: the "before" of the recycling figure.

Only the benchmarks use it (benchmarks/robots.py), to show in the same run what a worker
recycle cost when each new worker imported the application itself.
"""

import runpy
from pathlib import Path

globals().update(
    {
        name: value
        for name, value in runpy.run_path(
            str(Path(__file__).resolve().parents[1] / "backend" / "config" / "gunicorn.py")
        ).items()
        if not name.startswith("__")
    }
)
preload_app = False

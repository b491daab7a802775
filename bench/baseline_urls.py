"""The real URLs plus each benchmark's bare Django baseline views (`baseline_urlpatterns`)."""

import importlib
import pkgutil

import benchmarks
from config.urls import urlpatterns as real_urlpatterns

urlpatterns = list(real_urlpatterns)
for module_info in pkgutil.iter_modules(benchmarks.__path__):
    module = importlib.import_module(f"benchmarks.{module_info.name}")
    urlpatterns += getattr(module, "baseline_urlpatterns", [])

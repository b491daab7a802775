"""Settings for `make test`: the real settings, with the test's own Redis databases.

PostgreSQL and Redis are found from the environment (DATABASE_URL, CELERY_BROKER_URL),
localhost by default; tests keep to Redis databases 11-15 of that server.
"""

import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("ENVIRONMENT", "development")
os.environ.setdefault("DEBUG", "0")
# Celery would let this variable override the settings below, so it is read and dropped.
_redis = urlsplit(os.environ.pop("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))
REDIS_SERVER_URL = urlunsplit(_redis._replace(path=""))

from config.settings import *  # noqa: E402,F403

CELERY_BROKER_URL = f"{REDIS_SERVER_URL}/14"
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"{REDIS_SERVER_URL}/15"}}

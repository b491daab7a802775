"""Settings for `make test`: the real settings, with the test's own Redis databases.

PostgreSQL and Redis are found from the environment (DATABASE_URL, CELERY_BROKER_URL),
localhost by default. TEST_RUN_SLOT (0, the default, to 7) lets test runs share one
machine: each slot has its own test database; slots 0 to 3 have their own Redis databases,
and slots 4 to 7 reuse those of slot - 4, so they need another Redis server
(CELERY_BROKER_URL=redis://127.0.0.1:6380/0).
"""

import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("ENVIRONMENT", "development")
os.environ.setdefault("DEBUG", "0")
# Celery would let this variable override the settings below, so it is read and dropped.
_redis = urlsplit(os.environ.pop("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))
REDIS_SERVER_URL = urlunsplit(_redis._replace(path=""))

TEST_RUN_SLOT = int(os.environ.get("TEST_RUN_SLOT", "0"))
# Four Redis databases per slot: broker, cache, and the end-to-end stack's broker and cache.
TEST_REDIS_DBS = {0: (14, 15, 13, 12), 1: (10, 11, 9, 8), 2: (6, 7, 5, 4), 3: (2, 3, 1, 0)}[TEST_RUN_SLOT % 4]

from config.settings import *  # noqa: E402,F403

DATABASES["default"]["TEST"] = {"NAME": f"test_r4c_{TEST_RUN_SLOT}"}  # noqa: F405
CELERY_BROKER_URL = f"{REDIS_SERVER_URL}/{TEST_REDIS_DBS[0]}"
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CACHES["default"]["LOCATION"] = f"{REDIS_SERVER_URL}/{TEST_REDIS_DBS[1]}"  # noqa: F405 (django-redis, as deployed)

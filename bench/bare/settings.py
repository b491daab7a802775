"""Minimal settings of the bare baseline app: no installed apps, no middleware, no DRF.

Only what its two views need: the database (the same one, with the project's persistent
connections but none of its per-request health checks), the time zone production lines
write in, and the project's argon2id hasher with the same cost. Served by the same
gunicorn configuration (backend/config/gunicorn.py) and worker count as the API.
"""

import environ

env = environ.Env()

SECRET_KEY = "bench-bare-baseline-only-0123456789-abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bare.urls"
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
USE_TZ = True
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
PASSWORD_HASHERS = ["accounts.hashers.ConfiguredArgon2PasswordHasher"]
ARGON2_MEMORY_COST = env.int("ARGON2_MEMORY_COST", default=19456)
ARGON2_TIME_COST = env.int("ARGON2_TIME_COST", default=2)
ARGON2_PARALLELISM = env.int("ARGON2_PARALLELISM", default=1)
LOGGING_CONFIG = None

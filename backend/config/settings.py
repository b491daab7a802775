"""R4C settings: every value comes from the environment (see .env.example), read once here."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django_guid.integrations import CeleryIntegration
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BASE_DIR.parent

# Settings come from the process environment only: docker compose passes `.env` with
# env_file, `make dev`/`make migrate` export it; tests are never affected by a local `.env`.
env = environ.Env()

# "production" unless told otherwise, so a forgotten setting fails closed.
ENVIRONMENT = env.str("ENVIRONMENT", default="production")
if ENVIRONMENT not in {"production", "development"}:
    raise ImproperlyConfigured("ENVIRONMENT must be 'production' or 'development'.")
IS_PRODUCTION = ENVIRONMENT == "production"

DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105 (refused in production)
SECRET_KEY = env.str("SECRET_KEY", default="" if IS_PRODUCTION else DEV_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)

if IS_PRODUCTION:
    if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY or SECRET_KEY.startswith(("change-me", "django-insecure")):
        raise ImproperlyConfigured("Production needs its own SECRET_KEY (set SECRET_KEY in the environment).")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long in production.")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG=1 is refused in production (ENVIRONMENT=production).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "django_guid",
    "axes",
    "core",
    "accounts",
    "registrations",
    "robots",
    "orders",
    "customers",
    "notifications",
    "reports",
    "mailings",
    "legacy",
]

MIDDLEWARE = [
    "core.metrics.HttpMetricsBeforeMiddleware",
    # X-Request-ID in (nginx sets it) and out; the id travels on into Celery tasks (DJANGO_GUID below).
    "django_guid.middleware.guid_middleware",
    # The registration request log: every useradd request, even those refused before the view (413, 429, 500).
    "registrations.middleware.RegistrationRequestLogMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    # Control characters in path parameters, query, read headers and cookies: a 400 (DESIGN.md §4).
    "core.guards.InputGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.metrics.HttpMetricsAfterMiddleware",
    # Wraps the API view alone (it calls the view in its process_view): a write commits only
    # with a 2xx answer.
    "core.transactions.ApiWriteTransactionMiddleware",
    # Turns a sign-in refused by django-axes into the lockout answer (accounts.lockout); last, as axes asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/r4c")}
DATABASES["default"].setdefault("OPTIONS", {})
# Fail fast when PostgreSQL is unreachable, so requests get a 503 instead of hanging.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
# psycopg prepares a statement on its 5th run on a connection, but only statements sent by a
# cursor that binds on the server: core.postgresql's prepared_cursor() on the hot paths
# (Django's own cursors bind on the client and are never prepared; Django turns preparing
# off unless this is set).
DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Django's backend, with a health check that looks at the socket instead of sending SELECT 1
# before each request's first query (core/postgresql/base.py).
DATABASES["default"]["ENGINE"] = "core.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-redis, failing open: with Redis away a cache read is a miss and a write is dropped (and
# logged), so the throttles let requests through instead of failing them.
CACHES = {
    "default": env.cache("CACHE_URL", default="redis://127.0.0.1:6379/1", backend="django_redis.cache.RedisCache")
}
CACHES["default"].setdefault("OPTIONS", {}).update(
    {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}
)
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# --- Passwords: Argon2 first, so every new hash is Argon2 -----------------------------
PASSWORD_HASHERS = [
    "accounts.hashers.ConfiguredArgon2PasswordHasher",  # argon2id with the parameters below
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# argon2id cost; at least OWASP's minimum (19 MiB, 2 passes, 1 lane), checked at start-up.
ARGON2_MEMORY_COST = env.int("ARGON2_MEMORY_COST", default=19456)  # KiB
ARGON2_TIME_COST = env.int("ARGON2_TIME_COST", default=2)
ARGON2_PARALLELISM = env.int("ARGON2_PARALLELISM", default=1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="ru")
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True

# --- Static files and reports ---------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(REPO_DIR / "var" / "static"))
REPORTS_DIR = env.path("REPORTS_DIR", default=str(REPO_DIR / "var" / "reports"))
# Behind nginx, files under REPORTS_DIR are handed over with X-Accel-Redirect to this
# internal location; empty means Django streams the file itself (development).
REPORTS_ACCEL_REDIRECT_PREFIX = env.str("REPORTS_ACCEL_REDIRECT_PREFIX", default="")
# Stored report files are deleted this many days after they were built (0 keeps them).
REPORTS_RETENTION_DAYS = env.int("REPORTS_RETENTION_DAYS", default=90)
# Builds that fail (disk full, database gone) are retried with exponential back-off (seconds)
# up to REPORTS_MAX_ATTEMPTS; a pending report overdue by REPORTS_SWEEP_GRACE is re-enqueued.
REPORTS_MAX_ATTEMPTS = env.int("REPORTS_MAX_ATTEMPTS", default=3)
REPORTS_RETRY_BASE = env.int("REPORTS_RETRY_BASE", default=60)
REPORTS_RETRY_MAX_DELAY = env.int("REPORTS_RETRY_MAX_DELAY", default=900)
REPORTS_SWEEP_GRACE = env.int("REPORTS_SWEEP_GRACE", default=60)
# Runs of the nightly report and of the daily mailing statistics e-mail missed while beat was
# down are caught up (every sweep and tick looks), at most this many days back; 0: never.
REPORTS_CATCHUP_DAYS = env.int("REPORTS_CATCHUP_DAYS", default=7)

# --- Customer import ------------------------------------------------------------------
# Uploaded files wait here until their import is done: the web process writes them, a worker
# reads them, so both must see the same directory (a compose volume; the shared PVC in k8s).
IMPORTS_DIR = env.path("IMPORTS_DIR", default=str(REPO_DIR / "var" / "imports"))
# A larger file is refused before it is imported (413 naming the limit); nginx's
# client_max_body_size for the import follows MAX_IMPORT_BYTES (nginx/templates).
MAX_IMPORT_BYTES = env.int("MAX_IMPORT_BYTES", default=128 * 1024 * 1024)
MAX_IMPORT_ROWS = env.int("MAX_IMPORT_ROWS", default=1_000_000)
# Rows validated, upserted and committed together (with the import's progress).
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", default=1000)
# A worker holds a running import for this long past its last committed batch; when it dies,
# the sweeper gives the import to another worker once the lease is IMPORT_SWEEP_GRACE overdue.
IMPORT_LEASE_SECONDS = env.int("IMPORT_LEASE_SECONDS", default=60)
IMPORT_SWEEP_GRACE = env.int("IMPORT_SWEEP_GRACE", default=30)
# Attempts per import (a database outage, a worker killed again and again) before it fails.
IMPORT_MAX_ATTEMPTS = env.int("IMPORT_MAX_ATTEMPTS", default=5)

# --- Request limits -------------------------------------------------------------------
# Largest request body accepted by the API (a batch of 1000 robots is ~80 KB).
MAX_BODY_SIZE = env.int("MAX_BODY_SIZE", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_SIZE
# Paths whose bodies may be larger, with the setting that names their limit (uploads: their
# files are streamed to disk, never held in memory).
LARGE_BODY_PATHS = {"/api/v1/customers/import/": "MAX_IMPORT_BYTES"}

# --- Security -------------------------------------------------------------------------
# TLS is terminated in front of nginx; nginx forwards the original scheme.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=IS_PRODUCTION)
# Health checks and scrapes come from inside the network over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if IS_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = IS_PRODUCTION
SECURE_HSTS_PRELOAD = IS_PRODUCTION
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=IS_PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=IS_PRODUCTION)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- E-mail (the seed's variable names) -----------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=1025)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="R4C <noreply@r4c.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MANAGER_EMAILS = env.list("MANAGER_EMAILS", default=[])
# The outbox: attempts per e-mail, exponential back-off (seconds) between them, and how
# overdue a pending e-mail must be before the sweeper re-enqueues it.
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=8)
EMAIL_RETRY_BASE = env.int("EMAIL_RETRY_BASE", default=30)
EMAIL_RETRY_MAX_DELAY = env.int("EMAIL_RETRY_MAX_DELAY", default=1800)  # below the broker's visibility timeout
EMAIL_SWEEP_GRACE = env.int("EMAIL_SWEEP_GRACE", default=60)
# Language of the customers' e-mails: ru (the factory's agreed text) or en.
NOTIFICATION_LANGUAGE = env.str("NOTIFICATION_LANGUAGE", default="ru")
if NOTIFICATION_LANGUAGE not in {"ru", "en"}:
    raise ImproperlyConfigured("NOTIFICATION_LANGUAGE must be 'ru' or 'en'.")

# --- SMS gateway (used by the mailings app) -------------------------------------------
GATEWAY_URL = env.str("GATEWAY_URL", default="http://127.0.0.1:8090")
GATEWAY_TOKEN = env.str("GATEWAY_TOKEN", default="")
GATEWAY_TIMEOUT = env.float("GATEWAY_TIMEOUT", default=10.0)
GATEWAY_CONCURRENCY = env.int("GATEWAY_CONCURRENCY", default=100)
GATEWAY_RATE_LIMIT = env.int("GATEWAY_RATE_LIMIT", default=0)  # messages/s over all workers; 0 = none
GATEWAY_CONNECT_TIMEOUT = env.float("GATEWAY_CONNECT_TIMEOUT", default=3.0)
# Circuit breaker (per mailing worker process): opens after MIN_CALLS failures in a row, or when
# this share of the recent calls (at least MIN_CALLS) failed; then one probe per cool-down, doubling.
GATEWAY_BREAKER_MIN_CALLS = env.int("GATEWAY_BREAKER_MIN_CALLS", default=10)
GATEWAY_BREAKER_FAILURE_RATIO = env.float("GATEWAY_BREAKER_FAILURE_RATIO", default=0.8)
GATEWAY_BREAKER_COOLDOWN = env.float("GATEWAY_BREAKER_COOLDOWN", default=2.0)
GATEWAY_BREAKER_MAX_COOLDOWN = env.float("GATEWAY_BREAKER_MAX_COOLDOWN", default=60.0)
# The gateway's answer is read up to this many bytes (within GATEWAY_TIMEOUT); a longer one is
# a failure retried later. A Retry-After (429, 503) is honoured up to GATEWAY_RETRY_AFTER_MAX
# seconds, for the message and for every worker's calls.
GATEWAY_MAX_ANSWER_BYTES = env.int("GATEWAY_MAX_ANSWER_BYTES", default=64 * 1024)
GATEWAY_RETRY_AFTER_MAX = env.float("GATEWAY_RETRY_AFTER_MAX", default=300.0)

# --- Mailings (the dispatcher) --------------------------------------------------------
MAILING_CHUNK_SIZE = env.int("MAILING_CHUNK_SIZE", default=500)  # messages claimed per task
MAILING_SENDERS = env.int("MAILING_SENDERS", default=4)  # parallel sender chains per mailing
MAILING_STALL_SECONDS = env.int("MAILING_STALL_SECONDS", default=30)  # idle this long with due work: woken
MAILING_RETRY_BASE_SECONDS = env.float("MAILING_RETRY_BASE_SECONDS", default=2.0)
MAILING_RETRY_MAX_SECONDS = env.float("MAILING_RETRY_MAX_SECONDS", default=300.0)
# A mailing pauses itself when at least this share (percent) of its last MAILING_ERROR_WINDOW
# gateway answers were failures, once it has MAILING_ERROR_MIN_ANSWERS of them; a mailing's own
# error_threshold_percent wins. 0: no mailing pauses itself unless it sets its own threshold.
MAILING_ERROR_THRESHOLD_PERCENT = env.int("MAILING_ERROR_THRESHOLD_PERCENT", default=0)
MAILING_ERROR_WINDOW = env.int("MAILING_ERROR_WINDOW", default=100)  # answers
MAILING_ERROR_MIN_ANSWERS = env.int("MAILING_ERROR_MIN_ANSWERS", default=20)  # before it can trip

# --- Accounts: sign-in pages; registrations: the registration request log -------------
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/stats/"
LOGOUT_REDIRECT_URL = "/login/"
# Where registration request log entries wait when the database is unreachable; replayed afterwards.
REGISTRATION_REQUEST_LOG_SPOOL_DIR = env.path(
    "REGISTRATION_REQUEST_LOG_SPOOL_DIR", default=str(REPO_DIR / "var" / "spool" / "registration-request-log")
)

# Sign-in lockout (django-axes), for the sign-in form, the admin and POST /api/v1/auth/token/ alike:
# AXES_FAILURE_LIMIT failed sign-ins from one client address lock it out for AXES_COOLOFF_MINUTES.
# Attempts are rows in PostgreSQL (admin: Axes); `manage.py axes_reset` lifts every lockout.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
# The address the throttles see (NUM_PROXIES decides whom to trust), not django-ipware's guess.
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_USERNAME_CALLABLE = "accounts.lockout.attempted_username"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"

# --- API tokens -----------------------------------------------------------------------
# Seconds a web process may answer from its own copy of a token, its account and roles
# (core.authentication). Revocations and role changes are seen at once through Redis; this
# bounds only changes made without Django's signals (a queryset update(), raw SQL). 0: off.
API_TOKEN_CACHE_SECONDS = env.int("API_TOKEN_CACHE_SECONDS", default=30)

# --- Idempotency keys -----------------------------------------------------------------
IDEMPOTENCY_KEY_TTL = env.int("IDEMPOTENCY_KEY_TTL", default=24 * 3600)  # seconds

# --- Robots ---------------------------------------------------------------------------
# How far in the future a production line's clock may be before `created` is refused.
ROBOT_CLOCK_SKEW = env.int("ROBOT_CLOCK_SKEW", default=300)  # seconds

# --- Django REST framework and the schema ---------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Secure by default: a view that declares no roles is open to superusers only.
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.HasRole"],
    # DRF's JSON parser with the string guard and a nesting limit (core.parsers).
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 50,
    # Selectors run the FilterSets; the backend only documents them (core.filters).
    "DEFAULT_FILTER_BACKENDS": ["core.filters.FilterSetSchemaBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_AUTH_RATE", default="20/min"),
        "useradd": env.str("THROTTLE_USERADD_RATE", default="10/min"),
    },
    # Proxies in front of gunicorn (nginx): the client is the address the last one saw.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=1),
    "DATETIME_FORMAT": "iso-8601",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "R4C API",
    "DESCRIPTION": (
        "The back office of the robot factory: production lines report robots, sales take "
        "orders, managers get reports, marketing runs SMS mailings. Authenticate with "
        "`Authorization: Token <key>` (see `POST /api/v1/auth/token/`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "legacy.schema.legacy_operations",
        "core.schema.add_error_responses",
    ],
    # Several models have a `status`; each choice set gets a name of its own in the schema.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus.choices",
        "MailingStatusEnum": "mailings.models.MailingStatus.choices",
        "MessageStatusEnum": "mailings.models.MessageStatus.choices",
    },
}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Results are only kept for the few tasks that ask for them (the health ping).
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
# A task is acknowledged only after it finished, and re-queued when its worker dies:
# tasks are idempotent, so running one twice is safe and losing one is not.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
CELERY_WORKER_MAX_TASKS_PER_CHILD = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# A message not acknowledged within an hour goes back to the queue (Redis has no real acks);
# no task is ever scheduled further ahead than this (longer delays are rows + beat ticks).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 3,
    "socket_timeout": 10,
    "retry_on_timeout": True,
}
CELERY_REDIS_BACKEND_HEALTH_CHECK_INTERVAL = 30
# Publishing happens inside request handling: give up quickly, the sweepers re-enqueue.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in ("default", "notifications", "reports", "mailings")
]
CELERY_TASK_DEFAULT_EXCHANGE = "default"
CELERY_TASK_DEFAULT_ROUTING_KEY = "default"
CELERY_TASK_ROUTES = {
    "notifications.tasks.*": {"queue": "notifications"},
    "reports.tasks.*": {"queue": "reports"},
    "mailings.tasks.*": {"queue": "mailings"},
}
CELERY_BEAT_SCHEDULER = "core.beat:HeartbeatScheduler"
# Every periodic job, declared once in code; `manage.py sync_periodic_tasks` writes them into
# the beat schedule tables (core.schedules).
PERIODIC_JOBS = "config.schedule.PERIODIC_JOBS"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True

# --- Logging --------------------------------------------------------------------------
# One trace id from request to side effect: django-guid takes X-Request-ID from nginx (or makes
# one), answers with it, and carries it in the headers of every Celery message published while
# handling the request or a task, so the tasks it causes (and theirs) log the same request_id.
# Every line also carries task_id (core.logging.ContextFilter).
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": True,  # a caller's id must be a UUID (nginx's $request_id is 32 hex digits)
    "EXPOSE_HEADER": False,  # no CORS here
    "INTEGRATIONS": [CeleryIntegration()],
}
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if IS_PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "core.logging.ContextFilter"},
        # Django logs the path of every 4xx/5xx request and a message may quote any input:
        # no line carries a control character, whatever logger wrote it (core.guards).
        "control_characters": {"()": "core.guards.ControlCharacterLogFilter"},
        "quiet_periodic_jobs": {"()": "core.logging.QuietPeriodicJobs"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(task_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["context", "control_characters"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
        # Celery's own lines about the periodic jobs (beat's "Sending due task", the worker's
        # "Task ... received" and "... succeeded") are DEBUG; the jobs log INFO when they did something.
        "celery.beat": {"filters": ["quiet_periodic_jobs"]},
        "celery.worker.strategy": {"filters": ["quiet_periodic_jobs"]},
        "celery.app.trace": {"filters": ["quiet_periodic_jobs"]},
        # django-guid narrates every request and task at INFO; its warnings still show.
        "django_guid": {"level": "WARNING"},
        # Flower's web server: one INFO line per request (the probes' every few seconds).
        "tornado.access": {"level": "WARNING"},
    },
}

"""The functions timed in a profiled request: (label, "module:qualname"), outermost first.

Each target is patched where callers look it up at call time: a class attribute, or the
name in the module that calls it (orders.services looks up `orders_allocate` in its own
namespace when its RobotsProduced subscriber runs). When code moves, a target that no
longer exists is reported as missing.
"""

SPANS = [
    # Django and DRF around the view
    ("Django: request_started/finished and other signals", "django.dispatch:Signal.send"),
    ("Django: URL resolution", "django.urls.resolvers:URLResolver.resolve"),
    ("DRF: dispatch (the whole view)", "rest_framework.views:APIView.dispatch"),
    ("DRF: initialize_request", "rest_framework.views:APIView.initialize_request"),
    ("DRF: initial (auth, permissions, throttles, negotiation)", "rest_framework.views:APIView.initial"),
    (
        "auth: token authentication (cache, else the user + roles query)",
        "core.authentication:TokenAuthentication.authenticate",
    ),
    ("auth: token cache: read invalidations (socket poll)", "core.authentication:TokenCache.usable"),
    ("auth: token query (cache miss)", "core.authentication:token_load"),
    ("auth: role check", "core.permissions:HasRole.has_permission"),
    ("DRF: throttles", "rest_framework.views:APIView.check_throttles"),
    ("DRF: parse the JSON body", "rest_framework.request:Request._parse"),
    ("DRF: finalize_response", "rest_framework.views:APIView.finalize_response"),
    ("DRF: render the response (JSON)", "django.template.response:SimpleTemplateResponse.render"),
    # POST /api/v1/robots/
    ("robots: the view (post, with @idempotent)", "robots.apis:RobotListCreateApi.post"),
    ("idempotency: request fingerprint", "core.idempotency:request_fingerprint"),
    ("idempotency: claim the key (INSERT … ON CONFLICT)", "core.idempotency:_claim"),
    ("robots: robot_create service", "robots.services:robot_create"),
    ("robots: catalog + validation (_parse_all)", "robots.services:_parse_all"),
    ("robots: catalog cache read", "robots.services:CatalogCache.get"),
    ("robots: INSERT the robot (prepared INSERT … SELECT)", "robots.services:_insert_robot"),
    ("robots: publish RobotsProduced (orders' subscriber runs in it)", "core.events:publish"),
    ("orders: allocation (orders_allocate)", "orders.services:orders_allocate"),
    ("orders: allocation lock + waiting probe (one round trip)", "orders.services:_serials_waited_for"),
    ("DRF: output serializer (.data)", "rest_framework.serializers:Serializer.data"),
    ("robots: output dict (robot_output)", "robots.apis:robot_output"),
    # POST /api/v1/useradd/
    ("DRF: input serializer is_valid", "rest_framework.serializers:Serializer.is_valid"),
    ("useradd: account_register service", "registrations.apis:account_register"),
    ("useradd: login/e-mail/phone taken checks", "accounts.services:_taken_fields"),
    ("useradd: password generation", "registrations.services:password_generate"),
    ("useradd: argon2id hash (the hasher)", "accounts.hashers:ConfiguredArgon2PasswordHasher.encode"),
    ("ORM: Model.full_clean", "django.db.models:Model.full_clean"),
    ("useradd: registration request log entry", "registrations.middleware:registration_request_log"),
    ("useradd: throttle (Redis)", "accounts.throttling:FailOpenScopedRateThrottle.allow_request"),
    ("useradd: registration request metric", "registrations.middleware:registration_request_observe"),
    # the database and the broker
    ("ORM: compile SELECT", "django.db.models.sql.compiler:SQLCompiler.as_sql"),
    ("ORM: compile INSERT", "django.db.models.sql.compiler:SQLInsertCompiler.as_sql"),
    ("ORM: Model.save", "django.db.models:Model.save"),
    ("DB: connection health check (the socket, on first use)", "core.postgresql.base:DatabaseWrapper.socket_is_idle"),
    ("DB: SELECT 1 (is_usable, after an error)", "django.db.backends.postgresql.base:DatabaseWrapper.is_usable"),
    ("DB: COMMIT", "django.db.backends.base.base:BaseDatabaseWrapper.commit"),
    ("Celery: publish a task", "celery.app.task:Task.apply_async"),
    ("logging: records emitted", "logging:Logger.handle"),
]

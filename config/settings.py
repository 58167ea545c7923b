"""Settings, read from the environment with django-environ.

APP_ENV=development (the default) gives safe local defaults: SQLite under var/,
tasks run in-process, generated development keys. APP_ENV=production has no
defaults for secrets or hosts: a missing value stops start-up.
"""

import re
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A .env file is read only when asked (READ_DOT_ENV=1): a stray file must not change a deployment.
if environ.Env.bool(env, "READ_DOT_ENV", default=False):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

APP_ENV = env.str("APP_ENV", default="development")
PRODUCTION = APP_ENV == "production"

if PRODUCTION:

    def _required(name: str, value):
        # Set but empty counts as missing: an empty BLIND_INDEX_KEY would make the index unkeyed.
        if not value:
            raise ImproperlyConfigured(f"Set the {name} environment variable (it is empty)")
        return value

    SECRET_KEY = _required("SECRET_KEY", env.str("SECRET_KEY"))
    ALLOWED_HOSTS = _required("ALLOWED_HOSTS", env.list("ALLOWED_HOSTS"))
    FIELD_ENCRYPTION_KEYS = _required("FIELD_ENCRYPTION_KEYS", env.list("FIELD_ENCRYPTION_KEYS"))
    BLIND_INDEX_KEY = _required("BLIND_INDEX_KEY", env.str("BLIND_INDEX_KEY"))
    try:
        from cryptography.fernet import Fernet

        for _key in FIELD_ENCRYPTION_KEYS:
            Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key") from None
    DEBUG = False
else:
    # Development-only values: never valid in production (see PRODUCTION branch).
    SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-secret-key-not-for-production-use-0123456789")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=["ZGV2LW9ubHktZmllbGQta2V5LWRvLW5vdC11c2UtISE="])
    BLIND_INDEX_KEY = env.str("BLIND_INDEX_KEY", default="dev-only-blind-index-key")
    DEBUG = env.bool("DEBUG", default=True)

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "accounts",
    "enterprises",
    "cards",
    "integrations",
    "verification",
    "approvals",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "core.middleware.ApiNoStoreMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the first middleware that reads the database (sessions, the user, axes): see its doc.
    "core.middleware.OutageGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionTimeoutMiddleware",
    # Before any view or process_view (CSRF reads POST) touches the body; after the middleware the
    # 413 page needs (session, language, user).
    "core.middleware.RequestLimitsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    # After the session and language (its 400 is translated), before any view reads a parameter.
    "core.middleware.ApiQueryParametersMiddleware",
    # Innermost, so their process_exception sees a view's error first: a domain error (its page, 503 for an
    # outage) before the DEBUG error pages.
    "core.middleware.PortalErrorPagesMiddleware",
    "core.middleware.DomainErrorMiddleware",
]
# Retry-After of a 503 answered while the database (or another service) is down (core.middleware).
SERVICE_UNAVAILABLE_RETRY_AFTER = env.int("SERVICE_UNAVAILABLE_RETRY_AFTER", default=30)
# Under DEBUG people still see the portal's own 403/404/500 pages; 1 shows Django's technical ones.
DEBUG_TECHNICAL_ERROR_PAGES = env.bool("DEBUG_TECHNICAL_ERROR_PAGES", default=False)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "portal.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep connections open between requests (issue 12 §1.6: a new one costs 4-5 ms a request); a connection the
# server closed meanwhile is noticed before a request uses it. 0 in development and tests: the test runner's
# threads and a local SQLite file want a fresh connection each time.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60 if PRODUCTION else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Embedded mode serves a few people at once. WAL lets readers go on while one writes;
    # IMMEDIATE takes the write lock when a transaction starts, so two writers queue (up to
    # SQLITE_BUSY_TIMEOUT seconds) instead of one failing with "database is locked" when it
    # upgrades its read lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env.float("SQLITE_BUSY_TIMEOUT", default=20.0),
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# One-time set-password links (new users, and links ops send): valid this many seconds, and once.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)
# The portal's public address, for links in emails (never taken from the request's Host header when set).
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="")

# Sessions end after this much inactivity, and in any case this long after the login
# (accounts.middleware.SessionTimeoutMiddleware); the cookie lasts no longer than the latter.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)
SESSION_ABSOLUTE_TIMEOUT_HOURS = env.int("SESSION_ABSOLUTE_TIMEOUT_HOURS", default=12)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT_HOURS * 3600

# The proxies in front of the portal (addresses or networks, e.g. 10.0.0.0/8). Only a request from one of
# them has its X-Forwarded-For read (core.net.client_ip); with none, the header is ignored.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Login throttling (django-axes, accounts.login_throttle): a username+address pair is locked after
# AXES_FAILURE_LIMIT failures, an address after LOGIN_IP_FAILURE_LIMIT failures across usernames.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=30)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_LOCKOUT_CALLABLE = "accounts.login_throttle.lockout_response"
AXES_HANDLER = "accounts.login_throttle.PairAndAddressHandler"
AXES_CLIENT_IP_CALLABLE = "core.net.client_ip"
AXES_SENSITIVE_PARAMETERS = ["password"]

# API tokens (django-rest-knox): stored as SHA-512 digests, expiring, several per user, revoked on
# logout and password change. Clients keep sending `Authorization: Token <token>`.
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", default=10)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=API_TOKEN_TTL_HOURS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Documents and photos hold personal data: they are kept in a private storage
# that has no public URL and are served only by permission-checking views. The
# storage encrypts them with FIELD_ENCRYPTION_KEYS (core.storage) and writes them owner-only.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES = {
    "default": {
        "BACKEND": "core.storage.EncryptedFileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "private": {
        "BACKEND": "core.storage.EncryptedFileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
UPLOAD_MAX_PIXELS = env.int("UPLOAD_MAX_PIXELS", default=40_000_000)
# All images one request may make the server decode, together (core.uploads): many small
# files that each decode to UPLOAD_MAX_PIXELS would otherwise cost minutes of CPU and gigabytes.
UPLOAD_MAX_REQUEST_PIXELS = env.int("UPLOAD_MAX_REQUEST_PIXELS", default=3 * UPLOAD_MAX_PIXELS)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES * 6
# Bulk card import (cards.imports): the largest card file, and the most rows in one file.
CARD_IMPORT_MAX_BYTES = env.int("CARD_IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
CARD_IMPORT_MAX_ROWS = env.int("CARD_IMPORT_MAX_ROWS", default=300_000)
# A list export of more rows than this is built in the background (portal.exports); its file is kept this long.
EXPORT_SYNC_MAX_ROWS = env.int("EXPORT_SYNC_MAX_ROWS", default=5000)
EXPORT_FILE_HOURS = env.int("EXPORT_FILE_HOURS", default=24)
# Row errors kept on an import (and shown in its report); the count of all errors is kept regardless.
CARD_IMPORT_MAX_STORED_ERRORS = env.int("CARD_IMPORT_MAX_STORED_ERRORS", default=1000)
# U6, one ID, five cards: the live cards one identity document may be the registered user of. The
# operator's rule, not a tuning knob: no environment variable. Read at call time (tests may change it).
ONE_ID_CARD_LIMIT = 5
# verification.engine.ScriptedEngine, the stand-in face engine of other apps' tests, answers what these say
# (tests set them through the scripted_face_engine fixture). Unused by the real engine.
FACE_SCRIPTED_OUTCOME = ""  # "" gives the engine's own default, "pass"
FACE_SCRIPTED_DISTANCE: float | None = 0.3
FACE_SCRIPTED_REASONS: list | None = None
FACE_SCRIPTED_PHASH = ""
# The largest request body, refused with 413 before it is read (core.middleware.RequestLimitsMiddleware);
# the proxy in front should refuse larger bodies itself (README, production).
REQUEST_MAX_BYTES = env.int(
    "REQUEST_MAX_BYTES", default=max(DATA_UPLOAD_MAX_MEMORY_SIZE, CARD_IMPORT_MAX_BYTES) + 1024 * 1024
)
# Every accepted body fits in memory: an upload spooled to a temporary file would lie on disk in the
# clear (the sanitisers read each file whole anyway).
FILE_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES

REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# Without a broker (embedded mode) tasks run in-process.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
# In the embedded mode a failing task must not break the web request that queued it:
# the record stays pending and can be retried. Tests turn propagation on.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A broker outage must not hold a web request: connecting and publishing give up within a few
# seconds, the record stays pending (core.queueing), and the beat tasks below (WORK_REQUEUE_AFTER)
# send it again once the broker is back. Nothing reads task results (the database holds every
# state), so no result is stored and publishing never waits on the result backend.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
BROKER_SOCKET_TIMEOUT = env.float("BROKER_SOCKET_TIMEOUT", default=5.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An unacknowledged task (its worker died) is delivered again after this many seconds.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    # Above the worker's 1 s BRPOP wait, so an idle worker does not time out.
    "socket_timeout": BROKER_SOCKET_TIMEOUT,
}
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": env.int("CELERY_PUBLISH_MAX_RETRIES", default=1),
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = CELERY_BROKER_CONNECTION_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = BROKER_SOCKET_TIMEOUT
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"verification.tasks.*": {"queue": "faces"}}
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# Work whose task never reached a worker (broker down, message lost) is sent again: a record
# still pending WORK_REQUEUE_AFTER seconds after its task was last sent (or created, when sending
# failed) is queued again by these beat tasks. The tasks return quietly for work already done or
# in flight, so a second message is harmless.
WORK_REQUEUE_AFTER = env.int("WORK_REQUEUE_AFTER", default=300)
WORK_SWEEP_INTERVAL = env.int("WORK_SWEEP_INTERVAL", default=60)
# An email that failed this many times is given up (and logged); the others are tried again.
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=10)
CELERY_BEAT_SCHEDULE: dict = {
    "requeue-pending-verifications": {
        "task": "verification.tasks.requeue_pending_verifications",
        "schedule": WORK_SWEEP_INTERVAL,
    },
    "requeue-pending-card-imports": {"task": "cards.tasks.requeue_pending_imports", "schedule": WORK_SWEEP_INTERVAL},
    "requeue-unsent-notifications": {
        "task": "approvals.tasks.requeue_unsent_notifications",
        "schedule": WORK_SWEEP_INTERVAL,
    },
}
# Issue 12 §3: the card events' coming monthly partitions (PostgreSQL), made three months ahead once a day.
CELERY_BEAT_SCHEDULE["cards-ensure-event-partitions"] = {
    "task": "cards.tasks.ensure_card_event_partitions",
    "schedule": 24 * 3600,
    "options": {"expires": 3600},
}
# Callbacks (issue 10 §3): the sweeper sends due retries and deliveries whose task was lost. A retry
# due within a minute is also sent with a countdown, so the 5 s retry does not wait for the sweeper.
WEBHOOK_SWEEP_INTERVAL = env.int("WEBHOOK_SWEEP_INTERVAL", default=30)
CELERY_BEAT_SCHEDULE["webhooks-send-due-deliveries"] = {
    "task": "integrations.webhooks.send_due_deliveries",
    "schedule": WEBHOOK_SWEEP_INTERVAL,
    "options": {"expires": WEBHOOK_SWEEP_INTERVAL},
}
# Idempotency-Key records (issue 10 §2) live 24 hours; this deletes the expired ones.
CELERY_BEAT_SCHEDULE["integrations-purge-idempotency-records"] = {
    "task": "integrations.purge_idempotency_records",
    "schedule": 3600,
    "options": {"expires": 3600},
}
# Development and tests only: callbacks may use http and loopback addresses (never private ones).
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=False)
# U4: suspend the cards whose trial on an IoT test-card package has ended (the `beat` service).
TEST_PERIOD_SWEEP_SECONDS = env.int("TEST_PERIOD_SWEEP_SECONDS", default=600)
# Issue 9 §2: what abandoned phone sessions uploaded (ID photos, frames) is deleted (cards.self_service.cleanup).
SELF_SERVICE_SWEEP_SECONDS = env.int("SELF_SERVICE_SWEEP_SECONDS", default=600)
CELERY_BEAT_SCHEDULE["self-service-sweep-abandoned"] = {
    "task": "cards.tasks.self_service_sweep_abandoned",
    "schedule": SELF_SERVICE_SWEEP_SECONDS,
    "options": {"expires": SELF_SERVICE_SWEEP_SECONDS},
}
# Issue 11 §3: the dashboards measure the face comparisons waiting for a reviewer against this many hours.
REVIEW_TARGET_HOURS = env.int("REVIEW_TARGET_HOURS", default=24)
# Issue 11 §3: a self-service link or API key is announced this many days before it expires, once.
EXPIRY_NOTICE_DAYS = env.int("EXPIRY_NOTICE_DAYS", default=7)
CELERY_BEAT_SCHEDULE["notify-expiring-links-and-keys"] = {
    "task": "cards.tasks.notify_expiring",
    "schedule": 24 * 3600,
    "options": {"expires": 3600},
}
CELERY_BEAT_SCHEDULE["cards-end-test-periods"] = {
    "task": "cards.tasks.end_test_periods",
    "schedule": TEST_PERIOD_SWEEP_SECONDS,
    "options": {"expires": TEST_PERIOD_SWEEP_SECONDS},
}
# Files of a form that came back with errors are kept this long for its next submit (core.pending_uploads);
# the sweep deletes those nobody came back for.
PENDING_UPLOAD_SECONDS = env.int("PENDING_UPLOAD_SECONDS", default=3600)
CELERY_BEAT_SCHEDULE["accounts-purge-pending-uploads"] = {
    "task": "accounts.tasks.purge_pending_uploads",
    "schedule": 600,
    "options": {"expires": 600},
}
# The card counters (issue 12 §1.3): fold the ledger's rows each minute, and rebuild it from the cards daily
# (the rebuild logs any drift it repaired).
CARD_TALLY_COMPACT_SECONDS = env.int("CARD_TALLY_COMPACT_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["cards-compact-tallies"] = {
    "task": "cards.tasks.compact_card_tallies",
    "schedule": CARD_TALLY_COMPACT_SECONDS,
    "options": {"expires": CARD_TALLY_COMPACT_SECONDS},
}
CELERY_BEAT_SCHEDULE["cards-recount-tallies"] = {
    "task": "cards.tasks.recount_card_tallies",
    "schedule": 24 * 3600,
    "options": {"expires": 3600},
}
# The face comparisons' counters (verification.tallies), kept as the cards' are, on the same rhythm.
CELERY_BEAT_SCHEDULE["verification-compact-tallies"] = {
    "task": "verification.tasks.compact_verification_tallies",
    "schedule": CARD_TALLY_COMPACT_SECONDS,
    "options": {"expires": CARD_TALLY_COMPACT_SECONDS},
}
CELERY_BEAT_SCHEDULE["verification-recount-tallies"] = {
    "task": "verification.tasks.recount_verification_tallies",
    "schedule": 24 * 3600,
    "options": {"expires": 3600},
}
# List exports (portal.exports): delete the files of expired ones, and requeue those whose task was lost.
CELERY_BEAT_SCHEDULE["portal-sweep-list-exports"] = {
    "task": "portal.tasks.sweep_list_exports",
    "schedule": WORK_SWEEP_INTERVAL,
    "options": {"expires": WORK_SWEEP_INTERVAL},
}

# Throttle counters live here, so several web processes need a shared cache (CACHE_URL,
# e.g. redis://host:6379/1). Never the broker's Redis database: cache.clear() is FLUSHDB
# there, and it would drop queued and unacknowledged tasks.
# In production a per-process cache would give each web process its own reveal budget (with
# three gunicorn workers, three budgets): CACHE_URL is required there and must be shared.
if PRODUCTION:
    CACHE_URL = _required("CACHE_URL", env.str("CACHE_URL", default=""))
    if CACHE_URL.split(":", 1)[0] in ("locmemcache", "dummycache", "filecache"):
        raise ImproperlyConfigured("CACHE_URL must name a cache shared by every web process (e.g. redis://host:6379/1)")
else:
    CACHE_URL = env.str("CACHE_URL", default="locmemcache://")
if REDIS_URL and CACHE_URL.rstrip("/") == REDIS_URL.rstrip("/"):
    raise ImproperlyConfigured("CACHE_URL must name another Redis database than REDIS_URL (the Celery broker).")
CACHES = {"default": env.cache_url_config(CACHE_URL)}
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    # A cache outage must fail fast: a reveal then answers 503 (accounts.throttling) instead of hanging.
    CACHE_SOCKET_TIMEOUT = env.float("CACHE_SOCKET_TIMEOUT", default=1.0)
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": CACHE_SOCKET_TIMEOUT, "socket_timeout": CACHE_SOCKET_TIMEOUT}
    )

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="realname-portal@localhost")

# Full reveals of personal data per user, pages and API together (accounts.throttling).
PII_REVEAL_RATE = env.str("PII_REVEAL_RATE", default="30/hour")
if not re.fullmatch(r"[1-9][0-9]*/(s|m|h|d)[a-z]*", PII_REVEAL_RATE):
    raise ImproperlyConfigured("PII_REVEAL_RATE must look like 30/hour (a count per s, m, h or d)")

# Requests to the public self-service link pages (/s/<token>/...) per client IP (cards.self_service.throttling).
SELF_SERVICE_LINK_RATE = env.str("SELF_SERVICE_LINK_RATE", default="60/minute")
if not re.fullmatch(r"[1-9][0-9]*/(s|m|h|d)[a-z]*", SELF_SERVICE_LINK_RATE):
    raise ImproperlyConfigured("SELF_SERVICE_LINK_RATE must look like 60/minute (a count per s, m, h or d)")
# Requests per platform API key (issue 10 §1); more answer 429 with Retry-After.
PLATFORM_KEY_RATE = env.str("PLATFORM_KEY_RATE", default="600/minute")
if not re.fullmatch(r"[1-9][0-9]*/(s|m|h|d)[a-z]*", PLATFORM_KEY_RATE):
    raise ImproperlyConfigured("PLATFORM_KEY_RATE must look like 600/minute (a count per s, m, h or d)")
# The phone flow behind a link (cards.self_service.phone): sessions started and registrations submitted, per
# client IP and per link (a link's rate is higher: many card users open the same poster's link).
SELF_SERVICE_SESSION_IDLE_MINUTES = env.int("SELF_SERVICE_SESSION_IDLE_MINUTES", default=30)
# Failed live captures after which a session stops asking for another and goes to a reviewer.
SELF_SERVICE_MAX_FAILED_CAPTURES = env.int("SELF_SERVICE_MAX_FAILED_CAPTURES", default=3)
SELF_SERVICE_RATES = {
    "session_ip": env.str("SELF_SERVICE_SESSION_RATE_IP", default="10/hour"),
    "session_link": env.str("SELF_SERVICE_SESSION_RATE_LINK", default="600/hour"),
    "submit_ip": env.str("SELF_SERVICE_SUBMIT_RATE_IP", default="5/hour"),
    "submit_link": env.str("SELF_SERVICE_SUBMIT_RATE_LINK", default="300/hour"),
}
for _name, _rate in SELF_SERVICE_RATES.items():
    if not re.fullmatch(r"[1-9][0-9]*/(s|m|h|d)[a-z]*", _rate):
        raise ImproperlyConfigured(f"The self-service {_name} rate must look like 10/hour (a count per s, m, h or d)")

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate challenge makes an unauthenticated call a 401, on every
    # endpoint alike (with Session first DRF answers 403, since a session sends no challenge).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "integrations.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Only calls with a platform API key are counted (per key, PLATFORM_KEY_RATE).
    "DEFAULT_THROTTLE_CLASSES": ["integrations.throttling.PlatformKeyThrottle"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # drf-spectacular's, plus the Idempotency-Key header and its answers on the creating operations.
    "DEFAULT_SCHEMA_CLASS": "core.idempotency.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"pii_reveal": PII_REVEAL_RATE, "self_service_link": SELF_SERVICE_LINK_RATE},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IoT card real-name portal API",
    "DESCRIPTION": (
        "Enterprise, responsible-person and card real-name records (物联卡实名制).\n\n"
        "## Sandbox (test keys)\n\n"
        "A test key (`Authorization: Api-Key rnk_test_...`) acts on its enterprise's sandbox, never on real "
        "records: send the real enterprise's id as with a live key. The sandbox holds 20 cards (ICCID "
        "`898699` + the sandbox's number in 10 digits + `01`..`20` + a Luhn digit; list them with "
        "`GET /api/v1/cards/`); it may add or import cards only in that range (ICCID `898699` + its number, "
        "MSISDN `19999` + its 6 digits). No real face matching runs there; the card user's resident ID number "
        "decides:\n\n"
        "| ID number | outcome |\n|---|---|\n"
        "| `110101199001010015` | `registered` |\n"
        "| `110101199001010023` | `in_review` (stays there) |\n"
        "| `110101199001010031` | refused at once: one ID, five cards (409 `one_id_five_cards`) |\n"
        "| `11010119900101004X` | refused: face mismatch (`declined`, reason `face_mismatch`) |\n"
        "| any other valid number | `registered` |\n\n"
        "Sandbox callbacks carry the header `webhook-sandbox: true`. An enterprise admin or account manager "
        "resets the sandbox's data on the portal's API keys page."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the installed sidecar package: the docs page needs no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # drf-spectacular's own enum hook first; then the paginated lists' 404 for a page or cursor they never
    # gave; then the platform channel's docs (issue 10 §6): every event's callback, key auth, idempotency
    # and every error code.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.document_pagination_errors",
        "core.api.document_unknown_parameter_errors",
        "integrations.webhooks.openapi.postprocess_platform",
    ],
    # Choice sets used under several field names ("status", "id_type"...) get one stable name each.
    "ENUM_NAME_OVERRIDES": {
        "EnterpriseStatusEnum": "enterprises.models.EnterpriseStatus",
        "ChangeRequestStatusEnum": "enterprises.models.ChangeRequestStatus",
        "CredentialTypeEnum": "core.identity.CredentialType",
        "PersonalIdTypeEnum": "core.identity.PersonalIdType",
        "EnterpriseRevealFieldEnum": "enterprises.serializers.REVEAL_FIELD_CHOICES",
        "ServiceLevelEnum": "cards.models.ServiceLevelChoices",
        "CardStatusEnum": "cards.models.CardStatus",
        "VerificationStatusEnum": "verification.models.VerificationStatus",
        "OrderStatusEnum": "cards.models.OrderStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"secret_paths": {"()": "core.http.MaskSecretPaths"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Request bodies can hold ID numbers; never log them. Paths can hold a link's token: masked.
    "loggers": {
        "django.request": {"level": "ERROR", "filters": ["secret_paths"]},
        "django.server": {"filters": ["secret_paths"]},
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp 4): scripts, styles and everything else from this site only,
# no inline script or style (templates use static files), no framing, no plugins. The API docs
# pages keep their own, looser policy (config.urls).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # blob:: the preview of a photo just chosen or taken, made in the browser (static/js/forms.js).
        "img-src": ["'self'", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
# Powerful browser features are off everywhere. The camera is allowed (for this site only) on the
# pages where a live photo is taken: core.http.camera_allowed on those views.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "bluetooth",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Face matching (verification.engine). Kept here so ops can tune them.
FACE_ENGINE = env.str("FACE_ENGINE", default="verification.engine.FaceRecognitionEngine")
# distance <= PASS: match; <= FAIL: manual review; above: no match. Measured on testdata/faces
# (`python -m bench.faces --measure`): same person <= 0.549, different people >= 0.611. PASS sits well
# below both, as dlib's model separates East Asian faces and small ID portraits less well.
FACE_MATCH_PASS_THRESHOLD = env.float("FACE_MATCH_PASS_THRESHOLD", default=0.45)
FACE_MATCH_FAIL_THRESHOLD = env.float("FACE_MATCH_FAIL_THRESHOLD", default=0.60)
# Issue 11 §1.2: live photo retakes the counter may take on a clear mismatch before it goes to a reviewer.
FACE_RETAKE_LIMIT = env.int("FACE_RETAKE_LIMIT", default=3)
FACE_MAX_IMAGE_PX = env.int("FACE_MAX_IMAGE_PX", default=1024)  # photos are downscaled to this longest side
FACE_MIN_LIVE_FACE_PX = env.int("FACE_MIN_LIVE_FACE_PX", default=60)  # smaller live face: "face too small"
FACE_MIN_ID_FACE_PX = env.int("FACE_MIN_ID_FACE_PX", default=20)
FACE_ID_UPSAMPLE_BELOW_PX = env.int("FACE_ID_UPSAMPLE_BELOW_PX", default=80)  # ID portrait detected again at 2x
FACE_REPLAY_MAX_DISTANCE = env.int("FACE_REPLAY_MAX_DISTANCE", default=6)  # perceptual-hash bits
# A live photo that is a copy of the ID photo is refused (live_photo_is_id_copy): whole images within
# FACE_COPY_MAX_IMAGE_BITS of 64, faces within FACE_COPY_MAX_FACE_BITS of 256, or a face distance below
# FACE_MATCH_COPY_FLOOR. Measured on testdata/faces (`python -m bench.faces --measure-copies`, figures in
# verification.engine.copy_check): re-encodes and rescales <= 2 image bits, copies' face bits p90 <= 32,
# copies' distance up to 0.276; genuine pairs of different photos >= 8 image bits, >= 42 face bits and
# distance >= 0.182 (so the floor sits below that with a margin). 1,447 of 1,458 copies found, no genuine pair.
FACE_COPY_MAX_IMAGE_BITS = env.int("FACE_COPY_MAX_IMAGE_BITS", default=4)
FACE_COPY_MAX_FACE_BITS = env.int("FACE_COPY_MAX_FACE_BITS", default=32)
FACE_MATCH_COPY_FLOOR = env.float("FACE_MATCH_COPY_FLOOR", default=0.12)

# Active liveness check (verification/liveness.py, issue 9 §3). Measured on ../shared/testdata/liveness
# (yaw proxy = nose tip against the outer eye corners over their distance; figures in its SOURCES.md and
# `python -m bench --only liveness`): static sequences span 0.033 and 0.043, real turns 0.34 to 0.89.
LIVENESS_MIN_FRAMES = env.int("LIVENESS_MIN_FRAMES", default=8)  # the page takes 8-15 frames
LIVENESS_MAX_FRAMES = env.int("LIVENESS_MAX_FRAMES", default=20)  # a cap on CPU per check, above the page's 15
LIVENESS_MAX_IMAGE_PX = env.int("LIVENESS_MAX_IMAGE_PX", default=640)  # frames downscaled: ~0.1 s per frame
LIVENESS_TURN_MARGIN = env.float("LIVENESS_TURN_MARGIN", default=0.15)  # 3.5x the stills' noise, < half a real turn
LIVENESS_STRAIGHT_MAX_YAW = env.float("LIVENESS_STRAIGHT_MAX_YAW", default=0.10)  # frontal frames: |yaw| <= 0.054
# Largest landmark movement (in eye distances) below which the frames are one still picture: JPEG noise on a
# repeated frame measured 0.0; the static real clips 0.08 and 0.36.
LIVENESS_MIN_LANDMARK_MOTION = env.float("LIVENESS_MIN_LANDMARK_MOTION", default=0.02)
# Largest encoding distance between neighbouring frames: one person turning measured 0.29-0.45 (the turn
# itself moves the encoding), a spliced second person 0.74-0.79 (bench/liveness.py prints both).
LIVENESS_IDENTITY_TOLERANCE = env.float("LIVENESS_IDENTITY_TOLERANCE", default=0.60)
LIVENESS_MIN_FRAME_GAP_S = env.float("LIVENESS_MIN_FRAME_GAP_S", default=0.03)  # faster than 30 fps: not captured
LIVENESS_MAX_FRAME_GAP_S = env.float("LIVENESS_MAX_FRAME_GAP_S", default=2.0)
LIVENESS_MIN_SPAN_S = env.float("LIVENESS_MIN_SPAN_S", default=0.4)  # test turns take 0.67-2.0 s
LIVENESS_MAX_SPAN_S = env.float("LIVENESS_MAX_SPAN_S", default=20.0)

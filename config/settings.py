"""Settings, read from the environment with django-environ.

APP_ENV=development (the default) gives safe local defaults: SQLite under var/,
tasks run in-process, generated development keys. APP_ENV=production has no
defaults for secrets or hosts: a missing value stops start-up.
"""

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
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
    FIELD_ENCRYPTION_KEYS = env.list(
        "FIELD_ENCRYPTION_KEYS", default=["ZGV2LW9ubHktZmllbGQta2V5LWRvLW5vdC11c2UtISE="]
    )
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
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "accounts",
    "enterprises",
    "cards",
    "verification",
    "approvals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

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
                "accounts.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
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

# Login throttling (django-axes): lock a username+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password"]

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
# that has no public URL and are served only by permission-checking views.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT), "base_url": None},
    },
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
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
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES * 6
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Bulk card import (cards.importing): the largest card file, and the most rows in one file.
CARD_IMPORT_MAX_BYTES = env.int("CARD_IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
CARD_IMPORT_MAX_ROWS = env.int("CARD_IMPORT_MAX_ROWS", default=300_000)

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
# An unacknowledged task (its worker died) is delivered again after this many seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"verification.tasks.*": {"queue": "faces"}}
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BEAT_SCHEDULE: dict = {}

# Throttle counters live here, so several web processes need a shared cache (CACHE_URL,
# e.g. redis://host:6379/1). Never the broker's Redis database: cache.clear() is FLUSHDB
# there, and it would drop queued and unacknowledged tasks.
CACHE_URL = env.str("CACHE_URL", default="locmemcache://")
if REDIS_URL and CACHE_URL.rstrip("/") == REDIS_URL.rstrip("/"):
    raise ImproperlyConfigured("CACHE_URL must name another Redis database than REDIS_URL (the Celery broker).")
CACHES = {"default": env.cache_url_config(CACHE_URL)}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="realname-portal@localhost")

# Full reveals of personal data per user, pages and API together (accounts.throttling).
PII_REVEAL_RATE = env.str("PII_REVEAL_RATE", default="30/hour")
if not re.fullmatch(r"[1-9][0-9]*/(s|m|h|d)[a-z]*", PII_REVEAL_RATE):
    raise ImproperlyConfigured("PII_REVEAL_RATE must look like 30/hour (a count per s, m, h or d)")

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate challenge makes an unauthenticated call a 401, on every
    # endpoint alike (with Session first DRF answers 403, since a session sends no challenge).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"pii_reveal": PII_REVEAL_RATE},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IoT card real-name portal API",
    "DESCRIPTION": "Enterprise, responsible-person and card real-name records (物联卡实名制).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the installed sidecar package: the docs page needs no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets used under several field names ("status", "id_type"...) get one stable name each.
    "ENUM_NAME_OVERRIDES": {
        "EnterpriseStatusEnum": "enterprises.models.EnterpriseStatus",
        "ChangeRequestStatusEnum": "enterprises.models.ChangeRequestStatus",
        "CredentialTypeEnum": "verification.identity.CredentialType",
        "PersonalIdTypeEnum": "verification.identity.PersonalIdType",
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
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Request bodies can hold ID numbers; never log them.
    "loggers": {"django.request": {"level": "ERROR"}},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
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


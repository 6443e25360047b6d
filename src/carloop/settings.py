"""carloop settings: everything comes from CARLOOP_* environment variables with safe demo defaults."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("CARLOOP_VAR_DIR", PROJECT_DIR / "var"))

DEMO_SECRET_KEY = "carloop-demo-secret-key-do-not-use-in-production-0123456789"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("CARLOOP_DEBUG", False)
PRODUCTION = _env_bool("CARLOOP_PRODUCTION", False)
SECRET_KEY = os.environ.get("CARLOOP_SECRET_KEY", DEMO_SECRET_KEY)
# Key for encrypting PII at rest and for blind indexes; defaults to one derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = os.environ.get("CARLOOP_FIELD_KEY", "")

if PRODUCTION:
    if SECRET_KEY == DEMO_SECRET_KEY or len(SECRET_KEY) < 40:
        raise ImproperlyConfigured(
            "CARLOOP_PRODUCTION is set but CARLOOP_SECRET_KEY is the demo key or shorter than 40 characters."
        )
    if DEBUG:
        raise ImproperlyConfigured("CARLOOP_PRODUCTION is set: set CARLOOP_DEBUG=false as well.")
    if not FIELD_ENCRYPTION_KEY:
        raise ImproperlyConfigured("CARLOOP_PRODUCTION is set: CARLOOP_FIELD_KEY (a Fernet key) is required.")

# testserver: Django's test client, which the benchmarks use outside the test runner.
ALLOWED_HOSTS = [h for h in os.environ.get("CARLOOP_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CARLOOP_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# Bounded contexts in layer order (core first); `carloop seed` and app discovery follow this order.
CARLOOP_APPS = [
    "carloop.core",
    "carloop.identity",
    "carloop.ledger",
    "carloop.vehicles",
    "carloop.risk",
    "carloop.finance",
    "carloop.wallet",
    "carloop.payments",
    "carloop.commerce",
    "carloop.aftersales",
    "carloop.parts",
    "carloop.web",
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "ninja",  # serves Swagger UI from our own static files (no CDN)
    *CARLOOP_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "carloop.core.i18n.LanguageMiddleware",
    "carloop.core.http.ApiProblemMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "carloop.identity.middleware.SubjectMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "carloop.web.middleware.BodyLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "carloop.urls"
WSGI_APPLICATION = "carloop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "carloop.web.context.shell",
            ],
            "builtins": ["carloop.core.templatetags.carloop"],
        },
    }
]

_default_db = f"sqlite:///{VAR_DIR / 'carloop.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("CARLOOP_DATABASE_URL", _default_db), conn_max_age=int(os.environ.get("CARLOOP_CONN_MAX_AGE", "60"))
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    VAR_DIR.mkdir(parents=True, exist_ok=True)
# Long-lived processes (server threads, `carloop worker`, `carloop scheduler`) call close_old_connections between
# units of work; with health checks the first query after it also finds a connection the server ended meanwhile.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # psycopg prepares a server-side-bound statement (the ledger's hot path) after this many executions on a
    # connection; Django's own queries bind client-side and are never prepared. "off" for a transaction-pooling
    # pgbouncer, which cannot keep prepared statements.
    _prepare = os.environ.get("CARLOOP_PG_PREPARE_THRESHOLD", "5")
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None if _prepare == "off" else int(_prepare)
    # Parallel checkouts on one server test in their own databases; SQLite tests stay in memory.
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("CARLOOP_TEST_DB_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "carloop.identity.auth.PhoneOrUsernameBackend",
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
if "pytest" in sys.modules:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the test suite only

# Login throttling (django-axes): 5 failures on one account, by any of its names and from any address, lock
# that account's sign-in for 15 minutes (decision 0004).
AXES_ENABLED = _env_bool("CARLOOP_LOGIN_THROTTLE", True)
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25  # float-ok: hours, not money
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_CALLABLE = "carloop.identity.auth.lockout_key"
# axes.W006 warns that a lock without the IP can be dodged by rotating user agents or cookies; ours is per
# account, which no client header changes (decision 0004).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_VERBOSE = False

# The client address (login events, sign-up throttles) is REMOTE_ADDR; behind one reverse proxy of ours that
# appends the address it saw to X-Forwarded-For, set CARLOOP_BEHIND_PROXY=true to read that entry instead.
BEHIND_PROXY = _env_bool("CARLOOP_BEHIND_PROXY", False)

# Sign-up proves the mobile number with a one-time SMS code (docs/identity.md).
SIGNUP_CODE_TTL = timedelta(minutes=10)
SIGNUP_CODE_MAX_ATTEMPTS = 5  # tries per code
SIGNUP_CODE_INTERVAL = timedelta(minutes=1)  # between two codes to one number
SIGNUP_CODES_PER_HOUR = 5  # per number
SIGNUP_CODES_PER_HOUR_PER_IP = 20

# Real-name verification (two-factor name + ID number check) through a KYC provider adapter (docs/identity.md):
# `simulator` (demo, tests), `none` (nobody is verified), or a dotted path to a `carloop.identity.kyc.KycProvider`.
KYC_PROVIDER = os.environ.get("CARLOOP_KYC_PROVIDER", "none" if PRODUCTION else "simulator")
KYC_MAX_ATTEMPTS = 6  # questions to the provider per check (the first and the retries every 5 minutes)
KYC_SUBMISSIONS_PER_DAY = 5  # declarations one account may submit in 24 hours

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
CSRF_FAILURE_VIEW = "carloop.web.views.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("CARLOOP_REDIS_URL"):
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["CARLOOP_REDIS_URL"]}

# Background work runs in `carloop worker`; the test suite runs tasks immediately.
_task_backend = "django_tasks.backends.immediate.ImmediateBackend" if "pytest" in sys.modules else "django_tasks_db.DatabaseBackend"
TASKS = {"default": {"BACKEND": os.environ.get("CARLOOP_TASK_BACKEND", _task_backend)}}

# Notifications (SMS/push) go through an outbox; demo backends print or write files.
# The cashier (carloop.payments): how long an intent may stay unpaid, and the simulator provider's signing key
# (HMAC-SHA256, as the real providers' notification signatures; the demo key is refused in production).
PAYMENTS_INTENT_TTL_MINUTES = int(os.environ.get("CARLOOP_PAYMENTS_INTENT_TTL_MINUTES", "15"))
DEMO_PAYMENTS_SIMULATOR_KEY = "carloop-demo-simulator-key-0123456789"
PAYMENTS_SIMULATOR_KEY = os.environ.get("CARLOOP_PAYMENTS_SIMULATOR_KEY", DEMO_PAYMENTS_SIMULATOR_KEY)
if PRODUCTION and PAYMENTS_SIMULATOR_KEY == DEMO_PAYMENTS_SIMULATOR_KEY:
    raise ImproperlyConfigured("CARLOOP_PRODUCTION is set: CARLOOP_PAYMENTS_SIMULATOR_KEY must not be the demo key.")
# Our receiving bank account shown on bank-transfer (对公转账) intents.
PAYMENTS_RECEIVING_ACCOUNT = os.environ.get("CARLOOP_PAYMENTS_RECEIVING_ACCOUNT", "招商银行北京分行 · 1109 0000 0000 0001 · 车循环科技有限公司")

# `simulator` keeps what it delivered in memory for the tests to read (carloop.core.notifications.simulator_inbox).
NOTIFICATION_BACKEND = os.environ.get("CARLOOP_NOTIFICATION_BACKEND", "simulator" if "pytest" in sys.modules else "console")
NOTIFICATION_DIR = VAR_DIR / "notifications"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"pii": {"()": "carloop.core.pii.MaskPiiFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["pii"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("CARLOOP_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

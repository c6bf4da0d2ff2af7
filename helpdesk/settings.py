"""Settings for the help desk: one file, configured only through environment variables.

Every variable is listed in .env.example and the README. With DATABASE_URL or REDIS_URL
unset, the embedded PostgreSQL / Redis under var/ are started or attached to.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from helpdesk.core import embedded
from helpdesk.core.env import env_bool, env_int, env_list, env_networks, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.var_dir()

DEBUG = env_bool("HELPDESK_DEBUG", False)


def _secret_key() -> str:
    key = env_str("HELPDESK_SECRET_KEY")
    if key:
        return key
    if not DEBUG and env_bool("HELPDESK_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("HELPDESK_SECRET_KEY must be set")
    # Development: one random key kept under var/, so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Fernet key for secrets at rest (mailbox passwords); derived from SECRET_KEY when unset.
HELPDESK_ENCRYPTION_KEY = env_str("HELPDESK_ENCRYPTION_KEY")

# Hosts are validated by TenantMiddleware: a subdomain of the base domain, a tenant's custom
# domain or the base domain itself; anything else is a 404 page.
ALLOWED_HOSTS = ["*"]
HELPDESK_BASE_DOMAIN = env_str("HELPDESK_BASE_DOMAIN", "localhost").lower().strip(".")
HELPDESK_PUBLIC_SCHEME = env_str("HELPDESK_PUBLIC_SCHEME", "http")
HELPDESK_PUBLIC_PORT = env_str("HELPDESK_PUBLIC_PORT", "8000" if DEBUG else "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "anymail",
    "helpdesk.core",
    "helpdesk.tenancy",
    "helpdesk.mail",
    "helpdesk.accounts",
    "helpdesk.api",
    "helpdesk.ops",
    "departments",
    "knowledge_base",
    "tickets",
    "automation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "helpdesk.core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "helpdesk.core.health.HealthCheckMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "helpdesk.core.middleware.CommonMiddleware",
    "helpdesk.core.middleware.WebhookSecretMiddleware",
    "helpdesk.core.middleware.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "helpdesk.tenancy.middleware.TenantMiddleware",
    # Inside the tenant context TenantMiddleware opened: the member or API token asking.
    "helpdesk.accounts.middleware.PrincipalMiddleware",
    # Still inside that context: a member's browser request is activity (availability).
    "helpdesk.accounts.activity.ActivityMiddleware",
    # Pages show times in the agent's time zone (theirs, else the help desk's).
    "tickets.configuration.middleware.AgentTimeZoneMiddleware",
    # A missing ticket (or category...) a page view did not catch is the 404 page.
    "helpdesk.core.middleware.NotFoundMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "tickets:inbox"

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
                "helpdesk.tenancy.context_processors.tenancy",
                "helpdesk.accounts.context_processors.tenant_switcher",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
# Three login roles share one database: helpdesk_owner owns the tables and runs migrations,
# helpdesk_app is what web and workers use (not superuser, no BYPASSRLS, so row-level
# security applies), helpdesk_ops reads across tenants for platform jobs. DATABASE_URL names
# the server and database; its own user and password are used only by `setup_database`,
# which creates the roles and the database.
HELPDESK_DB_ROLES = {"app": "helpdesk_app", "owner": "helpdesk_owner", "ops": "helpdesk_ops"}


def _database_server() -> dict[str, str]:
    url = env_str("DATABASE_URL")
    if not url:
        return {
            "HOST": embedded.ensure_postgres(),
            "PORT": "5432",
            "NAME": "helpdesk",
            "ADMIN_USER": "postgres",
            "ADMIN_PASSWORD": "",
            "SSLMODE": "",
        }
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured("DATABASE_URL must be a postgresql:// URL")
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or ""])[0]
    return {
        "HOST": host,
        "PORT": str(parts.port or 5432),
        "NAME": unquote(parts.path.lstrip("/")) or "helpdesk",
        "ADMIN_USER": unquote(parts.username or "postgres"),
        "ADMIN_PASSWORD": unquote(parts.password or ""),
        "SSLMODE": query.get("sslmode", [""])[0],
    }


HELPDESK_DATABASE_SERVER = _database_server()


def _database(role: str, **extra: object) -> dict[str, object]:
    options: dict[str, object] = {"application_name": f"helpdesk-{role}"}
    if HELPDESK_DATABASE_SERVER["SSLMODE"]:
        options["sslmode"] = HELPDESK_DATABASE_SERVER["SSLMODE"]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": HELPDESK_DATABASE_SERVER["NAME"],
        "HOST": HELPDESK_DATABASE_SERVER["HOST"],
        "PORT": HELPDESK_DATABASE_SERVER["PORT"],
        "USER": HELPDESK_DB_ROLES[role],
        "PASSWORD": env_str(f"HELPDESK_DB_{role.upper()}_PASSWORD"),
        "CONN_MAX_AGE": env_int("HELPDESK_DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
        **extra,
    }


DATABASES = {
    "default": _database("app"),
    "owner": _database("owner", TEST={"MIRROR": "default"}),
    "ops": _database("ops", TEST={"MIRROR": "default"}),
}
DATABASE_ROUTERS = ["helpdesk.core.db_router.HelpdeskRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Redis, cache, Celery ---------------------------------------------------------------
def _broker_url(redis_url: str) -> str:
    """Celery (kombu) spells unix sockets redis+socket:// and the database virtual_host."""
    if not redis_url.startswith("unix://"):
        return redis_url
    parts = urlsplit(redis_url)
    database = parse_qs(parts.query).get("db", ["0"])[0]
    return f"redis+socket://{parts.path}?virtual_host={database}"


REDIS_URL = (
    env_str("REDIS_URL") or f"unix://{embedded.ensure_redis().removeprefix('redis+socket://')}"
)
CELERY_BROKER_URL = _broker_url(REDIS_URL)

CACHES = {
    "default": {
        "BACKEND": "helpdesk.core.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("HELPDESK_CACHE_PREFIX", "helpdesk"),
    }
}
# Rate-limit counters share the cache's prefix, so installations sharing a Redis keep apart.
HELPDESK_RATELIMIT_KEY_PREFIX = CACHES["default"]["KEY_PREFIX"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "UTC"

# --- Sessions, security -----------------------------------------------------------------
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# HTTPS: with HELPDESK_PUBLIC_SCHEME=https, cookies are secure-only, plain HTTP redirects to
# HTTPS (behind a TLS-terminating proxy set HELPDESK_BEHIND_PROXY=1 too, or every request
# redirects to itself) and browsers are told to use HTTPS for a year on every tenant's
# subdomain. Each can be set on its own.
_HTTPS = HELPDESK_PUBLIC_SCHEME == "https"
SESSION_COOKIE_SECURE = env_bool("HELPDESK_SESSION_COOKIE_SECURE", _HTTPS)
CSRF_COOKIE_SECURE = env_bool("HELPDESK_CSRF_COOKIE_SECURE", _HTTPS)
SECURE_SSL_REDIRECT = env_bool("HELPDESK_SSL_REDIRECT", _HTTPS)
# Compose's health checks and probes inside the network speak plain HTTP to /healthz.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("HELPDESK_HSTS_SECONDS", 365 * 24 * 3600 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HELPDESK_HSTS_INCLUDE_SUBDOMAINS", _HTTPS)
# HSTS preloading is a commitment browsers take months to undo: the operator submits the
# domain to the preload list by hand, so Django's reminder (security.W021) stays quiet.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
CSRF_TRUSTED_ORIGINS = env_list("HELPDESK_CSRF_TRUSTED_ORIGINS")
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto.
HELPDESK_BEHIND_PROXY = env_bool("HELPDESK_BEHIND_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HELPDESK_BEHIND_PROXY else None
# The proxies' addresses or networks: X-Forwarded-For is read (for the client's address in
# rate limits) only on connections from one of them, since anyone reaching the app directly
# can write that header (helpdesk.core.ratelimit.client_ip).
HELPDESK_TRUSTED_PROXIES = env_networks("HELPDESK_TRUSTED_PROXIES")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Brute-force and abuse limits (helpdesk.core.ratelimit), counted in Redis over a moving
# window; past one the request gets a 429 with Retry-After. Per-address limits count
# across every tenant (a login is one password everywhere); per-IP limits too.
HELPDESK_RATELIMIT_LOGIN_ACCOUNT = env_rate("HELPDESK_RATELIMIT_LOGIN_ACCOUNT", "10/15 minutes")
HELPDESK_RATELIMIT_LOGIN_IP = env_rate("HELPDESK_RATELIMIT_LOGIN_IP", "50/15 minutes")
HELPDESK_RATELIMIT_PASSWORD_RESET_ADDRESS = env_rate(
    "HELPDESK_RATELIMIT_PASSWORD_RESET_ADDRESS", "5/hour"
)
HELPDESK_RATELIMIT_PASSWORD_RESET_IP = env_rate("HELPDESK_RATELIMIT_PASSWORD_RESET_IP", "20/hour")
HELPDESK_RATELIMIT_API_TOKEN_IP = env_rate("HELPDESK_RATELIMIT_API_TOKEN_IP", "20/10 minutes")
HELPDESK_RATELIMIT_PUBLIC_FORM_IP = env_rate("HELPDESK_RATELIMIT_PUBLIC_FORM_IP", "30/10 minutes")
# Requests from the help center's form and portal sign-in links, per email address.
HELPDESK_RATELIMIT_PUBLIC_FORM_ADDRESS = env_rate(
    "HELPDESK_RATELIMIT_PUBLIC_FORM_ADDRESS", "5/hour"
)

# --- I18N, static -----------------------------------------------------------------------
LANGUAGE_CODE = "en"
# The languages of the help center, the customer portal and customer mail (a tenant's
# `language`); translations under locale/, compiled .mo files committed with their .po.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("HELPDESK_MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Email ------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("HELPDESK_DEFAULT_FROM_EMAIL", f"helpdesk@{HELPDESK_BASE_DOMAIN}")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
HELPDESK_OUTBOX_DIR = VAR_DIR / "outbox"
# Automatic replies (acknowledgements) one sender gets per hour at most: mail-loop guard.
HELPDESK_AUTO_REPLY_LIMIT_PER_HOUR = env_int("HELPDESK_AUTO_REPLY_LIMIT_PER_HOUR", 3)
# The largest mail taken in, by the SMTP listener (552 above it) and by ESP webhooks, which
# post a whole mail as one form field or JSON string (base64 and JSON escaping make that
# up to twice its size): Django's 2.5 MB default refused larger mails with a 400.
# Mailbox IMAP servers on loopback or private networks (an on-premises mail server): off,
# so one tenant's admin cannot reach the services around the help desk through them.
HELPDESK_IMAP_ALLOW_PRIVATE_HOSTS = env_bool("HELPDESK_IMAP_ALLOW_PRIVATE_HOSTS", False)
# Outbound HTTP to URLs admins type in (webhooks, the single sign-on provider, ticket
# integrations; helpdesk.core.outbound_http): targets on loopback, private, link-local or
# other non-public addresses are refused unless the operator allows them, like IMAP hosts.
# HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS is the deprecated name of the same switch: either on
# allows them.
HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS = env_bool("HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS", False)
HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = env_bool("HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS", False)
# Seconds a delivery waits for the receiver to connect and answer.
HELPDESK_WEBHOOK_TIMEOUT_SECONDS = env_int("HELPDESK_WEBHOOK_TIMEOUT_SECONDS", 10)
# Failed attempts in a row (every delivery's retries count) after which a webhook is
# disabled and the admins are told.
HELPDESK_WEBHOOK_DISABLE_AFTER_FAILURES = env_int("HELPDESK_WEBHOOK_DISABLE_AFTER_FAILURES", 20)
HELPDESK_MAX_MESSAGE_BYTES = env_int("HELPDESK_SMTPD_MAX_MESSAGE_BYTES", 25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * HELPDESK_MAX_MESSAGE_BYTES + 1024 * 1024
HELPDESK_TENANT_CACHE_SECONDS = env_int("HELPDESK_TENANT_CACHE_SECONDS", 60)
# Queued inbound mail untouched this long is queued again by the sweeper.
HELPDESK_INBOUND_SWEEP_AFTER_SECONDS = env_int("HELPDESK_INBOUND_SWEEP_AFTER_SECONDS", 120)
# Outgoing mail still queued this long (its task lost: a killed worker, a Redis restart) is
# sent again by the outbound sweeper.
HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS = env_int("HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS", 300)
# Outgoing mail claimed for sending this long ago and never recorded as sent or failed (the
# worker died during the send) may or may not have gone out: it is marked `unknown` for an
# agent to check, never sent twice. Longer than a send can take (the task's 300 s limit).
HELPDESK_OUTBOUND_SENDING_TIMEOUT_SECONDS = env_int(
    "HELPDESK_OUTBOUND_SENDING_TIMEOUT_SECONDS", 1800
)
if HELPDESK_OUTBOUND_SENDING_TIMEOUT_SECONDS <= 300:
    raise ImproperlyConfigured(
        "HELPDESK_OUTBOUND_SENDING_TIMEOUT_SECONDS must be over 300 (the longest a send may"
        " take), or mail still being sent would be marked unknown"
    )
HELPDESK_ORPHANED_FILES_AFTER_HOURS = env_int("HELPDESK_ORPHANED_FILES_AFTER_HOURS", 24)
# An online member with no request in their browser for this long becomes away (the shift
# clock checks every minute; helpdesk.accounts.services, "Availability").
HELPDESK_AWAY_AFTER_MINUTES = env_int("HELPDESK_AWAY_AFTER_MINUTES", 15)
if HELPDESK_AWAY_AFTER_MINUTES < 1:
    raise ImproperlyConfigured("HELPDESK_AWAY_AFTER_MINUTES must be at least 1")
# Where mail goes: HELPDESK_EMAIL_BACKEND when set (an anymail ESP backend, say); else SMTP
# to HELPDESK_SMTP_HOST when that is set; else (development) .eml files in var/outbox/.
EMAIL_HOST = env_str("HELPDESK_SMTP_HOST", "")
EMAIL_BACKEND = env_str("HELPDESK_EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "helpdesk.core.mail_backends.OutboxBackend"
)
EMAIL_PORT = env_int("HELPDESK_SMTP_PORT", 25)
EMAIL_HOST_USER = env_str("HELPDESK_SMTP_USER")
EMAIL_HOST_PASSWORD = env_str("HELPDESK_SMTP_PASSWORD")
EMAIL_USE_TLS = env_bool("HELPDESK_SMTP_STARTTLS", False)

# django-anymail: every ANYMAIL_<NAME> environment variable becomes ANYMAIL["<NAME>"], so any
# ESP anymail supports is configured by its documented setting names, e.g.
# ANYMAIL_WEBHOOK_SECRET (basic auth for all webhooks), ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY,
# ANYMAIL_POSTMARK_SERVER_TOKEN.
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in os.environ.items()
    if name.startswith("ANYMAIL_") and value
}

# --- API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["helpdesk.api.authentication.TenantPrincipalAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["helpdesk.api.permissions.IsTenantMember"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "helpdesk.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "helpdesk.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "helpdesk.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["helpdesk.api.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"principal": env_str("HELPDESK_API_RATE", "1200/minute")},
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Help desk API",
    "DESCRIPTION": "Tickets, messages and more, per tenant. Authenticate with "
    "`Authorization: Token <key>` on the tenant's host.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "tickets.models.TicketStatus",
        "InboundEmailStatusEnum": "tickets.models.InboundEmailStatus",
        "TicketPriorityEnum": "tickets.models.TicketPriority",
        "CustomFieldTargetEnum": "tickets.models.CustomFieldTarget",
        "CustomFieldTypeEnum": "tickets.models.CustomFieldType",
        "TicketChannelEnum": "tickets.models.TicketChannel",
        "SlaMetricEnum": "tickets.models.SlaMetric",
        "ArticleStatusEnum": "knowledge_base.models.ArticleStatus",
        "ArticleVisibilityEnum": "knowledge_base.models.ArticleVisibility",
        "IntegrationMethodEnum": "automation.models.IntegrationMethod",
    },
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("HELPDESK_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}, "pgserver": {"level": "WARNING"}},
}

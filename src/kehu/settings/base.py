"""Settings shared by every way Kehu runs (embedded, production, test)."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from kehu.settings.env import env_int, env_list, env_str

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("KEHU_DATA_DIR", str(Path.cwd() / "var")))

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-development-key-change-me-0123456789abcdef")
DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, never a CDN
    "django_htmx",
    "kehu.core",
    "kehu.accounts",
    "kehu.customers",
    "kehu.sales",
    "kehu.marketing",
    "kehu.service",
    "kehu.analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "kehu.core.middleware.RejectNulBytesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Platform staff in a support session act as a read-only member of the granting organisation.
    "kehu.accounts.middleware.SupportSessionMiddleware",
    "kehu.core.middleware.ActorMiddleware",
    "kehu.core.middleware.ChoiceListCacheMiddleware",
    "kehu.core.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "kehu.urls"
WSGI_APPLICATION = "kehu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kehu.core.context_processors.shell",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'kehu.sqlite3'}"), conn_max_age=600
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["kehu.accounts.backends.EmailBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3  # invitations use the same one-time tokens

# Lock an account for LOGIN_LOCKOUT_MINUTES after LOGIN_LOCKOUT_FAILURES wrong passwords in a row.
LOGIN_LOCKOUT_FAILURES = env_int("LOGIN_LOCKOUT_FAILURES", 5)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Kehu CRM <noreply@kehu.local>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "kehu.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["kehu.core.api.IsOrganizationMember"],
    "DEFAULT_PAGINATION_CLASS": "kehu.core.api.CursorPagination",
    # JSON only: the interactive documentation is /api/docs/. DRF's browsable HTML renderer needs one
    # `serializer_class` per view and answered our per-action serializers with a 500.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "kehu.core.api.SafeOrderingFilter",  # ?ordering= on each view's whitelist only
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "60/minute"),
        "user": env_str("API_THROTTLE_USER", "1200/minute"),
    },
    "EXCEPTION_HANDLER": "kehu.core.api.exception_handler",
    "DEFAULT_METADATA_CLASS": "kehu.core.api.Metadata",  # OPTIONS must not 500 on per-action serializers
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "ORDERING_PARAM": "ordering",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kehu CRM API",
    "DESCRIPTION": "REST API of Kehu CRM (客户). Errors share one shape: "
    '{"error": {"code": "...", "message": "...", "fields": {...}}}.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Tags and operation ids from the resource (users_list), not from the version segment (v1_users_list).
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # The bearer scheme comes from kehu.accounts.api.BearerTokenScheme, the session one from DRF.
    # /api/docs/ loads Swagger UI from our own static files (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl: Swagger UI would otherwise send the schema to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Choice sets that share a field name ("scope", "status"): name their enums instead of a hash suffix.
    "ENUM_NAME_OVERRIDES": {
        "DataScopeEnum": "kehu.core.permissions.Scope",
        "TokenScopeEnum": "kehu.accounts.models.ApiToken.TokenScope",
        # Sales activities also have a "kind" and a "status": every set of those choices is named.
        "ActivityKindEnum": "kehu.sales.activity_models.Activity.Kind",
        "ActivityStatusEnum": "kehu.sales.activity_models.Activity.Status",
        # Opportunities' status and stages' kind are the same set (open, won, lost).
        "OpportunityStatusEnum": "kehu.sales.opportunity_models.Opportunity.Status",
        "CustomerKindEnum": "kehu.customers.models.Customer.Kind",
        "SupportGrantStatusEnum": "kehu.accounts.support_models.SUPPORT_GRANT_STATUSES",
        "TicketKindEnum": "kehu.service.ticket_models.Ticket.Kind",  # tickets
        "TicketMessageKindEnum": "kehu.service.ticket_models.TicketMessage.Kind",  # tickets
        "TicketStatusEnum": "kehu.service.ticket_models.Ticket.Status",  # tickets
        # Service SLA, holidays and knowledge base: "kind", "source", "status" and the ticket priority are named.
        "CalendarDayKindEnum": "kehu.service.sla_models.CalendarDay.Kind",
        "CalendarDaySourceEnum": "kehu.service.sla_models.CalendarDay.Source",
        "KbArticleStatusEnum": "kehu.service.knowledge_models.KbArticle.Status",
        "TicketPriorityEnum": "kehu.service.ticket_models.Ticket.Priority",
        "CustomerSourceEnum": "kehu.customers.models.Customer.Source",
        "UserStatusEnum": ["active", "invited", "deactivated"],
    },
}

CELERY_BROKER_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BEAT_SCHEDULE: dict = {}
# Customers: neglected customers back to the public pool, and the recycle bin's retention (customers/tasks.py).
CELERY_BEAT_SCHEDULE.update(
    {
        "customers.pool_recycle": {"task": "customers.pool_recycle", "schedule": timedelta(hours=1)},
        "customers.recycle_bin_purge": {"task": "customers.recycle_bin_purge", "schedule": timedelta(hours=6)},
    }
)
# Sales (commerce): sent quotes past their validity become expired (sales/commerce_tasks.py).
CELERY_BEAT_SCHEDULE["sales.quotes_expire"] = {"task": "sales.quotes_expire", "schedule": timedelta(hours=1)}

# Sales activities: reminders whose time has come, every minute (sales/activity_tasks.py).
CELERY_BEAT_SCHEDULE["sales.activity_reminders"] = {
    "task": "sales.activity_reminders",
    "schedule": timedelta(minutes=1),
}
# The address people open Kehu at, for links in emails sent without a request (scheduled reminders).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000/")

# Vendor support access: record the expiry of grants in the organisations' audit logs (accounts/tasks.py).
CELERY_BEAT_SCHEDULE["accounts.support_grants_expire"] = {
    "task": "accounts.support_grants_expire",
    "schedule": timedelta(minutes=5),
}
# Leads: re-apply the assignment rules to open leads untouched for each organisation's N days (sales/lead_tasks.py).
CELERY_BEAT_SCHEDULE["sales.leads_reassign_stale"] = {
    "task": "sales.leads_reassign_stale",
    "schedule": timedelta(days=1),
}
# Tickets: read the queues' IMAP mailboxes (service/ticket_tasks.py).
CELERY_BEAT_SCHEDULE["service.mailboxes_poll"] = {"task": "service.mailboxes_poll", "schedule": timedelta(minutes=1)}
# Service: SLA warnings and escalations (service/sla_tasks.py); reads only the tickets whose moment has come.
CELERY_BEAT_SCHEDULE["service.sla_sweep"] = {"task": "service.sla_sweep", "schedule": timedelta(minutes=1)}
# Service: close resolved tickets without a customer reply for N days (service/ticket_tasks.py).
CELERY_BEAT_SCHEDULE["service.tickets_auto_close"] = {
    "task": "service.tickets_auto_close",
    "schedule": timedelta(hours=1),
}

API_TOKEN_DEFAULT_EXPIRY = timedelta(days=365)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"kehu": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}

# Attachments of customers and notes (kehu.customers.uploads): the size limit, and the extensions
# accepted (each is also checked against the file's content). Files outside this list are refused.
KEHU_ATTACHMENT_MAX_MB = env_int("KEHU_ATTACHMENT_MAX_MB", 20)
KEHU_ATTACHMENT_TYPES = env_list(
    "KEHU_ATTACHMENT_TYPES",
    ["pdf", "png", "jpg", "jpeg", "gif", "webp", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "csv", "zip"],
)

# Tickets (kehu.service): the domain of our Message-IDs (default: DEFAULT_FROM_EMAIL's), the keys that
# encrypt mailbox passwords (Fernet keys, newest first; default: derived from SECRET_KEY; see
# service/mail_secrets.py), the messages one sender may send in ten minutes before the intake takes them
# for a mail loop, and the public web form's limit per IP ("count/seconds").
KEHU_MAIL_DOMAIN = env_str("KEHU_MAIL_DOMAIN", "")
KEHU_ENCRYPTION_KEYS = env_list("KEHU_ENCRYPTION_KEYS", [])
KEHU_MAIL_LOOP_LIMIT = env_int("KEHU_MAIL_LOOP_LIMIT", 20)
KEHU_TICKET_FORM_RATE = env_str("KEHU_TICKET_FORM_RATE", "10/600")

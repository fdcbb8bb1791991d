"""The test suite: SQLite by default, PostgreSQL when DATABASE_URL names one; real SMTP on 127.0.0.1."""

from kehu.settings.base import *  # noqa: F403
from kehu.settings.base import DATA_DIR, DATABASES, STATIC_ROOT

DATA_DIR.mkdir(parents=True, exist_ok=True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests hash thousands
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
EMAIL_PORT = 2525  # the aiosmtpd fixture listens here
REST_FRAMEWORK = {**REST_FRAMEWORK}  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "1000/minute", "user": "10000/minute"}

# On PostgreSQL the test database is created from template0 so that its encoding can be UTF-8 whatever
# template1 is; its LC_CTYPE then comes from template0 (.ci/run checks it is a UTF-8 locale), which
# trigram search on Chinese text needs.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["TEST"] = {"TEMPLATE": "template0", "CHARSET": "UTF8"}

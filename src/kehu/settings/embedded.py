"""One machine, nothing installed: SQLite, no broker (jobs run in-process), mail printed to the console."""

from kehu.settings.base import *  # noqa: F403
from kehu.settings.base import DATA_DIR, STATIC_ROOT
from kehu.settings.env import env_bool, env_str

DEBUG = env_bool("DJANGO_DEBUG", False)
DATA_DIR.mkdir(parents=True, exist_ok=True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing

# Embedded runs serve plain static files straight from the package and the vendor folder.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

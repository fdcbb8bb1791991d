"""PostgreSQL, Redis and Celery workers behind a TLS-terminating reverse proxy."""

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from kehu.settings.base import *  # noqa: F403
from kehu.settings.env import env_bool, env_int, env_list, env_str

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set the environment variable ALLOWED_HOSTS (e.g. crm.example.com).")
# No silent fallback to the embedded SQLite file: production names its database.
DATABASES = {
    "default": dj_database_url.parse(env_str("DATABASE_URL"), conn_max_age=600, conn_health_checks=True),
}
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
REDIS_URL = env_str("REDIS_URL")

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
CELERY_BROKER_URL = REDIS_URL

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

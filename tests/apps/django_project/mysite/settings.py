"""Settings for the minimal Django project used by the end-to-end tests.

Environment: DJANGO_DEBUG ("1"/"true" to enable), APP_DB_PATH (SQLite file).
The project knows nothing about OpenTelemetry; the agent instruments it.
"""

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "test-only-not-secret"
DEBUG = os.environ.get("DJANGO_DEBUG", "").lower() in ("1", "true", "yes", "on")
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

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

# Default outside the source tree so test runs never leave a db in the repo.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("APP_DB_PATH")
        or os.path.join(tempfile.gettempdir(), "otel-autoinstrument-django-test.sqlite3"),
    }
}

# APP_PG_DSN (a libpq key=value string): PostgreSQL instead (tests/e2e/test_postgres.py).
if os.environ.get("APP_PG_DSN"):
    _pg = dict(part.split("=", 1) for part in os.environ["APP_PG_DSN"].split())
    DATABASES["default"] = {"ENGINE": "django.db.backends.postgresql", "NAME": _pg["dbname"], "USER": _pg["user"],
                            "PASSWORD": _pg["password"], "HOST": _pg["host"], "PORT": _pg["port"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"

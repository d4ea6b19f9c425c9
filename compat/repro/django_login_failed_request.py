"""Django: the agent's user_login_failed receiver assumes ``request`` is an HttpRequest
and logs an internal error (with a traceback, on stderr) when an application passes
something else -- Django's own auth_tests.test_forms.AuthenticationFormTest.test_login_failed
passes ``object()``. The application is not affected; its stderr is.

    compat/.work/venvs/django-5.2.19/bin/python compat/repro/django_login_failed_request.py
"""
from _twice import twice

twice(__file__)

import django  # noqa: E402
from django.conf import settings  # noqa: E402


class NobodyBackend:
    def authenticate(self, request, **credentials):
        return None


settings.configure(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
                   AUTHENTICATION_BACKENDS=["__main__.NobodyBackend"], ROOT_URLCONF=__name__,
                   ALLOWED_HOSTS=["*"])
django.setup()
urlpatterns = []

from django.contrib.auth import authenticate  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

get_wsgi_application()  # a served app: the agent connects its receiver while loading middleware
print("authenticate ->", authenticate(object(), username="someone", password="wrong"))

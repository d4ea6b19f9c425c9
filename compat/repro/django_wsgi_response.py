"""Django: under the agent, WSGIHandler returns the agent's body wrapper instead of the
HttpResponse (Django's wsgi.tests.WSGITest.test_get_wsgi_application).

    compat/.work/venvs/django-5.2.19/bin/python compat/repro/django_wsgi_response.py
"""
from _twice import twice

twice(__file__)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"])
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test.client import RequestFactory  # noqa: E402
from django.urls import path  # noqa: E402

urlpatterns = [path("", lambda request: HttpResponse("Hello World!"))]

application = get_wsgi_application()
environ = RequestFactory()._base_environ(PATH_INFO="/", REQUEST_METHOD="GET")
response = application(environ, lambda status, headers: None)
print("returned:", type(response).__name__)
for expression in ("bytes(response)", "response['Content-Type']", "isinstance(response, HttpResponse)",
                   "response.status_code", "b''.join(response)"):
    try:
        print(expression, "->", eval(expression))
    except Exception as exc:
        print(expression, "->", type(exc).__name__ + ":", exc)
response.close()

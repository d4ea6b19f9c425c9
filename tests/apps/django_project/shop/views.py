"""Views mirroring the Flask test app, so both frameworks get the same tests."""

import logging
import os
import time

import requests

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse

from shop.models import Item

# Django's logging setup leaves custom loggers alone; INFO must be enabled
# here because the root logger defaults to WARNING.
logger = logging.getLogger("shop")
logger.setLevel(logging.INFO)


def index(request):
    return HttpResponse("hello")


def health(request):
    return HttpResponse("ok")


def user(request, pk):
    return JsonResponse({"id": pk})


def error(request):
    raise RuntimeError("boom")


def stream(request):
    def chunks():
        for chunk in ("a", "b", "c"):
            yield chunk

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def slow_stream(request):
    # ?delay= seconds slept before each chunk after the first (default 0.1).
    delay = float(request.GET.get("delay", "0.1"))

    def chunks():
        for i, chunk in enumerate(("a", "b", "c")):
            if i:
                time.sleep(delay)
            yield chunk

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def file(request):
    # Served through wsgi.file_wrapper (sendfile under gunicorn).
    return FileResponse(open(__file__, "rb"), content_type="text/plain")


def upstream(request):
    # ?path= picks another upstream path (env UPSTREAM_URL is the base URL).
    path = request.GET.get("path", "/users/7")
    response = requests.get(os.environ["UPSTREAM_URL"] + path, timeout=10)
    return JsonResponse({"status": response.status_code, "body": response.text})


def log(request):
    logger.info("handling %s", "log")
    try:
        1 / 0
    except ZeroDivisionError:
        logger.exception("failed")
    return HttpResponse("logged")


def db(request):
    count = Item.objects.count()
    Item.objects.filter(name="x").first()
    return HttpResponse(str(count))


def db_error(request):
    # A statement the database rejects: Django raises OperationalError, a 500.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM missing_table WHERE name = %s", ["param-secret"])
    return HttpResponse("unreachable")


def login_signal(request):
    # user_login_failed sent with what is not an HttpRequest, as REST framework views and
    # custom authentication backends do; the agent must cope without an error.
    from types import SimpleNamespace

    from django.contrib.auth.signals import user_login_failed

    for odd in (None, object(), SimpleNamespace(META=None)):
        user_login_failed.send(sender=__name__, credentials={"username": "root"}, request=odd)
    return HttpResponse("sent")

"""Views mirroring the Flask test app, so both frameworks get the same tests."""

import logging

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse

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

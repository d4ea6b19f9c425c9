"""Under otel-run: what Django's and Flask's WSGI callables return is the application's
own object, and every request's span ends, also when nobody closes the response.

``python wsgi_objects.py django|flask`` prints one JSON line of observations. Each
request carries an ``X-Step`` header naming it (recorded through header capture), and
streamed chunks are produced inside manual ``chunk`` spans, so the test can tell from
the receiver which span belongs to what and what was current while a chunk was made.
"""

import gc
import io
import json
import sys
import wsgiref.util

from otel_autoinstrument import get_tracer

tracer = get_tracer("wsgi-objects")
made = {}  # what the views returned, by name
seen = {}


def environ_for(path, step, **extra):
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "HTTP_X_STEP": step, "wsgi.input": io.BytesIO()}
    environ.update(extra)
    wsgiref.util.setup_testing_defaults(environ)
    return environ


def start_response(status, headers, exc_info=None):
    seen.setdefault("statuses", []).append(status)


def chunks(*parts):
    for part in parts:
        with tracer.start_as_current_span("chunk"):
            pass  # made while the chunk is produced; ended before the body is suspended
        yield part


def django_checks():
    import django
    from django.conf import settings
    from django.urls import path

    settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"], MIDDLEWARE=[], SECRET_KEY="x" * 50)
    from django.http import FileResponse, HttpResponse, StreamingHttpResponse

    def keep(name, response):
        made[name] = response
        return response

    module = sys.modules[__name__]
    module.urlpatterns = [
        path("", lambda request: keep("hello", HttpResponse("Hello World!"))),
        path("stream/", lambda request: keep("stream", StreamingHttpResponse(chunks(b"a", b"b", b"c")))),
        path("file/", lambda request: keep("file", FileResponse(open(__file__, "rb")))),
    ]
    django.setup()
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()

    # Django's own tests/wsgi test_get_wsgi_application, and what a middleware may do.
    response = application(environ_for("/", "django-hello"), start_response)
    seen["hello_is_own"] = response is made["hello"]
    seen["hello_isinstance"] = isinstance(response, HttpResponse)
    seen["hello_bytes"] = bytes(response).decode()
    seen["hello_header"] = response["Content-Type"]
    seen["hello_has_x"] = "X" in response
    seen["hello_body"] = b"".join(response).decode()
    response.close()
    seen["hello_close_restored"] = "close" not in vars(response)

    response = application(environ_for("/stream/", "django-stream"), start_response)
    seen["stream_is_own"] = response is made["stream"]
    seen["stream_body"] = b"".join(response).decode()  # read to the end, never closed

    from wsgiref.util import FileWrapper

    response = application(environ_for("/file/", "django-file", **{"wsgi.file_wrapper": FileWrapper}),
                           start_response)
    seen["file_type"] = type(response).__name__
    seen["file_is_file_wrapper"] = type(response) is FileWrapper
    seen["file_starts"] = next(iter(response))[:3].decode()
    response.close()
    seen["file_closed"] = made["file"].file_to_stream.closed

    class OwnTestFileWrapper:
        """Django's own tests/wsgi test_file_wrapper: no close, no iteration."""

        def __init__(self, filelike, blksize=8192):
            filelike.close()

    response = application(environ_for("/file/", "django-file-own-test", **{"wsgi.file_wrapper": OwnTestFileWrapper}),
                           start_response)
    seen["own_test_file_wrapper"] = isinstance(response, OwnTestFileWrapper)
    del response  # dropped: nobody could close it


def flask_checks(requests_read, requests_unread, never_closed):
    from flask import Flask, Response
    from werkzeug.wsgi import ClosingIterator

    class Passthrough:
        """An iterable the view hands to werkzeug as it is (direct_passthrough)."""

        def __iter__(self):
            return iter([b"passed through"])

        def close(self):
            pass

    app = Flask(__name__)

    @app.get("/")
    def index():
        return "hello"

    @app.get("/stream")
    def stream():
        return Response(chunks(b"a", b"b", b"c"))

    @app.get("/passthrough")
    def passthrough():
        made["passthrough"] = Passthrough()
        return Response(made["passthrough"], direct_passthrough=True)

    response = app(environ_for("/", "flask-hello"), start_response)
    seen["hello_type"] = "%s.%s" % (type(response).__module__, type(response).__name__)
    seen["hello_is_closing_iterator"] = type(response) is ClosingIterator
    seen["hello_body"] = b"".join(response).decode()
    response.close()

    response = app(environ_for("/passthrough", "flask-passthrough"), start_response)
    seen["passthrough_is_own"] = response is made["passthrough"]
    seen["passthrough_body"] = b"".join(response).decode()
    response.close()

    response = app(environ_for("/stream", "flask-stream"), start_response)
    seen["stream_body"] = b"".join(response).decode()  # read to the end, never closed

    # The test client, used the way test suites use it: nobody closes the responses.
    client = app.test_client()
    bodies = [client.get("/", headers={"X-Step": "client-read"}).data for _ in range(requests_read)]
    seen["client_bodies"] = sorted(set(body.decode() for body in bodies))
    seen["client_statuses"] = sorted(set(client.get("/", headers={"X-Step": "client-unread"}).status_code
                                         for _ in range(requests_unread)))
    gc.collect()
    # Streamed, unbuffered, started and never read to the end nor closed: kept until exit.
    kept = [client.get("/stream", headers={"X-Step": "client-kept"}, buffered=False) for _ in range(never_closed)]
    seen["kept_statuses"] = sorted(set(response.status_code for response in kept))
    module = sys.modules[__name__]
    module.kept = kept


if __name__ == "__main__":
    if sys.argv[1] == "django":
        django_checks()
    else:
        flask_checks(*(int(n) for n in sys.argv[2:5]))
    print(json.dumps(seen))
    sys.stdout.flush()

"""OTLP over HTTP: encode a batch, POST it, retry what the specification says to retry.

Runs only in the export thread. ``prepare()`` (called as the thread starts) loads the
encoder and the transport and builds the TLS settings, so the first batch goes out as
soon as it is due. The transport is ``http_transport`` (standard library sockets, one
kept-alive connection per exporter and process): the whole request, connecting
included, stays inside one deadline, answers are read up to a small bound, and
redirects are never followed (a redirect is reported once, with its target masked, and
the batch dropped). Certificates, client certificates, headers and gzip come from the
signal's ``ExporterSettings``; a batch becomes one or more request bodies of at most
4 MiB (``encoding``), and an item that cannot be encoded is dropped alone.

Every attempt and the whole retry sequence stay inside the deadline the batch processor
gives, and ``stop_by()`` (called at shutdown) brings that deadline forward and wakes a
back-off sleep: nothing here can hold the process past the exit bound. Retryable: 429,
502, 503, 504 and connection errors, with exponential backoff and jitter, honouring
``Retry-After``. At shutdown a collector that cannot be connected to gets no retry and
no back-off: once connecting has failed, what is left is counted at once, so a
collector that is down costs the exit nothing (the exit bound is for a slow collector).
Any other failure drops the batch, counted; a non-retryable answer (400, 401, ...) is
reported once per status.

The endpoint URL and the header list come from the environment: both are checked when
the exporter is built (an unusable URL disables export with one error; an invalid
header is left out with one warning), so nothing the transport raises escapes
``export()``.
"""

import importlib
import os
import random
import time

from .. import _log
from ..version import __version__
from . import outcome as reasons
from . import preload
from ..redaction.secrets import mask, mask_url, secret_strings
from .endpoint import endpoint_problem, valid_headers
from .outcome import Outcome

_ENCODER_MODULE = {True: "otel_autoinstrument.export.encode_json", False: "otel_autoinstrument.export.encode_proto"}
_METRICS_ENCODER_MODULE = {True: "otel_autoinstrument.export.encode_metrics_json",
                           False: "otel_autoinstrument.export.encode_metrics_proto"}
_TRANSPORT_MODULE = "otel_autoinstrument.export.http_transport"

RETRYABLE_STATUS = frozenset((429, 502, 503, 504))
REDIRECT_STATUS = frozenset((301, 302, 303, 307, 308))
_BACKOFF_FIRST_S = 0.5
_BACKOFF_MAX_S = 8.0
_WARN_EVERY_S = 60.0
_MESSAGE_LIMIT = 300  # characters of a collector's or transport's error text in a message


_said = set()


def _error_once(message, key=None):
    """One ERROR per distinct problem in this process, whichever signal meets it first
    (traces and logs usually share the endpoint and its files)."""
    key = message if key is None else key
    if key not in _said:
        _said.add(key)
        _log.error(message)


class _RateLimitedWarning:
    """One warning per interval with the counts since the last one, not one per batch."""

    def __init__(self):
        self.last = None
        self.pending = 0

    def __call__(self, signal, count, message):
        self.pending += count
        now = time.monotonic()
        if self.last is not None and now - self.last < _WARN_EVERY_S:
            return
        _log.warning("%s: %d dropped since the last message: %s", signal, self.pending, message)
        self.pending = 0
        self.last = now


class OtlpHttpExporter:
    def __init__(self, signal, exporter_settings, resource):
        self.signal = signal
        self.settings = exporter_settings
        self.resource = resource
        self.url = exporter_settings.endpoint
        self.shown_url = mask_url(self.url)
        self.json = exporter_settings.protocol == "http/json"
        self.headers = {
            "Content-Type": "application/json" if self.json else "application/x-protobuf",
            "User-Agent": "otel-autoinstrument/" + __version__,
        }
        self.headers.update(valid_headers(exporter_settings.headers, exporter_settings.sources["headers"]))
        if exporter_settings.compression == "gzip":
            self.headers["Content-Encoding"] = "gzip"
        self._secrets = secret_strings((self.url,), exporter_settings.headers)
        self.problem = self._check_endpoint() or self._check_files()
        self._connection = None
        self._encoder = None
        self._tls = None
        self._warn = _RateLimitedWarning()
        self._warn_partial = _RateLimitedWarning()
        self._warn_unencodable = _RateLimitedWarning()
        self._reported_status = set()
        self._stop_by = None  # the exit bound, once shutdown has begun
        self._sleeper = None  # an Event a back-off sleep waits on, so stop_by() can end it
        self._unreachable = None  # why the last attempt could not connect, or None
        self._closed = False

    def _check_endpoint(self):
        problem = endpoint_problem(self.url)
        if problem:
            message = "%s=%s: %s; nothing will be exported for %s" % (
                self.settings.sources["endpoint"], self.shown_url, problem, self.signal)
            _log.error(message)
            return message
        return None

    def _check_files(self):
        for attr in ("certificate", "client_certificate", "client_key"):
            path = getattr(self.settings, attr)
            if path and not (os.path.isfile(path) and os.access(path, os.R_OK)):
                message = "%s=%s: file missing or unreadable; nothing is exported to %s" % (
                    self.settings.sources[attr], path, self._where())
                _error_once(message)
                return message
        if bool(self.settings.client_certificate) != bool(self.settings.client_key):
            message = ("mutual TLS needs both %s and %s; nothing is exported to %s" % (
                self.settings.sources["client_certificate"], self.settings.sources["client_key"], self._where()))
            _error_once(message)
            return message
        return None

    def _where(self):
        return self.shown_url.rsplit("/v1/", 1)[0]

    def _tls_context(self):
        """The TLS settings, built once per exporter in the export thread: a file that is
        not PEM, or an encrypted key (which OpenSSL would ask for on the terminal),
        disables export with one error naming the variable."""
        import ssl

        settings = self.settings
        attr = "certificate"
        try:
            context = ssl.create_default_context(cafile=settings.certificate or None)
            if settings.client_certificate:
                attr = "client_certificate"
                context.load_cert_chain(settings.client_certificate, settings.client_key,
                                        password=lambda: b"")  # never prompt
            return context
        except (ssl.SSLError, OSError, ValueError) as exc:
            what = ("the CA bundle" if attr == "certificate" else
                    "the client certificate and key (%s=%s)" % (settings.sources["client_key"], settings.client_key))
            self.problem = "%s=%s: cannot load %s (%s); nothing is exported to %s" % (
                settings.sources[attr], getattr(settings, attr), what, getattr(exc, "reason", None) or exc,
                self._where())
            _error_once(self.problem)
            return None

    def prepare(self):
        """Load and build what exports need (in the export thread, as it starts), so the
        first batch goes out as soon as it is due. Imports are standard library and
        this package only, under the fork lock (``preload``)."""
        if self.problem or self._connection is not None:
            return
        https = self.url.startswith("https://")
        module = (_METRICS_ENCODER_MODULE if self.signal == "metrics" else _ENCODER_MODULE)[self.json]
        preload.modules(module, _TRANSPORT_MODULE, "socket", "select", "zlib", *(("ssl",) if https else ()))
        from .http_transport import Connection

        self._encoder = importlib.import_module(module)  # already loaded by preload
        if https:
            self._tls = self._tls_context()
            if self.problem:
                return
        self._connection = Connection(self.url, self.headers, self._tls)

    def after_fork(self):
        if self._connection is not None:
            self._connection.forget()  # never share (nor close) a parent's connection
        self._sleeper = None
        self._stop_by = None
        self._unreachable = None
        self._closed = False

    def stop_by(self, deadline):
        """Shutdown: no attempt or back-off sleep goes past ``deadline`` (time.monotonic())."""
        self._stop_by = deadline
        sleeper = self._sleeper
        if sleeper is not None:
            sleeper.set()

    def export(self, items, deadline):
        """Deliver ``items`` before ``deadline`` (time.monotonic()); never raises."""
        if self._connection is None:
            self.prepare()
        if self.problem:
            return Outcome(0, len(items), reasons.MISCONFIGURED, self.problem)
        encoded = self._encoder.encode(self.signal, self.resource.for_this_process(), items)
        total = Outcome(0, 0, None, "", dict(encoded.dropped) if encoded.dropped else None)
        if encoded.problem:
            self._warn_unencodable(self.signal, sum(encoded.dropped.values()),
                                   "items that could not be sent: %s" % encoded.problem)
        for body, count in encoded.bodies:
            _merge(total, self._post(self._compress(body), count, deadline))
        return total

    def _compress(self, body):
        if self.settings.compression != "gzip":
            return body
        import zlib

        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip container
        return compressor.compress(body) + compressor.flush()

    def _deadline(self, deadline):
        stop_by = self._stop_by
        return deadline if stop_by is None else min(deadline, stop_by)

    def _post(self, body, count, deadline):
        from .http_transport import TlsError, TransportError

        attempt = 0
        timeout_s = (self.settings.timeout_ms or 10000) / 1000.0
        while True:
            if self._stop_by is not None and self._unreachable:
                return self._failed(count, self._unreachable)  # down at exit: no attempt, no wait
            remaining = self._deadline(deadline) - time.monotonic()
            if remaining <= 0:
                return self._failed(count, "export timed out")
            try:
                answer = self._connection.post(body, time.monotonic() + min(timeout_s, remaining))
            except TlsError as exc:
                return self._tls_failed(count, exc.cause or exc)
            except TransportError as exc:
                status, retry_after = None, None
                if exc.connect:
                    detail = self._unreachable = "cannot reach %s (%s)" % (self.shown_url, self._scrub(str(exc)))
                    if self._stop_by is not None:
                        return self._failed(count, detail)
                else:
                    detail = "%s: %s" % (self.shown_url, self._scrub(str(exc)))
            except Exception as exc:  # anything else the transport raises is not worth a retry
                return self._rejected(count, type(exc).__name__, "sending to %s failed: %s: %s" % (
                    self.shown_url, type(exc).__name__, self._scrub(str(exc))), reasons.EXPORT_FAILED)
            else:
                self._unreachable = None
                status = answer.status
                if 200 <= status < 300:
                    return self._accepted(count, answer)
                if status in REDIRECT_STATUS:
                    return self._redirected(count, answer)
                retry_after = _retry_after(answer.headers.get("retry-after"))
                detail = "%s answered HTTP %d" % (self.shown_url, status)
                if status not in RETRYABLE_STATUS:
                    return self._rejected(count, status, detail)
            delay = retry_after if retry_after is not None else _backoff(attempt)
            if time.monotonic() + delay >= self._deadline(deadline):
                return self._failed(count, detail + "; retries exhausted within the export timeout")
            self._sleep(delay)
            attempt += 1

    def _redirected(self, count, answer):
        """Never followed: the data (and the headers, API keys included) would go to
        wherever the answer points."""
        target = self._scrub(mask_url(answer.headers.get("location", "") or "(no Location)"))
        detail = "%s answered HTTP %d, a redirect to %s; exports do not follow redirects: set the endpoint " \
                 "to the final URL" % (self.shown_url, answer.status, target)
        return self._rejected(count, answer.status, detail, reasons.REDIRECTED)

    def _tls_failed(self, count, exc):
        """A TLS failure is configuration, not weather: one error, no retry."""
        reason = self._scrub(_tls_reason(exc))
        settings = self.settings
        lower = reason.lower()
        if not settings.client_certificate and ("certificate required" in lower or "eof" in lower
                                                or "handshake failure" in lower):
            hint = "set %s and %s if the collector requires mutual TLS" % (
                settings.sources["client_certificate"], settings.sources["client_key"])
        elif settings.certificate:
            hint = "the CA bundle is %s=%s" % (settings.sources["certificate"], settings.certificate)
        else:
            hint = "the system's CA store is used; set %s to the collector's CA" % settings.sources["certificate"]
        where = self._where()
        detail = "TLS with %s failed: %s (%s)" % (where, reason, hint)
        if not self._closed:
            _error_once(detail + "; telemetry sent there is dropped", ("tls", where))
        return Outcome(0, count, reasons.EXPORT_FAILED, detail)

    def _scrub(self, text):
        """Exception texts repeat the request URL (its query) and may repeat headers:
        masked first, then cut (``redaction.secrets.mask``)."""
        return mask(text, self._secrets, _MESSAGE_LIMIT)

    def _sleep(self, delay):
        """A back-off sleep that ``stop_by()`` cuts short (the loop then re-checks the bound)."""
        if self._sleeper is None:
            import threading

            self._sleeper = threading.Event()
        self._sleeper.wait(delay)
        self._sleeper.clear()

    def _accepted(self, count, answer):
        try:
            refused, message = (0, "") if answer.truncated else self._encoder.rejected(self.signal, answer.body)
        except Exception:
            refused, message = 0, ""  # an unreadable success answer is still a success
        if refused:
            refused = min(refused, count)
            message = self._scrub(message)
            self._warn_partial(self.signal, refused, "the receiver at %s accepted a batch but rejected some "
                               "of it: %s" % (self.shown_url, message or "no reason given"))
            return Outcome(count - refused, refused, reasons.REJECTED, message)
        return Outcome(count, 0)

    def _rejected(self, count, status, detail, reason=None):
        if reason is None:
            reason = reasons.TOO_LARGE if status == 413 else reasons.REJECTED
        if status not in self._reported_status and not self._closed:
            self._reported_status.add(status)
            hint = " (check OTEL_EXPORTER_OTLP_HEADERS)" if status in (401, 403) else ""
            _log.error("%s: %s; the data is dropped, not retried%s", self.signal, detail, hint)
        return Outcome(0, count, reason, detail)

    def _failed(self, count, detail):
        if self._stop_by is not None:
            return Outcome(0, count, reasons.SHUTDOWN, detail)  # counted in the exit summary
        self._warn(self.signal, count, detail)
        return Outcome(0, count, reasons.EXPORT_FAILED, detail)

    def shutdown(self):
        self._closed = True
        if self._connection is not None:
            self._connection.close()


def _merge(total, result):
    """Add one request's outcome to the batch's (several reasons go into ``also``)."""
    total.exported += result.exported
    if not result.dropped:
        return
    if total.reason is None or total.reason == result.reason:
        total.reason = result.reason
        total.dropped += result.dropped
        total.detail = total.detail or result.detail
    else:
        also = total.also if total.also is not None else {}
        also[result.reason] = also.get(result.reason, 0) + result.dropped
        total.also = also


def _tls_reason(exc):
    """The innermost TLS reason (``ssl``'s error, or one that wraps it)."""
    import ssl

    todo, seen, found = [exc], set(), None
    while todo:
        error = todo.pop(0)
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, ssl.SSLCertVerificationError):
            return "certificate verify failed: %s" % (error.verify_message or error.reason)
        if isinstance(error, ssl.SSLError) and found is None:
            found = error
        todo.extend(error.args)
        todo.extend((error.__cause__, error.__context__, getattr(error, "reason", None)))
    if found is not None:
        text = str(found.reason or "").replace("_", " ").lower() or str(found)
        return text.split(" (_ssl.c:", 1)[0]
    return str(exc)


def _retry_after(value):
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _backoff(attempt):
    base = min(_BACKOFF_MAX_S, _BACKOFF_FIRST_S * (2 ** attempt))
    return base * random.uniform(0.5, 1.0)

"""OTLP over HTTP: encode a batch, POST it, retry what the specification says to retry.

Runs only in the export thread. The transport is ``requests`` (imported here, lazily),
one session per process; certificates, client certificates, headers and gzip come from
the signal's ``ExporterSettings``. Every attempt and the whole retry sequence stay
inside the deadline the batch processor gives: nothing here can hold the process
past it. Retryable: 429, 502, 503, 504 and connection errors, with exponential backoff
and jitter, honouring ``Retry-After``. Any other failure drops the batch, counted.
"""

import os
import random
import time

from .. import _log
from ..version import __version__
from . import outcome as reasons
from .outcome import Outcome

RETRYABLE_STATUS = frozenset((429, 502, 503, 504))
_BACKOFF_FIRST_S = 0.5
_BACKOFF_MAX_S = 8.0
_WARN_EVERY_S = 60.0


def mask_url(url):
    """The endpoint as it may appear in the agent's messages (no credentials)."""
    try:
        from ..urls import mask_secret_in_url

        return mask_secret_in_url(url)
    except Exception:
        return url.split("?", 1)[0]


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
        self.headers.update(exporter_settings.headers)
        if exporter_settings.compression == "gzip":
            self.headers["Content-Encoding"] = "gzip"
        self.problem = self._check_files()
        self._session = None
        self._warn = _RateLimitedWarning()
        self._reported_status = set()

    def _check_files(self):
        for attr in ("certificate", "client_certificate", "client_key"):
            path = getattr(self.settings, attr)
            if path and not os.access(path, os.R_OK):
                message = "%s=%s: file missing or unreadable; nothing will be exported for %s" % (
                    self.settings.sources[attr], path, self.signal)
                _log.error(message)
                return message
        if bool(self.settings.client_certificate) != bool(self.settings.client_key):
            message = "mutual TLS needs both a client certificate and a client key (%s)" % self.signal
            _log.error(message)
            return message
        return None

    def after_fork(self):
        self._session = None  # never share a parent's connection pool

    def _encode(self, items):
        if self.json:
            from . import encode_json as encoder
        else:
            from . import encode_proto as encoder
        resource = self.resource.for_this_process()
        if self.signal == "traces":
            body = encoder.encode_spans(resource, items)
        else:
            body = encoder.encode_logs(resource, items)
        if self.settings.compression == "gzip":
            import gzip

            body = gzip.compress(body, compresslevel=6)
        return body

    def _session_for_process(self):
        if self._session is None:
            import requests

            session = requests.Session()
            session.trust_env = False  # proxies from the environment never apply to telemetry
            if self.settings.certificate:
                session.verify = self.settings.certificate
            if self.settings.client_certificate:
                session.cert = (self.settings.client_certificate, self.settings.client_key)
            self._session = session
        return self._session

    def export(self, items, deadline):
        """Deliver ``items`` before ``deadline`` (time.monotonic()); never raises."""
        if self.problem:
            return Outcome(0, len(items), reasons.MISCONFIGURED, self.problem)
        body = self._encode(items)
        return self._post(body, len(items), deadline)

    def _post(self, body, count, deadline):
        import requests

        attempt = 0
        timeout_s = self.settings.timeout_ms / 1000.0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._failed(count, "export timed out")
            try:
                response = self._session_for_process().post(
                    self.url, data=body, headers=self.headers, timeout=max(0.001, min(timeout_s, remaining)))
            except requests.exceptions.SSLError as exc:
                return self._failed(count, "TLS error talking to %s: %s" % (self.shown_url, _short(exc)))
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                status, retry_after, detail = None, None, "cannot reach %s (%s)" % (self.shown_url, _short(exc))
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return self._accepted(count, response.content)
                retry_after = _retry_after(response.headers.get("Retry-After"))
                detail = "%s answered HTTP %d" % (self.shown_url, status)
                if status not in RETRYABLE_STATUS:
                    return self._rejected(count, status, detail)
            delay = retry_after if retry_after is not None else _backoff(attempt)
            if time.monotonic() + delay >= deadline:
                return self._failed(count, detail + "; retries exhausted within the export timeout")
            time.sleep(delay)
            attempt += 1

    def _accepted(self, count, body):
        try:
            if self.json:
                from .encode_json import rejected
            else:
                from .encode_proto import rejected
            refused, message = rejected(self.signal, body)
        except Exception:
            refused, message = 0, ""  # an unreadable success answer is still a success
        if refused:
            _log.warning("%s: the receiver at %s rejected %d of %d: %s", self.signal, self.shown_url,
                         refused, count, message or "no reason given")
            return Outcome(count - refused, refused, reasons.REJECTED, message)
        return Outcome(count, 0)

    def _rejected(self, count, status, detail):
        if status not in self._reported_status:
            self._reported_status.add(status)
            hint = " (check OTEL_EXPORTER_OTLP_HEADERS)" if status in (401, 403) else ""
            _log.error("%s: %s; the data is dropped, not retried%s", self.signal, detail, hint)
        return Outcome(0, count, reasons.REJECTED, detail)

    def _failed(self, count, detail):
        self._warn(self.signal, count, detail)
        return Outcome(0, count, reasons.EXPORT_FAILED, detail)

    def shutdown(self):
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception:
                pass


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


def _short(exc):
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "..."

"""The live check behind ``otel-run --info``: POST an empty export to each OTLP endpoint
and say what happened in words an operator can act on.

The request is what the exporter would send, through the exporter's own transport
(``export.http_transport``: same URL, protocol, headers, compression, CA bundle and
client certificate), with an empty body and a short timeout; nothing is retried and
redirects are not followed. Empty OTLP requests are valid: a receiver answers 200 and
stores nothing.
"""

GRPC_PORT = 4317


def host_port(url):
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "", None


def _causes(exc):
    """The exception and everything it wraps."""
    seen, todo, out = set(), [exc], []
    while todo and len(out) < 20:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        out.append(item)
        todo += [getattr(item, "cause", None), item.__cause__, item.__context__, getattr(item, "reason", None)]
        todo += list(getattr(item, "args", ()))
    return out


def _first(causes, kind):
    return next((e for e in causes if isinstance(e, kind)), None)


def check_endpoint(signal, exporter, timeout_s=3.0):
    """POST an empty export of the configured protocol; what happened and what it means."""
    import gzip
    import socket
    import ssl
    import time

    from ..export.endpoint import endpoint_problem
    from ..export.http_transport import Connection, TlsError, TransportError
    from ..redaction.secrets import mask, mask_url, secret_strings
    from ..version import __version__

    url = exporter.endpoint
    host, port = host_port(url)
    where = "%s:%s" % (host, port)
    result = {"signal": signal, "endpoint": mask_url(url), "protocol": exporter.protocol,
              "reachable": False, "tls": None, "http_status": None, "ok": False, "diagnosis": ""}
    problem = endpoint_problem(url)  # its messages never quote the URL
    if problem:
        result["diagnosis"] = "%s: %s; the agent exports nothing there" % (
            exporter.sources.get("endpoint", "the endpoint"), problem)
        return result
    https = url.startswith("https://")
    body = b"{}" if exporter.protocol == "http/json" else b""
    headers = {"Content-Type": "application/json" if exporter.protocol == "http/json"
               else "application/x-protobuf", "User-Agent": "otel-autoinstrument/" + __version__}
    headers.update(exporter.headers)
    if exporter.compression == "gzip":
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    bundle = exporter.certificate or None
    context = None
    if https:
        try:
            context = ssl.create_default_context(cafile=bundle)
            if exporter.client_certificate and exporter.client_key:
                context.load_cert_chain(exporter.client_certificate, exporter.client_key, password=lambda: b"")
        except (ssl.SSLError, OSError, ValueError) as exc:
            result["diagnosis"] = "cannot load the TLS files (%s): %s" % (
                ", ".join(filter(None, (bundle, exporter.client_certificate, exporter.client_key))), exc)
            return result
    timeout = min(timeout_s, exporter.timeout_ms / 1000.0 or timeout_s)
    connection = Connection(url, headers, context)
    try:
        answer = connection.post(body, time.monotonic() + timeout)
    except TlsError as exc:
        result["reachable"], result["tls"] = True, "failed"
        result["diagnosis"] = mask(_tls_diagnosis(_causes(exc), where, bundle, exporter, ssl),
                                   secret_strings((url,), exporter.headers), 500)
        return result
    except TransportError as exc:
        causes = _causes(exc)
        if exc.connect and exc.timeout:
            result["diagnosis"] = ("no answer from %s within %.0f s: a firewall dropping the packets, or a "
                                   "wrong address" % (where, timeout))
        elif exc.timeout:
            result["reachable"] = True
            result["tls"] = "ok" if https else None
            result["diagnosis"] = ("%s accepted the connection but sent no HTTP answer within %.0f s: a hung "
                                   "collector, or not an OTLP/HTTP port%s" % (where, timeout, _grpc_hint(port)))
        elif _first(causes, ConnectionRefusedError) is not None:
            result["diagnosis"] = ("connection refused: nothing listens on %s. Is the collector running? "
                                   "Is 4317 (OTLP/gRPC) used instead of 4318 (OTLP/HTTP)?" % where)
        elif _first(causes, socket.gaierror) is not None:
            result["diagnosis"] = "cannot resolve the host name %r (DNS)" % host
        elif exc.connect:
            result["diagnosis"] = "cannot connect to %s: %s" % (where, exc)
        else:
            result["reachable"] = True
            result["diagnosis"] = ("%s closed the connection without an HTTP answer (%s): not an "
                                   "OTLP/HTTP port?%s%s" % (where, exc, _grpc_hint(port),
                                                            "" if https else " Or a TLS port: use https://"))
        return result
    finally:
        connection.close()
    status = answer.status
    result.update(reachable=True, http_status=status, tls="ok" if https else None)
    result["ok"], result["diagnosis"] = _status_diagnosis(status, answer, signal, exporter)
    return result


def _grpc_hint(port):
    return " (4317 is the OTLP/gRPC port; this agent speaks OTLP/HTTP, usually 4318)" if port == GRPC_PORT else ""


def _tls_diagnosis(causes, where, bundle, exporter, ssl):
    source = exporter.sources.get("certificate", "OTEL_EXPORTER_OTLP_CERTIFICATE")
    if bundle:
        trusted = "the CA bundle %s=%s" % (source, bundle)
    else:
        trusted = "the system's CA store"
    verify = _first(causes, ssl.SSLCertVerificationError)
    if verify is not None:
        reason = getattr(verify, "verify_message", "") or str(verify)
        if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
            return ("TLS failed: the certificate of %s is not valid for that name (%s); connect by a "
                    "name the certificate lists" % (where, reason))
        if "expired" in reason.lower():
            return "TLS failed: the certificate of %s has expired (%s)" % (where, reason)
        return ("TLS certificate verification failed (%s): the certificate of %s is not signed by a CA "
                "in %s. Set %s to the PEM file of the CA that signed the collector's certificate"
                % (reason, where, trusted, source))
    text = " ".join(str(c) for c in causes[-1:])
    if "wrong version number" in text.lower() or "record layer" in text.lower():
        return "TLS failed: %s does not speak TLS; use http:// instead of https://" % where
    return "TLS failed talking to %s: %s" % (where, text)


def _status_diagnosis(status, answer, signal, exporter):
    endpoint_var = exporter.sources.get("endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT")
    if 200 <= status < 300:
        return True, "reachable; an empty export was accepted (HTTP %d)" % status
    if status in (301, 302, 303, 307, 308):
        target = answer.headers.get("location", "?")
        from ..redaction.secrets import mask_url

        return False, ("HTTP %d: the endpoint redirects to %s; exports do not follow redirects, set the "
                       "final URL" % (status, mask_url(target)))
    if status == 404:
        if endpoint_var.endswith(("_TRACES_ENDPOINT", "_LOGS_ENDPOINT")):
            fix = "%s is used as is: it must be the full URL, ending in /v1/%s" % (endpoint_var, signal)
        else:
            fix = ("OTEL_EXPORTER_OTLP_ENDPOINT gets /v1/%s appended: give the collector's base URL "
                   "(e.g. http://collector:4318) without a path" % signal)
        return False, "HTTP 404: wrong path, nothing receives OTLP there. %s" % fix
    if status in (401, 403):
        return False, ("HTTP %d: the endpoint refuses us; check the credentials in "
                       "OTEL_EXPORTER_OTLP_HEADERS (or _%s_HEADERS)" % (status, signal.upper()))
    if status == 415:
        return False, ("HTTP 415: the endpoint does not take %s; try the other "
                       "OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf or http/json)" % exporter.protocol)
    if status == 405:
        return False, "HTTP 405: the endpoint does not take POST; is this an OTLP/HTTP receiver?"
    if status in (429, 502, 503, 504):
        return False, "HTTP %d: the endpoint is overloaded or unavailable now; the agent retries these" % status
    return False, "HTTP %d to an empty export: an answer, but not an OTLP/HTTP success" % status


def check_endpoints(settings, timeout_s=3.0):
    """One check per signal exported with otlp, run side by side."""
    import threading

    from .. import config

    signals = [s for s in config.SIGNALS if "otlp" in getattr(settings, s + "_exporter")]
    results = {}

    def run(signal):
        try:
            results[signal] = check_endpoint(signal, settings.exporter(signal), timeout_s)
        except Exception as exc:  # a diagnostic tool reports, it does not crash
            # The exception's type only: its text may quote the URL (credentials included).
            results[signal] = {"signal": signal, "endpoint": "", "reachable": None, "tls": None,
                               "http_status": None, "ok": False, "diagnosis": "check failed: %s" % type(exc).__name__}

    threads = [threading.Thread(target=run, args=(s,), daemon=True) for s in signals]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_s * 2 + 5)
    return [results[s] for s in signals if s in results]

"""``otel-run --info [--json] [-- COMMAND]``: what the agent would do, and why not.

Prints the versions, the effective configuration with the source of each value
(secrets masked), the resource, every discovered instrumentor with its status, the
exporters and a live check of each OTLP endpoint, then warnings for known traps. With
a COMMAND, it describes that command's environment (its Python included). Instrumentor
statuses are worked out from installed metadata and import specs: no instrumented
library is imported. Always exits 0.
"""

import json
import sys

from .. import _log, config
from ..version import __version__

# Shown in the text view even when they are at their default.
KEY_VARIABLES = (
    "OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER", "OTEL_LOGS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_TRACES_SAMPLER", "OTEL_PROPAGATORS",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "OTEL_SDK_DISABLED", "OTEL_LOG_LEVEL",
)

STATUS_TEXT = {
    "will_patch": "will patch on import of",
    "not_installed": "library not installed",
    "unsupported_version": "version not supported",
    "disabled": "disabled by configuration",
    "failed": "failed to load",
    "skipped": "skipped",
    "unsupported": "version not supported",
}


# --- collecting (runs in the Python that will run the command) ----------------------

def _load_settings(env, cli_variables):
    """config.load without the warnings going to stderr (they are part of the report)."""
    saved = _log._level
    _log.set_level(100)
    try:
        return config.load(env, cli_variables)
    finally:
        _log.set_level(saved)


def _show(var, value):
    """A value as text, secrets masked: header values entirely, credentials in URLs."""
    if value is None:
        return ""
    if isinstance(value, dict):
        if var.secret or var.name.endswith("_HEADERS"):
            from ..redaction.secrets import shown_header_name

            return ",".join("%s=***" % shown_header_name(k) for k in value)
        return ",".join("%s=%s" % (k, v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if var.secret and isinstance(value, str):
        from ..redaction.secrets import mask_url

        return mask_url(value)
    return str(value)


def _configuration(settings):
    rows = []
    for var in config.VARIABLES:
        value = getattr(settings, config.attribute_name(var.name))
        rows.append({"name": var.name, "value": _show(var, value),
                     "source": settings.sources.get(var.name, "default")})
    return rows


def _exporters(settings):
    from ..redaction.secrets import mask_url, shown_header_name

    out = {}
    for signal in config.SIGNALS:
        names = getattr(settings, signal + "_exporter")
        entry = {"exporters": list(names)}
        if "otlp" in names:
            e = settings.exporter(signal)
            entry["otlp"] = {
                "endpoint": mask_url(e.endpoint), "protocol": e.protocol,
                "headers": {shown_header_name(k): "***" for k in e.headers}, "timeout_ms": e.timeout_ms,
                "compression": e.compression, "certificate": e.certificate,
                "client_certificate": e.client_certificate, "client_key": e.client_key,
                "sources": dict(e.sources),
            }
        out[signal] = entry
    return out


def _resource(settings):
    from ..resource import from_settings

    attributes = dict(from_settings(settings).attributes)
    attributes.pop("process.pid", None)  # the command's own pid, not ours
    attributes.pop("service.instance.id", None)  # made anew in every process
    return attributes


def _module_found(name):
    """Is the top-level module importable here? Finding a top-level spec imports nothing."""
    import importlib.util

    top = name.split(".", 1)[0]
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def instrumentor_statuses(settings, paths=None):
    """One row per discovered instrumentor, with the status it would get in the command."""
    from ..agent.discovery import Installed
    from ..instrumentation.requirements import parse_requirement
    from ..instrumentation.versions import satisfies

    installed = Installed(paths)
    disabled = set(settings.python_disabled_instrumentations)
    rows = []
    for entry_point in installed.entry_points:
        row = {"name": entry_point.name, "entry_point": entry_point.value,
               "distribution": entry_point.distribution, "requires": [], "modules": [],
               "installed": {}, "status": "", "detail": ""}
        rows.append(row)
        if "*" in disabled or entry_point.name.lower() in disabled:
            row["status"], row["detail"] = "disabled", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
            continue
        try:
            instrumentor = entry_point.load()()
            row["requires"], row["modules"] = list(instrumentor.requires), list(instrumentor.modules)
        except Exception as exc:
            row["status"], row["detail"] = "failed", "%s: %s: %s" % (entry_point.value, type(exc).__name__, exc)
            continue
        problems, missing, supported = [], [], []
        for requirement in row["requires"]:
            try:
                parsed = parse_requirement(requirement)
                applies = parsed.applies()
            except ValueError as exc:
                problems.append("cannot check %r: %s" % (requirement, exc))
                continue
            if not applies:
                continue
            dist, specifier = parsed.name, parsed.specifier
            version = installed.version(dist)
            row["installed"][dist] = version
            if version is None:
                missing.append(dist)
            elif specifier and not satisfies(version, specifier):
                problems.append("%s %s is installed; %s supports %s %s" % (
                    dist, version, row["name"], dist, specifier))
            else:
                supported.append("%s %s installed%s" % (dist, version, ", supported " + specifier if specifier else ""))
        found = [m for m in row["modules"] if _module_found(m)]
        if problems:
            row["status"], row["detail"] = "unsupported_version", "; ".join(problems)
        elif not found and (missing or not row["requires"]):
            row["status"] = "not_installed"
            row["detail"] = "%s not found" % ", ".join(missing or row["modules"])
        else:
            row["status"] = "will_patch"
            row["detail"] = "%s%s" % (", ".join(row["modules"]), " (%s)" % ", ".join(supported) if supported else "")
    return sorted(rows, key=lambda r: r["name"])


def opentelemetry_api(settings, instrumentor_rows, paths=None):
    """The OpenTelemetry API in this environment: the bridge, and every contrib instrumentor."""
    from ..agent.apibridge import API_DISTRIBUTION, API_SUPPORTED, api_state, planned_contrib
    from ..agent.discovery import Installed

    installed = Installed(paths)
    api = api_state(installed)
    ours = [(r["name"], r["requires"], r["modules"]) for r in instrumentor_rows if r["status"] not in (
        "disabled", "failed")]
    contrib = [s.as_dict() for s in planned_contrib(installed, set(settings.python_disabled_instrumentations),
                                                    ours, api)]
    for row in contrib:
        if row["status"] == "waiting":
            row["status"] = "will_load"
            row["detail"] = ", ".join(row["modules"]) + (" (instruments %s)" % ", ".join(row["instruments"])
                                                        if row["instruments"] else "")
    status = {"waiting": "bridge"}.get(api.status, api.status)
    if status == "bridge":
        detail = ("served by the agent when the application imports it: tracer provider, runtime context "
                  "(one context with the agent's spans and baggage), propagators (OTEL_PROPAGATORS), logs; "
                  "a tracer provider or span processors the application sets up itself are not used")
    else:
        detail = api.detail or "not installed: nothing to serve"
    return {"distribution": API_DISTRIBUTION, "version": api.version, "supported": API_SUPPORTED,
            "status": status, "detail": detail, "contrib": contrib}


def collect(env, cli_variables=None):
    """Everything about this Python's view of the command's environment (JSON-able)."""
    from .diagnose import sitecustomize_traps

    settings = _load_settings(env, cli_variables)
    instrumentors = instrumentor_statuses(settings)
    return {
        "python": {"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3],
                   "prefix": sys.prefix},
        "agent_version": __version__,
        "configuration": _configuration(settings),
        "exporters": _exporters(settings),
        "resource": _resource(settings),
        "instrumentors": instrumentors,
        "opentelemetry_api": opentelemetry_api(settings, instrumentors),
        "sitecustomize": sitecustomize_traps(sys.path),
    }


def collect_in_other_python(python, env, cli_variables):
    """``collect`` run by another interpreter that has the agent; None if that fails."""
    from .diagnose import SITE_SETUP, run_in_python

    code = SITE_SETUP + (
        "\nimport json\nfrom otel_autoinstrument.cli.info import collect\n"
        "args = json.loads(sys.stdin.read())\n"
        "print(json.dumps(collect(args['env'], set(args['cli']))))\n")
    out = run_in_python(python, code, env, json.dumps({"env": env, "cli": sorted(cli_variables or ())}))
    try:
        return json.loads(out.strip().splitlines()[-1]) if out else None
    except (ValueError, IndexError):
        return None


# --- the report ------------------------------------------------------------------------

def _secrets(env):
    """Strings that must never be printed: header values, URL credentials and query values."""
    from ..config import parse_pairs
    from ..redaction.secrets import secret_strings

    urls, headers = [], {}
    for key, text in env.items():
        if not key.startswith("OTEL_EXPORTER_OTLP"):
            continue
        if key.endswith("_HEADERS"):
            for index, item in enumerate(text.split(",")):
                headers[index, key] = item.partition("=")[2].strip()
                try:
                    headers.update(((index, key, name), value) for name, value in parse_pairs(item).items())
                except ValueError:
                    pass
        elif key.endswith("_ENDPOINT"):
            urls.append(text)
    return secret_strings(urls, headers, min_length=4)


def _scrub(node, secrets):
    from ..redaction.secrets import mask

    if isinstance(node, str):
        return mask(node, secrets)
    if isinstance(node, dict):  # keys are the report's own names: a user name "agent" stays a key
        return {k: _scrub(v, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_scrub(v, secrets) for v in node]
    return node


def build_report(env, command, cli_variables=None, check_timeout_s=3.0):
    from . import diagnose
    from .endpoint_check import check_endpoints

    cmd = diagnose.resolve_command(command, env)
    warnings = diagnose.command_traps(cmd, env)
    data = None
    if (cmd.argv and cmd.probe is not None and not diagnose.same_python(cmd.probe)
            and cmd.probe.get("agent_version")):
        data = collect_in_other_python(cmd.python, env, cli_variables)
    if data is None:
        data = collect(env, cli_variables)
    settings = _load_settings(env, cli_variables)
    warnings += data.pop("sitecustomize")
    warnings += diagnose.settings_traps(settings, env)
    report = {
        "agent": {"version": __version__, "python": "%d.%d.%d" % sys.version_info[:3],
                  "executable": sys.executable, "prefix": sys.prefix},
        "command": cmd.as_dict(),
        "inspected_python": data["python"],
        "configuration": data["configuration"],
        "exporters": data["exporters"],
        "resource": data["resource"],
        "instrumentors": data["instrumentors"],
        "opentelemetry_api": data.get("opentelemetry_api"),
        "endpoint_checks": check_endpoints(settings, check_timeout_s),
        "warnings": warnings,
    }
    return _scrub(report, _secrets(env))


def _section(lines, title):
    lines += ["", title]


def render_text(report):
    lines = []
    agent = report["agent"]
    lines.append("otel-autoinstrument %s  (Python %s, %s)" % (agent["version"], agent["python"],
                                                             agent["executable"]))
    cmd = report["command"]
    inspected = report["inspected_python"]
    if cmd["argv"]:
        lines.append("command: %s" % " ".join(cmd["argv"]))
        where = cmd["executable"] or "not found"
        lines.append("  runs %s (%s)" % (where, cmd["kind"]))
    if cmd["python_info"]:
        info = cmd["python_info"]
        lines.append("  Python %s at %s (prefix %s)" % (info["version"], cmd["python"], info["prefix"]))
    lines.append("inspected with Python %s (prefix %s)" % (inspected["version"], inspected["prefix"]))

    _section(lines, "Configuration (set, and the main defaults):")
    rows = [r for r in report["configuration"] if r["source"] != "default" or r["name"] in KEY_VARIABLES]
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        lines.append("  %s  %-32s  [%s]" % (r["name"].ljust(width), r["value"] or '""', r["source"]))

    _section(lines, "Exporters:")
    for signal, entry in report["exporters"].items():
        lines.append("  %-6s  %s" % (signal, ", ".join(entry["exporters"])))
        otlp = entry.get("otlp")
        if otlp:
            extra = ["timeout %d ms" % otlp["timeout_ms"]]
            if otlp["headers"]:
                extra.append("headers " + ",".join("%s=***" % k for k in otlp["headers"]))
            if otlp["compression"] != "none":
                extra.append(otlp["compression"])
            if otlp["certificate"]:
                extra.append("CA " + otlp["certificate"])
            lines.append("          otlp %s  %s  %s" % (otlp["endpoint"], otlp["protocol"], ", ".join(extra)))

    _section(lines, "Resource:")
    for key in sorted(report["resource"]):
        lines.append("  %s = %s" % (key, report["resource"][key]))

    _section(lines, "Instrumentors:")
    if not report["instrumentors"]:
        lines.append("  none found (entry point group otel_autoinstrument.instrumentors)")
    width = max([len(r["name"]) for r in report["instrumentors"]] + [4])
    for r in report["instrumentors"]:
        status = STATUS_TEXT.get(r["status"], r["status"])
        lines.append("  %s  %s%s %s" % (r["name"].ljust(width), status, "" if r["status"] == "will_patch" else ":",
                                        r["detail"]))

    _render_api(lines, report.get("opentelemetry_api"))

    _section(lines, "Endpoint checks:")
    if not report["endpoint_checks"]:
        lines.append("  none (no signal is exported with otlp)")
    for c in report["endpoint_checks"]:
        facts = ["reachable" if c["reachable"] else "not reachable"]
        if c["tls"]:
            facts.append("TLS " + c["tls"])
        if c["http_status"] is not None:
            facts.append("HTTP %d" % c["http_status"])
        lines.append("  %-6s  %s  %s  [%s]" % (c["signal"], "OK  " if c["ok"] else "FAIL", c["endpoint"],
                                                ", ".join(facts)))
        lines.append("          %s" % c["diagnosis"])

    _section(lines, "Warnings:")
    if not report["warnings"]:
        lines.append("  none")
    for w in report["warnings"]:
        lines.append("  %s %s" % ("WARNING:" if w["level"] == "warning" else "note:", w["message"]))
    return "\n".join(lines)


def _render_api(lines, api):
    _section(lines, "OpenTelemetry API:")
    if not api:
        lines.append("  not inspected")
        return
    if api["version"]:
        lines.append("  %s %s installed (supported: %s); bridge: %s" % (
            api["distribution"], api["version"], api["supported"],
            "active on import" if api["status"] == "bridge" else api["status"]))
    lines.append("  " + api["detail"])
    if not api["contrib"]:
        lines.append("  contrib instrumentors: none found (entry point group opentelemetry_instrumentor)")
        return
    lines.append("  contrib instrumentors:")
    width = max(len(row["name"]) for row in api["contrib"])
    for row in api["contrib"]:
        status = STATUS_TEXT.get(row["status"]) if row["status"] != "will_load" else "will load on import of"
        status = status or row["status"]
        lines.append("    %s  %s%s %s" % (row["name"].ljust(width), status, "" if row["status"] == "will_load" else ":",
                                          row["detail"]))


def run_info(env, command, as_json=False, cli_variables=None, stream=None):
    stream = stream or sys.stdout
    try:
        report = build_report(env, command, cli_variables)
    except Exception as exc:  # the report is a diagnostic: say what broke, do not trace back
        message = _scrub("%s: %s" % (type(exc).__name__, exc), _secrets(env))
        stream.write("otel-run --info: could not complete the report: %s\n" % message)
        if _log.STRICT:
            raise
        return 0
    if as_json:
        stream.write(json.dumps(report, indent=2, sort_keys=False) + "\n")
    else:
        stream.write(render_text(report) + "\n")
    stream.flush()
    return 0

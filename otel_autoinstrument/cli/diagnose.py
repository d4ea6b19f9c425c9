"""Checks behind ``otel-run --info``: which Python a command runs, and known traps.

Nothing here imports an instrumented library or starts the agent. The command's Python
is asked about itself in a subprocess started with ``-S`` (the site set-up is then done
by hand, without running any ``sitecustomize``), so the answer is that interpreter's
own ``sys.prefix`` and ``sys.path``, not a guess from file names.
"""

import json
import os
import re
import subprocess
import sys

from .endpoint_check import GRPC_PORT, host_port
from .command import bootstrap_dir, find_command

_PYTHON_NAME = re.compile(r"^python[0-9.]*[a-z]?(\.exe)?$")

# Run by the command's Python with -S: the usual site set-up without sitecustomize,
# then a JSON line about this interpreter. Must stay valid on old Pythons too.
SITE_SETUP = r"""
import sys
if sys.path and sys.path[0] == "":
    del sys.path[0]  # -c puts the current folder first; the command's Python would not
try:
    import site
    known = site.removeduppaths()
    if hasattr(site, "venv"):
        known = site.venv(known)
    if site.ENABLE_USER_SITE is None:
        site.ENABLE_USER_SITE = site.check_enableusersite()
    known = site.addusersitepackages(known)
    site.addsitepackages(known)
except Exception:
    pass
"""

PROBE = SITE_SETUP + r"""
import json, os
out = {"executable": sys.executable, "prefix": sys.prefix,
       "version": "%d.%d.%d" % tuple(sys.version_info[:3]), "path": sys.path,
       "agent_version": None, "agent_location": None}
try:
    import otel_autoinstrument.version as v
    out["agent_version"] = v.__version__
    out["agent_location"] = os.path.dirname(os.path.dirname(os.path.abspath(v.__file__)))
except Exception:
    pass
print(json.dumps(out))
"""


def without_bootstrap(env):
    """``env`` with the agent's bootstrap folder taken off PYTHONPATH."""
    here = bootstrap_dir()
    env = dict(env)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != here]
    if parts:
        env["PYTHONPATH"] = os.pathsep.join(parts)
    else:
        env.pop("PYTHONPATH", None)
    return env


def run_in_python(python, code, env, stdin_text="", timeout=20):
    """Run ``code`` with ``python -S`` in ``env`` (bootstrap removed); its stdout or None."""
    try:
        proc = subprocess.run([python, "-S", "-c", code], env=without_bootstrap(env), input=stdin_text,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              universal_newlines=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def probe_python(python, env):
    out = run_in_python(python, PROBE, env, timeout=10)
    if out is None:
        return None
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


# --- the command ------------------------------------------------------------------

class Command:
    """What ``otel-run`` would start: the program, its kind, and the Python behind it."""

    def __init__(self):
        self.argv = []
        self.executable = None
        self.kind = "none"  # none / not found / python / script / uwsgi / other
        self.python = None  # the interpreter path, when known
        self.python_flags = []
        self.probe = None

    def as_dict(self):
        return {"argv": self.argv, "executable": self.executable, "kind": self.kind,
                "python": self.python, "python_flags": self.python_flags,
                "python_info": {k: v for k, v in (self.probe or {}).items() if k != "path"} or None}


def _shebang(path):
    try:
        with open(path, "rb") as fh:
            first = fh.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    return first[2:].decode("utf-8", "replace").split()


def _interpreter_flags(args):
    """Single-letter options given to the interpreter before the script, -m or -c."""
    flags = []
    for arg in args:
        if not arg.startswith("-") or arg == "-" or arg.startswith("--"):
            break
        flags += ["-" + ch for ch in arg[1:]]
        if arg[-1] in "mcWXQ":
            break
    return flags


def resolve_command(command, env):
    cmd = Command()
    path = env.get("PATH", os.defpath)
    if not command:
        # No command: what `python` on the PATH would be, the usual first word.
        cmd.python = find_command("python", path) or find_command("python3", path)
    else:
        cmd.argv = list(command)
        cmd.executable = find_command(command[0], path)
        name = os.path.basename(command[0])
        if cmd.executable is None:
            cmd.kind = "not found"
        elif _PYTHON_NAME.match(name):
            cmd.kind, cmd.python = "python", cmd.executable
            cmd.python_flags = _interpreter_flags(command[1:])
        elif name.startswith("uwsgi"):
            cmd.kind = "uwsgi"
        else:
            words = _shebang(cmd.executable)
            if words:
                if os.path.basename(words[0]) == "env":
                    words = [w for w in words[1:] if not w.startswith("-")]
                    interpreter = find_command(words[0], path) if words else None
                else:
                    interpreter = words[0]
                if interpreter and _PYTHON_NAME.match(os.path.basename(interpreter)):
                    cmd.kind, cmd.python = "script", interpreter
                    cmd.python_flags = _interpreter_flags(words[1:])
            if cmd.kind == "none":
                cmd.kind = "other"
    if cmd.python:
        cmd.probe = probe_python(cmd.python, env)
    return cmd


def same_python(probe):
    return (probe is not None and os.path.realpath(probe["prefix"]) == os.path.realpath(sys.prefix)
            and probe["version"] == "%d.%d.%d" % sys.version_info[:3])


# --- traps ---------------------------------------------------------------------------

def _warning(code, message):
    return {"level": "warning", "code": code, "message": message}


def _note(code, message):
    return {"level": "note", "code": code, "message": message}


def command_traps(cmd, env):
    found = []
    ours = "%s (Python %d.%d.%d, %s)" % ((sys.executable,) + tuple(sys.version_info[:3]) + (sys.prefix,))
    if cmd.kind == "not found":
        found.append(_warning("command-not-found", "%s: command not found on the PATH the command "
                              "gets; otel-run would exit with status 127" % cmd.argv[0]))
    if cmd.python and cmd.probe is None:
        found.append(_warning("python-unknown", "could not run %s to ask which Python it is" % cmd.python))
    elif cmd.probe is not None and not same_python(cmd.probe):
        probe = cmd.probe
        who = "the command" if cmd.argv else "`python` on the PATH"
        theirs = "%s (Python %s, %s)" % (cmd.python, probe["version"], probe["prefix"])
        if tuple(int(x) for x in probe["version"].split(".")[:2]) < (3, 9):
            found.append(_warning("python-too-old", "%s runs %s; the agent needs Python 3.9 or newer: "
                                  "it will run uninstrumented" % (who, theirs)))
        elif probe.get("agent_version") is None:
            found.append(_warning("python-mismatch", "%s runs %s, not the Python the agent is installed "
                                  "in, %s: the agent cannot load there and it will run uninstrumented. "
                                  "Install otel-autoinstrument in that environment, or use the Python "
                                  "and scripts in %s" % (who, theirs, ours, os.path.dirname(sys.executable))))
        else:
            found.append(_note("python-other", "%s runs %s, which has its own otel-autoinstrument %s "
                               "(at %s); the information below comes from that Python" % (
                                   who, theirs, probe["agent_version"], probe["agent_location"])))
    bad = [f for f in cmd.python_flags if f in ("-I", "-E", "-S")]
    if bad:
        found.append(_warning("python-flags", "the command's Python runs with %s: -I and -E ignore "
                              "PYTHONPATH and -S skips sitecustomize, so the agent does not load. "
                              "Drop the option (in the command or the script's #! line)" % " ".join(bad)))
    if cmd.argv and os.path.basename(cmd.argv[0]).startswith("uwsgi"):
        found += uwsgi_traps(cmd.argv, env)
    elif cmd.kind == "other":
        found.append(_note("not-python", "%s is not a Python interpreter nor a Python script "
                           "(#! line); the agent loads in every Python process it starts that "
                           "inherits PYTHONPATH and has the agent installed" % cmd.argv[0]))
    return found


def _uwsgi_options(argv, env):
    """The uWSGI option names set on the command line, in --ini files, or as UWSGI_* variables."""
    names = set()
    short = {"-T": "enable-threads", "-H": "home", "-p": "processes", "-M": "master"}
    ini_files = []
    args = argv[1:]
    for i, arg in enumerate(args):
        if arg in short:
            names.add(short[arg])
        elif arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            names.add(name)
            if name == "ini":
                ini_files.append(value or (args[i + 1] if i + 1 < len(args) else ""))
        elif arg.endswith(".ini") and i == 0:
            ini_files.append(arg)
    for path in ini_files:
        try:
            with open(path.split(":", 1)[0], encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    key = line.split("=", 1)[0].strip()
                    if key and not key.startswith(("#", ";", "[")):
                        names.add(key.replace("_", "-"))
        except OSError:
            pass
    for key in env:
        if key.startswith("UWSGI_"):
            names.add(key[6:].lower().replace("_", "-"))
    return names


def uwsgi_traps(argv, env):
    options = _uwsgi_options(argv, env)
    found = []
    if not options & {"enable-threads", "threads"}:
        found.append(_warning("uwsgi-threads", "uWSGI without --enable-threads: Python threads never "
                              "run, so the agent's export thread cannot send anything. Add "
                              "--enable-threads (--lazy-apps is not needed: the agent notices forked "
                              "workers by their pid; --py-call-osafterfork is optional)"))
    if "no-site" in options:
        found.append(_warning("uwsgi-no-site", "uWSGI with --no-site skips sitecustomize, so the agent "
                              "does not load; drop --no-site"))
    return found


def sitecustomize_traps(path):
    """A ``sitecustomize`` of the application's on ``path``: the bootstrap chains it."""
    from importlib.machinery import PathFinder

    here = os.path.abspath(bootstrap_dir())
    paths = [p for p in path if os.path.abspath(p or ".") != here]
    try:
        spec = PathFinder.find_spec("sitecustomize", paths)
    except Exception:
        spec = None
    if spec is None or not spec.origin:
        return []
    return [_note("sitecustomize", "the environment's own sitecustomize (%s) is shadowed by the "
                  "agent's and chained: it still runs, right after the agent starts" % spec.origin)]


def settings_traps(settings, environ):
    from .. import config

    found = [_warning("config", message) for message in settings.warnings]
    if settings.sdk_disabled:
        found.append(_warning("sdk-disabled", "OTEL_SDK_DISABLED=true: the agent is off"))
    if settings.traces_exporter == settings.logs_exporter == settings.metrics_exporter == ["none"]:
        found.append(_warning("no-exporter", "no exporter enabled (OTEL_TRACES_EXPORTER, OTEL_LOGS_EXPORTER "
                              "and OTEL_METRICS_EXPORTER are none): no telemetry leaves the process"))
    grpc = [signal for signal in config.SIGNALS if "otlp" in getattr(settings, signal + "_exporter")
            and host_port(settings.exporter(signal).endpoint)[1] == GRPC_PORT]
    if grpc:
        found.append(_warning("grpc-port", "the %s endpoint uses port 4317, the OTLP/gRPC port; this "
                              "agent speaks OTLP/HTTP, usually on port 4318" % " and ".join(grpc)))
    known = {var.name for var in config.VARIABLES} | {config.CLI_MARKER}
    unknown = sorted(k for k in environ if k.startswith("OTEL_") and k not in known)
    if unknown:
        found.append(_note("unknown-variables", "not read by the agent itself (a typo? a plugin may "
                           "read its own): %s" % ", ".join(unknown)))
    return found

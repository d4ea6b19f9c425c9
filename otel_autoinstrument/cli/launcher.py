"""``otel-run``: set the environment and exec the command with the agent's bootstrap
first on PYTHONPATH, so every Python process the command starts loads the agent.

The command replaces this process (same PID; signals and the exit status reach it
unchanged). Parsing stops at the first argument that is not an option of ours, so
the command's own options are never touched; ``--`` ends our options explicitly.
Parsing is done by hand rather than with argparse because argparse costs several
milliseconds of start-up on every run and cannot stop cleanly at the command.
"""

import os
import sys

from ..version import __version__
from .command import CLI_MARKER, bootstrap_dir, child_environment, find_command  # noqa: F401

# option -> (variable, metavar, help)
OPTIONS = {
    "--service-name": ("OTEL_SERVICE_NAME", "NAME", "service.name of all telemetry"),
    "--traces-exporter": ("OTEL_TRACES_EXPORTER", "LIST", "otlp, console or none"),
    "--logs-exporter": ("OTEL_LOGS_EXPORTER", "LIST", "otlp, console or none"),
    "--metrics-exporter": ("OTEL_METRICS_EXPORTER", "LIST", "otlp, prometheus, console or none"),
    "--endpoint": ("OTEL_EXPORTER_OTLP_ENDPOINT", "URL", "OTLP/HTTP endpoint, e.g. http://collector:4318"),
    "--protocol": ("OTEL_EXPORTER_OTLP_PROTOCOL", "PROTOCOL", "http/protobuf or http/json"),
    "--sampler": ("OTEL_TRACES_SAMPLER", "NAME", "always_on, always_off, traceidratio, parentbased_*"),
    "--sampler-arg": ("OTEL_TRACES_SAMPLER_ARG", "VALUE", "ratio for the traceidratio samplers"),
    "--propagators": ("OTEL_PROPAGATORS", "LIST", "tracecontext, baggage, b3, b3multi, none"),
    "--disabled-instrumentations": ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "LIST",
                                    "instrumentors to leave off, by name (* for all)"),
}


USAGE = "usage: otel-run [options] [--] COMMAND [ARGS...]"


class UsageError(Exception):
    pass


def help_text():
    lines = [USAGE, "",
             "Run COMMAND with OpenTelemetry auto-instrumentation: every Python process it",
             "starts loads the agent. Each option sets the variable it names.", "", "options:"]
    for option, (var, metavar, text) in OPTIONS.items():
        lines.append("  %-38s %s (%s)" % ("%s %s" % (option, metavar), text, var))
    lines += [
        "  %-38s %s" % ("--info [--json] [-- COMMAND]", "show the configuration, instrumentors and endpoint checks"),
        "  %-38s %s" % ("--version", "print the version and exit"),
        "  %-38s %s" % ("-h, --help", "show this help and exit"),
        "",
        "The agent reads the standard OpenTelemetry variables (OTEL_SERVICE_NAME,",
        "OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER, ...); see the README for all of them.",
    ]
    return "\n".join(lines)


def parse(argv):
    """-> (settings: {variable: value}, flags: set, command: list)."""
    settings, flags = {}, set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.partition("=")
        if name in OPTIONS:
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError("option %s needs a value (%s)" % (name, OPTIONS[name][1]))
                i += 1
                value = argv[i]
            settings[OPTIONS[name][0]] = value
        elif arg in ("-h", "--help", "--version", "--info", "--json"):
            flags.add(arg)
        else:
            raise UsageError("unknown option %s" % arg)
        i += 1
    return settings, flags, argv[i:]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings, flags, command = parse(argv)
    except UsageError as exc:
        sys.stderr.write("otel-run: %s\n%s\n(try otel-run --help)\n" % (exc, USAGE))
        return 2
    if "-h" in flags or "--help" in flags:
        print(help_text())
        return 0
    if "--version" in flags:
        print("otel-run (otel-autoinstrument) %s, Python %d.%d.%d" % ((__version__,) + tuple(sys.version_info[:3])))
        return 0
    env = child_environment(os.environ, settings)
    if "--info" in flags:
        from .info import run_info

        return run_info(env, command, as_json="--json" in flags, cli_variables=set(settings))
    if "--json" in flags:
        sys.stderr.write("otel-run: --json only goes with --info\n%s\n" % USAGE)
        return 2
    if not command:
        sys.stderr.write("otel-run: no command given\n%s\n(try otel-run --help)\n" % USAGE)
        return 2
    executable = find_command(command[0], env.get("PATH", os.defpath))
    if executable is None:
        sys.stderr.write("otel-run: %s: command not found\n" % command[0])
        return 127
    try:
        os.execve(executable, command, env)
    except OSError as exc:
        sys.stderr.write("otel-run: cannot run %s: %s\n" % (command[0], exc.strerror or exc))
        return 126 if exc.errno in (13, 8) else 127  # EACCES, ENOEXEC: found but not runnable
    return 127  # not reached: exec replaces this process


if __name__ == "__main__":
    sys.exit(main())

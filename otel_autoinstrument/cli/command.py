"""The command ``otel-run`` runs: where it is found, and the environment it gets.

Shared by the launcher and ``--info`` (which resolves the same command without
running it); imports nothing of the agent's runtime.
"""

import os

# Tells the agent which variables came from otel-run's options (shown by --info).
CLI_MARKER = "OTEL_AUTOINSTRUMENT_CLI_OPTIONS"  # the same name as config.CLI_MARKER


def bootstrap_dir():
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bootstrap")


def find_command(name, path):
    """The executable that ``name`` runs, searched on ``path`` like a shell; None if none."""
    if "/" in name:
        return name if os.path.exists(name) else None
    for folder in path.split(os.pathsep):
        candidate = os.path.join(folder or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def child_environment(environ, settings):
    env = dict(environ)
    env.update(settings)
    if settings:
        env[CLI_MARKER] = ",".join(sorted(settings))
    else:
        env.pop(CLI_MARKER, None)
    here = bootstrap_dir()
    existing = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != here]
    env["PYTHONPATH"] = os.pathsep.join([here] + existing)
    return env

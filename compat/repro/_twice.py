"""Run a reproduction script twice, plainly and under ``otel-run`` of the same venv,
and print both outputs: ``python compat/repro/NAME.py`` with a venv's python.

The script itself calls ``twice(__file__)`` first: in the parent it runs the two
children and exits (status 1 when their outputs differ); in a child it returns and the
script does its work.
"""

import os
import subprocess
import sys

CHILD = "COMPAT_REPRO_CHILD"


def twice(script, **agent_env):
    if os.environ.get(CHILD):
        return
    otel_run = os.path.join(os.path.dirname(sys.executable), "otel-run")
    if not os.path.exists(otel_run):
        sys.exit("run this with the python of a venv that has otel-autoinstrument (e.g. compat/.work/venvs/*)")
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    base[CHILD] = "1"
    agent = dict(base, OTEL_TRACES_EXPORTER="none", OTEL_LOGS_EXPORTER="none", OTEL_METRICS_EXPORTER="none",
                 OTEL_LOG_LEVEL="warning")
    agent.update(agent_env)
    outputs = []
    for label, prefix, env in (("plain", [], base), ("under otel-run", [otel_run], agent)):
        result = subprocess.run(prefix + [sys.executable, script], env=env, capture_output=True, text=True,
                                cwd=os.path.dirname(os.path.abspath(script)), timeout=120)
        out = result.stdout + result.stderr
        outputs.append(out)
        print("--- %s (exit %d)\n%s" % (label, result.returncode, out.rstrip()))
    sys.exit(0 if outputs[0] == outputs[1] else 1)

"""The results: a table on stdout (and as Markdown for the docs) and a JSON document."""

import json
import os
import platform
import subprocess
import sys
import time

from compare import ACCEPTED, FLAKY, OPEN
from outcomes import counts


def machine():
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "agent_commit": _git("rev-parse", "--short", "HEAD"),
    }


def _git(*args):
    try:
        return subprocess.run(["git"] + list(args), capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        return ""


def library_result(lib, versions, runs, diffs, flaky):
    """The JSON-ready result of one library. ``runs``: label -> runners.Run."""
    plain = runs["plain"]
    return {
        "library": lib.name,
        "version": lib.version,
        "installed": versions,
        "runner": lib.runner,
        "tests": list(lib.tests),
        "args": list(lib.args),
        "why": lib.why,
        "tests_run": len(plain.outcomes),
        "runs": {label: {
            "mode": run.mode,
            "counts": counts(run.outcomes),
            "duration_s": run.duration_s,
            "slowdown_pct": _slowdown(plain, run),
            "exit_code": run.exit_code,
            "timed_out": run.timed_out,
            "agent_messages": run.agent_messages,
            "agent_errors": run.agent_errors,
            "log": run.log,
        } for label, run in runs.items()},
        "flaky_plainly": sorted(flaky),
        "differences": [d.as_dict() for d in diffs],
    }


def _slowdown(plain, run):
    if run is plain or not plain.duration_s:
        return None
    return round(100.0 * (run.duration_s - plain.duration_s) / plain.duration_s, 1)


def write_json(path, results, stale, command):
    doc = {"machine": machine(), "command": command, "libraries": results,
           "stale_accepted": stale, "open_differences": sum(
               1 for r in results for d in r["differences"] if d["status"] == OPEN)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")


def table_rows(results):
    header = ["library", "version", "tests", "mode", "passed", "failed", "errors", "skipped",
              "time", "vs plain", "differ (open/accepted/flaky)", "agent log W/E"]
    rows = []
    for r in results:
        for label, run in r["runs"].items():
            c = run["counts"]
            mode_diffs = [d for d in r["differences"] if d["mode"] == run["mode"]]
            if run["mode"] == "plain":
                differ = ""
            else:
                differ = "%d (%d/%d/%d)" % (len(mode_diffs), *(sum(1 for d in mode_diffs if d["status"] == s)
                                                            for s in (OPEN, ACCEPTED, FLAKY)))
            slow = run["slowdown_pct"]
            rows.append([r["library"], r["version"], str(r["tests_run"]), label, str(c["passed"]),
                         str(c["failed"]), str(c["errors"]), str(c["skipped"]),
                         "%.1f s%s" % (run["duration_s"], " TIMEOUT" if run["timed_out"] else ""),
                         "" if slow is None else "%+.0f%%" % slow, differ, _agent_log(run)])
    return header, rows


def _agent_log(run):
    """Warnings / errors the agent wrote into the run's output (its own diagnostics)."""
    if run["mode"] == "plain":
        return ""
    m = run["agent_messages"]
    return "%d/%d" % (m.get("WARNING", 0), m.get("ERROR", 0) + m.get("CRITICAL", 0))


def print_table(results, out=sys.stdout):
    header, rows = table_rows(results)
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, header))
    out.write(line + "\n" + "-" * len(line) + "\n")
    for row in rows:
        out.write("  ".join("%-*s" % (w, x) for w, x in zip(widths, row)) + "\n")


def markdown_table(results):
    header, rows = table_rows(results)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def print_differences(results, out=sys.stdout):
    for status, title in ((OPEN, "OPEN differences (not in accepted.toml)"),
                          (ACCEPTED, "accepted differences"), (FLAKY, "flaky (differ between plain runs too)")):
        found = [(r["library"], d) for r in results for d in r["differences"] if d["status"] == status]
        if not found:
            continue
        out.write("\n%s: %d\n" % (title, len(found)))
        for library, d in found:
            out.write("  %-10s %-18s %s: %s -> %s%s\n" % (library, d["mode"], d["test"], d["plain"], d["agent"],
                                                      "  [%s]" % d["cause"] if d["cause"] else ""))

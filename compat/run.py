#!/usr/bin/env python3
"""Run the instrumented libraries' own test suites plainly and under the agent, and
compare them test by test.

    python3 compat/run.py                       # every library, three modes each
    python3 compat/run.py --lib flask --lib django --repeat-plain 1

For each library (libraries.py): a venv with the pinned release, its test dependencies
and this project; the tests from the release's sdist; the chosen subset run plainly,
under ``otel-run`` with nothing exported, and under ``otel-run`` exporting to a closed
port (runners.py). Every difference from the plain run must be listed in accepted.toml
with its cause; otherwise the exit status is 1. Not part of the test suite (pytest's
testpaths is tests/): it takes tens of minutes and needs PyPI. See docs/compatibility.md.
"""

import argparse
import dataclasses
import shutil
import sys
import time
from pathlib import Path

import compare
import environments
import report
import services
from libraries import LIBRARIES, by_name
from runners import MODE_NAMES, MODES, PLAIN, RUNNERS, closed_port, run_suite

HERE = Path(__file__).resolve().parent


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lib", action="append", metavar="NAME",
                   help="a library to test (repeatable; default: all of %s)" % ", ".join(
                       lib.name for lib in LIBRARIES))
    p.add_argument("--mode", action="append", choices=MODE_NAMES[1:], metavar="MODE",
                   help="an agent mode to run (repeatable; default: %s)" % ", ".join(MODE_NAMES[1:]))
    p.add_argument("--repeat-plain", type=int, default=0, metavar="N",
                   help="run the plain suite N more times; tests whose outcome changes between plain "
                        "runs are reported as flaky, not as the agent's differences")
    p.add_argument("--workdir", type=Path, default=HERE / ".work",
                   help="sdists, venvs and run outputs (default: compat/.work, git-ignored)")
    p.add_argument("--accepted", type=Path, default=HERE / "accepted.toml",
                   help="the accepted differences (default: compat/accepted.toml)")
    p.add_argument("--json", type=Path, help="results JSON (default: WORKDIR/results.json)")
    p.add_argument("--markdown", type=Path, help="also write the results table as Markdown here")
    p.add_argument("--python", default=sys.executable,
                   help="the interpreter the venvs are made with (default: this one)")
    p.add_argument("--timeout-factor", type=float, default=1.0,
                   help="multiply every run's time bound (a slower machine)")
    p.add_argument("--list", action="store_true", help="list the libraries and their subsets, and exit")
    return p.parse_args(argv)


def list_libraries():
    for lib in LIBRARIES:
        print("%s %s (%s runner): %s" % (lib.name, lib.version, lib.runner, lib.why))
        print("    tests: %s%s" % (" ".join(lib.tests), "  args: " + " ".join(lib.args) if lib.args else ""))


def check_library(lib, args, modes, accepted):
    """Build, run every mode, compare; returns the library's result."""
    runner = RUNNERS[lib.runner]
    workdir = args.workdir.resolve()
    print("\n== %s %s" % (lib.name, lib.version), flush=True)
    root = environments.sources(lib, workdir)
    bindir = environments.venv(lib, runner, workdir, args.python)
    versions = environments.versions(bindir, [lib.name, "otel-autoinstrument", "pytest", "wrapt"])
    runs_dir = workdir / "runs" / lib.key
    shutil.rmtree(runs_dir, ignore_errors=True)
    plan = [(PLAIN, "plain")] + [(m, m.name) for m in modes] + [
        (PLAIN, "plain#%d" % (i + 2)) for i in range(args.repeat_plain)]
    runs = {}
    with closed_port() as port, services.started(lib.services) as values:
        if values:
            lib = dataclasses.replace(lib, args=tuple(a.format(**values) for a in lib.args))
        for mode, label in plan:
            runs[label] = run_suite(lib, runner, mode, label, bindir, root, runs_dir / label.replace("#", "-"),
                                    port, args.timeout_factor)
    plain_runs = [run for label, run in runs.items() if run.mode == "plain"]
    flaky = compare.flaky_tests(plain_runs)
    diffs = []
    for mode in modes:
        diffs += compare.differences(lib.name, runs["plain"], runs[mode.name])
    compare.judge(diffs, accepted, flaky)
    if not runs["plain"].outcomes:
        diffs.append(compare.Difference(lib.name, "plain", compare.RUN, "no test results",
                                        "no test results", compare.OPEN, "the plain run reported no test: "
                                        "see " + runs["plain"].log))
    return report.library_result(lib, versions, runs, diffs, flaky)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        list_libraries()
        return 0
    libs = by_name(args.lib) if args.lib else list(LIBRARIES)
    modes = [m for m in MODES if m.agent and (not args.mode or m.name in args.mode)]
    accepted = compare.load_accepted(args.accepted)
    started = time.monotonic()
    results, failed = [], []
    for lib in libs:
        try:
            results.append(check_library(lib, args, modes, accepted))
        except Exception as exc:  # one library's broken set-up must not hide the others' results
            print("!! %s: %s" % (lib.name, exc), flush=True)
            failed.append(lib.name)
    tested = {lib.name.lower() for lib in libs}
    stale = [{"library": e.library, "test": e.test or e.pattern, "cause": e.cause}
             for e in accepted if not e.used and e.library.lower() in tested and not e.flaky]
    json_path = args.json or args.workdir / "results.json"
    report.write_json(json_path, results, stale, " ".join(["compat/run.py"] + (argv or sys.argv[1:])))
    print()
    report.print_table(results)
    report.print_differences(results)
    if args.markdown:
        args.markdown.write_text(report.markdown_table(results) + "\n")
    for entry in stale:
        print("note: accepted difference not seen in this run: %(library)s %(test)s" % entry)
    print("\nresults: %s (%.0f s in all)" % (json_path, time.monotonic() - started))
    if failed:
        print("set-up FAILED for: %s" % ", ".join(failed))
        return 2
    open_count = sum(1 for r in results for d in r["differences"] if d["status"] == compare.OPEN)
    if open_count:
        print("%d difference(s) not in %s" % (open_count, args.accepted))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

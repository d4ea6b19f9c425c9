"""Per-test outcomes from what the runners leave: pytest's JUnit XML, or the verbose
(``-v 2``) output of Django's unittest-based runner.

An outcome is one of OUTCOMES. Test ids are the runner's own: ``module.Class::name``
(pytest's classname and name) or ``test_name (module.Class.test_name)`` for unittest.
"""

import re
import xml.etree.ElementTree as ET

PASSED, FAILED, ERROR, SKIPPED, XFAILED, XPASSED = "passed", "failed", "error", "skipped", "xfailed", "xpassed"
MISSING = "missing"  # in one run and not the other (crash, timeout, collection changed)
OUTCOMES = (PASSED, FAILED, ERROR, SKIPPED, XFAILED, XPASSED)

# When one test id appears twice (a pytest test failing and erroring in teardown), the
# worse outcome stands.
_RANK = {PASSED: 0, XFAILED: 0, SKIPPED: 0, XPASSED: 1, FAILED: 2, ERROR: 3}


def _merge(found, test_id, outcome):
    old = found.get(test_id)
    if old is None or _RANK[outcome] > _RANK[old]:
        found[test_id] = outcome


def from_junit(path):
    """``{test id: outcome}`` from a pytest ``--junitxml`` file."""
    found = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = "%s::%s" % (case.get("classname", ""), case.get("name", ""))
        outcome = PASSED
        for child in case:
            if child.tag == "failure":
                outcome = FAILED
            elif child.tag == "error":
                outcome = ERROR
            elif child.tag == "skipped":
                outcome = XFAILED if child.get("type") == "pytest.xfail" else SKIPPED
        _merge(found, test_id, outcome)
    return found


# Lines the agent writes on stderr can land in the middle of a runner's line (the
# export thread logs while the runner has written "... " and not yet the result).
AGENT_LINE = re.compile(r"otel-autoinstrument (?:DEBUG|INFO|WARNING|ERROR|CRITICAL|STRICT): [^\n]*\n")

# "name (module.Class.name)", anywhere in a line: stdout (migrations) and stderr (the
# test lines) share one output and may meet in one line.
_TEST = re.compile(r"(\w+) \(([\w.]+\.\1)\)")
_RESULT = re.compile(r" \.\.\. (ok|FAIL|ERROR|skipped|expected failure|unexpected success)\b")
# The result alone on a line: the test (or the agent, with a traceback) wrote output
# between the announcement and the result.
_LONE_RESULT = re.compile(r"^(ok|FAIL|ERROR|skipped|expected failure|unexpected success)\b")
_SUMMARY = re.compile(r"^(FAIL|ERROR): (\w+) \(([\w.]+)\)", re.M)
_VERBOSE_WORDS = {"ok": PASSED, "FAIL": FAILED, "ERROR": ERROR, "skipped": SKIPPED,
                  "expected failure": XFAILED, "unexpected success": XPASSED}


def from_unittest_verbose(text):
    """``{test id: outcome}`` from unittest's verbose output (Django's runtests.py -v 2).

    A test is announced as ``name (module.Class.name)``, optionally followed by the first
    line of its docstring on the next line, then `` ... RESULT``. Failures of subtests
    and of class fixtures show only in the ``FAIL:`` / ``ERROR:`` sections at the end,
    which are read too.
    """
    text = AGENT_LINE.sub("", text)
    found = {}
    pending = None  # the id of a test announced without its result yet
    for line in text.splitlines():
        test = _TEST.search(line)
        if test:
            pending = "%s (%s)" % (test.group(1), test.group(2))
        result = _RESULT.search(line) or (pending is not None and _LONE_RESULT.match(line))
        if result and pending is not None:
            _merge(found, pending, _VERBOSE_WORDS[result.group(1)])
            pending = None
    for kind, name, where in _SUMMARY.findall(text):
        _merge(found, "%s (%s)" % (name, where), FAILED if kind == "FAIL" else ERROR)
    return found


def counts(outcomes):
    """``{passed, failed, errors, skipped}`` as the report shows them (xfailed counts as
    skipped, xpassed as passed: the runners count them so)."""
    c = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    column = {PASSED: "passed", XPASSED: "passed", FAILED: "failed", ERROR: "errors",
              SKIPPED: "skipped", XFAILED: "skipped"}
    for outcome in outcomes.values():
        c[column[outcome]] += 1
    return c

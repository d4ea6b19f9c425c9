"""Test-by-test comparison of the agent's runs with the plain run, and the verdict on each
difference: ``accepted`` (listed in accepted.toml, with its cause), ``flaky`` (the
plain runs themselves disagree on that test) or ``open`` (a failure of the script).
"""

import fnmatch
from dataclasses import asdict, dataclass
from typing import List, Optional

from outcomes import MISSING

OPEN, ACCEPTED, FLAKY = "open", "accepted", "flaky"
RUN = "<run>"  # the test id of a difference in the run as a whole (exit status, timeout)
AGENT_LOG = "<agent errors>"  # the test id of the agent's own ERROR lines in a run's output


@dataclass
class Difference:
    library: str
    mode: str
    test: str
    plain: str  # outcome in the plain run
    agent: str  # outcome in this mode's run
    status: str = OPEN
    cause: str = ""

    def as_dict(self):
        return asdict(self)


# -- accepted differences ------------------------------------------------------------------


@dataclass
class AcceptedEntry:
    library: str
    cause: str
    test: Optional[str] = None  # exact test id
    pattern: Optional[str] = None  # or an fnmatch pattern of test ids
    modes: Optional[List[str]] = None  # default: every agent mode
    plain: Optional[str] = None  # default: any outcome
    agent: Optional[str] = None
    flaky: bool = False  # known to be flaky plainly (not the agent's doing)
    used: bool = False

    def matches(self, d):
        if self.library.lower() != d.library.lower():
            return False
        if self.test is not None and self.test != d.test:
            return False
        if self.pattern is not None and not fnmatch.fnmatchcase(d.test, self.pattern):
            return False
        if self.modes is not None and d.mode not in self.modes:
            return False
        return (self.plain is None or self.plain == d.plain) and (self.agent is None or self.agent == d.agent)


def load_accepted(path):
    """The ``[[difference]]`` tables of ``path`` (TOML); each needs a library, a test or
    pattern, and a cause."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        raise SystemExit("reading %s needs Python 3.11 or newer (tomllib)" % path)
    if not path.exists():
        return []
    with open(path, "rb") as f:
        data = tomllib.load(f)
    entries = []
    for i, raw in enumerate(data.get("difference", [])):
        unknown = set(raw) - {"library", "cause", "test", "pattern", "modes", "plain", "agent", "flaky"}
        if unknown or not raw.get("library") or not raw.get("cause") or not (raw.get("test") or raw.get("pattern")):
            raise SystemExit("%s: difference #%d needs library, cause and test or pattern%s" % (
                path, i + 1, "; unknown keys %s" % sorted(unknown) if unknown else ""))
        entries.append(AcceptedEntry(**raw))
    return entries


# -- comparing runs -----------------------------------------------------------------------------


def flaky_tests(plain_runs):
    """Tests whose outcome is not the same in every plain run."""
    flaky = set()
    first = plain_runs[0].outcomes
    for other in plain_runs[1:]:
        for test in set(first) | set(other.outcomes):
            if first.get(test, MISSING) != other.outcomes.get(test, MISSING):
                flaky.add(test)
    return flaky


def differences(library, plain, run):
    """What differs between the plain run and ``run`` of one mode."""
    found = []
    for test in sorted(set(plain.outcomes) | set(run.outcomes)):
        a, b = plain.outcomes.get(test, MISSING), run.outcomes.get(test, MISSING)
        if a != b:
            found.append(Difference(library, run.mode, test, a, b))
    # The run as a whole: a timeout, or an exit status the tests do not explain (a
    # crash or hang at exit after every test had passed, a run that found no test).
    if run.timed_out and not plain.timed_out:
        found.append(Difference(library, run.mode, RUN, "exit %s" % plain.exit_code, "timed out"))
    elif run.exit_code != plain.exit_code and not found:
        found.append(Difference(library, run.mode, RUN, "exit %s" % plain.exit_code, "exit %s" % run.exit_code))
    # An internal error the agent logged (and swallowed) is a difference even when every
    # test passed: the application's output changed. (Inside pytest tests the output is
    # captured and shows only for failing tests, so this sees only part of them.)
    if run.agent_errors:
        found.append(Difference(library, run.mode, AGENT_LOG, "no agent", "%d error line(s): %s" % (
            len(run.agent_errors), run.agent_errors[0][:200])))
    return found


def judge(diffs, accepted, flaky):
    """Set each difference's status and cause."""
    for d in diffs:
        entry = next((e for e in accepted if e.matches(d)), None)
        if entry is not None:
            entry.used = True
            d.status, d.cause = (FLAKY if entry.flaky else ACCEPTED), entry.cause
        elif d.test in flaky:
            d.status, d.cause = FLAKY, "outcome differs between plain runs (--repeat-plain)"
    return diffs

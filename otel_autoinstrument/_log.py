"""The agent's own diagnostics: the ``otel_autoinstrument`` logger, used lazily.

Importing ``logging`` costs a large part of the agent's whole start-up budget (figures in
docs/architecture.md), so nothing here imports it until the application does: until then a
message is written straight to stderr in the same one-line format the logger uses.
The logger writes to stderr through its own handler and does not propagate, so the
agent's messages never reach (or change) the application's handlers.

``internal_error()`` is the safety net around every patch, hook and export path: it
logs and swallows the agent's own exception. With ``AUTOINSTRUMENT_STRICT=1`` (the test
suite sets it; deliberately outside the OTEL_ namespace) it re-raises instead, so the
safety net never hides a bug in tests. A place (its ``what``) that fails again and again,
on every request, is logged once with its traceback; repeats are counted and summed up
in one line at most once a minute and at exit (``report_repeated_errors``).
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

LOGGER_NAME = "otel_autoinstrument"
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "critical": 50}
_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}

_level = 20
_logger = None
STRICT = os.environ.get("AUTOINSTRUMENT_STRICT", "").lower() in ("1", "true", "yes")


def parse_level(text):
    """Map an OTEL_LOG_LEVEL value to a logging level number, or None if unknown."""
    return _LEVELS.get(text.strip().lower())


def set_level(level):
    global _level
    _level = level
    if _logger is not None:
        _logger.setLevel(level)


def _format(level, msg, args):
    if args:
        try:
            msg = msg % args
        except Exception:
            msg = "%s %r" % (msg, args)
    return "otel-autoinstrument %s: %s" % (_NAMES.get(level, level), msg)


def attach_logger():
    """Give the agent's logger its handler; called once ``logging`` is imported."""
    global _logger
    import logging

    logger = logging.getLogger(LOGGER_NAME)
    if not any(getattr(h, "_otel_agent_handler", False) for h in logger.handlers):
        handler = _current_stderr_handler(logging)
        handler._otel_agent_handler = True
        handler.setFormatter(logging.Formatter("otel-autoinstrument %(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(_level)
    _logger = logger
    return logger


def _current_stderr_handler(logging):
    """A handler that writes to whatever ``sys.stderr`` is when a message is logged (as
    the messages written before ``logging`` was imported do), not to the stream that was
    stderr when it was made: the application (or a test runner) may replace it later."""

    class CurrentStderrHandler(logging.StreamHandler):
        @property
        def stream(self):
            return sys.stderr

        @stream.setter
        def stream(self, value):
            pass

    return CurrentStderrHandler()


def log(level, msg, *args, exc_info=None):
    if level < _level:
        return
    try:
        if _logger is None and "logging" in sys.modules:
            attach_logger()
        if _logger is not None:
            # logging.config.dictConfig disables every existing logger it does not
            # name (disable_existing_loggers): the agent's own diagnostics stay on.
            _logger.disabled = False
            _logger.log(level, msg, *args, exc_info=exc_info)
            return
        line = _format(level, msg, args)
        if exc_info:
            import traceback

            line += "\n" + "".join(traceback.format_exception(*exc_info)).rstrip()
        sys.stderr.write(line + "\n")
    except Exception:
        pass  # diagnostics must never become the application's problem


def debug(msg, *args):
    log(10, msg, *args)


def info(msg, *args):
    log(20, msg, *args)


def warning(msg, *args):
    log(30, msg, *args)


def error(msg, *args):
    log(40, msg, *args)


REPEAT_REPORT_INTERVAL_S = 60.0
_PLACES_MAX = 256  # distinct places remembered (they are code constants; bound them anyway)
_places = {}  # what -> [repeats not yet reported, monotonic time of the last report]


def internal_error(what: str) -> None:
    """Log the exception being handled as the agent's own failure in ``what``.

    Call it from an ``except Exception:`` block. In strict mode it re-raises.
    """
    exc_info = sys.exc_info()
    if STRICT:
        sys.stderr.write("otel-autoinstrument STRICT: internal error in %s\n" % what)
        raise
    _report(what, exc_info)


def _report(what, exc_info):
    """The first failure of a place with its traceback; later ones counted."""
    now = time.monotonic()
    place = _places.get(what)
    if place is None:
        if len(_places) >= _PLACES_MAX:
            report_repeated_errors()
            _places.clear()
        _places[what] = [0, now]
        log(40, "internal error in %s (the application is not affected)", what, exc_info=exc_info)
        return
    place[0] += 1
    if now - place[1] >= REPEAT_REPORT_INTERVAL_S:
        _summarize(what, place, now)


def _summarize(what, place, now):
    count, place[0], place[1] = place[0], 0, now
    if count:
        log(40, "internal error in %s happened %d more time(s) since it was last reported "
            "(logged once with its traceback, then counted)", what, count)


def _forget_counts_after_fork():
    for place in _places.values():
        place[0] = 0  # the parent reports its own repeats


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_counts_after_fork)


def report_repeated_errors():
    """One line per place whose repeats are not reported yet (called at exit)."""
    now = time.monotonic()
    for what, place in list(_places.items()):
        _summarize(what, place, now)


class capture_internal_errors:
    """Context manager: swallow and log the agent's own errors in an optional step."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> capture_internal_errors:
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        if exc_type is None or not issubclass(exc_type, Exception):
            return False
        if STRICT:
            sys.stderr.write("otel-autoinstrument STRICT: internal error in %s\n" % self.what)
            return False
        _report(self.what, (exc_type, exc, tb))
        return True

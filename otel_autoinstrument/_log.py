"""The agent's own diagnostics: the ``otel_autoinstrument`` logger, used lazily.

Importing ``logging`` costs about 15 ms on a small machine, more than the agent's whole
start-up budget, so nothing here imports it until the application does: until then a
message is written straight to stderr in the same one-line format the logger uses.
The logger writes to stderr through its own handler and does not propagate, so the
agent's messages never reach (or change) the application's handlers.

``internal_error()`` is the safety net around every patch, hook and export path: it
logs and swallows the agent's own exception. With ``AUTOINSTRUMENT_STRICT=1`` (the test
suite sets it; deliberately outside the OTEL_ namespace) it re-raises instead, so the
safety net never hides a bug in tests.
"""

import os
import sys

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


def internal_error(what):
    """Log the exception being handled as the agent's own failure in ``what``.

    Call it from an ``except Exception:`` block. In strict mode it re-raises.
    """
    exc_info = sys.exc_info()
    if STRICT:
        sys.stderr.write("otel-autoinstrument STRICT: internal error in %s\n" % what)
        raise
    log(40, "internal error in %s (the application is not affected)", what, exc_info=exc_info)


class capture_internal_errors:
    """Context manager: swallow and log the agent's own errors in an optional step."""

    __slots__ = ("what",)

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or not issubclass(exc_type, Exception):
            return False
        if STRICT:
            sys.stderr.write("otel-autoinstrument STRICT: internal error in %s\n" % self.what)
            return False
        log(40, "internal error in %s (the application is not affected)", self.what,
            exc_info=(exc_type, exc, tb))
        return True
